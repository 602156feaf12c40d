"""Long videos: windows of the usual pipeline, merged into one Korean timeline.

A video that one pass would see too sparsely (fewer than one frame every
``settings.long_seconds_per_frame`` seconds with the profile's frame budget) is cut into
consecutive windows; each is captioned with the full frame budget and the timeline prompt,
its ``<t seconds>`` being times in the whole video; one text-only pass of the same backend
merges the captions into an overall description and one de-duplicated timeline.

    windows.py   is it long, how many windows, where boundaries may move (pure arithmetic)
    cuts.py      the shot-change score on small frames; the best cut near a boundary
    timeline.py  window captions -> lines in whole-video time; merge, fill, check, coverage
    events.py    the events a long run adds (WindowStarted/Text/Done/Failed, Merge..., Merged)
    feeder.py    the thread that decodes the next window while one generates (two at most)
    run.py       describe(request, settings): the order of it all; resuming an unfinished run

Every consumer calls ``longvideo.describe`` instead of ``engine.describe``: short videos and
text prompts pass through to the engine unchanged.
"""

from __future__ import annotations

from captioner.longvideo.events import (
    LongPlanned,
    Merged,
    MergeStarted,
    MergeText,
    WindowDone,
    WindowFailed,
    WindowResult,
    WindowStarted,
    WindowText,
)
from captioner.longvideo.run import Events, Prior, describe, find_prior, long_limits, resume
from captioner.longvideo.timeline import TimelineCheck, check, check_text
from captioner.longvideo.windows import Layout, Window, layout

KINDS = ("long_plan", "window_start", "window_text", "window_done", "window_failed", "merge",
         "merge_text", "merged")  # fmt: skip

__all__ = [
    "KINDS",
    "Events",
    "Layout",
    "LongPlanned",
    "MergeStarted",
    "MergeText",
    "Merged",
    "Prior",
    "TimelineCheck",
    "Window",
    "WindowDone",
    "WindowFailed",
    "WindowResult",
    "WindowStarted",
    "WindowText",
    "check",
    "check_text",
    "describe",
    "find_prior",
    "layout",
    "long_limits",
    "resume",
]
