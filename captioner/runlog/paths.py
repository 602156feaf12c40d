"""Where the run log and the video library live by default, and whether the log is on.

The only module of the run log that reads the environment, so that a settings object can
take these decisions over in one place; everything else takes its paths as arguments
(``RunLog(path)``, ``Library(folder)``).

- ``CAPTIONER_DB``: the log file; ``off`` (or none/0/false/disabled) switches the log off.
- otherwise a Space's persistent ``/data`` when writable, else ``$XDG_CACHE_HOME`` or
  ``~/.cache``, under ``captioner/runs.sqlite3``.
- ``CAPTIONER_LIBRARY``: the video library; default ``videos/`` next to the log.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from captioner.errors import CaptionerError
from captioner.runlog.library import Library
from captioner.runlog.store import RunLog

log = logging.getLogger(__name__)

DISABLED_VALUES = ("off", "none", "0", "false", "disabled")


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


def library_dir() -> Path:
    """Where uploaded videos are kept for review: next to the run log (on /data on a Space)."""
    return Path(os.environ.get("CAPTIONER_LIBRARY") or default_db_path().parent / "videos")


def default_library() -> Library:
    return Library(library_dir())


@functools.cache
def shared_log(path: str) -> RunLog:
    """One RunLog per path for the whole process (the page's handlers share it)."""
    return RunLog(path)


_warned: list[bool] = []


def default_log() -> RunLog | None:
    """The process's shared log at :func:`default_db_path`, or None when ``CAPTIONER_DB=off``
    or the file cannot be opened (warned once): pass it to ``record`` as it is."""
    if logging_disabled():
        return None
    try:
        return shared_log(str(default_db_path()))
    except CaptionerError as exc:
        if not _warned:
            _warned.append(True)
            log.warning("run log disabled: %s (%s)", exc.en, exc.detail)
        return None
