"""The frame readers this package can use, and which of them are installed here.

decord is fast at random access but publishes wheels only for x86-64 Linux and Windows; PyAV
(FFmpeg's Python binding) installs everywhere and can tell "not a video" from "audio only"
from "truncated". ``backend="auto"`` prefers decord and falls back to PyAV.
"""

from __future__ import annotations

import importlib.util

from captioner.video import messages

BACKENDS = ("auto", "decord", "pyav")

# The Python module each reader needs, in the order "auto" tries them.
_MODULES = {"decord": ("decord",), "pyav": ("av",), "auto": ("decord", "av")}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported here, without importing it (decord is slow to load)."""
    return importlib.util.find_spec(module) is not None


def check(backend: str) -> str:
    """``backend`` when it is known and a module it needs is installed; a typed error if not."""
    if backend not in BACKENDS:
        raise messages.unknown_backend(backend, BACKENDS)
    needed = _MODULES[backend]
    if not any(installed(name) for name in needed):
        raise messages.missing(needed[0])
    return backend
