"""Recording a run while it streams: :func:`record` wraps ``engine.describe(...)``.

It passes every event through unchanged and records the run as it goes. Partial output is
written at most every ``progress_interval_s`` (a clock is injected, so tests need not wait),
so a crash or a closed tab loses nothing already produced. The log can never break
captioning: a failing database is reported once on the logger and the events keep flowing.
The one exception is a request the log cannot store because the request itself is out of
range (a seed of 2**64): that is the user's input, refused with an ``Error`` event before the
engine starts, as the engine refuses other bad input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from captioner.errors import InvalidRequest
from captioner.runlog.access import Access, check
from captioner.runlog.store import RunLog

_log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5  # partial output is written at most this often per run


class _Guard:
    """Calls into the log that can fail (disk full, locked file) without stopping the events."""

    def __init__(self) -> None:
        self.warned = False

    def __call__(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the log must never break captioning
            return self.failed(exc)

    def failed(self, exc: BaseException) -> None:
        if not self.warned:
            self.warned = True
            _log.warning("run log: %s: %s", type(exc).__name__, exc)


class _Throttle:
    """Whether partial output is due: at most once per ``interval`` seconds of ``clock``."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval = interval
        self.clock = clock
        self.last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            return False
        self.last = now
        return True


def record(
    events: Iterable[Any],
    request: Any,
    *,
    log: RunLog | None,
    source: str,
    access: Access,
    video_name: str | None = None,
    on_start: Callable[[int], None] | None = None,
    progress_interval_s: float = PROGRESS_INTERVAL_S,
    clock: Callable[[], float] = time.monotonic,
    resume_run: int | None = None,
) -> Iterator[Any]:
    """Pass every event of ``engine.describe(request)`` through unchanged, recording the run.

    The run starts when the first event is asked for, gets the engine's selection from ``Prepared``,
    saves partial output on ``Text``/``Thinking`` (throttled), and is finished by ``Done`` /
    ``Error`` before that event is handed on. A consumer that stops early (``close()``, a
    closed tab) leaves a "stopped" run with the partial output; an exception leaves an "error"
    run (``KeyboardInterrupt``: "stopped") and is re-raised. ``on_start`` gets the run id.

    ``access`` owns the run. ``video_name`` is the name to list the video under (the file name
    the user uploaded, when the engine reads a copy); it is stored once the engine decoded the
    file as a video, so a refused upload is never listed as one.

    Long videos (``captioner/longvideo``): the plan and every window are kept as they come
    (``LongPlanned``, ``WindowDone``, ``WindowFailed``). ``resume_run`` continues that
    unfinished run (``longvideo.resume``) instead of starting a new one; where it cannot be
    reopened a new run is started."""
    check(access)
    iterator = iter(events)
    if log is None:
        yield from iterator
        return
    guard = _Guard()
    throttle = _Throttle(progress_interval_s, clock)
    answer: list[str] = []
    thinking: list[str] = []

    def partial() -> dict:
        return {"answer": "".join(answer), "thinking": "".join(thinking)}

    try:  # at the consumer's first next()
        run_id: int | None = _reopened(log, resume_run, access)
        if run_id is None:
            run_id = log.start(request, source, access=access)
    except InvalidRequest as exc:
        yield from _refused(iterator, exc)
        return
    except Exception as exc:  # noqa: BLE001 - the log must never break captioning
        run_id = guard.failed(exc)
    finished = run_id is None  # the log failed: just pass the events on
    if run_id is not None and on_start is not None:
        on_start(run_id)
    try:
        for event in iterator:
            kind = getattr(event, "kind", None)
            if run_id is not None and not finished:
                if kind == "prepared":
                    guard(
                        log.prepared,
                        run_id,
                        event.selection,
                        event.clip,
                        event.backend,
                        video_name=video_name,
                    )
                elif kind == "long_plan":
                    guard(log.long_planned, run_id, event.layout.count, event.info,
                          video_name=video_name, fresh=event.fresh)  # fmt: skip
                elif kind in ("window_done", "window_failed"):
                    guard(log.window, run_id, event.result)
                elif kind in ("text", "thinking"):
                    (answer if kind == "text" else thinking).append(event.text)
                    if throttle.due():  # join only when it will be written
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


def _reopened(log: RunLog, run_id: int | None, access: Access) -> int | None:
    """``run_id`` reopened to continue it; None when there is none or it cannot be."""
    if run_id is None:
        return None
    try:
        log.reopen(run_id, access=access)
    except Exception as exc:  # noqa: BLE001 - gone, or resumed elsewhere meanwhile: a new run
        _log.info("run %s not reopened: %s", run_id, exc)
        return None
    return run_id


def _refused(iterator: Iterator[Any], exc: InvalidRequest) -> Iterator[Any]:
    """The engine's events for a request it never started: one Error, as for bad input."""
    from captioner.generation import Error

    close = getattr(iterator, "close", None)
    if close is not None:
        close()
    yield Error(exc, user_error=True)
