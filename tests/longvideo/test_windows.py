"""captioner/longvideo/windows.py: when a video is long, how many windows, where boundaries go."""

from __future__ import annotations

import math

import pytest

from captioner.longvideo import windows


def test_a_video_is_long_when_one_pass_sees_too_few_frames():
    # CPU profile: 8 frames. 60 s -> a frame every 7.5 s: one pass; 25 min -> every 187.5 s
    short = windows.layout(60, 8, seconds_per_frame=10)
    assert not short.windowed and short.count == 1 and "one pass" in short.reason
    long = windows.layout(25 * 60, 8, seconds_per_frame=10)
    assert long.windowed and long.count == math.ceil(1500 / 80) == 19
    assert long.nominal_s * 19 == pytest.approx(1500)
    assert long.nominal_s / long.frame_budget <= 10  # every window: a frame every <= 10 s
    assert "19 windows" in long.reason and "19개 구간" in long.reason_ko
    t4 = windows.layout(25 * 60, 32, seconds_per_frame=10)  # a T4's 32 frames
    assert t4.count == 5


def test_asked_for_or_too_long_for_one_pass():
    assert windows.layout(60, 8, 10, wanted=True).windowed
    assert windows.layout(60, 8, 10, wanted=True).count == 1  # short: one window, one merge
    assert not windows.layout(1500, 8, 10, wanted=False).windowed
    # an H200's 256 frames see 25 minutes densely, but one pass may take only 20 minutes
    h200 = windows.layout(1500, 256, 10, max_single_s=1200)
    assert h200.windowed and h200.count == 1 and "longer than one pass" in h200.reason
    assert not windows.layout(1200, 256, 10, max_single_s=1200).windowed


def test_windows_are_consecutive_and_cover_the_video():
    plan = windows.layout(1500, 8, 10)
    found = list(windows.windows(plan))
    assert [w.index for w in found] == list(range(plan.count))
    assert found[0].start_s == 0 and found[-1].end_s == 1500
    assert all(a.end_s == b.start_s for a, b in zip(found, found[1:], strict=False))
    assert all(w.cut_score is None for w in found)
    assert {round(w.length_s, 6) for w in found} == {round(1500 / 19, 6)}


def test_boundaries_move_to_cuts_within_their_slack():
    plan = windows.layout(160, 8, 2)  # 10 windows of 16 s; boundaries may move 2.4 s
    assert plan.count == 10 and plan.slack_s == pytest.approx(2.4)
    asked = []

    def find_cut(lo, hi):
        asked.append((round(lo, 3), round(hi, 3)))
        nominal = (lo + hi) / 2
        if round(nominal) == 32:
            return (33.5, 0.9)  # inside the range: taken
        if round(nominal) == 48:
            return (60.0, 0.9)  # outside: ignored, the nominal place stays
        return None

    found = list(windows.windows(plan, find_cut))
    starts = [w.start_s for w in found]
    assert starts[2] == 33.5 and found[2].cut_score == 0.9
    assert starts[3] == pytest.approx(48) and found[3].cut_score is None
    assert asked[0] == (13.6, 18.4)  # boundary 1: 16 ± 2.4
    assert len(found) == plan.count  # moving boundaries never changes the count
    lengths = [w.length_s for w in found]
    assert min(lengths) >= plan.nominal_s - 2 * plan.slack_s - 1e-9
    assert max(lengths) <= plan.nominal_s + 2 * plan.slack_s + 1e-9


def test_the_slack_is_capped_in_seconds():
    plan = windows.layout(3 * 3600, 8, 10)  # 135 windows of 80 s: 12 s slack
    assert plan.slack_s == pytest.approx(12)
    wide = windows.layout(3 * 3600, 256, 10, max_single_s=1200)  # 5 windows of 36 min
    assert wide.slack_s == windows.MAX_SLACK_S


def test_known_boundaries_are_kept_without_scanning():
    plan = windows.layout(160, 8, 2)
    known = {1: (15.0, 0.7), 2: (31.0, None)}
    scanned = []
    found = list(windows.windows(plan, lambda lo, hi: scanned.append(lo), known))
    assert (found[1].start_s, found[1].cut_score) == (15.0, 0.7)
    assert found[2].start_s == 31.0 and found[0].end_s == 15.0
    assert len(scanned) == plan.count - 1 - 2  # only the unknown boundaries were scanned
