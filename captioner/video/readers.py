"""The frame readers this package can use, which are installed here, and the order in
which a request tries them.

PyAV (FFmpeg's Python binding) installs everywhere and is required: every file is probed
with it, behind the container allow-list (see ``containers.py``). decord is optional: it
publishes wheels only for x86-64 Linux and Windows, and where it is installed
``backend="auto"`` reads with it first (fast random access; not for AVI, see ``order``)
and retries on PyAV when it fails, crashes or overruns its time budget.
"""

from __future__ import annotations

import importlib.util

import captioner.video.messages as messages

BACKENDS = ("auto", "decord", "pyav")


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here, without importing it (decord is slow to load)."""
    return importlib.util.find_spec(module) is not None


def check(backend: str) -> str:
    """``backend`` when it is known and what it needs is installed; a typed error if not."""
    if backend not in BACKENDS:
        raise messages.unknown_backend(backend, BACKENDS)
    if not installed("av"):
        raise messages.missing("av")  # the prober, whatever reads the frames
    if backend == "decord" and not installed("decord"):
        raise messages.missing("decord")
    return backend


def order(backend: str, container: str) -> tuple[str, ...]:
    """The readers to try for ``backend`` on a file of ``container`` (FFmpeg's demuxer
    name), first to last."""
    if backend != "auto":
        return (backend,)
    if container == "avi" or not installed("decord"):
        # decord 0.6 returns the wrong frames from an AVI with more than one keyframe (asked
        # for frames 13, 26, 40 of a file with a keyframe every 12, it gives 1, 2, 4) and no
        # timestamps: AVI stores none, and decord seeks by them.
        return ("pyav",)
    return ("decord", "pyav")
