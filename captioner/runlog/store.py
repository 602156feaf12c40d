"""The run log's store: one SQLite file, its connections, the writes and the queries.

Why it is shaped like this:

- One embedded SQLite file, so a Space keeps its history in ``/data`` and a laptop in
  ``~/.cache`` with nothing to install or run. WAL mode plus a busy timeout lets the page and
  a batch (two processes) write at once; every write is one short ``BEGIN IMMEDIATE``
  transaction, so writers queue instead of failing on a lock upgrade.
- sqlite3 connections are not thread-safe, and Gradio serves requests from a thread pool:
  each thread (and each process after a fork) gets its own connection.
- SQL is always parameterised; column names in built statements come from our own tuples.
- The path is given by the caller (``RunLog(path)``); where it lives by default is decided by
  the settings (``captioner/settings.py``). ``shared_log(path)`` gives the page one log per
  path for the whole process.
- Every read and write a page can reach takes an ``access`` (:mod:`captioner.runlog.access`),
  a required keyword: the scope is applied here, in SQL, once. The recorder's own writes
  (``prepared``, ``progress``, ``finish``) address the run it created; maintenance
  (recovery, library pruning) is not reachable from a page and sees everything.
- Integers are checked at this boundary: SQLite stores 64-bit integers, and a bigger run id
  or seed is a bilingual InvalidRequest, not an OverflowError deep in sqlite3.
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
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import captioner.runlog.provenance as provenance
from captioner import __version__
from captioner.errors import CaptionerError, InvalidRequest
from captioner.runlog.access import Access, check
from captioner.runlog.errors import RunLogError, RunNotFound
from captioner.runlog.records import JSON_COLUMNS, RUN_COLUMNS, Rating, Run, WindowRecord
from captioner.runlog.recovery import ProcessId
from captioner.runlog.schema import migrate
from captioner.runlog.summary import RatingSummary, summarize
from captioner.runlog.times import is_date, parse_time, utc_now

SOURCES = ("web", "cli", "batch")
STATUSES = ("running", "done", "stopped", "error", "interrupted")
SUMMARY_GROUPS = ("model", "preset")  # what summary() can group by (column names)
BUSY_TIMEOUT_MS = 30_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what an SQLite INTEGER holds

log = logging.getLogger(__name__)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def check_int(name: str, value: Any) -> None:
    """An integer SQLite cannot hold is the user's input (a seed, an id), not our bug."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidRequest(
                f"{name} 값 {_short(value)} 이(가) 범위를 벗어났습니다 "
                f"({INT64_MIN} ~ {INT64_MAX}).",
                f"{name} {_short(value)} is out of range ({INT64_MIN} to {INT64_MAX}).",
            )


def check_run_id(run_id: Any) -> int:
    if isinstance(run_id, bool) or not isinstance(run_id, int):
        raise InvalidRequest(
            f"실행 ID는 정수여야 합니다 (받은 값: {_short(run_id)}).",
            f"A run id must be an integer (got {_short(run_id)}).",
        )
    check_int("run id", run_id)
    return run_id


def _wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL, retried while another process holds it. Switching needs an
    exclusive lock, and when two processes open a new file at the same moment SQLite may
    answer "database is locked" at once instead of waiting in the busy handler (it does so
    where waiting could deadlock: both hold a shared lock and want the exclusive one): one
    open in 240 failed so (3 processes opening a new file at once, 80 times), and one CI run."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


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
            _wal(conn)
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
    def start(self, request: Any, source: str, *, access: Access) -> int:
        """Record a new run as "running", owned by ``access.owner``; returns its id.

        The video is not named yet: :meth:`prepared` names it once it decoded as a video."""
        check(access)
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
        process = ProcessId.current()
        now = utc_now()
        row = {
            "created_at": now,
            "updated_at": now,
            "source": source,
            "status": "running",
            "owner": access.owner,
            "process_pid": process.pid,
            "process_host": process.host,
            "process_started": process.started,
            "video_sha256": sha,
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
        for name, value in row.items():
            check_int(name, value)
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            cur = conn.execute(f"INSERT INTO runs ({names}) VALUES ({marks})", list(row.values()))
            return int(cur.lastrowid)

    def prepared(
        self,
        run_id: int,
        selection: Any,
        clip: Any = None,
        backend: Any = None,
        *,
        video_name: str | None = None,
    ) -> None:
        """What the engine selected (``engine.Selection``) and where the answer comes from
        (``generation.Backend``): model, profile, precision, device, the sampled frames.

        A clip means the file was accepted as a video: it is named now, as ``video_name`` (the
        name the user uploaded) or else the decoded file's name."""
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
            shape = getattr(clip.frames, "shape", None)
            values.update(_video_values(clip.info, video_name))
            values.update(
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

    # --- long runs: windows (captioner/longvideo) ------------------------------------------
    def long_planned(
        self,
        run_id: int,
        count: int,
        info: Any,
        *,
        video_name: str | None = None,
        fresh: bool = True,
    ) -> None:
        """A long run's plan: ``count`` windows over the video ``info`` (``video.VideoInfo``),
        named as ``video_name`` or the file's name. ``fresh`` discards windows recorded
        before for this run (a resumed run whose windows no longer match)."""
        values: dict[str, Any] = {"windows": int(count)}
        if info is not None:
            values.update(_video_values(info, video_name))
        values = {k: v for k, v in values.items() if v is not None}
        self._update(run_id, values)
        if fresh:
            with self._write() as conn:
                conn.execute("DELETE FROM windows WHERE run_id = ?", (run_id,))

    def window(self, run_id: int, result: Any) -> None:
        """Keep one finished (or failed, or stopped) window (``longvideo.WindowResult``), and
        the run's frames as the windows so far have them."""
        metrics = getattr(result, "metrics", None)
        if dataclasses.is_dataclass(metrics):
            metrics = dataclasses.asdict(metrics)
        size = getattr(result, "frame_size", None)
        error = getattr(result, "error", None)
        row = {
            "run_id": run_id,
            "idx": int(result.index),
            "start_s": round(float(result.start_s), 4),
            "end_s": round(float(result.end_s), 4),
            "cut_score": result.cut_score,
            "status": result.status,
            "answer": result.answer or "",
            "thinking": getattr(result, "thinking", "") or "",
            "frame_indices": provenance.to_json([int(i) for i in result.frame_indices]),
            "frame_times": provenance.to_json([round(float(t), 4) for t in result.frame_times]),
            "frame_height": int(size[0]) if size else None,
            "frame_width": int(size[1]) if size else None,
            "metrics": provenance.to_json(metrics),
            "decode_s": getattr(result, "decode_s", None),
            "generate_s": getattr(result, "generate_s", None),
            "updated_at": utc_now(),
            **(provenance.error_fields(error) if error is not None else {}),
        }
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO windows ({names}) VALUES ({marks})", list(row.values())
            )
            indices: list[int] = []
            times: list[float] = []
            size_row = None
            for done in conn.execute(
                "SELECT frame_indices, frame_times, frame_height, frame_width FROM windows"
                " WHERE run_id = ? AND status = 'done' ORDER BY idx",
                (run_id,),
            ):
                indices += json.loads(done[0] or "[]")
                times += json.loads(done[1] or "[]")
                size_row = size_row or (done[2], done[3])
            conn.execute(
                "UPDATE runs SET frames = ?, frame_indices = ?, frame_times = ?,"
                " frame_height = COALESCE(?, frame_height), frame_width = COALESCE(?, frame_width),"
                " updated_at = ? WHERE id = ?",
                (len(indices), json.dumps(indices), json.dumps(times),
                 *(size_row or (None, None)), utc_now(), run_id),
            )  # fmt: skip

    def windows(self, run_id: int, *, access: Access) -> list[WindowRecord]:
        """A long run's windows in order (none for a one-pass run); RunNotFound as ``get``."""
        run = self.get(run_id, access=access)
        rows = self._conn().execute(
            "SELECT * FROM windows WHERE run_id = ? ORDER BY idx", (run.id,)
        )
        out = []
        for row in rows:
            error = None
            if row["error_code"] is not None or row["error_en"] is not None:
                error = {k: row[f"error_{k}"] for k in ("code", "ko", "en", "detail")}
            size = None
            if row["frame_height"] is not None and row["frame_width"] is not None:
                size = (row["frame_height"], row["frame_width"])
            out.append(
                WindowRecord(
                    run_id=row["run_id"],
                    index=row["idx"],
                    start_s=row["start_s"],
                    end_s=row["end_s"],
                    cut_score=row["cut_score"],
                    status=row["status"],
                    answer=row["answer"] or "",
                    thinking=row["thinking"] or "",
                    frame_indices=json.loads(row["frame_indices"] or "null"),
                    frame_times=json.loads(row["frame_times"] or "null"),
                    frame_size=size,
                    metrics=json.loads(row["metrics"] or "null"),
                    decode_s=row["decode_s"],
                    generate_s=row["generate_s"],
                    error=error,
                    updated_at=row["updated_at"],
                )
            )
        return out

    def unfinished_long(self, key: str, *, access: Access) -> Run | None:
        """The latest long run with configuration ``key`` that ``access`` owns and that ended
        without finishing (stopped, failed or interrupted) with no finished run after it."""
        check(access)
        runs = self._runs(
            [
                "runs.config_key = ?",
                "runs.windows IS NOT NULL",
                "runs.owner IS ?",
                "runs.status IN ('stopped', 'error', 'interrupted')",
                "NOT EXISTS (SELECT 1 FROM runs later WHERE later.config_key = runs.config_key"
                " AND later.status = 'done' AND later.id > runs.id)",
            ],
            [key, access.owner],
            access,
            "ORDER BY runs.id DESC LIMIT 1",
        )
        return runs[0] if runs else None

    def reopen(self, run_id: int, *, access: Access) -> None:
        """Mark an unfinished run "running" again in this process, to continue it."""
        run = self.get(run_id, access=access)
        if run.owner != access.owner or run.status not in ("stopped", "error", "interrupted"):
            raise InvalidRequest(
                f"실행 #{run_id} 은(는) 이어서 할 수 없습니다 (상태: {run.status}).",
                f"Run #{run_id} cannot be resumed (status: {run.status}).",
            )
        process = ProcessId.current()
        values: dict[str, Any] = {
            "status": "running",
            "finished_at": None,
            "process_pid": process.pid,
            "process_host": process.host,
            "process_started": process.started,
        }
        values.update({f"error_{k}": None for k in ("code", "ko", "en", "detail")})
        self._update(run_id, values)

    # --- ratings ----------------------------------------------------------------------------
    def rate(
        self,
        run_id: int,
        score: int,
        tags: Iterable[str] = (),
        note: str = "",
        *,
        access: Access,
    ) -> int:
        """Rate a run 1..5 as ``access.rater``. One rating per reviewer and run: rating again
        replaces it. A run this access may not see is RunNotFound, like a missing one."""
        check(access)
        run_id = check_run_id(run_id)
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidRequest(
                f"평점은 1~5 사이의 정수여야 합니다 (받은 값: {_short(score)}).",
                f"The score must be an integer from 1 to 5 (got {_short(score)}).",
            )
        if isinstance(tags, str):
            tags = [tags]
        clean: list[str] = []
        for tag in tags:
            tag = str(tag).strip()
            if tag and tag not in clean:
                clean.append(tag)
        reviewer = access.rater.strip()
        scope, scope_params = access.runs_where()
        now = utc_now()
        with self._write() as conn:
            exists = conn.execute(
                "SELECT 1 FROM runs WHERE runs.id = ?" + (f" AND {scope}" if scope else ""),
                [run_id, *scope_params],
            ).fetchone()
            if exists is None:
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

    def ratings(self, run_id: int, *, access: Access) -> list[Rating]:
        return list(self.get(run_id, access=access).ratings)

    def _ratings_for(self, run_ids: Sequence[int], access: Access) -> dict[int, list[Rating]]:
        found: dict[int, list[Rating]] = {}
        scope, scope_params = access.ratings_where()
        rows = self._conn().execute(
            "SELECT * FROM ratings WHERE run_id IN (SELECT value FROM json_each(?))"
            + (f" AND {scope}" if scope else "")
            + " ORDER BY created_at, id",
            [json.dumps(list(run_ids)), *scope_params],
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
    def _runs(
        self,
        where: list[str],
        params: Sequence[Any],
        access: Access,
        tail: str = "",
        tail_params: Sequence[Any] = (),
    ) -> list[Run]:
        scope, scope_params = access.runs_where()
        where = [*where, scope] if scope else list(where)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        columns = ", ".join(f"runs.{name}" for name in RUN_COLUMNS)
        rows = (
            self._conn()
            .execute(
                f"SELECT {columns} FROM runs {clause} {tail}",
                [*params, *scope_params, *tail_params],
            )
            .fetchall()
        )
        ratings = self._ratings_for([row["id"] for row in rows], access)
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

    def get(self, run_id: int, *, access: Access) -> Run:
        """One run; RunNotFound when it does not exist *or* this access may not see it."""
        check(access)
        run_id = check_run_id(run_id)
        runs = self._runs(["runs.id = ?"], [run_id], access)
        if not runs:
            raise RunNotFound(run_id)
        return runs[0]

    def _filters(
        self,
        access: Access,
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
    ) -> tuple[list[str], list[Any]]:
        """The conditions on ``runs`` for the table's filters (see :meth:`query`)."""
        where: list[str] = []
        params: list[Any] = []
        if model:
            where.append("runs.model LIKE ? ESCAPE '\\'")
            params.append(_like(model))
        if prompt:
            where.append("runs.prompt LIKE ? ESCAPE '\\'")
            params.append(_like(prompt))
        if preset:
            where.append("runs.preset = ?")
            params.append(preset)
        if video:
            if re.fullmatch(r"[0-9a-fA-F]{6,64}", video):
                where.append("(runs.video_name LIKE ? ESCAPE '\\' OR runs.video_sha256 LIKE ?)")
                params += [_like(video), video.lower() + "%"]
            else:
                where.append("runs.video_name LIKE ? ESCAPE '\\'")
                params.append(_like(video))
        if since:
            where.append("runs.created_at >= ?")
            params.append(parse_time(since))
        if until:
            where.append("runs.created_at < ?" if is_date(until) else "runs.created_at <= ?")
            params.append(parse_time(until, end_of_day=True))
        # ratings filters count only the ratings this access sees
        rating_scope, rating_params = access.ratings_where("r")
        rating_clause = "r.run_id = runs.id" + (f" AND {rating_scope}" if rating_scope else "")
        if min_rating is not None:
            where.append(f"(SELECT AVG(r.score) FROM ratings r WHERE {rating_clause}) >= ?")
            params += [*rating_params, float(min_rating)]
        if rated is not None:
            where.append(
                ("" if rated else "NOT ")
                + f"EXISTS (SELECT 1 FROM ratings r WHERE {rating_clause})"
            )
            params += rating_params
        if source:
            where.append("runs.source = ?")
            params.append(source)
        if status:
            where.append("runs.status = ?")
            params.append(status)
        if run_ids is not None:
            ids = [check_run_id(int(i)) for i in run_ids]
            # one JSON parameter instead of one per id: no limit on how many
            where.append("runs.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(ids))
        return where, params

    def query(
        self,
        *,
        access: Access,
        limit: int | None = 200,
        offset: int = 0,
        newest_first: bool = True,
        **filters: Any,
    ) -> list[Run]:
        """Runs this access may see that match every filter given: ``model``, ``prompt``,
        ``preset``, ``video``, ``since``, ``until``, ``min_rating``, ``rated``, ``source``,
        ``status``, ``run_ids``. Text filters (model, prompt, video name) match a part,
        case-insensitively; ``video`` also matches a sha256 prefix. ``min_rating`` is on the
        average over reviewers; ``until`` with a bare date includes that day."""
        check(access)
        for name, value in (("limit", limit), ("offset", offset)):
            check_int(name, value)
        where, params = self._filters(access, **filters)
        order = "DESC" if newest_first else "ASC"
        tail = f"ORDER BY runs.id {order} LIMIT ? OFFSET ?"
        limit_value = -1 if limit is None else int(limit)
        return self._runs(where, params, access, tail, [limit_value, int(offset)])

    def find_done(self, key: str, *, access: Access) -> Run | None:
        """The latest finished ("done") run with this configuration key, if any."""
        check(access)
        runs = self._runs(
            ["runs.config_key = ?", "runs.status = 'done'"],
            [key],
            access,
            "ORDER BY runs.id DESC LIMIT 1",
        )
        return runs[0] if runs else None

    def summary(self, *, access: Access, by: str = "model", **filters: Any) -> list[RatingSummary]:
        """Mean rating per model (``by="model"``) or per preset (``by="preset"``; free-text
        prompts are the group None), with counts and a 95% interval (see summary.py), over
        the runs and ratings this access sees, filtered like :meth:`query`."""
        check(access)
        if by not in SUMMARY_GROUPS:
            raise InvalidRequest(
                f"알 수 없는 묶음 기준 '{by}' (가능: {', '.join(SUMMARY_GROUPS)})",
                f"Unknown grouping '{by}' (choose from {', '.join(SUMMARY_GROUPS)})",
            )
        where, params = self._filters(access, **filters)
        scope, scope_params = access.runs_where()
        rating_scope, rating_params = access.ratings_where()
        where += [c for c in (scope, rating_scope) if c]
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._conn().execute(
            f"SELECT runs.{by}, runs.id, ratings.score FROM runs"
            f" JOIN ratings ON ratings.run_id = runs.id {clause}",
            [*params, *scope_params, *rating_params],
        )
        return summarize((row[0], row[1], row[2]) for row in rows)

    # --- maintenance: startup recovery and the video library (never from a page) -----------
    def running_processes(self) -> list[tuple[int, ProcessId | None, str | None]]:
        """``(run id, the process running it or None if unknown, updated_at)`` of every run
        still marked "running"."""
        rows = self._conn().execute(
            "SELECT id, process_pid, process_host, process_started, updated_at FROM runs"
            " WHERE status = 'running'"
        )
        found = []
        for row in rows:
            process = None
            if row["process_pid"] is not None and row["process_host"] is not None:
                process = ProcessId(
                    row["process_pid"], row["process_host"], row["process_started"] or 0.0
                )
            found.append((row["id"], process, row["updated_at"]))
        return found

    def mark_interrupted(self, run_ids: Iterable[int]) -> int:
        """Close these runs as "interrupted" (if they are still running); returns how many."""
        now = utc_now()
        with self._write() as conn:
            cur = conn.execute(
                """UPDATE runs SET status = 'interrupted', finished_at = ?, updated_at = ?,
                     error_code = 'interrupted',
                     error_ko = '실행하던 프로세스가 끝나 실행이 중단되었습니다.',
                     error_en = 'The process running this ended before it finished.'
                   WHERE status = 'running' AND id IN (SELECT value FROM json_each(?))""",
                (now, now, json.dumps([int(i) for i in run_ids])),
            )
            return cur.rowcount

    def videos_with_ratings(self, sha256s: Iterable[str]) -> set[str]:
        """Which of these videos have at least one rated run."""
        rows = self._conn().execute(
            """SELECT DISTINCT runs.video_sha256 FROM runs JOIN ratings ON ratings.run_id = runs.id
               WHERE runs.video_sha256 IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(sha256s)),),
        )
        return {row[0] for row in rows}

    def videos_pruned(self, sha256s: Iterable[str]) -> int:
        """Record that the library's copies of these videos were removed; their runs keep
        their metadata and text. Returns how many runs were marked."""
        now = utc_now()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE runs SET video_pruned_at = ?, updated_at = ?"
                " WHERE video_sha256 IN (SELECT value FROM json_each(?))",
                (now, now, json.dumps(list(sha256s))),
            )
            return cur.rowcount


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


def _video_values(info, video_name: str | None) -> dict[str, Any]:
    """The run's video columns from a ``video.VideoInfo``; the name as uploaded, else the
    decoded file's name."""
    decoded = getattr(info, "path", None)
    return {
        "video_name": video_name or (os.path.basename(str(decoded)) if decoded else None),
        "video_sha256": info.sha256,
        "video_duration_s": round(float(info.duration_s), 4),
        "video_width": int(info.width),
        "video_height": int(info.height),
        "video_fps": round(float(info.avg_fps), 4),
    }
