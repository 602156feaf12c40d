"""captioner/runlog/library.py: copies only of accepted videos, one per content, within a
size and age budget that removes unrated videos first."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import pytest
from runlog.fakes import ACCESS, recorded, request

from captioner import engine, runlog
from captioner.errors import InvalidRequest
from captioner.generation import Options

BBB = Path(__file__).resolve().parents[2] / "assets" / "bigbuckbunny.mp4"
NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_keep_needs_the_validated_hash_and_keeps_one_copy(tmp_path):
    library = runlog.Library(tmp_path / "videos")
    sha = _sha(BBB)
    first = library.keep(BBB, sha)
    assert first == tmp_path / "videos" / f"{sha}.mp4"
    assert first.stat().st_size == BBB.stat().st_size
    copy = tmp_path / "renamed.MP4"
    copy.write_bytes(BBB.read_bytes())
    assert library.keep(copy, sha) == first and library.find(sha) == first
    assert library.find("0" * 64) is None and library.find(None) is None
    assert library.find("../../etc/passwd") is None
    for bad in ("../x", "ab" * 31, "AB" * 32, ""):
        with pytest.raises(InvalidRequest):
            library.keep(BBB, bad)  # the hash names the file: never a path
    odd = tmp_path / "clip.mp4;rm -rf"
    odd.write_bytes(b"x")
    assert library.keep(odd, "cd" * 32).name == "cd" * 32 + ".video"
    assert not list((tmp_path / "videos").glob(".*"))  # no temporary file left


def test_keeping_copies_only_what_decoded(tmp_path, tiny_vl, settings):
    library = runlog.Library(tmp_path / "videos")
    good = engine.DescribeRequest(video=str(BBB), model=tiny_vl, options=Options(max_new_tokens=2))
    events = list(library.keeping(engine.describe(good, settings)))
    assert events[-1].kind == "done" and library.find(_sha(BBB)) is not None
    for name, data in (("notes.txt", "이건 영상이 아닙니다".encode()), ("empty.mp4", b"")):
        bad = tmp_path / name
        bad.write_bytes(data)
        request_ = engine.DescribeRequest(video=str(bad), model=tiny_vl)
        assert list(library.keeping(engine.describe(request_, settings)))[-1].kind == "error"
    assert library.usage() == runlog.LibraryUsage(files=1, bytes=BBB.stat().st_size)


def _video(library: runlog.Library, name: str, size: int, days_old: float) -> str:
    """A fake kept video of ``size`` bytes, last used ``days_old`` days before NOW."""
    sha = hashlib.sha256(name.encode()).hexdigest()
    path = library.folder / f"{sha}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"v" * size)
    moment = (NOW - dt.timedelta(days=days_old)).timestamp()
    os.utime(path, (moment, moment))
    return sha


def _run_of(db, sha: str, rated: bool = False) -> int:
    run_id = recorded(db, request(), clip=("clip.mp4", sha))
    if rated:
        db.rate(run_id, 4, access=ACCESS)
    return run_id


def test_prune_removes_unrated_first_then_oldest(db, tmp_path):
    library = runlog.Library(tmp_path / "videos", max_bytes=300, max_age=dt.timedelta(days=30))
    old_rated = _video(library, "old-rated", 100, days_old=40)
    old_unrated = _video(library, "old-unrated", 100, days_old=35)  # expired
    mid_unrated = _video(library, "mid-unrated", 100, days_old=10)
    new_unrated = _video(library, "new-unrated", 100, days_old=1)
    new_rated = _video(library, "new-rated", 100, days_old=2)
    orphan = _video(library, "orphan", 50, days_old=20)  # kept, but its run was never logged
    runs = {sha: _run_of(db, sha, rated=sha in (old_rated, new_rated)) for sha in
            (old_rated, old_unrated, mid_unrated, new_unrated, new_rated)}  # fmt: skip
    assert library.usage() == runlog.LibraryUsage(files=6, bytes=550)

    report = library.prune(db, now=NOW)
    # expired and unrated: old_unrated; then over 300 bytes: the oldest unrated ones
    assert report.removed == (old_unrated, orphan, mid_unrated)
    assert report.freed_bytes == 250 and report.usage == runlog.LibraryUsage(3, 300)
    assert library.usage() == report.usage
    assert library.find(old_rated) and library.find(new_rated) and library.find(new_unrated)
    # the run keeps its metadata and text; the log says its video was pruned
    pruned = db.get(runs[old_unrated], access=ACCESS)
    assert pruned.video_pruned_at and pruned.answer and pruned.video_name == "clip.mp4"
    assert db.get(runs[new_unrated], access=ACCESS).video_pruned_at is None

    # a smaller budget: unrated before rated, even when the rated video is older
    library.max_bytes = 150
    assert library.prune(db, now=NOW).removed == (new_unrated, old_rated)
    library.max_bytes = 0
    assert library.prune(db, now=NOW).removed == (new_rated,)
    assert library.usage() == runlog.LibraryUsage(0, 0)


def test_keeping_again_renews_the_age(db, tmp_path):
    library = runlog.Library(tmp_path / "videos", max_age=dt.timedelta(days=30))
    sha = _sha(BBB)
    kept = library.keep(BBB, sha)
    old = (NOW - dt.timedelta(days=40)).timestamp()
    os.utime(kept, (old, old))
    library.keep(BBB, sha)  # uploaded again today
    assert library.prune(db, now=dt.datetime.now(dt.UTC)).removed == ()


def test_prune_removes_stale_partial_copies(db, tmp_path):
    library = runlog.Library(tmp_path / "videos")
    library.folder.mkdir()
    stale = library.folder / f".{'ab' * 32}.x1.part"
    stale.write_bytes(b"half")
    old = (NOW - dt.timedelta(hours=2)).timestamp()
    os.utime(stale, (old, old))
    fresh = library.folder / f".{'cd' * 32}.x2.part"  # being copied right now
    fresh.write_bytes(b"half")
    library.prune(db, now=dt.datetime.fromtimestamp(fresh.stat().st_mtime, dt.UTC))
    assert not stale.exists() and fresh.exists()


def test_default_budget_suits_a_50_gb_space_disk():
    library = runlog.Library("/nonexistent")
    assert library.max_bytes == runlog.DEFAULT_MAX_BYTES == 20 * 10**9
    assert library.max_age == runlog.DEFAULT_MAX_AGE == dt.timedelta(days=30)
    assert library.usage() == runlog.LibraryUsage(0, 0)
