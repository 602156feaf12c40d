"""Decoding ahead: a thread decodes window k+1 (and scans for the cut that ends it) while
window k generates, and never lets more than two windows of decoded frames exist.

A window's frames hold a slot from the moment decoding starts until the consumer, done
generating, drops the frames and calls :meth:`Feeder.done_with`. With ``ahead=1`` there are
two slots (the window generating and the next one), with ``ahead=0`` one: decoding then
waits for generation, which is what a machine with few cores wants (decoding and
generation would only take turns on the same cores). Decoding runs in the video worker
process, so the thread mostly waits on a pipe.

Stop: the consumer stops asking at once; the thread finishes the decode job it is in (the
worker cannot be interrupted mid-job) and exits without starting another.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from captioner.errors import CaptionerError, InternalError
from captioner.longvideo.windows import Window

log = logging.getLogger(__name__)

POLL_S = 0.1  # how often a waiting side looks at the stop switch


@dataclass(frozen=True)
class Item:
    window: Window
    clip: Any = None  # video.Clip; None when the window failed or is reused
    error: CaptionerError | None = None
    decode_s: float = 0.0
    reused: bool = False


class Feeder:
    """Windows in order, decoded ahead by a daemon thread."""

    def __init__(
        self,
        windows: Iterator[Window],
        decode: Callable[[Window], Any],
        *,
        ahead: int,
        reused: set[int],
        stop: threading.Event,
    ) -> None:
        self._windows = windows
        self._decode = decode
        self._reused = reused
        self._stop = stop
        self._slots = threading.Semaphore(1 + max(0, min(ahead, 1)))
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="window-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for window in self._windows:  # deciding a boundary may scan (decode) too
                if self._closed.is_set():
                    return
                if window.index in self._reused:
                    self._queue.put(Item(window, reused=True))
                    continue
                if not self._acquire():
                    return
                self._queue.put(self._decoded(window))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._queue.put(exc)
        finally:
            self._queue.put(None)

    def _decoded(self, window: Window) -> Item:
        started = time.perf_counter()
        try:
            clip = self._decode(window)
        except CaptionerError as exc:
            self._slots.release()
            return Item(window, error=exc, decode_s=time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - one bad window is reported, not fatal
            log.exception("decoding window %d failed", window.index)
            self._slots.release()
            return Item(
                window, error=InternalError.wrap(exc), decode_s=time.perf_counter() - started
            )
        return Item(window, clip=clip, decode_s=time.perf_counter() - started)

    def _acquire(self) -> bool:
        while not self._closed.is_set():
            if self._slots.acquire(timeout=POLL_S):
                return True
        return False

    def next(self) -> Item | None:
        """The next window; None when there are no more or Stop was pressed meanwhile."""
        while True:
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    return None
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def done_with(self) -> None:
        """The consumer dropped a decoded window's frames: its slot is free."""
        self._slots.release()

    def close(self) -> None:
        """No more windows are decoded after the job in progress."""
        self._closed.set()
