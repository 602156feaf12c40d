"""captioner/runlog/library.py: one copy per content, found again by the run's hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from captioner import runlog

BBB = Path(__file__).resolve().parents[2] / "assets" / "bigbuckbunny.mp4"


def test_library_keeps_one_copy_per_content(tmp_path):
    library = runlog.Library(tmp_path / "videos")
    first = library.keep(str(BBB))
    copy = tmp_path / "renamed.MP4"
    copy.write_bytes(BBB.read_bytes())
    assert library.keep(str(copy)) == first
    sha = hashlib.sha256(BBB.read_bytes()).hexdigest()
    assert Path(first) == tmp_path / "videos" / f"{sha}.mp4"
    assert Path(first).stat().st_size == BBB.stat().st_size
    assert library.find(sha) == Path(first)
    assert library.find("0" * 64) is None and library.find(None) is None
