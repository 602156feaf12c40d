"""captioner/longvideo/run.py with the fake backend: windows in whole-video time, boundaries
on scene cuts, a failing window, Stop, at most two windows of frames, decoding ahead."""

from __future__ import annotations

import threading
import time
import weakref

import pytest
from longvideo.conftest import CUTS, DURATION, pyav_times, replace, scene_at

from captioner import engine, longvideo, video
from captioner.errors import CorruptVideo
from captioner.longvideo import cuts, windows


def _events(path, settings, **kwargs):
    request = engine.DescribeRequest(video=str(path), **kwargs.pop("request", {}))
    return list(longvideo.describe(request, settings, **kwargs))


def _kinds(events, kind):
    return [e for e in events if e.kind == kind]


def test_a_long_video_is_captioned_in_windows_and_merged(scenes_path, long_settings, fake):
    events = _events(scenes_path, long_settings)
    plan = _kinds(events, "long_plan")[0]
    assert plan.layout.count == 8 and plan.layout.frame_budget == 8 and plan.reused == 0
    done = [e.result for e in _kinds(events, "window_done")]
    assert [r.index for r in done] == list(range(8)) and not _kinds(events, "window_failed")
    assert done[0].start_s == 0 and done[-1].end_s == DURATION
    assert all(a.end_s == b.start_s for a, b in zip(done, done[1:], strict=False))
    for r in done:  # each window sees the full budget, inside its own range
        assert len(r.frame_times) == 8
        assert all(r.start_s <= t < r.end_s for t in r.frame_times)
    merged = _kinds(events, "merged")[0]
    assert merged.check.ok and merged.check.coverage == 1.0 and merged.filled == 0
    assert merged.summary == "여러 장면이 차례로 나옵니다."
    for cue in merged.cues:  # whole-video times: each line names the scene shown then
        assert cue.text == f"장면 {scene_at(cue.start)}", cue
    starts = [c.start for c in merged.cues]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)  # the repeat is gone
    final = events[-1]
    assert final.kind == "done" and final.answer == _kinds(events, "text")[0].text
    assert final.metrics.frames == 64 and final.metrics.finish_reason == "eos"
    assert len(fake.merge_prompts) == 1 and "[구간 8 · 01:45-02:00]" in fake.merge_prompts[0]
    assert "전체 길이 02:00인 긴 영상 중 00:00부터" in fake.window_prompts[0]


def test_boundaries_land_on_scene_cuts_within_their_range(scenes_path, long_settings, fake):
    events = _events(scenes_path, long_settings)
    plan = _kinds(events, "long_plan")[0].layout
    starts = [e.result.window for e in _kinds(events, "window_done")][1:]
    step = 1 / cuts.SCAN_FPS
    moved = 0
    for window in starts:
        lo, hi = plan.search_range(window.index)
        cut = next((c for c in CUTS if lo <= c <= hi), None)
        if cut is None:
            assert window.start_s == pytest.approx(plan.nominal_boundary(window.index))
            assert window.cut_score is None
        else:  # on the new shot, at most one scan step after the real cut
            assert cut <= window.start_s <= cut + step and window.cut_score >= cuts.THRESHOLD
            moved += 1
    assert moved == 2  # the cuts at 14 s and 28 s are near boundaries 15 s and 30 s


def _processor_times(meta) -> list[float]:
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

    return Qwen3VLProcessor._calculate_timestamps(None, meta["frames_indices"], meta["fps"], 2)


@pytest.mark.parametrize("which", ["scenes_path", "vfr_scenes_path"])
def test_window_timestamps_are_whole_video_pts(which, request, long_settings, fake):
    """The "<t seconds>" the processor writes for each window are the frames' presentation
    times in the whole video (PyAV's own pts, pair-averaged), within 0.1 s; CFR and VFR."""
    path = request.getfixturevalue(which)
    real = pyav_times(path)
    events = _events(path, long_settings)
    assert len(fake.clips) == _kinds(events, "long_plan")[0].layout.count >= 6
    for (indices, times, meta), result in zip(
        fake.clips, [e.result for e in _kinds(events, "window_done")], strict=True
    ):
        expected = [
            (real[a] + real[b]) / 2 for a, b in zip(indices[::2], indices[1::2], strict=True)
        ]
        stamps = _processor_times(meta)
        assert max(abs(a - b) for a, b in zip(stamps, expected, strict=True)) < 0.1, which
        assert max(abs(a - real[i]) for a, i in zip(times, indices, strict=True)) < 0.1
        assert result.start_s - 0.1 <= min(stamps) and max(stamps) <= result.end_s + 0.1


def test_a_failing_window_is_reported_and_skipped(scenes_path, long_settings, fake):
    fake.fail_windows = (3,)  # the fourth window captioned: the model fails on it

    def decode(source, spec, start, end, limits):
        if spec.max_frames == 8 and 25 <= start < 40:  # window 2's frames: a bad segment
            raise CorruptVideo("손상된 구간", "corrupt segment")
        return video.load_span(source, spec, start, end, limits)

    events = _events(scenes_path, long_settings, decode=decode)
    failed = [e.result for e in _kinds(events, "window_failed")]
    assert [r.index for r in failed] == [2, 4]
    assert failed[0].error.code == "video_corrupt" and failed[1].error.code == "out_of_memory"
    assert len(_kinds(events, "window_done")) == 6
    merged = _kinds(events, "merged")[0]
    assert merged.failed == 2 and merged.check.ok
    for r in failed:  # nothing was made up for the failed windows
        assert not any(r.start_s <= c.start < r.end_s for c in merged.cues)
    assert "(이 구간은 처리하지 못해" in fake.merge_prompts[0]
    assert events[-1].kind == "done" and events[-1].metrics.frames == 48


def test_every_window_failing_is_an_error(scenes_path, long_settings, fake):
    def decode(source, spec, start, end, limits):
        if spec.max_frames == 8:
            raise CorruptVideo("손상", "corrupt")
        return video.load_span(source, spec, start, end, limits)

    events = _events(scenes_path, long_settings, decode=decode)
    assert events[-1].kind == "error" and events[-1].error.code == "video_corrupt"
    assert events[-1].user_error and not fake.merge_prompts


def test_a_failed_merge_keeps_the_windows_timeline(scenes_path, long_settings, fake):
    from captioner.errors import InvalidRequest

    fake.merge_error = InvalidRequest("문맥이 너무 깁니다", "context too long")
    events = _events(scenes_path, long_settings)
    merged = _kinds(events, "merged")[0]
    assert merged.merge_error.en == "context too long" and merged.summary == ""
    assert merged.check.ok and merged.check.coverage == 1.0 and merged.filled == 8
    assert events[-1].kind == "done"


def test_times_a_model_writes_from_the_window_start_are_moved(scenes_path, long_settings, fake):
    fake.relative = True
    events = _events(scenes_path, long_settings, request={"long": True})
    merged = _kinds(events, "merged")[0]
    assert merged.check.ok and merged.check.coverage == 1.0
    for cue in merged.cues:
        assert cue.text == f"장면 {scene_at(cue.start)}"


def test_stop_between_windows_ends_at_once_and_keeps_what_finished(
    scenes_path, long_settings, fake
):
    stop = threading.Event()
    request = engine.DescribeRequest(video=str(scenes_path))
    events, stopped_at = [], None
    for event in longvideo.describe(request, long_settings, stop=stop):
        events.append(event)
        if event.kind == "window_done" and event.result.index == 1:
            stop.set()
            stopped_at = len(events)
    assert [e.kind for e in events[stopped_at:]] == ["merged", "text", "done"]
    assert events[-1].metrics.finish_reason == "stopped" and not fake.merge_prompts
    merged = _kinds(events, "merged")[0]
    assert {c.start < merged.windows[-1].end_s for c in merged.cues} == {True}
    assert merged.cues and events[-1].answer.startswith("타임라인\n00:")


def test_stop_during_a_window_ends_after_one_step(scenes_path, long_settings, fake):
    fake.delay_s = 0.05
    stop = threading.Event()
    request = engine.DescribeRequest(video=str(scenes_path))
    events, pieces = [], 0
    for event in longvideo.describe(request, long_settings, stop=stop):
        events.append(event)
        if event.kind == "window_text" and event.index == 1:
            pieces += 1
            if pieces == 2:
                stop.set()
    last_window = [e for e in events if e.kind in ("window_done", "window_failed")][-1].result
    assert last_window.index == 1 and last_window.status == "stopped"
    texts = [e for e in events if e.kind == "window_text" and e.index == 1]
    assert len(texts) == 2  # the model stopped after the step it was in
    assert events[-1].metrics.finish_reason == "stopped"


def test_stop_while_waiting_for_frames_does_not_wait_for_the_decoder(
    scenes_path, long_settings, fake
):
    def slow(source, spec, start, end, limits):
        if spec.max_frames == 8 and start > 0:
            time.sleep(20)  # a decoder stuck on a bad segment
        return video.load_span(source, spec, start, end, limits)

    stop = threading.Event()
    request = engine.DescribeRequest(video=str(scenes_path))
    ended = None
    for event in longvideo.describe(request, long_settings, stop=stop, decode=slow):
        if event.kind == "window_done":
            threading.Timer(0.5, stop.set).start()
            pressed = time.monotonic() + 0.5
        ended = event
    assert ended.kind == "done" and ended.metrics.finish_reason == "stopped"
    assert time.monotonic() - pressed < 10  # long before the 20 s decode ends


def _tracked(decode, log, alive):
    """decode, counting decoded windows whose frames still exist."""

    def tracked(source, spec, start, end, limits):
        clip = decode(source, spec, start, end, limits)
        if spec.max_frames == 8:
            log.append(("decoded", round(start, 3)))
            alive["now"] += 1
            alive["max"] = max(alive["max"], alive["now"])

            def gone():
                alive["now"] -= 1

            weakref.finalize(clip.frames, gone)
        return clip

    return tracked


@pytest.mark.parametrize("prefetch", ["on", "off"])
def test_at_most_two_windows_of_frames_and_decoding_ahead(
    prefetch, scenes_path, long_settings, fake
):
    fake.delay_s = 0.02  # generation slower than decoding: the decoder would run ahead
    settings = replace(long_settings, long_prefetch=prefetch)
    log: list = []
    alive = {"now": 0, "max": 0}
    request = engine.DescribeRequest(video=str(scenes_path))
    events = longvideo.describe(request, settings, decode=_tracked(video.load_span, log, alive))
    for event in events:
        if event.kind == "window_done":
            log.append(("done", round(event.result.start_s, 3)))
    assert alive["max"] <= (2 if prefetch == "on" else 1)
    decoded = [start for kind, start in log if kind == "decoded"]
    order = [entry for entry in log]
    ahead = [
        order.index(("decoded", nxt)) < order.index(("done", cur))
        for cur, nxt in zip(decoded, decoded[1:], strict=False)
    ]
    if prefetch == "on":
        assert any(ahead)  # window k+1 decoded while window k was generating
    else:
        assert not any(ahead)


def test_short_videos_and_one_pass_requests_go_to_the_engine(
    scenes_path, long_settings, fake, bbb_path
):
    short = _events(bbb_path, long_settings)  # 5.3 s: a frame every 0.7 s in one pass
    assert not [e for e in short if e.kind in longvideo.KINDS] and short[-1].kind == "done"
    assert len(fake.clips) == 1 and not fake.merge_prompts
    single = _events(scenes_path, long_settings, request={"long": False})
    assert not [e for e in single if e.kind in longvideo.KINDS] and single[-1].kind == "done"
    assert len(fake.clips[-1][0]) == 8  # one pass: the budget over the whole video


def test_the_layout_follows_the_setting_and_the_profile(scenes_path, settings, fake):
    events = _events(scenes_path, settings)  # 10 s a frame: 120 s / 8 = 15 s -> 2 windows
    assert _kinds(events, "long_plan")[0].layout.count == 2
    assert windows.layout(120, 32, 10).windowed is False  # a T4's budget sees it in one pass
