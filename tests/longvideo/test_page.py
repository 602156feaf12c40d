"""The caption tab with a long video, without a browser: the "긴 영상" switch, windows that
stream in with "window k of n" and the time left, Stop, resuming, subtitles."""

from __future__ import annotations

import threading

from longvideo.conftest import replace

from captioner import runlog
from captioner.ui import caption, longrun, review
from captioner.ui.form import Form


def test_the_switch_appears_for_long_uploads_only(scenes_path, bbb_path, long_settings):
    shown, value, info, problem = longrun.switch(
        long_settings, str(scenes_path), "auto", None, 0, "ko"
    )
    assert shown and value and "8개 구간" in info and "15초에 1프레임" in info and problem is None
    assert "8 windows" in longrun.switch(long_settings, str(scenes_path), "auto", None, 0, "en")[2]
    assert longrun.switch(long_settings, str(bbb_path), "auto", None, 0, "ko") == (
        False,
        False,
        "",
        None,
    )
    assert longrun.switch(long_settings, None, "auto", None, 0, "ko")[0] is False
    # 64 frames see the 2-minute clip every 1.9 s: one pass is fine
    assert longrun.switch(long_settings, str(scenes_path), "auto", None, 64, "ko")[0] is False
    assert longrun.switch(long_settings, "/nope.mp4", "auto", None, 0, "ko")[0] is False


def test_an_upload_the_run_would_refuse_is_said_at_once(tmp_path, long_settings):
    # gradio's own upload warnings ("Video not playable") are English only and say less
    from captioner.errors import EmptyVideo, NotAVideo

    empty, text = tmp_path / "empty.mp4", tmp_path / "notes.mp4"
    empty.write_bytes(b"")
    text.write_text("not a video", encoding="utf-8")
    for path, kind in ((empty, EmptyVideo), (text, NotAVideo)):
        found = longrun.switch(long_settings, str(path), "auto", None, 0, "ko")
        assert not found.visible and isinstance(found.problem, kind)
        assert found.problem.ko and found.problem.en


def test_windows_stream_in_with_progress_then_the_merged_answer(scenes_path, long_settings, fake):
    reports: list[tuple[float, str]] = []
    form = Form(video=str(scenes_path), long=True)
    states = list(caption.stream(form, long_settings, threading.Event(),
                                 lambda f, m: reports.append((f, m))))  # fmt: skip
    statuses = [s.status for s in states]
    assert any(s.startswith("구간 1/8 (00:00-00:1") for s in statuses)
    assert any("남은 시간 약" in s for s in statuses)  # once a window has finished
    assert any(s.startswith("구간 8개를 하나의 타임라인으로") for s in statuses)
    during = [s.answer for s in states if "#### 구간 3/8" in s.answer]
    assert during and "장면" in during[-1] and "#### 구간 1/8 · 00:00-" in during[-1]
    fractions = [f for f, _ in reports if f is not None]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    last = states[-1]
    assert last.done and not last.error and last.status == "완료"
    assert last.answer.startswith("여러 장면이 차례로 나옵니다.\n\n타임라인\n00:0")
    assert "구간 8/8개 완료 · 실패 0" in last.metrics and "시간 순서 ✓" in last.metrics
    files, vtt, problem = caption.timeline_subtitles(
        {"long": True, "answer": last.answer, "duration": 120.0, "preset": "detail"}, "ko"
    )
    assert problem is None and len(files) == 2 and vtt.endswith(".vtt")


def test_stop_and_generate_again_resumes_in_the_same_session(tmp_path, scenes_path,
                                                             long_settings, fake):  # fmt: skip
    settings = replace(long_settings, library_dir=tmp_path / "videos")
    log = runlog.RunLog(tmp_path / "runs.sqlite3")
    who = runlog.Access.visitor("session-1")

    def recorder(events, request):
        return review.recorded(events, request, settings, log, who, video_name="긴영상.mp4")

    form = Form(video=str(scenes_path), long=True, language="English")
    stop = threading.Event()
    for state in caption.stream(form, settings, stop, None, recorder):
        if getattr(state.event, "kind", None) == "window_done" and state.event.result.index == 1:
            stop.set()
    # what streamed stays (both windows under their headings), then their timeline
    assert state.done and state.status == "Stopped"
    assert state.answer.startswith("#### Window 1 of 8") and "#### Window 2 of 8" in state.answer
    assert state.answer.endswith(state.event.answer) and state.event.answer.startswith("타임라인")
    (run,) = log.query(access=who)
    assert run.status == "stopped" and run.video_name == "긴영상.mp4"
    states = list(caption.stream(form, settings, threading.Event(), None, recorder))
    assert any("2 windows finished by the earlier run are reused" in s.status for s in states)
    assert any("(finished by the earlier run)" in s.answer for s in states)
    assert states[-1].status == "Done" and log.get(run.id, access=who).status == "done"
    assert len(log.query(access=who)) == 1
