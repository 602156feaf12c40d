"""captioner/runlog/schema.py: old files upgrade in place; a newer file is refused."""

from __future__ import annotations

import sqlite3

import pytest

from captioner import runlog


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
        old, failed = run_log.query(newest_first=False)
        assert (old.status, old.answer, old.model, old.video_name) == (
            "done",
            "토끼",
            "m1",
            "a.mp4",
        )
        assert (failed.status, failed.error_code) == ("error", "not_a_video")
        assert old.updated_at == old.created_at and old.thinking == "" and old.metrics is None
        run_log.rate(old.id, 5)  # the new tables work on old rows
        assert run_log.get(old.id).rating_avg == 5
        assert run_log._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(runlog.RunLogError) as info:
        runlog.RunLog(path)
    assert "v99" in info.value.en
