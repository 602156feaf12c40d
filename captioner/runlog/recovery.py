"""Startup recovery: runs left "running" by a process that died become "interrupted".

A process that is killed (``kill -9``, out of memory, a Space restart) cannot close its run,
so every run records which process runs it: pid, host name and the process's start time.
The start time matters because pids are reused: a run is only taken for alive when a process
with that pid exists on this host *and* started at the recorded time. Runs recorded on
another host (two machines sharing a file) cannot be checked from here; they, and runs
recorded before this was stored, are interrupted once they have not been written to for
``stale_after`` (default 6 hours: longer than any model download or generation).

The page and the CLI call :func:`recover_interrupted` when they start.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from captioner.runlog.times import format_time

STALE_AFTER = dt.timedelta(hours=6)
_START_TOLERANCE_S = 1.0  # start times are read from /proc with clock-tick resolution


@dataclass(frozen=True)
class ProcessId:
    pid: int
    host: str
    started: float  # seconds since the epoch

    @classmethod
    def current(cls) -> ProcessId:
        return _current(os.getpid())

    def alive(self) -> bool:
        """Whether this very process still runs (on this host; see :meth:`here`)."""
        import psutil

        try:
            process = psutil.Process(self.pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return False  # killed, not yet reaped by its parent
            return abs(process.create_time() - self.started) < _START_TOLERANCE_S
        except psutil.NoSuchProcess:
            return False
        except psutil.Error:
            return True  # exists but cannot be inspected: not ours to declare dead

    def here(self) -> bool:
        return self.host == socket.gethostname()


@functools.lru_cache(maxsize=4)
def _current(pid: int) -> ProcessId:  # keyed by pid: a forked child is another process
    import psutil

    return ProcessId(pid, socket.gethostname(), psutil.Process(pid).create_time())


def is_interrupted(
    process: ProcessId | None, updated_at: str | None, now: dt.datetime, stale_after: dt.timedelta
) -> bool:
    """Whether a "running" run's process is gone (see the module docstring)."""
    if process is not None and process.here():
        return not process.alive()
    return updated_at is None or updated_at < format_time(now - stale_after)


class RunningRuns(Protocol):
    """What recovery needs of a run log (``store.RunLog``, which imports ProcessId from
    here: a protocol keeps the import one-way)."""

    def running_processes(self) -> list[tuple[int, ProcessId | None, str | None]]: ...

    def mark_interrupted(self, run_ids: Iterable[int]) -> int: ...


def recover_interrupted(
    log: RunningRuns, *, stale_after: dt.timedelta = STALE_AFTER, now: dt.datetime | None = None
) -> list[int]:
    """Mark the runs whose process died as "interrupted" (their partial output stays);
    returns their ids. Cheap: one query over the running runs."""
    now = now or dt.datetime.now(dt.UTC)
    dead = [
        run_id
        for run_id, process, updated_at in log.running_processes()
        if is_interrupted(process, updated_at, now, stale_after)
    ]
    if dead:
        log.mark_interrupted(dead)
    return dead
