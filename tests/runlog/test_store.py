"""captioner/runlog/store.py: writes, ratings, filters, concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from runlog.fakes import ACCESS, recorded, request

from captioner import engine, runlog
from captioner.errors import InvalidRequest
from captioner.generation import Options

ROOT = Path(__file__).resolve().parents[2]


def test_a_bad_db_path_is_a_typed_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(runlog.RunLogError) as info:
        runlog.RunLog(blocker / "runs.sqlite3")
    assert info.value.ko and info.value.en


def test_wal_mode(db):
    assert db._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_new_request_fields_are_kept(db):
    @dataclass(frozen=True)
    class Future(engine.DescribeRequest):  # e.g. style/length/allow_hanja being added now
        style: str = "격식체"
        allow_hanja: bool = False

    run_id = db.start(Future(video="clip.mp4", prompt="설명해"), "web", access=ACCESS)
    run = db.get(run_id, access=ACCESS)
    assert run.request["style"] == "격식체" and run.request["allow_hanja"] is False


def test_rate_filter_and_query(db):
    a = recorded(
        db,
        request(model="Qwen/Qwen3-VL-2B-Instruct", preset="summary"),
        source="cli",
        prepared=False,
    )
    b = recorded(
        db,
        request(model="Qwen/Qwen3-VL-8B-Instruct", preset="timeline"),
        source="batch",
        prepared=False,
    )
    c = recorded(
        db, request(model="Qwen/Qwen3-VL-8B-Instruct", prompt="고양이를 찾아 줘"), prepared=False
    )
    kim, lee = runlog.Access.cli("kim"), runlog.Access.cli("lee")
    db.rate(a, 2, ["반복"], "loops", access=kim)
    db.rate(b, 5, ["정확", "정확", " "], "좋음", access=kim)
    db.rate(b, 3, [], "", access=lee)
    first = db.ratings(b, access=ACCESS)[0]
    db.rate(b, 4, ["정확"], "다시 봄", access=kim)  # a reviewer's second rating replaces
    ratings = db.ratings(b, access=ACCESS)
    assert [(r.reviewer, r.score, r.tags) for r in ratings] == [
        ("kim", 4, ["정확"]),
        ("lee", 3, []),
    ]
    assert ratings[0].id == first.id and ratings[0].updated_at >= ratings[0].created_at
    assert db.get(b, access=ACCESS).rating_avg == pytest.approx(3.5)

    ids = lambda runs: sorted(r.id for r in runs)  # noqa: E731
    assert ids(db.query(model="8B", access=ACCESS)) == [b, c]
    assert ids(db.query(model="qwen3-vl-2b", access=ACCESS)) == [a]  # case-insensitive part
    assert ids(db.query(preset="timeline", access=ACCESS)) == [b]
    assert ids(db.query(prompt="고양이", access=ACCESS)) == [c]
    assert ids(db.query(source="batch", access=ACCESS)) == [b]
    assert ids(db.query(min_rating=3, access=ACCESS)) == [b]
    assert ids(db.query(rated=True, access=ACCESS)) == [a, b]
    assert ids(db.query(rated=False, access=ACCESS)) == [c]
    # none of them decoded a video (no Prepared event), so none is listed under a video name
    assert db.query(video="clip", access=ACCESS) == []
    assert ids(db.query(since="2000-01-01", until="2999-12-31", access=ACCESS)) == [a, b, c]
    assert db.query(since="2999-01-01", access=ACCESS) == []
    today = db.get(a, access=ACCESS).created_at[:10]
    assert len(db.query(until=today, access=ACCESS)) == 3  # a bare date includes that day
    assert [r.id for r in db.query(limit=2, access=ACCESS)] == [c, b]  # newest first
    assert [r.id for r in db.query(limit=2, offset=1, newest_first=False, access=ACCESS)] == [b, c]
    assert (
        ids(db.query(run_ids=[c, a, 10**6], access=ACCESS)) == [a, c]
        and db.query(run_ids=[], access=ACCESS) == []
    )
    assert db.query(model="100%_", access=ACCESS) == []  # LIKE wildcards are literal


def test_query_by_video_name_or_hash_prefix(db):
    clip, other = ("clip.mp4", "c1" * 32), ("other.mp4", "0e" * 32)
    first = recorded(db, clip=clip)
    second = recorded(db, request(preset="summary"), clip=clip)
    third = recorded(db, clip=other)
    assert sorted(r.id for r in db.query(video="c1c1c1", access=ACCESS)) == [first, second]
    assert [r.id for r in db.query(video="other", access=ACCESS)] == [third]
    assert [r.id for r in db.query(video="0E0E0E", access=ACCESS)] == [third]


def test_rating_is_checked(db):
    run_id = recorded(db)
    for bad in (0, 6, 2.5, True, "5"):
        with pytest.raises(InvalidRequest):
            db.rate(run_id, bad, access=ACCESS)
    with pytest.raises(runlog.RunNotFound):
        db.rate(run_id + 100, 3, access=ACCESS)
    with pytest.raises(runlog.RunNotFound):
        db.get(run_id + 100, access=ACCESS)
    with pytest.raises(InvalidRequest):
        db.query(since="지난주", access=ACCESS)


def test_find_done_is_the_resume_key(db):
    done = recorded(db, request(preset="summary"))
    recorded(db, request(preset="summary"), finish="stopped")  # stopped runs do not count
    key = runlog.config_key(request(preset="summary"))
    assert db.find_done(key, access=ACCESS).id == done
    assert db.find_done(runlog.config_key(request(preset="timeline")), access=ACCESS) is None


# --- concurrency ------------------------------------------------------------------------------
WRITER = """
import sys
from captioner import runlog
from captioner.engine import DescribeRequest
from captioner.generation import Options
log = runlog.RunLog(sys.argv[1])
access = runlog.Access.cli(sys.argv[2])
for i in range(int(sys.argv[3])):
    request = DescribeRequest(prompt=f"{sys.argv[2]} {i}", model="m", options=Options(seed=i))
    run_id = log.start(request, sys.argv[2], access=access)
    log.progress(run_id, "부분")
    log.finish(run_id, answer=f"{sys.argv[2]}-{i}", stopped=True)
    log.rate(run_id, 1 + i % 5, ["t"], "n", access=access)
log.close()
"""


def test_two_writer_processes_at_once(tmp_path):
    path = tmp_path / "shared.sqlite3"
    n = 120
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), source, str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for source in ("web", "batch")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with runlog.RunLog(path) as run_log:
        runs = run_log.query(limit=None, access=ACCESS)
        assert len(runs) == 2 * n
        for source in ("web", "batch"):
            answers = {r.answer for r in runs if r.source == source}
            assert answers == {f"{source}-{i}" for i in range(n)}
        assert all(r.status == "stopped" and r.rating_count == 1 for r in runs)
        assert run_log._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_threads_share_one_log(db):
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(20):
                run_id = db.start(request(prompt=f"{k}-{i}"), "web", access=ACCESS)
                db.finish(run_id, answer="x", stopped=True)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(db.query(limit=None, access=ACCESS)) == 80


# --- numbers SQLite cannot hold -------------------------------------------------------------
def test_out_of_range_numbers_are_a_typed_error(db):
    run_id = recorded(db)
    huge = 99999999999999999999
    for call in (
        lambda: db.get(huge, access=ACCESS),
        lambda: db.rate(huge, 3, access=ACCESS),
        lambda: db.ratings(2**63, access=ACCESS),
        lambda: db.query(access=ACCESS, run_ids=[run_id, huge]),
        lambda: db.query(access=ACCESS, limit=2**64),
        lambda: db.start(request(options=Options(seed=2**64)), "web", access=ACCESS),
        lambda: db.start(request(max_frames=-(2**63) - 1), "web", access=ACCESS),
    ):
        with pytest.raises(InvalidRequest) as info:
            call()
        assert "range" in info.value.en and "범위" in info.value.ko
    with pytest.raises(runlog.RunNotFound):
        db.get(2**63 - 1, access=ACCESS)  # the largest id is a valid question
    with pytest.raises(InvalidRequest):
        db.get("1", access=ACCESS)
    seeded = db.start(request(options=Options(seed=2**63 - 1)), "web", access=ACCESS)
    assert db.get(seeded, access=ACCESS).seed == 2**63 - 1
