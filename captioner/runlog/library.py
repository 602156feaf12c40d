"""The library of reviewed videos: a copy of each captioned upload, kept under its content
hash so a reviewer can watch what was captioned after the web server's upload has expired
(Gradio deletes uploads after an hour). The folder is given by the caller; its default is
decided in :mod:`captioner.runlog.paths`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from captioner.errors import CaptionerError

PARTIAL_SUFFIX = ".part"


class Library:
    """Videos under ``folder``, one file per content: ``<sha256><suffix>``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def keep(self, path: str | None) -> str | None:
        """Copy ``path`` into the library (once per content) and return the copy's path; the
        path as given when it cannot be read or copied (the engine reports a bad file, and a
        full disk must not stop captioning)."""
        if not path or not Path(path).is_file():
            return path
        from captioner import video

        try:
            sha = video.file_sha256(path)  # the engine and the log reuse this hash
        except CaptionerError:
            return path
        target = self.folder / f"{sha}{Path(path).suffix.lower()}"
        try:
            if not target.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + PARTIAL_SUFFIX)
                shutil.copyfile(path, partial)
                partial.replace(target)
            video.remember_sha256(target, sha)  # a byte-for-byte copy: no second read
            return str(target)
        except OSError:
            return path

    def find(self, sha256: str | None) -> Path | None:
        """The kept copy of the video with this content hash, if there is one."""
        if not sha256:
            return None
        for candidate in self.folder.glob(f"{sha256}.*"):
            if not candidate.name.endswith(PARTIAL_SUFFIX):
                return candidate
        return None
