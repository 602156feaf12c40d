"""One long-lived thread for the model's work: loading, preparing inputs and ``generate()``.

Why one thread: torch's Linux wheels run their CPU kernels on GNU OpenMP (libgomp). Every
thread that runs a multi-threaded torch operation gets an OpenMP pool of its own, which lives
as long as that thread, and once the process holds more OpenMP threads than CPUs, libgomp
stops spinning between parallel regions: each of the ~1,000 parallel regions of a decoding
step then puts its helper thread to sleep and wakes it again. A model loaded in the main
thread and run in a fresh generate thread is exactly that case. Measured on the 2-core build
machine (AMD EPYC, Qwen3-VL-2B int8, 520-token video prompt): 6.2-7.5 tokens/s with the
model loaded in one thread and generating in another, 10-12 tokens/s with both in one thread
(``python -m captioner bench --report`` has the end-to-end figures).

So everything that runs the model's kernels goes through ``call`` (wait for the result) or
``submit`` (a ``Future``) and runs here, one task at a time; the calling threads only wait,
read the streamed ids and detokenize. One resident model at a time (``loader``) means
nothing is lost by the queue: a second request waits for the first, as the model's lock
already made it. The caller's context variables go along (Gradio's progress bar is one).
A daemon thread, so a process never waits for a generation to end before it exits.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_tasks: queue.SimpleQueue = queue.SimpleQueue()
_thread: threading.Thread | None = None
_start_lock = threading.Lock()


def on_compute_thread() -> bool:
    return threading.current_thread() is _thread


def submit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future:
    """Run ``fn(*args, **kwargs)`` on the compute thread, after the tasks already queued."""
    future: Future = Future()
    _tasks.put((future, contextvars.copy_context(), fn, args, kwargs))
    _ensure_started()
    return future


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the compute thread, waiting for it; its exception is raised
    here. Called on the compute thread itself, it runs at once (no waiting on itself)."""
    if on_compute_thread():
        return fn(*args, **kwargs)
    return submit(fn, *args, **kwargs).result()


def _ensure_started() -> None:
    global _thread
    with _start_lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="captioner-compute", daemon=True)
            _thread.start()


def _run() -> None:
    while True:
        future, context, fn, args, kwargs = _tasks.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = context.run(fn, *args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)
        else:
            future.set_result(result)
        del future, context, fn, args, kwargs  # drop references (a model) before waiting again
