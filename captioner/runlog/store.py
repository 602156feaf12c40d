"""The run log's store: one SQLite file, its connections, the writes and the queries.

Why it is shaped like this:

- One embedded SQLite file, so a Space keeps its history in ``/data`` and a laptop in
  ``~/.cache`` with nothing to install or run. WAL mode plus a busy timeout lets the page and
  a batch (two processes) write at once; every write is one short ``BEGIN IMMEDIATE``
  transaction, so writers queue instead of failing on a lock upgrade.
- sqlite3 connections are not thread-safe, and Gradio serves requests from a thread pool:
  each thread (and each process after a fork) gets its own connection.
- SQL is always parameterised; column names in built statements come from our own tuples.
- The path is given by the caller (``RunLog(path)``); where it lives by default is decided in
  :mod:`captioner.runlog.paths`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from captioner import __version__
from captioner.errors import CaptionerError, InvalidRequest
from captioner.runlog import provenance
from captioner.runlog.errors import RunLogError, RunNotFound
from captioner.runlog.records import JSON_COLUMNS, RUN_COLUMNS, Rating, Run
from captioner.runlog.schema import migrate
from captioner.runlog.times import is_date, parse_time, utc_now

log = logging.getLogger(__name__)

SOURCES = ("web", "cli", "batch")
STATUSES = ("running", "done", "stopped", "error")
BUSY_TIMEOUT_MS = 30_000


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class RunLog:
    """The run log database at ``path``. Safe to share between threads; several processes may
    open the same file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._open_error(exc) from None
        self._conn()  # open and migrate now, so a bad path fails here, not mid-run

    # --- connections ----------------------------------------------------------------------
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

    def _update(self, run_id: int, values: dict) -> None:
        values = {**values, "updated_at": utc_now()}
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._write() as conn:
            cur = conn.execute(
                f"UPDATE runs SET {columns} WHERE id = ?", [*values.values(), run_id]
            )
            if cur.rowcount == 0:
                raise RunNotFound(run_id)

    # --- writing runs (the recorder's calls) ----------------------------------------------
    def start(self, request: Any, source: str) -> int:
        """Record a new run as "running"; returns its id."""
        if source not in SOURCES:
            raise InvalidRequest(
                f"알 수 없는 실행 출처 '{source}' (가능: {', '.join(SOURCES)})",
                f"Unknown run source '{source}' (choose from {', '.join(SOURCES)})",
            )
        video = getattr(request, "video", None)
        sha = provenance.file_sha256(video)
        values = provenance.stored_request(request)
        options = values.get("options") if isinstance(values.get("options"), dict) else None
        prompt, preset = provenance.prompt_and_preset(request)
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
            "system_prompt": provenance.default_system(request),
            "options": provenance.to_json(options),
            "seed": (options or {}).get("seed"),
            "app_version": __version__,
            "request": provenance.to_json(values),
            "config_key": provenance.config_key(request, sha),
        }
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            cur = conn.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", list(row.values()))
            return int(cur.lastrowid)

    def prepared(self, run_id: int, selection: Any, clip: Any = None, backend: Any = None) -> None:
        """What the engine selected and where the answer comes from (``engine.Selection``,
        ``generation.Backend``): model, profile, precision, device, the sampled frames."""
        hardware = getattr(selection, "hardware", None)
        values: dict[str, Any] = {
            "model": getattr(selection, "model", None),
            "profile": getattr(selection, "profile", None),
            "precision": getattr(selection, "precision", None),
            "device": getattr(backend, "device", None) or getattr(selection, "device", None),
            "hardware": hardware.describe() if hasattr(hardware, "describe") else None,
        }
        if backend is not None:
            values["model_revision"] = getattr(backend, "revision", None)
            values["adapter"] = getattr(backend, "adapter", None)
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
                frame_indices=provenance.to_json([int(i) for i in clip.indices]),
                frame_times=provenance.to_json([round(float(t), 4) for t in clip.timestamps]),
                frame_height=int(shape[1]) if shape is not None and len(shape) >= 3 else None,
                frame_width=int(shape[2]) if shape is not None and len(shape) >= 3 else None,
            )
        values = {k: v for k, v in values.items() if v is not None}
        if values:
            self._update(run_id, values)

    def progress(self, run_id: int, answer: str, thinking: str = "") -> None:
        """Save partial output (the recorder decides how often)."""
        self._update(run_id, {"answer": answer, "thinking": thinking})

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
                metrics=provenance.to_json(
                    dataclasses.asdict(metrics) if dataclasses.is_dataclass(metrics) else metrics
                ),
                sampling=provenance.to_json(getattr(done, "sampling", None)),
            )
            if getattr(metrics, "frames", None) and not values.get("frames"):
                values["frames"] = metrics.frames
        if answer is not None:
            values["answer"] = answer
        if thinking is not None:
            values["thinking"] = thinking
        if error is not None:
            status = "error"
            values.update(provenance.error_fields(error))
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
        return status

    # --- ratings ----------------------------------------------------------------------------
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
        reviewer = (reviewer or "").strip()
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
                (run_id, score, provenance.to_json(clean), note or "", reviewer, now, now),
            )
            row = conn.execute(
                "SELECT id FROM ratings WHERE run_id = ? AND reviewer = ?", (run_id, reviewer)
            ).fetchone()
            return int(row[0])

    def ratings(self, run_id: int) -> list[Rating]:
        return list(self.get(run_id).ratings)

    def _ratings_for(self, run_ids: Sequence[int]) -> dict[int, list[Rating]]:
        found: dict[int, list[Rating]] = {}
        rows = self._conn().execute(
            "SELECT * FROM ratings WHERE run_id IN (SELECT value FROM json_each(?))"
            " ORDER BY created_at, id",
            (json.dumps(list(run_ids)),),
        )
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

    # --- reading runs -----------------------------------------------------------------------
    def _runs(self, where: str, params: Sequence[Any], tail: str = "") -> list[Run]:
        columns = ", ".join(RUN_COLUMNS)
        rows = self._conn().execute(f"SELECT {columns} FROM runs {where} {tail}", params).fetchall()
        ratings = self._ratings_for([row["id"] for row in rows])
        runs = []
        for row in rows:
            values = {name: row[name] for name in RUN_COLUMNS}
            for name in JSON_COLUMNS:
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
            where.append("created_at < ?" if is_date(until) else "created_at <= ?")
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
            # one JSON parameter instead of one per id: no limit on how many
            where.append("id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(ids))
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


@functools.cache
def _shared(path: str) -> RunLog:
    return RunLog(path)


_warned: set[str] = set()


def shared_log(path: str | os.PathLike[str] | None) -> RunLog | None:
    """One RunLog per path for the whole process (the page's handlers share it); None when
    the log is off (no path) or its file cannot be opened, warned once: a page keeps working
    without its log."""
    if path is None:
        return None
    try:
        return _shared(str(path))
    except CaptionerError as exc:
        if str(path) not in _warned:
            _warned.add(str(path))
            log.warning("run log disabled: %s (%s)", exc.en, exc.detail)
        return None
