"""Stand-in decode jobs that fail the way real decoders do, for tests of the retry in
captioner/video/clip.py. A test puts one into ``captioner.video.decode.JOBS`` (with
monkeypatch); the worker process imports it from here by name, because tests/ is on the
sys.path the worker inherits.
"""

from __future__ import annotations

import os
import time

from captioner.video import messages


def hang(*args: object) -> None:
    """What decord's get_batch loop on a container that over-reports frames looks like."""
    time.sleep(3600)


def crash(*args: object) -> None:
    """What a decoder segfault looks like: the worker process is gone."""
    os._exit(139)


def refuse(*args: object) -> None:
    """What decord says of a file it cannot read."""
    raise messages.corrupt("decord: DECORDError (simulated)")
