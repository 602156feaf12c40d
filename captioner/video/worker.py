"""The decode worker: one persistent process that probes and decodes, killed and replaced
when a job overruns its time limit.

Decoders can hang on hostile or broken files (decord holds the GIL while it does) and can
crash the interpreter, so they never run in the web server's process. The worker is a fresh
interpreter started with subprocess, not multiprocessing's "spawn": spawn re-imports the
parent's ``__main__`` (``app.py``) in the child, which would build a second Gradio page, or
launch one where app.py calls ``launch()`` at module level.

Jobs are top-level functions (sent by reference) with plain arguments. Typed errors travel
back as their state, because their ``__init__`` takes two messages and does not unpickle.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import captioner.video.readers as readers
from captioner import errors
from captioner.errors import CaptionerError

_BOOT = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[2]); "
    f"from {__name__} import worker_main; worker_main(int(sys.argv[1]))"
)
_START_TIMEOUT_S = 120.0


class WorkerTimeout(Exception):
    """The job overran its time limit; the worker was killed (the next call starts another)."""


class WorkerDied(Exception):
    """The worker process ended during the job (e.g. a decoder segfault)."""


def worker_main(fd: int) -> None:
    """Worker loop: receive (job, args), send back ("ok", result) or a typed error's state."""
    from multiprocessing.connection import Connection

    # Imports happen before "ready" so the decode time limit measures decoding, not imports.
    for name in ("av", "decord"):
        if readers.installed(name):
            __import__(name)
    conn = Connection(fd)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            reply: tuple[str, Any] = ("ok", job(*args))
        except CaptionerError as exc:
            reply = ("error", (type(exc).__name__, exc.ko, exc.en, exc.detail))
        except Exception as exc:
            reply = ("crash", f"{type(exc).__name__}: {exc}")
        conn.send(reply)


class Worker:
    """One persistent decode process, reused between calls, replaced after a timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Any = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def call(self, job: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
        """``job(*args)`` in the worker: its result, or the typed error it raised; raises
        WorkerTimeout after ``timeout_s`` and WorkerDied when the process ends meanwhile."""
        with self._lock:
            conn = self._ensure_started()
            try:
                conn.send((job, args))
                if not conn.poll(max(timeout_s, 0.0)):
                    self._stop()
                    raise WorkerTimeout(f"{job.__name__} after {timeout_s:.1f} s")
                status, payload = conn.recv()
            except (EOFError, OSError) as exc:
                self._stop()
                raise WorkerDied(f"{job.__name__}: {type(exc).__name__}") from None
        if status == "ok":
            return payload
        if status == "error":
            raise _rebuild_error(*payload)
        raise RuntimeError(f"video worker failed: {payload}")

    def _ensure_started(self) -> Any:
        if self._proc is not None and self._proc.poll() is None:
            return self._conn
        self._stop()
        parent, child = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(child.fileno()), json.dumps(sys.path)],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        from multiprocessing.connection import Connection

        self._conn = Connection(parent.detach())
        if not self._conn.poll(_START_TIMEOUT_S):
            self._stop()
            raise RuntimeError("the video worker process did not start")
        self._conn.recv()
        return self._conn

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _rebuild_error(name: str, ko: str, en: str, detail: str | None) -> CaptionerError:
    cls = getattr(errors, name, CaptionerError)
    exc = cls.__new__(cls)
    CaptionerError.__init__(exc, ko, en, detail=detail)
    return exc


WORKER = Worker()
atexit.register(WORKER.close)
