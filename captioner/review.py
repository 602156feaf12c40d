"""The run log: every generation (web page, CLI, batch) recorded in SQLite, with ratings,
filtered queries, exports (CSV, JSONL, a self-contained HTML report) and blind pairs.

Why it is shaped like this:

- One embedded SQLite file, so a Space keeps its history in ``/data`` and a laptop in
  ``~/.cache`` with nothing to install or run. WAL mode plus a busy timeout lets the page and
  a batch (two processes) write at once; every write is one short ``BEGIN IMMEDIATE``
  transaction, so writers queue instead of failing on a lock upgrade.
- sqlite3 connections are not thread-safe, and Gradio serves requests from a thread pool:
  each thread (and each process after a fork) gets its own connection.
- :func:`record` wraps ``engine.describe(...)``: it passes every event through unchanged and
  records the run as it goes. Partial output is written every ``PROGRESS_INTERVAL_S``, so a
  crash or a closed tab loses nothing already produced. The log can never break captioning:
  a failing database is reported once on the logger and the events keep flowing.
- The whole request is stored as JSON (``dataclasses.asdict``), so options added to
  ``DescribeRequest`` later are kept without a schema change, and the resume key of batch
  runs (:func:`config_key`) covers them too.
- Model output is untrusted: the HTML report escapes every value and has a CSP that allows no
  script at all; CSV cells that a spreadsheet would run as a formula are neutralised.
- The schema is versioned with ``PRAGMA user_version`` and upgraded by ordered migration steps.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import datetime as dt
import functools
import hashlib
import html
import io
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from captioner import __version__
from captioner.errors import CaptionerError, InvalidRequest

log = logging.getLogger(__name__)

SOURCES = ("web", "cli", "batch")
STATUSES = ("running", "done", "stopped", "error")
EXPORT_FORMATS = ("csv", "jsonl", "html")
PROGRESS_INTERVAL_S = 0.5  # partial output is written at most this often per run
BUSY_TIMEOUT_MS = 30_000
DISABLED_VALUES = ("off", "none", "0", "false", "disabled")


# --- errors ---------------------------------------------------------------------------------
class RunLogError(CaptionerError):
    """The run log file cannot be opened or written (bad path, read-only disk, newer schema)."""

    code = "run_log"


class RunNotFound(InvalidRequest):
    code = "run_not_found"

    def __init__(self, run_id: Any) -> None:
        super().__init__(
            f"실행 기록 #{run_id} 을(를) 찾을 수 없습니다.", f"Run #{run_id} was not found."
        )


# --- paths ------------------------------------------------------------------------------------
def default_db_path() -> Path:
    """``$CAPTIONER_DB``; else a Space's persistent ``/data`` when writable; else the user cache."""
    env = os.environ.get("CAPTIONER_DB", "").strip()
    if env and env.lower() not in DISABLED_VALUES:
        return Path(env).expanduser()
    data = Path("/data")
    if data.is_dir() and os.access(data, os.W_OK | os.X_OK):
        return data / "captioner" / "runs.sqlite3"
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache) / "captioner" / "runs.sqlite3"


def logging_disabled() -> bool:
    """``CAPTIONER_DB=off`` switches the run log off (e.g. a public demo that keeps nothing)."""
    return os.environ.get("CAPTIONER_DB", "").strip().lower() in DISABLED_VALUES


# --- time -------------------------------------------------------------------------------------
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> str:
    """UTC ISO-8601 with milliseconds and a ``Z``: fixed width, so strings sort as times."""
    return _format_time(dt.datetime.now(dt.timezone.utc))


def _format_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    moment = moment.astimezone(dt.timezone.utc)
    return moment.strftime(_TIME_FORMAT)[:-4] + "Z"  # microseconds -> milliseconds


def parse_time(value: str | dt.datetime | dt.date, *, end_of_day: bool = False) -> str:
    """A user's time bound as the stored format. Naive times are UTC; a bare date means the
    start of that day, or the start of the next one with ``end_of_day`` (an inclusive "until")."""
    if isinstance(value, dt.datetime):
        return _format_time(value)
    if isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
        return _format_time(moment + dt.timedelta(days=1) if end_of_day else moment)
    text = str(value).strip()
    try:
        if len(text) == 10:  # YYYY-MM-DD
            return parse_time(dt.date.fromisoformat(text), end_of_day=end_of_day)
        return _format_time(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise InvalidRequest(
            f"날짜/시각 '{text}' 을(를) 읽을 수 없습니다. 예: 2025-06-01 또는 2025-06-01T09:30",
            f"Cannot read the date/time '{text}'. Example: 2025-06-01 or 2025-06-01T09:30",
        ) from None


# --- records --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rating:
    id: int
    run_id: int
    score: int
    tags: list[str]
    note: str
    reviewer: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Run:
    """One recorded generation. JSON columns come back decoded (dicts and lists)."""

    id: int
    created_at: str
    finished_at: str | None
    updated_at: str | None
    source: str
    status: str
    video_sha256: str | None
    video_name: str | None
    video_duration_s: float | None
    video_width: int | None
    video_height: int | None
    video_fps: float | None
    frames: int | None
    fps_requested: float | None
    max_frames: int | None
    frame_indices: list[int] | None
    frame_times: list[float] | None
    frame_width: int | None
    frame_height: int | None
    model: str | None
    model_revision: str | None
    adapter: str | None
    profile: str | None
    precision: str | None
    device: str | None
    hardware: str | None
    prompt: str | None
    preset: str | None
    system_prompt: str | None
    options: dict | None
    seed: int | None
    sampling: dict | None
    answer: str
    thinking: str
    metrics: dict | None
    error_code: str | None
    error_ko: str | None
    error_en: str | None
    error_detail: str | None
    app_version: str | None
    request: dict | None
    config_key: str | None
    ratings: tuple[Rating, ...] = ()

    @property
    def rating_avg(self) -> float | None:
        if not self.ratings:
            return None
        return sum(r.score for r in self.ratings) / len(self.ratings)

    @property
    def rating_count(self) -> int:
        return len(self.ratings)

    @property
    def error(self) -> dict | None:
        if self.error_code is None and self.error_en is None:
            return None
        return {
            "code": self.error_code,
            "ko": self.error_ko,
            "en": self.error_en,
            "detail": self.error_detail,
        }

    @property
    def video_size(self) -> str | None:
        if self.video_width and self.video_height:
            return f"{self.video_width}x{self.video_height}"
        return None

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["rating_avg"] = self.rating_avg
        values["rating_count"] = self.rating_count
        return values


@dataclass(frozen=True)
class VideoSummary:
    sha256: str
    name: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    runs: int
    last_run_at: str


_JSON_COLUMNS = (
    "frame_indices",
    "frame_times",
    "options",
    "sampling",
    "metrics",
    "request",
)
_RUN_COLUMNS = tuple(f.name for f in dataclasses.fields(Run) if f.name != "ratings")


# --- schema -----------------------------------------------------------------------------------
def _v2_data(conn: sqlite3.Connection) -> None:
    # v1 said "ok"/"failed"; v2 distinguishes a stopped run from an error
    conn.execute(
        "UPDATE runs SET status = CASE status WHEN 'ok' THEN 'done' WHEN 'failed' THEN 'error'"
        " ELSE status END"
    )
    conn.execute("UPDATE runs SET updated_at = COALESCE(finished_at, created_at)")


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


# --- helpers ----------------------------------------------------------------------------------
def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def _request_dict(request: Any) -> dict:
    if dataclasses.is_dataclass(request) and not isinstance(request, type):
        return dataclasses.asdict(request)
    if isinstance(request, dict):
        return dict(request)
    return {}


def _file_sha256(path: str | None) -> str | None:
    """Content hash of the video, or None when it cannot be read (the engine reports why).

    Goes through captioner.video's memo, so the engine does not hash the same upload again."""
    if not path or not os.path.isfile(path):
        return None
    from captioner import video

    try:
        return video.file_sha256(path)
    except CaptionerError:
        return None


def resolved_prompt(request: Any) -> tuple[str | None, str | None]:
    """(prompt text, preset key) as the engine will use them: free text wins over a preset."""
    prompt = getattr(request, "prompt", None)
    preset = getattr(request, "preset", None)
    if prompt is not None and prompt.strip():
        return prompt.strip(), None
    try:
        from captioner import prompts

        item = prompts.preset(preset or prompts.DEFAULT_PRESET)
        return item.prompt, item.key
    except Exception:  # noqa: BLE001 - an unknown preset is the engine's to report
        return prompt, preset


def _default_system(request: Any) -> str | None:
    system = getattr(request, "system", None)
    if system is not None:
        return system
    try:
        from captioner import prompts

        if getattr(request, "video", None) is not None:
            return prompts.SYSTEM_PROMPT
        return prompts.TEXT_SYSTEM_PROMPT
    except Exception:  # noqa: BLE001
        return None


def config_key(request: Any, video_sha256: str | None = None) -> str:
    """What makes two runs "the same configuration": the whole request (every option,
    including ones added later) with the video's path replaced by its content hash, and the
    prompt as the text the model sees. Batch resume skips a combination whose key already
    has a "done" run."""
    values = _request_dict(request)
    video = values.pop("video", None)
    if video is not None:
        sha = video_sha256 or _file_sha256(str(video))
        values["video"] = f"sha256:{sha}" if sha else f"name:{os.path.basename(str(video))}"
    prompt, preset = resolved_prompt(request)
    values["prompt"], values["preset"] = prompt, preset
    blob = json.dumps(values, ensure_ascii=False, default=str, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _error_fields(error: Any) -> dict:
    error = getattr(error, "error", error)  # a generation.Error event or the error itself
    if isinstance(error, CaptionerError):
        return {
            "error_code": error.code,
            "error_ko": error.ko,
            "error_en": error.en,
            "error_detail": error.detail,
        }
    if isinstance(error, BaseException):
        return {
            "error_code": "internal",
            "error_ko": "내부 오류가 발생했습니다.",
            "error_en": "Internal error.",
            "error_detail": f"{type(error).__name__}: {str(error)[:500]}",
        }
    if isinstance(error, dict):
        return {f"error_{k}": error.get(k) for k in ("code", "ko", "en", "detail")}
    return {"error_code": "error", "error_ko": str(error), "error_en": str(error)}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- the log ----------------------------------------------------------------------------------
class RunLog:
    """The run log database. Safe to share between threads; several processes may open it."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._last_progress: dict[int, float] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._open_error(exc) from None
        self._conn()  # open and migrate now, so a bad path fails here, not mid-run

    # connections
    def _open_error(self, exc: BaseException) -> RunLogError:
        return RunLogError(
            f"실행 기록 파일을 열거나 쓸 수 없습니다: {self.path.name}",
            f"Cannot open or write the run log: {self.path.name}",
            detail=f"{type(exc).__name__}: {exc}",
        )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # explicit transactions only
                check_same_thread=False,  # used by one thread; close() may come from another
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
        except sqlite3.Error as exc:
            raise self._open_error(exc) from None
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._open_error(exc) from None
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise self._open_error(exc) from None

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover
                pass
        self._local = threading.local()

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def schema_version(self) -> int:
        return self._conn().execute("PRAGMA user_version").fetchone()[0]

    def integrity_check(self) -> str:
        return self._conn().execute("PRAGMA integrity_check").fetchone()[0]

    def _update(self, run_id: int, values: dict) -> None:
        values = {k: v for k, v in values.items()}
        values["updated_at"] = utc_now()
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE runs SET {columns} WHERE id = ?", [*values.values(), run_id]
            )
            if cur.rowcount == 0:
                raise RunNotFound(run_id)

    # writing runs
    def start(self, request: Any, source: str) -> int:
        """Record a new run as "running"; returns its id."""
        if source not in SOURCES:
            raise InvalidRequest(
                f"알 수 없는 실행 출처 '{source}' (가능: {', '.join(SOURCES)})",
                f"Unknown run source '{source}' (choose from {', '.join(SOURCES)})",
            )
        values = _request_dict(request)
        video = getattr(request, "video", None)
        sha = _file_sha256(video)
        if video is not None:
            values["video"] = os.path.basename(str(video))  # no local paths in the log
        options = values.get("options") if isinstance(values.get("options"), dict) else None
        prompt, preset = resolved_prompt(request)
        now = utc_now()
        row = {
            "created_at": now,
            "updated_at": now,
            "source": source,
            "status": "running",
            "video_sha256": sha,
            "video_name": os.path.basename(str(video)) if video is not None else None,
            "fps_requested": getattr(request, "fps", None) if video is not None else None,
            "max_frames": getattr(request, "max_frames", None),
            "model": getattr(request, "model", None),
            "model_revision": getattr(request, "revision", None),
            "adapter": getattr(request, "adapter", None),
            "profile": getattr(request, "profile", None),
            "precision": getattr(request, "precision", None),
            "prompt": prompt,
            "preset": preset,
            "system_prompt": _default_system(request),
            "options": _json(options),
            "seed": (options or {}).get("seed"),
            "app_version": __version__,
            "request": _json(values),
            "config_key": config_key(request, sha),
        }
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            cur = conn.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", list(row.values()))
            return int(cur.lastrowid)

    def prepared(self, run_id: int, setup: Any, clip: Any = None, loaded: Any = None) -> None:
        """What the engine decided and loaded: model, precision, device, sampled frames."""
        profile = getattr(setup, "profile", None)
        hardware = getattr(setup, "hardware", None)
        values: dict[str, Any] = {
            "model": getattr(setup, "model", None),
            "profile": profile,
            "precision": getattr(setup, "precision", None),
            "device": getattr(loaded, "device", None) or getattr(setup, "device", None),
            "hardware": hardware.describe() if hasattr(hardware, "describe") else None,
        }
        if loaded is not None:
            values["model_revision"] = getattr(loaded, "revision", None)
            request = getattr(loaded, "request", None)
            values["adapter"] = getattr(request, "adapter", None)
        if clip is not None:
            info = clip.info
            shape = getattr(clip.frames, "shape", None)
            values.update(
                video_sha256=info.sha256,
                video_duration_s=round(float(info.duration_s), 4),
                video_width=int(info.width),
                video_height=int(info.height),
                video_fps=round(float(info.avg_fps), 4),
                frames=len(clip.indices),
                frame_indices=_json([int(i) for i in clip.indices]),
                frame_times=_json([round(float(t), 4) for t in clip.timestamps]),
                frame_height=int(shape[1]) if shape is not None and len(shape) >= 3 else None,
                frame_width=int(shape[2]) if shape is not None and len(shape) >= 3 else None,
            )
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            self._update(run_id, values)

    def progress_due(self, run_id: int) -> bool:
        """Whether :meth:`progress` would write now (lets callers skip building the text)."""
        last = self._last_progress.get(run_id)
        return last is None or time.monotonic() - last >= PROGRESS_INTERVAL_S

    def progress(
        self, run_id: int, answer: str, thinking: str = "", *, force: bool = False
    ) -> bool:
        """Save partial output; throttled to one write per ``PROGRESS_INTERVAL_S`` per run.

        Returns whether it wrote."""
        now = time.monotonic()
        last = self._last_progress.get(run_id)
        if not force and last is not None and now - last < PROGRESS_INTERVAL_S:
            return False
        self._last_progress[run_id] = now
        self._update(run_id, {"answer": answer, "thinking": thinking})
        return True

    def finish(
        self,
        run_id: int,
        done: Any = None,
        error: Any = None,
        stopped: bool = False,
        *,
        answer: str | None = None,
        thinking: str | None = None,
    ) -> str:
        """Close a run; returns its status. ``done`` is generation's Done event, ``error`` a
        CaptionerError, an Error event or any exception; ``answer``/``thinking`` are the
        partial output of a run that did not finish."""
        values: dict[str, Any] = {"finished_at": utc_now()}
        if done is not None:
            metrics = getattr(done, "metrics", None)
            values.update(
                answer=done.answer,
                thinking=done.thinking,
                metrics=_json(dataclasses.asdict(metrics))
                if dataclasses.is_dataclass(metrics)
                else _json(metrics),
                sampling=_json(getattr(done, "sampling", None)),
            )
            if getattr(metrics, "frames", None) and not values.get("frames"):
                values["frames"] = metrics.frames
        if answer is not None:
            values["answer"] = answer
        if thinking is not None:
            values["thinking"] = thinking
        if error is not None:
            status = "error"
            values.update(_error_fields(error))
        elif stopped or getattr(getattr(done, "metrics", None), "finish_reason", "") == "stopped":
            status = "stopped"
        elif done is not None:
            status = "done"
        else:
            status = "error"
            values.update(
                error_code="incomplete",
                error_ko="생성이 결과 없이 끝났습니다.",
                error_en="Generation ended without a result.",
            )
        values["status"] = status
        self._update(run_id, values)
        self._last_progress.pop(run_id, None)
        return status

    # ratings
    def rate(
        self,
        run_id: int,
        score: int,
        tags: Iterable[str] = (),
        note: str = "",
        reviewer: str = "",
    ) -> int:
        """Rate a run 1..5. One rating per reviewer and run: rating again replaces it."""
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidRequest(
                f"평점은 1~5 사이의 정수여야 합니다 (받은 값: {score}).",
                f"The score must be an integer from 1 to 5 (got {score}).",
            )
        if isinstance(tags, str):
            tags = [tags]
        clean: list[str] = []
        for tag in tags:
            tag = str(tag).strip()
            if tag and tag not in clean:
                clean.append(tag)
        now = utc_now()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise RunNotFound(run_id)
            conn.execute(
                """INSERT INTO ratings (run_id, score, tags, note, reviewer, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (run_id, reviewer) DO UPDATE SET
                     score = excluded.score, tags = excluded.tags, note = excluded.note,
                     updated_at = excluded.updated_at""",
                (run_id, score, _json(clean), note or "", (reviewer or "").strip(), now, now),
            )
            row = conn.execute(
                "SELECT id FROM ratings WHERE run_id = ? AND reviewer = ?",
                (run_id, (reviewer or "").strip()),
            ).fetchone()
            return int(row[0])

    def ratings(self, run_id: int) -> list[Rating]:
        return self._ratings_for([run_id]).get(run_id, [])

    def _ratings_for(self, run_ids: Sequence[int]) -> dict[int, list[Rating]]:
        found: dict[int, list[Rating]] = {}
        conn = self._conn()
        ids = list(run_ids)
        for start in range(0, len(ids), 500):  # SQLite's parameter limit
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = conn.execute(
                f"SELECT * FROM ratings WHERE run_id IN ({marks}) ORDER BY created_at, id", chunk
            ).fetchall()
            for row in rows:
                found.setdefault(row["run_id"], []).append(
                    Rating(
                        id=row["id"],
                        run_id=row["run_id"],
                        score=row["score"],
                        tags=json.loads(row["tags"] or "[]"),
                        note=row["note"],
                        reviewer=row["reviewer"],
                        created_at=row["created_at"],
                        updated_at=row["updated_at"],
                    )
                )
        return found

    # reading runs
    def _runs(self, where: str, params: Sequence[Any], tail: str = "") -> list[Run]:
        columns = ", ".join(_RUN_COLUMNS)
        rows = self._conn().execute(f"SELECT {columns} FROM runs {where} {tail}", params).fetchall()
        ratings = self._ratings_for([row["id"] for row in rows])
        runs = []
        for row in rows:
            values = {name: row[name] for name in _RUN_COLUMNS}
            for name in _JSON_COLUMNS:
                if values[name] is not None:
                    values[name] = json.loads(values[name])
            values["answer"] = values["answer"] or ""
            values["thinking"] = values["thinking"] or ""
            runs.append(Run(**values, ratings=tuple(ratings.get(row["id"], ()))))
        return runs

    def get(self, run_id: int) -> Run:
        runs = self._runs("WHERE id = ?", (run_id,))
        if not runs:
            raise RunNotFound(run_id)
        return runs[0]

    def query(
        self,
        model: str | None = None,
        prompt: str | None = None,
        preset: str | None = None,
        video: str | None = None,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        min_rating: float | None = None,
        rated: bool | None = None,
        source: str | None = None,
        status: str | None = None,
        run_ids: Iterable[int] | None = None,
        limit: int | None = 200,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[Run]:
        """Runs matching every filter given. Text filters (model, prompt, video name) match a
        part, case-insensitively; ``video`` also matches a sha256 prefix. ``min_rating`` is
        on the average over reviewers; ``until`` with a bare date includes that day."""
        where: list[str] = []
        params: list[Any] = []
        if model:
            where.append("model LIKE ? ESCAPE '\\'")
            params.append(_like(model))
        if prompt:
            where.append("prompt LIKE ? ESCAPE '\\'")
            params.append(_like(prompt))
        if preset:
            where.append("preset = ?")
            params.append(preset)
        if video:
            if re.fullmatch(r"[0-9a-fA-F]{6,64}", video):
                where.append("(video_name LIKE ? ESCAPE '\\' OR video_sha256 LIKE ?)")
                params += [_like(video), video.lower() + "%"]
            else:
                where.append("video_name LIKE ? ESCAPE '\\'")
                params.append(_like(video))
        if since:
            where.append("created_at >= ?")
            params.append(parse_time(since))
        if until:
            where.append("created_at < ?" if _is_date(until) else "created_at <= ?")
            params.append(parse_time(until, end_of_day=True))
        if min_rating is not None:
            where.append("(SELECT AVG(score) FROM ratings WHERE run_id = runs.id) >= ?")
            params.append(float(min_rating))
        if rated is not None:
            where.append(
                ("" if rated else "NOT ") + "EXISTS (SELECT 1 FROM ratings WHERE run_id = runs.id)"
            )
        if source:
            where.append("source = ?")
            params.append(source)
        if status:
            where.append("status = ?")
            params.append(status)
        if run_ids is not None:
            ids = [int(i) for i in run_ids]
            if not ids:
                return []
            where.append(f"id IN ({', '.join(str(i) for i in ids)})")
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        order = "DESC" if newest_first else "ASC"
        tail = f"ORDER BY id {order} LIMIT ? OFFSET ?"
        return self._runs(clause, [*params, -1 if limit is None else int(limit), int(offset)], tail)

    def find_done(self, key: str) -> Run | None:
        """The latest finished ("done") run with this configuration key, if any."""
        runs = self._runs(
            "WHERE config_key = ? AND status = 'done'", (key,), "ORDER BY id DESC LIMIT 1"
        )
        return runs[0] if runs else None

    def videos(self) -> list[VideoSummary]:
        """Every video seen, newest first: the page's picker for side-by-side review."""
        rows = (
            self._conn()
            .execute(
                """SELECT video_sha256 AS sha, COUNT(*) AS n, MAX(created_at) AS last,
                      MAX(id) AS last_id
               FROM runs WHERE video_sha256 IS NOT NULL
               GROUP BY video_sha256 ORDER BY last DESC"""
            )
            .fetchall()
        )
        found = []
        for row in rows:
            latest = (
                self._conn()
                .execute(
                    """SELECT video_name, video_duration_s, video_width, video_height FROM runs
                   WHERE video_sha256 = ? ORDER BY (video_duration_s IS NULL), id DESC LIMIT 1""",
                    (row["sha"],),
                )
                .fetchone()
            )
            found.append(
                VideoSummary(
                    sha256=row["sha"],
                    name=latest["video_name"],
                    duration_s=latest["video_duration_s"],
                    width=latest["video_width"],
                    height=latest["video_height"],
                    runs=row["n"],
                    last_run_at=row["last"],
                )
            )
        return found

    def runs_for_video(self, sha256: str) -> list[Run]:
        return self._runs("WHERE video_sha256 = ?", (sha256,), "ORDER BY id DESC")


def _is_date(value: Any) -> bool:
    if isinstance(value, dt.datetime):
        return False
    return isinstance(value, dt.date) or len(str(value).strip()) == 10


@functools.cache
def shared_log(path: str | None = None) -> RunLog:
    """One RunLog per path for the whole process (the page's handlers share it)."""
    return RunLog(path)


def default_log(path=None) -> RunLog | None:
    """The process's shared log at ``path``, or None when the log is off (no path) or the
    file cannot be opened (warned once): pass it to :func:`record` as it is."""
    if path is None:
        return None
    try:
        return shared_log(str(path))
    except CaptionerError as exc:
        if not _default_log_warned:
            _default_log_warned.append(True)
            log.warning("run log disabled: %s (%s)", exc.en, exc.detail)
        return None


_default_log_warned: list[bool] = []


# --- recording a stream of events ------------------------------------------------------------
class _Guard:
    """Calls into the log that can fail (disk full, locked file) without stopping the events."""

    def __init__(self) -> None:
        self.warned = False

    def __call__(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the log must never break captioning
            if not self.warned:
                self.warned = True
                log.warning("run log: %s: %s", type(exc).__name__, exc)
            return None


def record(
    events: Iterable[Any],
    request: Any,
    *,
    log: RunLog | None,
    source: str,
    on_start: Callable[[int], None] | None = None,
) -> Iterator[Any]:
    """Pass every event of ``engine.describe(request)`` through unchanged, recording the run.

    The run starts when the first event is asked for, gets its setup from ``Prepared``,
    saves partial output on ``Text``/``Thinking`` (throttled), and is finished by ``Done`` /
    ``Error`` before that event is handed on. A consumer that stops early (``close()``, a closed tab)
    leaves a "stopped" run with the partial output; an exception leaves an "error" run
    (``KeyboardInterrupt``: "stopped") and is re-raised. ``on_start`` gets the run id."""
    iterator = iter(events)
    if log is None:
        yield from iterator
        return
    guard = _Guard()
    answer: list[str] = []
    thinking: list[str] = []

    def partial() -> dict:
        return {"answer": "".join(answer), "thinking": "".join(thinking)}

    run_id: int | None = guard(log.start, request, source)  # at the consumer's first next()
    finished = run_id is None  # the log failed: just pass the events on
    if run_id is not None and on_start is not None:
        on_start(run_id)
    try:
        for event in iterator:
            kind = getattr(event, "kind", None)
            if run_id is not None and not finished:
                if kind == "prepared":
                    guard(log.prepared, run_id, event.selection, event.clip, event.loaded)
                elif kind in ("text", "thinking"):
                    (answer if kind == "text" else thinking).append(event.text)
                    if log.progress_due(run_id):  # join only when it will be written
                        guard(log.progress, run_id, *partial().values())
                elif kind == "done":
                    guard(log.finish, run_id, done=event)
                    finished = True
                elif kind == "error":
                    guard(log.finish, run_id, error=event.error, **partial())
                    finished = True
            yield event
    except GeneratorExit:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # stop the generation first, so the model is free when the run closes
        if run_id is not None and not finished:
            guard(log.finish, run_id, stopped=True, **partial())
        raise
    except KeyboardInterrupt:
        if run_id is not None and not finished:
            guard(log.finish, run_id, stopped=True, **partial())
        raise
    except BaseException as exc:
        if run_id is not None and not finished:
            guard(log.finish, run_id, error=exc, **partial())
        raise
    if run_id is not None and not finished:
        guard(log.finish, run_id, **partial())  # ended without Done or Error: "incomplete"


# --- exports ----------------------------------------------------------------------------------
CSV_COLUMNS = (
    "id",
    "created_at",
    "finished_at",
    "source",
    "status",
    "video_name",
    "video_sha256",
    "video_duration_s",
    "video_size",
    "video_fps",
    "frames",
    "frame_times",
    "model",
    "model_revision",
    "adapter",
    "profile",
    "precision",
    "device",
    "preset",
    "prompt",
    "system_prompt",
    "options",
    "seed",
    "sampling",
    "answer",
    "thinking",
    "error_code",
    "error_ko",
    "error_en",
    "new_tokens",
    "ttft_s",
    "tokens_per_s",
    "total_s",
    "finish_reason",
    "metrics",
    "rating_avg",
    "rating_count",
    "ratings",
    "app_version",
    "request",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # a spreadsheet must not run model output as a formula
    return value


def _flat(run: Run) -> dict:
    metrics = run.metrics or {}
    values = {name: getattr(run, name, None) for name in CSV_COLUMNS if hasattr(run, name)}
    values.update(
        new_tokens=metrics.get("new_tokens"),
        ttft_s=metrics.get("ttft_s"),
        tokens_per_s=metrics.get("tokens_per_s"),
        total_s=metrics.get("total_s"),
        finish_reason=metrics.get("finish_reason"),
        rating_avg=round(run.rating_avg, 3) if run.rating_avg is not None else None,
        rating_count=run.rating_count,
        ratings=[
            {
                "score": r.score,
                "tags": r.tags,
                "note": r.note,
                "reviewer": r.reviewer,
                "at": r.updated_at,
            }
            for r in run.ratings
        ],
    )
    return values


def to_csv(runs: Iterable[Run]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for run in runs:
        writer.writerow({k: _csv_cell(v) for k, v in _flat(run).items()})
    return buffer.getvalue()


def to_jsonl(runs: Iterable[Run]) -> str:
    return "".join(
        json.dumps(run.to_dict(), ensure_ascii=False, default=str) + "\n" for run in runs
    )


_CSS = """
:root{color-scheme:light dark;--fg:#1d1d1f;--muted:#6e6e73;--bg:#fff;--card:#f6f7f9;--line:#d9dbe0;
--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--accent:#4f46e5}
@media (prefers-color-scheme:dark){:root{--fg:#e6e6e6;--muted:#a0a0a8;--bg:#111318;--card:#1b1e25;
--line:#30343d}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:24px;background:var(--bg);color:var(--fg);
font:15px/1.65 "Pretendard","Apple SD Gothic Neo","Noto Sans KR","Malgun Gothic",system-ui,sans-serif;
word-break:keep-all;overflow-wrap:anywhere}
h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.15rem;margin:0 0 8px}h3{font-size:.95rem;margin:16px 0 6px;color:var(--muted)}
.meta{color:var(--muted);font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:16px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted)}
article{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:18px 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0;font-size:.85rem}
dt{color:var(--muted)}dd{margin:0}
.text{white-space:pre-wrap;background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:0}
.badge{display:inline-block;border-radius:999px;padding:0 8px;font-size:.8rem;border:1px solid currentColor}
.done{color:var(--ok)}.stopped{color:var(--warn)}.error{color:var(--bad)}.running{color:var(--accent)}
.tag{display:inline-block;background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:0 6px;margin:0 4px 0 0;font-size:.8rem}
.stars{color:#e3a008;letter-spacing:1px}
details summary{cursor:pointer;color:var(--muted)}
a{color:var(--accent)}
"""


def _e(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        value = f"{value:.3f}".rstrip("0").rstrip(".")
    return html.escape(str(value), quote=True)


def _stars(score: float | None) -> str:
    if score is None:
        return ""
    full = int(round(score))
    return "★" * full + "☆" * (5 - full)


def _run_html(run: Run) -> str:
    metrics = run.metrics or {}
    rows = [
        ("영상 / video", f"{run.video_name or '-'}"),
        ("sha256", (run.video_sha256 or "")[:16]),
        (
            "길이·크기 / duration·size",
            " · ".join(
                x
                for x in (
                    f"{run.video_duration_s:.2f}s" if run.video_duration_s is not None else "",
                    run.video_size or "",
                    f"{run.video_fps:.2f} fps" if run.video_fps else "",
                )
                if x
            ),
        ),
        (
            "프레임 / frames",
            f"{run.frames} @ {', '.join(f'{t:.2f}' for t in run.frame_times)}s"
            if run.frame_times
            else (run.frames or ""),
        ),
        ("모델 / model", " @ ".join(x for x in (run.model, run.model_revision) if x)),
        ("어댑터 / adapter", run.adapter),
        (
            "프로필 / profile",
            " · ".join(x for x in (run.profile, run.precision, run.device) if x),
        ),
        ("프리셋 / preset", run.preset),
        ("옵션 / options", json.dumps(run.options or {}, ensure_ascii=False, default=str)),
        (
            "측정 / metrics",
            " · ".join(
                f"{k} {metrics[k]:.2f}"
                if isinstance(metrics.get(k), float)
                else f"{k} {metrics[k]}"
                for k in ("new_tokens", "ttft_s", "tokens_per_s", "total_s", "finish_reason")
                if metrics.get(k) is not None
            ),
        ),
        ("출처 / source", f"{run.source} · {run.created_at} · v{run.app_version or '?'}"),
    ]
    config = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v not in (None, ""))
    parts = [
        f'<article id="run-{run.id}">',
        f"<h2>#{run.id} · {_e(run.video_name or '(텍스트)')} "
        f'<span class="badge {_e(run.status)}">{_e(run.status)}</span> '
        f'<span class="stars">{_stars(run.rating_avg)}</span></h2>',
        f"<dl>{config}</dl>",
        f'<h3>프롬프트 / prompt</h3><pre class="text">{_e(run.prompt)}</pre>',
    ]
    if run.system_prompt:
        parts.append(
            "<details><summary>시스템 프롬프트 / system prompt</summary>"
            f'<pre class="text">{_e(run.system_prompt)}</pre></details>'
        )
    parts.append(f'<h3>답변 / answer</h3><pre class="text">{_e(run.answer)}</pre>')
    if run.thinking:
        parts.append(
            "<details><summary>생각 / thinking</summary>"
            f'<pre class="text">{_e(run.thinking)}</pre></details>'
        )
    if run.error:
        parts.append(
            f'<h3>오류 / error</h3><p class="error">[{_e(run.error_code)}] {_e(run.error_ko)}'
            f"<br>{_e(run.error_en)}</p>"
        )
    if run.ratings:
        items = "".join(
            f'<tr><td class="stars">{_stars(r.score)} {r.score}</td><td>{_e(r.reviewer or "-")}</td>'
            f"<td>{''.join(f'<span class=tag>{_e(t)}</span>' for t in r.tags)}</td>"
            f"<td>{_e(r.note)}</td><td class=meta>{_e(r.updated_at)}</td></tr>"
            for r in run.ratings
        )
        parts.append(
            "<h3>평가 / ratings</h3><table><tr><th>점수</th><th>리뷰어</th><th>태그</th>"
            f"<th>메모</th><th>시각</th></tr>{items}</table>"
        )
    parts.append("</article>")
    return "".join(parts)


def to_html(runs: Sequence[Run], title: str = "캡션 리뷰 보고서 · Caption review report") -> str:
    """A self-contained report: inline CSS, no scripts, no external assets; every value escaped."""
    summary = "".join(
        f'<tr><td><a href="#run-{run.id}">#{run.id}</a></td><td>{_e(run.video_name)}</td>'
        f"<td>{_e(run.model)}</td><td>{_e(run.preset or (run.prompt or '')[:40])}</td>"
        f'<td><span class="badge {_e(run.status)}">{_e(run.status)}</span></td>'
        f'<td class="stars">{_stars(run.rating_avg)}</td>'
        f"<td>{_e((run.metrics or {}).get('tokens_per_s'))}</td></tr>"
        for run in runs
    )
    body = "".join(_run_html(run) for run in runs)
    return (
        '<!doctype html>\n<html lang="ko">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="meta">{len(runs)}개 실행 / runs · {_e(utc_now())} · v{_e(__version__)}</p>'
        "</header>\n"
        "<table><tr><th>#</th><th>영상</th><th>모델</th><th>프롬프트</th><th>상태</th>"
        f"<th>평점</th><th>tok/s</th></tr>{summary}</table>\n{body}\n</body>\n</html>\n"
    )


def export(
    runs: Iterable[Run], format: str, out_path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write ``runs`` as csv (UTF-8 with BOM, so spreadsheet apps read Korean), jsonl or html."""
    fmt = (format or "").lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise InvalidRequest(
            f"알 수 없는 내보내기 형식 '{format}' (가능: {', '.join(EXPORT_FORMATS)})",
            f"Unknown export format '{format}' (choose from {', '.join(EXPORT_FORMATS)})",
        )
    runs = list(runs)
    if fmt == "csv":
        text, encoding = to_csv(runs), "utf-8-sig"
    elif fmt == "jsonl":
        text, encoding = to_jsonl(runs), "utf-8"
    else:
        text, encoding = (to_html(runs, title) if title else to_html(runs)), "utf-8"
    out = Path(out_path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        partial.write_text(text, encoding=encoding, newline="")
        partial.replace(out)
    except OSError as exc:
        raise InvalidRequest(
            f"내보내기 파일을 쓸 수 없습니다: {out.name}",
            f"Cannot write the export file: {out.name}",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    return out


# --- blind comparison -------------------------------------------------------------------------
def blind_order(seed: int | str) -> tuple[int, int]:
    """The panels of a blind pair, fixed by ``seed``: (0, 1) keeps A left, (1, 0) swaps."""
    return (1, 0) if random.Random(f"blind:{seed}").random() < 0.5 else (0, 1)


def pair_for_blind(run_a: Run, run_b: Run, seed: int | str) -> tuple[Run, Run, str]:
    """(left, right, key): the two runs in an order fixed by ``seed`` and the pair, so that
    a reviewer cannot tell which is which. Keep ``key`` server-side; :func:`reveal` reads it."""
    rng = random.Random(f"blind:{seed}:{run_a.id}:{run_b.id}")
    left, right = (run_b, run_a) if rng.random() < 0.5 else (run_a, run_b)
    payload = json.dumps({"v": 1, "left": left.id, "right": right.id, "seed": seed})
    return left, right, base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def reveal(key: str) -> dict:
    """``{"left": run_id, "right": run_id}`` for a key from :func:`pair_for_blind`."""
    try:
        padded = key + "=" * (-len(key) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        return {"left": int(payload["left"]), "right": int(payload["right"])}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidRequest(
            "블라인드 비교 키가 올바르지 않습니다.", "Invalid blind comparison key."
        ) from None
