"""Long runs in the run log: one run with its windows (caption, frames, timing), kept as they
finish; a stopped run resumes from its finished windows, as the same run."""

from __future__ import annotations

import threading

from longvideo.conftest import replace

from captioner import engine, longvideo, runlog

ACCESS = runlog.Access.cli("tester")


def _record(log, request, settings, *, stop=None, access=ACCESS, stop_after=None, resume=True):
    """Run ``request`` recorded in ``log``; Stop after window ``stop_after`` is done."""
    stop = stop or threading.Event()
    events = longvideo.describe(request, settings, stop=stop)
    resumed = longvideo.resume(events, log, access, request) if resume else None
    ids: list[int] = []
    seen = []
    for event in runlog.record(events, request, log=log, source="cli", access=access,
                               on_start=ids.append, resume_run=resumed):  # fmt: skip
        seen.append(event)
        if stop_after is not None and event.kind == "window_done":
            if event.result.index == stop_after:
                stop.set()
    return ids[0], resumed, seen


def test_a_stopped_run_keeps_its_windows_and_resumes_as_the_same_run(
    tmp_path, scenes_path, long_settings, fake
):
    log = runlog.RunLog(tmp_path / "runs.sqlite3")
    request = engine.DescribeRequest(video=str(scenes_path))
    run_id, resumed, _ = _record(log, request, long_settings, stop_after=2)
    assert resumed is None
    run = log.get(run_id, access=ACCESS)
    assert (run.status, run.windows, run.frames, run.video_duration_s) == ("stopped", 8, 24, 120.0)
    assert run.video_name == "scenes.mp4" and run.answer.startswith("타임라인\n00:0")
    kept = log.windows(run_id, access=ACCESS)
    assert [(w.index, w.status) for w in kept] == [(0, "done"), (1, "done"), (2, "done")]
    assert kept[0].start_s == 0 and kept[0].end_s == kept[1].start_s
    assert len(kept[0].frame_times) == 8 and kept[0].metrics["frames"] == 8
    assert kept[0].answer.startswith("00:0") and kept[0].generate_s is not None
    assert run.frame_times == [t for w in kept for t in w.frame_times]

    run_id_2, resumed, events = _record(log, request, long_settings)
    assert resumed == run_id_2 == run_id  # the same run, continued
    plan = next(e for e in events if e.kind == "long_plan")
    assert plan.reused == 3 and not plan.fresh
    done = [e.result for e in events if e.kind == "window_done"]
    assert [r.reused for r in done] == [True] * 3 + [False] * 5
    assert fake.window_calls == 8  # 3 before the stop, 5 after: none captioned twice
    assert [r.start_s for r in done[:3]] == [w.start_s for w in kept]
    run = log.get(run_id, access=ACCESS)
    assert (run.status, run.frames, run.error) == ("done", 64, None)
    assert len(log.windows(run_id, access=ACCESS)) == 8
    assert len(log.query(access=ACCESS)) == 1
    merged = next(e for e in events if e.kind == "merged")
    assert merged.check.ok and merged.check.coverage == 1.0
    # finished: nothing left to resume, a new request starts a new run
    assert longvideo.find_prior(log, ACCESS, request) is None


def test_a_window_stopped_halfway_is_captioned_again(tmp_path, scenes_path, long_settings, fake):
    log = runlog.RunLog(tmp_path / "runs.sqlite3")
    request = engine.DescribeRequest(video=str(scenes_path))
    fake.delay_s = 0.02
    stop = threading.Event()
    events = longvideo.describe(request, long_settings, stop=stop)
    ids: list[int] = []
    for event in runlog.record(events, request, log=log, source="web", access=ACCESS,
                               on_start=ids.append):  # fmt: skip
        if event.kind == "window_text" and event.index == 1:
            stop.set()
    kept = log.windows(ids[0], access=ACCESS)
    assert [(w.index, w.status) for w in kept] == [(0, "done"), (1, "stopped")]
    prior = longvideo.find_prior(log, ACCESS, request)
    assert prior.run_id == ids[0] and prior.count == 8
    fake.delay_s = 0.0
    _, _, events = _record(log, request, long_settings)
    reused = [e.result.index for e in events if e.kind == "window_done" and e.result.reused]
    assert reused == [0]


def test_only_the_owner_resumes_and_a_new_layout_starts_fresh(
    tmp_path, scenes_path, long_settings, fake
):
    log = runlog.RunLog(tmp_path / "runs.sqlite3")
    request = engine.DescribeRequest(video=str(scenes_path))
    alice, bob = runlog.Access.visitor("alice"), runlog.Access.visitor("bob")
    run_id, _, _ = _record(log, request, long_settings, access=alice, stop_after=1)
    assert longvideo.find_prior(log, bob, request) is None
    assert longvideo.find_prior(log, alice, request).run_id == run_id
    # another threshold gives another window count: the old windows no longer fit
    other = replace(long_settings, long_seconds_per_frame=3.0)
    same, resumed, events = _record(log, request, other, access=alice)
    plan = next(e for e in events if e.kind == "long_plan")
    assert same == resumed == run_id and plan.fresh and plan.reused == 0
    assert len(log.windows(run_id, access=alice)) == plan.layout.count != 8
