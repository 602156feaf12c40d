"""The run log's schema: ordered migration steps and the code that applies them.

The version lives in ``PRAGMA user_version``. ``MIGRATIONS[i]`` takes a database from version
``i`` to ``i + 1``; steps are only ever appended, never edited, so every old file (tests keep a
v1 and a v2 one) upgrades by the same path. A step is SQL or a Python function for data
changes that SQL cannot say plainly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from captioner.runlog.errors import RunLogError


def _v2_data(conn: sqlite3.Connection) -> None:
    # v1 said "ok"/"failed"; v2 distinguishes a stopped run from an error
    conn.execute(
        "UPDATE runs SET status = CASE status WHEN 'ok' THEN 'done' WHEN 'failed' THEN 'error'"
        " ELSE status END"
    )
    conn.execute("UPDATE runs SET updated_at = COALESCE(finished_at, created_at)")


# Error codes meaning "this file was not accepted as a video" (captioner/errors.py).
_VIDEO_REFUSED = (
    "video",
    "video_not_found",
    "video_empty",
    "not_a_video",
    "no_video_stream",
    "video_corrupt",
    "video_too_long",
    "video_too_large",
    "decode_timeout",
)


def _v3_not_videos(conn: sqlite3.Connection) -> None:
    # v2 named the file at the start of every run, so a refused upload (a .md, random bytes)
    # was listed as a video; v3 names it only once it was decoded
    marks = ", ".join("?" for _ in _VIDEO_REFUSED)
    conn.execute(
        "UPDATE runs SET video_name = NULL WHERE video_duration_s IS NULL"
        f" AND status = 'error' AND error_code IN ({marks})",
        _VIDEO_REFUSED,
    )


Migration = str | Callable[[sqlite3.Connection], None]

# MIGRATIONS[i] takes a database from user_version i to i + 1. Append, never edit.
MIGRATIONS: tuple[tuple[Migration, ...], ...] = (
    # v1: the first run log (model, prompt, answer; no ratings)
    (
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            source TEXT NOT NULL,
            status TEXT NOT NULL,
            video_sha256 TEXT,
            video_name TEXT,
            model TEXT,
            preset TEXT,
            prompt TEXT,
            answer TEXT NOT NULL DEFAULT '',
            error_code TEXT,
            error_ko TEXT,
            error_en TEXT
        )""",
    ),
    # v2: full provenance (video, sampling, config, metrics), ratings, resume key
    (
        "ALTER TABLE runs ADD COLUMN updated_at TEXT",
        "ALTER TABLE runs ADD COLUMN video_duration_s REAL",
        "ALTER TABLE runs ADD COLUMN video_width INTEGER",
        "ALTER TABLE runs ADD COLUMN video_height INTEGER",
        "ALTER TABLE runs ADD COLUMN video_fps REAL",
        "ALTER TABLE runs ADD COLUMN frames INTEGER",
        "ALTER TABLE runs ADD COLUMN fps_requested REAL",
        "ALTER TABLE runs ADD COLUMN max_frames INTEGER",
        "ALTER TABLE runs ADD COLUMN frame_indices TEXT",
        "ALTER TABLE runs ADD COLUMN frame_times TEXT",
        "ALTER TABLE runs ADD COLUMN frame_width INTEGER",
        "ALTER TABLE runs ADD COLUMN frame_height INTEGER",
        "ALTER TABLE runs ADD COLUMN model_revision TEXT",
        "ALTER TABLE runs ADD COLUMN adapter TEXT",
        "ALTER TABLE runs ADD COLUMN profile TEXT",
        "ALTER TABLE runs ADD COLUMN precision TEXT",
        "ALTER TABLE runs ADD COLUMN device TEXT",
        "ALTER TABLE runs ADD COLUMN hardware TEXT",
        "ALTER TABLE runs ADD COLUMN system_prompt TEXT",
        "ALTER TABLE runs ADD COLUMN options TEXT",
        "ALTER TABLE runs ADD COLUMN seed INTEGER",
        "ALTER TABLE runs ADD COLUMN sampling TEXT",
        "ALTER TABLE runs ADD COLUMN thinking TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN metrics TEXT",
        "ALTER TABLE runs ADD COLUMN error_detail TEXT",
        "ALTER TABLE runs ADD COLUMN app_version TEXT",
        "ALTER TABLE runs ADD COLUMN request TEXT",
        "ALTER TABLE runs ADD COLUMN config_key TEXT",
        _v2_data,
        """CREATE TABLE ratings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
            tags TEXT NOT NULL DEFAULT '[]',
            note TEXT NOT NULL DEFAULT '',
            reviewer TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (run_id, reviewer)
        )""",
        "CREATE INDEX runs_created ON runs (created_at)",
        "CREATE INDEX runs_video ON runs (video_sha256)",
        "CREATE INDEX runs_model ON runs (model)",
        "CREATE INDEX runs_config ON runs (config_key, status)",
        "CREATE INDEX ratings_run ON ratings (run_id)",
    ),
    # v3: owners (access model), the process running a run (startup recovery), pruned videos
    (
        "ALTER TABLE runs ADD COLUMN owner TEXT",
        "ALTER TABLE runs ADD COLUMN process_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN process_host TEXT",
        "ALTER TABLE runs ADD COLUMN process_started REAL",
        "ALTER TABLE runs ADD COLUMN video_pruned_at TEXT",
        _v3_not_videos,
        "CREATE INDEX runs_owner ON runs (owner, id)",
        "CREATE INDEX runs_status ON runs (status)",
    ),
    # v4: long videos captioned in windows (captioner/longvideo): the windows a run planned,
    # and each window's caption, frames and timing, kept as they finish (a stopped run resumes)
    (
        "ALTER TABLE runs ADD COLUMN windows INTEGER",
        """CREATE TABLE windows (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start_s REAL NOT NULL,
            end_s REAL NOT NULL,
            cut_score REAL,
            status TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            thinking TEXT NOT NULL DEFAULT '',
            frame_indices TEXT,
            frame_times TEXT,
            frame_width INTEGER,
            frame_height INTEGER,
            metrics TEXT,
            decode_s REAL,
            generate_s REAL,
            error_code TEXT,
            error_ko TEXT,
            error_en TEXT,
            error_detail TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (run_id, idx)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migration steps up to ``target``; returns the version reached.

    Each step runs in its own ``BEGIN IMMEDIATE`` transaction and re-reads the version inside
    it, so two processes opening a new file at once migrate it exactly once."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RunLogError(
                    f"실행 기록 파일이 더 새로운 버전(v{version})으로 만들어졌습니다. 앱을 업데이트하세요.",
                    f"The run log was written by a newer version (schema v{version}). Update the app.",
                )
            if version >= target:
                conn.execute("COMMIT")
                return version
            for step in MIGRATIONS[version]:
                if callable(step):
                    step(conn)
                else:
                    conn.execute(step)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
