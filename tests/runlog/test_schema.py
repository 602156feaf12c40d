"""captioner/runlog/schema.py: old files upgrade in place; a newer file is refused."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import pytest

from captioner import runlog

ACCESS = runlog.Access.cli("tester")


def test_migration_from_v1_keeps_the_data(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert runlog.migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO runs (created_at, source, status, video_name, model, prompt, answer)"
        " VALUES ('2025-01-02T03:04:05.000Z', 'cli', 'ok', 'a.mp4', 'm1', '설명', '토끼')"
    )
    conn.execute(
        "INSERT INTO runs (created_at, source, status, video_name, model, prompt, error_code,"
        " error_en) VALUES ('2025-01-03T00:00:00.000Z', 'web', 'failed', 'b.mp4', 'm2', 'p',"
        " 'not_a_video', 'Not a video')"
    )
    conn.close()
    with runlog.RunLog(path) as run_log:
        version = run_log._conn().execute("PRAGMA user_version").fetchone()[0]
        assert version == runlog.SCHEMA_VERSION
        old, failed = run_log.query(newest_first=False, access=ACCESS)
        assert (old.status, old.answer, old.model, old.video_name) == (
            "done",
            "토끼",
            "m1",
            "a.mp4",
        )
        assert (failed.status, failed.error_code) == ("error", "not_a_video")
        assert old.updated_at == old.created_at and old.thinking == "" and old.metrics is None
        run_log.rate(old.id, 5, access=ACCESS)  # the new tables work on old rows
        assert run_log.get(old.id, access=ACCESS).rating_avg == 5
        assert run_log._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(runlog.RunLogError) as info:
        runlog.RunLog(path)
    assert "v99" in info.value.en


V2_FILE = Path(__file__).with_name("data") / "runs-v2.sqlite3"


def test_a_v2_file_written_by_the_previous_release_upgrades(tmp_path):
    """runs-v2.sqlite3 was written by captioner/review.py as of 151f5ab: a done run rated by
    two reviewers, a rated thinking run, a refused ``notes.md`` upload and a run its process
    left "running"."""
    path = tmp_path / "runs.sqlite3"
    shutil.copyfile(V2_FILE, path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    with runlog.RunLog(path) as run_log:
        assert run_log._conn().execute("PRAGMA user_version").fetchone()[0] == runlog.SCHEMA_VERSION
        summary, detail, refused, running = run_log.query(access=ACCESS, newest_first=False)
        assert (summary.status, summary.preset, summary.video_name) == (
            "done",
            "summary",
            "clip.mp4",
        )
        assert [(r.reviewer, r.score) for r in summary.ratings] == [("kim", 4), ("lee", 2)]
        assert detail.thinking == "생각" and detail.rating_avg == 5
        # the refused upload is no longer listed as a video; its request still names it
        assert refused.video_name is None and refused.request["video"] == "notes.md"
        assert refused.error_code == "not_a_video"
        # no owner: reviewers and the CLI see old runs, a visitor never does
        assert {r.owner for r in (summary, detail, refused, running)} == {None}
        assert run_log.query(access=runlog.Access.visitor("x")) == []
        # its process is unknown: left alone while it may be alive, interrupted once stale
        written = dt.datetime.fromisoformat(running.updated_at.replace("Z", "+00:00"))
        assert runlog.recover_interrupted(run_log, now=written + dt.timedelta(hours=1)) == []
        later = written + dt.timedelta(hours=7)
        assert runlog.recover_interrupted(run_log, now=later) == [running.id]
        after = run_log.get(running.id, access=ACCESS)
        assert after.status == "interrupted" and after.answer == "00:00-00:02 토끼"
        # the new columns and indexes work on old rows; old runs were one pass (v4)
        assert {r.windows for r in (summary, detail, refused, running)} == {None}
        assert run_log.windows(summary.id, access=ACCESS) == []
        run_log.rate(refused.id, 1, access=ACCESS)
        assert run_log.videos_pruned(["ab" * 32]) == 2  # the two runs that decoded it
        assert run_log._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
