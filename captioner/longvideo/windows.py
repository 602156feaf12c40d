"""Window math for long videos: whether a video is long, how many windows, where each
boundary may move to meet a scene cut. Arithmetic only, no I/O.

A pass over the whole video sees ``frame_budget`` frames, one every ``duration /
frame_budget`` seconds. When that spacing is wider than ``seconds_per_frame`` (a setting,
10 s by default), or the video is longer than one pass may be, the video is long: it is cut
into ``count`` consecutive windows of about equal length, each short enough that the full
frame budget sees at least one frame every ``seconds_per_frame`` seconds. Each inner
boundary may move by up to ``slack_s`` to land on a scene cut (``cuts.py``), so no window
is shorter than ``1 - 2 * SLACK_SHARE`` or longer than ``1 + 2 * SLACK_SHARE`` times the
nominal length, and the count never changes: "window k of n" stays true while it runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

SLACK_SHARE = 0.15  # a boundary moves at most this share of the nominal window length...
MAX_SLACK_S = 20.0  # ...and at most this many seconds (a scan costs decoding)


@dataclass(frozen=True)
class Layout:
    """How one video is captioned: in one pass, or in ``count`` windows."""

    duration_s: float
    frame_budget: int  # frames one pass (or one window) sees
    seconds_per_frame: float  # the threshold: a pass must see a frame at least this often
    windowed: bool
    count: int  # windows; 1 for one pass
    reason: str
    reason_ko: str

    @property
    def spacing_s(self) -> float:
        """Seconds between frames of a single pass over the whole video."""
        return self.duration_s / max(self.frame_budget, 1)

    @property
    def nominal_s(self) -> float:
        return self.duration_s / self.count

    @property
    def slack_s(self) -> float:
        return min(SLACK_SHARE * self.nominal_s, MAX_SLACK_S) if self.count > 1 else 0.0

    def nominal_boundary(self, j: int) -> float:
        """Where boundary ``j`` (1..count-1: the start of window ``j``) sits without a cut."""
        return self.duration_s * j / self.count

    def search_range(self, j: int) -> tuple[float, float]:
        """Where boundary ``j`` may move to meet a cut."""
        nominal = self.nominal_boundary(j)
        return nominal - self.slack_s, nominal + self.slack_s


@dataclass(frozen=True)
class Window:
    index: int  # 0-based
    start_s: float
    end_s: float
    cut_score: float | None = None  # the shot-change score its start was moved to; None: none

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def layout(
    duration_s: float,
    frame_budget: int,
    seconds_per_frame: float,
    max_single_s: float = math.inf,
    wanted: bool | None = None,
) -> Layout:
    """One pass or windows for a video of ``duration_s`` seconds.

    ``wanted``: None decides by the threshold (and by ``max_single_s``, the longest video one
    pass may take), True asks for windows, False for one pass."""
    budget = max(int(frame_budget), 1)
    spacing = duration_s / budget
    too_sparse = spacing > seconds_per_frame
    too_long = duration_s > max_single_s
    windowed = bool(wanted) if wanted is not None else too_sparse or too_long
    count = 1
    if windowed and duration_s > 0:
        count = max(1, math.ceil(duration_s / (budget * seconds_per_frame) - 1e-9))
    if not windowed:
        reason = f"one pass: a frame every {spacing:.1f} s (threshold {seconds_per_frame:g} s)"
        reason_ko = f"한 번에 처리: {spacing:.1f}초마다 1프레임 (기준 {seconds_per_frame:g}초)"
    else:
        why = "asked for" if wanted else f"one pass would see a frame every {spacing:.1f} s"
        why_ko = "요청함" if wanted else f"한 번에 보면 {spacing:.1f}초마다 1프레임뿐"
        if too_long and not wanted:
            why += f", longer than one pass may take ({max_single_s:g} s)"
            why_ko += f", 한 번에 처리할 수 있는 길이({max_single_s:g}초) 초과"
        each = duration_s / count / budget
        reason = f"{count} windows of {budget} frames, a frame every {each:.1f} s ({why})"
        reason_ko = f"{count}개 구간 × {budget}프레임, {each:.1f}초마다 1프레임 ({why_ko})"
    return Layout(
        duration_s=float(duration_s),
        frame_budget=budget,
        seconds_per_frame=float(seconds_per_frame),
        windowed=windowed,
        count=count,
        reason=reason,
        reason_ko=reason_ko,
    )


Cut = tuple[float, float]  # (time, score)
FindCut = Callable[[float, float], Cut | None]  # the best cut in [lo, hi], if any


def windows(
    plan: Layout,
    find_cut: FindCut | None = None,
    known: Mapping[int, tuple[float, float | None]] | None = None,
) -> Iterator[Window]:
    """The windows in order, each boundary decided just before the window that ends there
    is needed (a scan per boundary costs decoding, so it happens as late as possible).

    ``known`` maps boundary ``j`` to (time, cut score) where an earlier run already decided
    it (a resumed run keeps its windows exactly)."""
    known = dict(known or {})
    start, score = 0.0, None
    for j in range(1, plan.count + 1):
        if j == plan.count:
            end, next_score = plan.duration_s, None
        elif j in known:
            end, next_score = known[j]
        else:
            end, next_score = boundary(plan, j, start, find_cut)
        yield Window(j - 1, start, end, score)
        start, score = end, next_score


def boundary(
    plan: Layout, j: int, previous: float, find_cut: FindCut | None
) -> tuple[float, float | None]:
    """Boundary ``j``: the best cut in its search range, else its nominal place; never at or
    before the previous boundary."""
    nominal = plan.nominal_boundary(j)
    lo, hi = plan.search_range(j)
    lo = max(lo, previous + 1e-3)
    if find_cut is not None and hi > lo:
        found = find_cut(lo, hi)
        if found is not None and lo <= found[0] <= hi:
            return float(found[0]), float(found[1])
    return nominal, None
