"""captioner/runlog/recorder.py: events pass through unchanged while the run is recorded."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading

import pytest
from runlog.fakes import ACCESS, fake_events, recorded, request

from captioner import __version__, engine, loader, runlog
from captioner.errors import NotAVideo
from captioner.generation import Error, Options, Text


def test_record_passes_events_through_unchanged(db):
    events = fake_events("가나다")
    ids: list[int] = []
    passed = list(
        runlog.record(
            iter(events), request(), log=db, source="cli", on_start=ids.append, access=ACCESS
        )
    )
    assert len(passed) == len(events) and all(a is b for a, b in zip(passed, events, strict=True))
    run = db.get(ids[0], access=ACCESS)
    assert (run.status, run.source, run.answer) == ("done", "cli", "가나다")
    assert run.model == "fake/model" and run.model_revision == "abc123"
    assert (run.profile, run.precision, run.device, run.hardware) == (
        "cpu",
        "bf16",
        "cpu",
        "CPU test",
    )
    assert run.frame_indices == [0, 25, 50, 75] and run.frame_times == [0.0, 1.0, 2.0, 3.0]
    assert (run.frame_height, run.frame_width, run.frames) == (224, 288, 4)
    assert run.metrics["finish_reason"] == "eos" and run.sampling["top_p"] == 0.8
    assert run.app_version == __version__ and run.finished_at >= run.created_at
    assert run.preset == "detail" and "자세히" in run.prompt  # the default preset, resolved


def test_no_log_passes_events_through():
    events = fake_events("글")
    assert (
        list(runlog.record(iter(events), request(), log=None, source="web", access=ACCESS))
        == events
    )


def test_record_real_describe_on_a_clip(db, tiny_vl, clip_path, settings):
    req = engine.DescribeRequest(
        video=str(clip_path), model=tiny_vl, options=Options(max_new_tokens=5, seed=3)
    )
    ids: list[int] = []
    events = list(
        runlog.record(
            engine.describe(req, settings),
            req,
            log=db,
            source="cli",
            on_start=ids.append,
            access=ACCESS,
        )
    )
    assert events[-1].kind == "done"
    run = db.get(ids[0], access=ACCESS)
    assert run.status == "done" and run.answer == events[-1].answer
    assert run.video_sha256 == hashlib.sha256(clip_path.read_bytes()).hexdigest()
    assert run.video_name == "clip.mp4" and run.video_duration_s == pytest.approx(1.0, abs=0.05)
    assert (run.video_width, run.video_height, run.video_fps) == (96, 240, 12.0)
    assert run.frames == len(run.frame_times) == events[-1].metrics.frames
    assert run.model == tiny_vl and run.profile and run.precision and run.device == "cpu"
    assert run.options["max_new_tokens"] == 5 and run.seed == 3
    assert run.metrics["new_tokens"] == 5 and run.sampling["max_new_tokens"] == 5
    assert run.request["video"] == "clip.mp4"  # the file name only, never the local path
    assert run.request["options"]["seed"] == 3 and "fps" in run.request
    assert str(clip_path.parent) not in json.dumps(run.to_dict(), ensure_ascii=False)


def test_stop_event_leaves_a_stopped_run_with_partial_output(db, tiny_vl, clip_path, settings):
    stop = threading.Event()
    req = engine.DescribeRequest(
        video=str(clip_path), model=tiny_vl, options=Options(max_new_tokens=200, seed=0)
    )
    ids: list[int] = []
    last = None
    for event in runlog.record(
        engine.describe(req, settings, stop=stop),
        req,
        log=db,
        source="web",
        on_start=ids.append,
        access=ACCESS,
    ):
        if event.kind == "text":
            stop.set()
        last = event
    assert last.kind == "done" and last.metrics.finish_reason == "stopped"
    run = db.get(ids[0], access=ACCESS)
    assert run.status == "stopped" and run.answer == last.answer and run.answer
    assert run.metrics["new_tokens"] < 200


def test_consumer_closing_early_records_stopped(db, tiny_vl, clip_path, settings):
    req = engine.DescribeRequest(
        video=str(clip_path), model=tiny_vl, options=Options(max_new_tokens=200, seed=0)
    )
    ids: list[int] = []
    stream = runlog.record(
        engine.describe(req, settings),
        req,
        log=db,
        source="web",
        on_start=ids.append,
        access=ACCESS,
    )
    received = []
    for event in stream:
        if event.kind == "text":
            received.append(event.text)
            if len(received) == 2:
                break
    stream.close()  # a closed browser tab
    run = db.get(ids[0], access=ACCESS)
    assert run.status == "stopped" and run.answer == "".join(received)
    assert not loader.current().lock.locked()  # the model is free for the next request


def test_error_event_run_is_recorded(db, tiny_vl, tmp_path, settings):
    bad = tmp_path / "<b>notes<b>.mp4"
    bad.write_text("이건 영상이 아닙니다", encoding="utf-8")
    req = engine.DescribeRequest(video=str(bad), model=tiny_vl)
    ids: list[int] = []
    events = list(
        runlog.record(
            engine.describe(req, settings),
            req,
            log=db,
            source="cli",
            on_start=ids.append,
            access=ACCESS,
        )
    )
    assert events[-1].kind == "error"
    run = db.get(ids[0], access=ACCESS)
    assert run.status == "error" and run.error_code == "not_a_video"
    assert run.error_ko and run.error_en
    # not accepted as a video: kept under its hash and in the request, never listed as a video
    assert run.video_name is None and run.request["video"] == "<b>notes<b>.mp4"
    assert run.video_sha256 == hashlib.sha256(bad.read_bytes()).hexdigest()


def test_error_event_keeps_partial_output(db):
    events = [
        engine.Status("plan", "p"),
        Text("반쯤 "),
        Text("썼다"),
        Error(NotAVideo("ko", "en"), True),
    ]
    ids: list[int] = []
    list(
        runlog.record(
            iter(events), request(), log=db, source="cli", on_start=ids.append, access=ACCESS
        )
    )
    run = db.get(ids[0], access=ACCESS)
    assert (run.status, run.answer, run.error_code) == ("error", "반쯤 썼다", "not_a_video")


def test_an_exception_passing_through_is_an_error_run(db):
    def events():
        yield engine.Status("plan", "p")
        yield Text("일부")
        raise RuntimeError("boom")

    ids: list[int] = []
    with pytest.raises(RuntimeError):
        list(
            runlog.record(
                events(), request(), log=db, source="cli", on_start=ids.append, access=ACCESS
            )
        )
    run = db.get(ids[0], access=ACCESS)
    assert (run.status, run.answer, run.error_code) == ("error", "일부", "internal")
    assert "boom" in run.error_detail


def test_keyboard_interrupt_is_a_stopped_run(db):
    def events():
        yield Text("중간")
        raise KeyboardInterrupt

    ids: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        list(
            runlog.record(
                events(), request(), log=db, source="cli", on_start=ids.append, access=ACCESS
            )
        )
    assert db.get(ids[0], access=ACCESS).status == "stopped"


def test_done_stopped_is_a_stopped_run(db):
    run_id = recorded(db, answer="멈춤", finish="stopped")
    assert db.get(run_id, access=ACCESS).status == "stopped"


def test_partial_output_is_saved_while_running(db):
    ids: list[int] = []
    stream = runlog.record(
        iter(fake_events("토끼가 잔다", thinking="생각")),
        request(),
        log=db,
        source="web",
        on_start=ids.append,
        progress_interval_s=0.0,
        access=ACCESS,
    )
    for event in stream:
        if event.kind == "text" and event.text == "가":
            break
    # another connection (another process would see the same): the text so far is on disk
    with runlog.RunLog(db.path) as other:
        run = other.get(ids[0], access=ACCESS)
        assert run.status == "running" and run.answer == "토끼가" and run.thinking == "생각"
    stream.close()
    assert db.get(ids[0], access=ACCESS).status == "stopped"


def test_partial_output_is_throttled_by_the_injected_clock(db):
    now = [100.0]
    ids: list[int] = []

    def events():
        yield Text("a")  # the first piece is written at once
        yield Text("b")  # 0.1 s later: within the interval, kept in memory
        now[0] += 0.1
        yield Text("c")
        now[0] += 0.5  # 0.6 s after the last write: due again
        yield Text("d")

    stream = runlog.record(
        events(),
        request(),
        log=db,
        source="web",
        on_start=ids.append,
        progress_interval_s=0.5,
        clock=lambda: now[0],
        access=ACCESS,
    )
    on_disk = []
    for _ in stream:
        on_disk.append(db.get(ids[0], access=ACCESS).answer)
    assert on_disk == ["a", "a", "a", "abcd"]
    assert db.get(ids[0], access=ACCESS).status == "error"  # ended without Done: "incomplete"


def test_a_failing_log_never_breaks_the_events(db, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(db, "finish", broken)
    monkeypatch.setattr(db, "prepared", broken)
    events = fake_events("글")
    assert (
        list(runlog.record(iter(events), request(), log=db, source="cli", access=ACCESS)) == events
    )
    monkeypatch.setattr(db, "start", broken)
    assert (
        list(runlog.record(iter(events), request(), log=db, source="cli", access=ACCESS)) == events
    )


def test_the_video_is_named_as_the_caller_says_once_it_decoded(db):
    ids: list[int] = []
    stream = runlog.record(
        iter(fake_events("토끼", clip=("f25b31f1" + "0" * 56 + ".mp4", "f2" * 32))),
        request(video="/tmp/library/f25b31f1.mp4"),
        log=db,
        source="web",
        access=ACCESS,
        video_name="우리집 고양이.mp4",  # the name the user uploaded
        on_start=ids.append,
    )
    next(stream)  # the run has started; the file has not decoded yet
    assert db.get(ids[0], access=ACCESS).video_name is None
    list(stream)
    run = db.get(ids[0], access=ACCESS)
    assert run.video_name == "우리집 고양이.mp4" and run.video_sha256 == "f2" * 32


def test_a_seed_the_log_cannot_hold_is_refused_before_the_engine_starts(db):
    started: list[bool] = []

    def engine_events():
        started.append(True)
        yield Text("never")

    events = list(
        runlog.record(
            engine_events(),
            request(options=Options(seed=2**64)),
            log=db,
            source="web",
            access=ACCESS,
        )
    )
    (error,) = events
    assert error.kind == "error" and error.user_error and error.error.code == "invalid_request"
    assert "seed" in error.error.en and not started and db.query(access=ACCESS) == []
