"""The library of reviewed videos: a copy of each captioned upload, kept under its content
hash so a reviewer can watch what was captioned after the web server's upload has expired
(Gradio deletes uploads after an hour).

- A file enters only after it was accepted as a video: :meth:`Library.keep` needs the hash
  that validation produced (``video.probe(path).sha256``, or the decoded clip's), and
  :meth:`Library.keeping` keeps the upload when the engine's ``Prepared`` event shows it
  decoded. Nothing is copied before that, so a .txt or random bytes never reach the disk
  budget.
- Storage is bounded (:meth:`Library.prune`): videos whose runs are all unrated go first,
  oldest first, once older than ``max_age`` or while the folder is over ``max_bytes``; rated
  videos are removed only when unrated ones cannot bring the folder under ``max_bytes``. A
  pruned video's runs keep their metadata and text and are marked ``video_pruned_at``.
- The folder and the budget are given by the caller (from the settings).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from captioner.errors import InvalidRequest
from captioner.runlog.store import RunLog

log = logging.getLogger(__name__)

GB = 10**9  # disk sizes are sold (and Spaces list their disks) in decimal gigabytes
DEFAULT_MAX_BYTES = 20 * GB  # of a Space's 50 GB persistent disk: room for the log and models
DEFAULT_MAX_AGE = dt.timedelta(days=30)
PARTIAL_SUFFIX = ".part"
_STALE_PARTIAL = dt.timedelta(hours=1)  # a copy unfinished for this long was interrupted
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SUFFIX = re.compile(r"\.[a-z0-9]{1,8}")


@dataclass(frozen=True)
class LibraryUsage:
    files: int
    bytes: int


@dataclass(frozen=True)
class PruneReport:
    removed: tuple[str, ...]  # content hashes of the videos removed
    freed_bytes: int
    usage: LibraryUsage  # after pruning


@dataclass(frozen=True)
class _Kept:
    path: Path
    sha256: str
    size: int
    modified: float  # seconds since the epoch: when it was kept or last uploaded again


def _check_sha256(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        # the hash names a file in the library: never let it be a path
        raise InvalidRequest(
            "영상 해시가 올바르지 않습니다.", "Invalid video hash (expected 64 hex digits)."
        )
    return sha256


class Library:
    """Videos under ``folder``, one file per content: ``<sha256><suffix>``."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: dt.timedelta = DEFAULT_MAX_AGE,
    ) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.max_age = max_age

    def keep(self, path: str | os.PathLike[str], sha256: str) -> Path | None:
        """Copy a file that passed validation into the library (once per content) and return
        the copy; None when it cannot be copied (a full disk must not stop captioning).

        ``sha256`` is the hash validation computed; keeping the same content again only marks
        it as recently used."""
        sha256 = _check_sha256(sha256)
        suffix = Path(path).suffix.lower()
        target = self.folder / f"{sha256}{suffix if _SUFFIX.fullmatch(suffix) else '.video'}"
        try:
            existing = self.find(sha256)
            if existing is not None:
                _touch(existing)  # used again: the age budget counts from now
                return existing
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, partial = tempfile.mkstemp(
                dir=self.folder, prefix=f".{sha256}.", suffix=PARTIAL_SUFFIX
            )
            os.close(fd)
            try:
                shutil.copyfile(path, partial)
                os.replace(partial, target)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
        except OSError as exc:
            log.warning("video library: cannot keep a copy: %s", exc)
            return None
        from captioner import video

        video.remember_sha256(target, sha256)  # a byte-for-byte copy: no second read
        return target

    def keeping(self, events: Iterable[Any]) -> Iterator[Any]:
        """Pass engine events through, keeping the video once a ``Prepared`` event shows that
        it decoded (the engine validated it), or a long run's plan shows it probed."""
        iterator = iter(events)
        try:
            for event in iterator:
                kind = getattr(event, "kind", None)
                clip = getattr(event, "clip", None) if kind == "prepared" else None
                info = clip.info if clip is not None else None
                if kind == "long_plan":
                    info = getattr(event, "info", None)
                if info is not None:
                    self.keep(info.path, info.sha256)
                yield event
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a closed consumer stops the generation underneath

    def find(self, sha256: str | None) -> Path | None:
        """The kept copy of the video with this content hash, if there is one."""
        if not sha256 or not _SHA256.fullmatch(sha256):
            return None
        for candidate in sorted(self.folder.glob(f"{sha256}.*")):
            if candidate.is_file():
                return candidate
        return None

    # --- the budget -----------------------------------------------------------------------------
    def _kept(self) -> list[_Kept]:
        found = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            name = entry.name
            if not entry.is_file(follow_symlinks=False) or name.startswith("."):
                continue
            sha = name.split(".", 1)[0]
            if _SHA256.fullmatch(sha):
                st = entry.stat(follow_symlinks=False)
                found.append(_Kept(Path(entry.path), sha, st.st_size, st.st_mtime))
        return found

    def usage(self) -> LibraryUsage:
        """How many videos the library holds and their total size (for the review tab)."""
        kept = self._kept()
        return LibraryUsage(files=len(kept), bytes=sum(k.size for k in kept))

    def prune(self, run_log: RunLog, *, now: dt.datetime | None = None) -> PruneReport:
        """Bring the library within its budget (see the module docstring); returns what was
        removed. Call it at start and after keeping a video; it lists one folder and asks the
        log one question."""
        now = now or dt.datetime.now(dt.UTC)
        self._remove_stale_partials(now)
        kept = self._kept()
        rated = run_log.videos_with_ratings(k.sha256 for k in kept)
        oldest_allowed = (now - self.max_age).timestamp()
        # unrated before rated, then oldest first: the order in which videos may go
        queue = sorted(kept, key=lambda k: (k.sha256 in rated, k.modified))
        total = sum(k.size for k in kept)
        removed: list[_Kept] = []
        for item in queue:
            expired = item.sha256 not in rated and item.modified < oldest_allowed
            if not expired and total <= self.max_bytes:
                continue
            try:
                item.path.unlink()
            except FileNotFoundError:
                pass  # another process pruned it first
            except OSError as exc:
                log.warning("video library: cannot remove a copy: %s", exc)
                continue
            total -= item.size
            removed.append(item)
        if removed:
            run_log.videos_pruned(k.sha256 for k in removed)
        gone = {k.sha256 for k in removed}
        left = [k for k in kept if k.sha256 not in gone]
        return PruneReport(
            removed=tuple(k.sha256 for k in removed),
            freed_bytes=sum(k.size for k in removed),
            usage=LibraryUsage(files=len(left), bytes=sum(k.size for k in left)),
        )

    def _remove_stale_partials(self, now: dt.datetime) -> None:
        cutoff = (now - _STALE_PARTIAL).timestamp()
        for partial in self.folder.glob(f".*{PARTIAL_SUFFIX}"):
            try:
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()
            except OSError:
                pass


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only copy is still a copy
