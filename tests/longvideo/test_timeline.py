"""captioner/longvideo/timeline.py: window captions in whole-video time, the merge read back,
gaps filled, repeats joined, and the check every merged timeline gets."""

from __future__ import annotations

from captioner.longvideo import timeline
from captioner.longvideo.windows import Window
from captioner.subtitles import Cue

W = Window(2, 160.0, 240.0)


def test_window_lines_are_kept_inside_the_window():
    answer = "02:45-03:10 토끼가 달린다\n03:50-04:30 나비가 난다\n05:00-05:10 바깥\n00:10 앞쪽"
    cues = timeline.window_cues(answer, W)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (165.0, 190.0, "토끼가 달린다"),
        (230.0, 240.0, "나비가 난다"),  # clamped to the window's end
    ]


def test_times_written_from_the_window_start_are_shifted():
    cues = timeline.window_cues("00:05-00:20 토끼\n00:40-01:00 나비", W)
    assert [(c.start, c.end) for c in cues] == [(165.0, 180.0), (200.0, 220.0)]


def test_a_caption_without_times_becomes_one_line_over_the_window():
    cues = timeline.window_cues("토끼가 숲에서 뛰어놉니다. 나비가 날아옵니다. 셋째 문장.", W)
    assert cues == (Cue(160.0, 240.0, "토끼가 숲에서 뛰어놉니다. 나비가 날아옵니다."),)
    assert timeline.window_cues("   ", W) == ()


def test_repeats_at_a_boundary_become_one_line_and_lines_never_overlap():
    cues = [
        Cue(75.0, 80.0, "토끼가 풀밭을 달린다"),
        Cue(80.0, 86.0, "토끼가 풀밭을 달린다."),  # the next window saw the same scene
        Cue(84.0, 90.0, "나비가 난다"),
        Cue(300.0, 310.0, "영상 밖"),
        Cue(10.0, 20.0, "처음"),
    ]
    out = timeline.merged(cues, duration_s=120.0)
    assert [(c.start, c.end, c.text) for c in out] == [
        (10.0, 20.0, "처음"),
        (75.0, 84.0, "토끼가 풀밭을 달린다."),
        (84.0, 90.0, "나비가 난다"),
    ]


def test_windows_the_merge_left_out_get_their_own_lines_back():
    model = [Cue(5.0, 30.0, "합친 장면")]
    per_window = [
        (Window(0, 0.0, 60.0), (Cue(5.0, 20.0, "장면 가"),)),
        (Window(1, 60.0, 120.0), (Cue(70.0, 90.0, "장면 나"),)),
        (Window(2, 120.0, 180.0), ()),  # failed: nothing to add
    ]
    cues, filled = timeline.combine(model, per_window, 180.0)
    assert filled == 1 and [c.text for c in cues] == ["합친 장면", "장면 나"]


def test_the_merge_answer_is_read_back():
    answer = (
        "## 전체 요약\n요약: 토끼와 나비의 하루.\n\n타임라인\n1. 00:00-00:30 시작\n- 00:30-01:00 끝"
    )
    summary, cues = timeline.read_merge(answer, 90.0)
    assert summary == "토끼와 나비의 하루."
    assert [(c.start, c.end, c.text) for c in cues] == [(0.0, 30.0, "시작"), (30.0, 60.0, "끝")]


def test_the_final_text_checks_inside_in_order_and_covered():
    cues = [Cue(0.0, 70.0, "가"), Cue(70.0, 130.0, "나"), Cue(130.0, 185.0, "다")]
    text = timeline.final_text("요약입니다.", cues)
    assert text.startswith("요약입니다.\n\n타임라인\n00:00-01:10 가")
    check = timeline.check_text(text, 185.0)
    assert check.ok and check.lines == 3 and check.coverage == 1.0
    assert check.coverage_starts == 0.75  # lines start in minutes 0, 1, 2; none in minute 3
    assert "시간 순서 ✓" in check.summary("ko") and "in time order yes" in check.summary("en")
    bad = timeline.check_text("01:00-01:10 나\n00:10-00:20 가\n05:00-05:10 밖", 185.0)
    assert not bad.ordered and not bad.inside and not bad.ok
    assert "✗" in bad.summary("ko")
    assert timeline.check_text("숫자 없는 답", 60.0).lines == 0
