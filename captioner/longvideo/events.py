"""The events of a long run, between ``engine.Prepared`` and the final ``Text`` + ``Done``.

    LongPlanned     the video's facts and the window layout (once, after Prepared)
    WindowStarted   window k of n is decoded and generating, with the time left estimated
    WindowText      a piece of window k's caption, as it streams
    WindowDone      window k finished: its caption, lines, frames, timing (or reused on resume)
    WindowFailed    window k could not be decoded or captioned: reported, skipped
    MergeStarted    the text-only pass over the window captions begins
    MergeText       a piece of the merge pass's answer, as it streams
    Merged          the overall description and the merged, checked timeline

Events never carry decoded frames, so a consumer that keeps events keeps no frames. A
consumer that only knows the engine's events still works: the long run ends with ``Text``
(the final answer, whole) and ``Done`` as a single pass does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from captioner.errors import CaptionerError
from captioner.longvideo.timeline import TimelineCheck
from captioner.longvideo.windows import Layout, Window
from captioner.subtitles import Cue


@dataclass(frozen=True)
class WindowResult:
    """One window's outcome, as the run log keeps it."""

    window: Window
    status: str  # "done" | "error" | "stopped"
    answer: str = ""
    thinking: str = ""
    cues: tuple[Cue, ...] = ()
    frame_indices: tuple[int, ...] = ()
    frame_times: tuple[float, ...] = ()
    frame_size: tuple[int, int] | None = None  # (height, width)
    metrics: Any = None  # generation.Metrics, or its dict when reused from the run log
    sampling: dict | None = None  # the sampling the window was generated with
    decode_s: float | None = None
    generate_s: float | None = None
    error: CaptionerError | None = None
    reused: bool = False  # finished by the run this one resumes

    @property
    def index(self) -> int:
        return self.window.index

    @property
    def start_s(self) -> float:
        return self.window.start_s

    @property
    def end_s(self) -> float:
        return self.window.end_s

    @property
    def cut_score(self) -> float | None:
        return self.window.cut_score

    def to_dict(self) -> dict:
        metrics = self.metrics
        if metrics is not None and not isinstance(metrics, dict):
            metrics = {k: getattr(metrics, k) for k in metrics.__dataclass_fields__}
        return {
            "index": self.index,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "cut_score": round(self.cut_score, 3) if self.cut_score is not None else None,
            "status": self.status,
            "reused": self.reused,
            "frame_indices": list(self.frame_indices),
            "frame_times": [round(t, 3) for t in self.frame_times],
            "answer": self.answer,
            "lines": [{"start": c.start, "end": c.end, "text": c.text} for c in self.cues],
            "decode_s": round(self.decode_s, 3) if self.decode_s is not None else None,
            "generate_s": round(self.generate_s, 3) if self.generate_s is not None else None,
            "metrics": metrics,
            "error": self.error.to_dict() if self.error is not None else None,
        }


@dataclass(frozen=True)
class LongPlanned:
    layout: Layout
    info: Any  # video.VideoInfo of the whole file
    reused: int  # windows finished by the run this one resumes
    fresh: bool  # True: any windows recorded before for this run are discarded
    kind: str = "long_plan"


@dataclass(frozen=True)
class WindowStarted:
    window: Window
    count: int
    frame_times: tuple[float, ...]
    eta_s: float | None  # estimated seconds left for the whole run; None before the first
    kind: str = "window_start"


@dataclass(frozen=True)
class WindowText:
    index: int
    text: str
    kind: str = "window_text"


@dataclass(frozen=True)
class WindowDone:
    result: WindowResult
    count: int
    finished: int  # windows finished so far (done or failed), this one included
    eta_s: float | None
    kind: str = "window_done"


@dataclass(frozen=True)
class WindowFailed:
    result: WindowResult
    count: int
    finished: int
    eta_s: float | None
    kind: str = "window_failed"


@dataclass(frozen=True)
class MergeStarted:
    windows_done: int
    count: int
    kind: str = "merge"


@dataclass(frozen=True)
class MergeText:
    text: str
    kind: str = "merge_text"


@dataclass(frozen=True)
class Merged:
    summary: str
    cues: tuple[Cue, ...]
    check: TimelineCheck
    windows: tuple[WindowResult, ...]
    model_lines: int  # timeline lines the merge pass itself wrote (inside the video)
    filled: int  # windows whose own lines were added where the merge pass left them out
    merge_error: CaptionerError | None = None  # the merge pass failed: windows merged as they are
    kind: str = "merged"

    @property
    def failed(self) -> int:
        return sum(1 for w in self.windows if w.status == "error")
