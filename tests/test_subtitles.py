"""Subtitles from timeline answers (captioner/subtitles.py): parsing what models really write,
making cues playable, and the SRT / WebVTT formats."""

from __future__ import annotations

import pytest

from captioner import subtitles
from captioner.errors import CaptionerError, InvalidRequest
from captioner.subtitles import Cue, SubtitleParseError, parse, to_srt, to_vtt

# (name, model output, video duration, expected [(start, end, text)])
TABLE = [
    (
        "the format the preset asks for",
        "00:00-00:04 토끼가 풀밭에서 잠을 자고 있습니다.\n"
        "00:04-00:09 나비 한 마리가 날아와 토끼의 코에 앉습니다.\n"
        "00:09-00:12 토끼가 눈을 뜨고 기지개를 켭니다.",
        12.0,
        [
            (0, 4, "토끼가 풀밭에서 잠을 자고 있습니다."),
            (4, 9, "나비 한 마리가 날아와 토끼의 코에 앉습니다."),
            (9, 12, "토끼가 눈을 뜨고 기지개를 켭니다."),
        ],
    ),
    (
        "start times only, single-digit minutes",
        "0:00 숲 속의 아침 풍경이 보입니다\n0:05 커다란 토끼가 나무 구멍에서 나옵니다\n"
        "0:12 토끼가 하품을 합니다",
        20.0,
        [
            (0, 5, "숲 속의 아침 풍경이 보입니다"),
            (5, 12, "커다란 토끼가 나무 구멍에서 나옵니다"),
            (12, 20, "토끼가 하품을 합니다"),
        ],
    ),
    (
        "SRT blocks with the text on the next line",
        "1\n00:00:05,000 --> 00:00:07,500\n토끼가 일어납니다.\n\n"
        "2\n00:00:07,500 --> 00:00:10,000\n나비가 날아갑니다.\n두 번째 줄입니다.\n",
        15.0,
        [
            (5, 7.5, "토끼가 일어납니다."),
            (7.5, 10, "나비가 날아갑니다.\n두 번째 줄입니다."),
        ],
    ),
    (
        "Korean seconds with tildes and a bullet",
        "- 0초 ~ 3초: 들판 위로 해가 떠오릅니다.\n- 3초 ~ 7.5초: 토끼가 천천히 걸어갑니다.\n"
        "- 7.5초 ~ 10초: 화면이 어두워집니다.",
        10.0,
        [
            (0, 3, "들판 위로 해가 떠오릅니다."),
            (3, 7.5, "토끼가 천천히 걸어갑니다."),
            (7.5, 10, "화면이 어두워집니다."),
        ],
    ),
    (
        "5.0초 and 부터/까지",
        "5.0초부터 12초까지 토끼가 사과를 먹습니다.\n12.0초: 다람쥐가 나타납니다.",
        20.0,
        [(5, 12, "토끼가 사과를 먹습니다."), (12, 20, "다람쥐가 나타납니다.")],
    ),
    (
        "a bare number before the unit",
        "0-3초: 하늘이 보입니다\n3-6초: 나무가 흔들립니다",
        6.0,
        [(0, 3, "하늘이 보입니다"), (3, 6, "나무가 흔들립니다")],
    ),
    (
        "Qwen3-VL's own <t seconds> markers",
        "<0.0 seconds> 토끼가 누워 있습니다.\n<2.5 seconds> 나비가 날아옵니다.\n"
        "<4.0 seconds> 토끼가 나비를 바라봅니다.",
        5.28,
        [
            (0, 2.5, "토끼가 누워 있습니다."),
            (2.5, 4, "나비가 날아옵니다."),
            (4, 5.28, "토끼가 나비를 바라봅니다."),
        ],
    ),
    (
        "[MM:SS] in brackets",
        "[00:05] 토끼가 등장합니다.\n[00:10] 토끼가 달리기 시작합니다.",
        15.0,
        [(5, 10, "토끼가 등장합니다."), (10, 15, "토끼가 달리기 시작합니다.")],
    ),
    (
        "1분 5초 style",
        "1분 5초 - 1분 10초: 토끼가 강을 건넙니다.\n1분 10초 ~ 1분 20초: 토끼가 쉽니다.",
        90.0,
        [(65, 70, "토끼가 강을 건넙니다."), (70, 80, "토끼가 쉽니다.")],
    ),
    (
        "numbering, en and em dashes",
        "1. 00:00–00:03 — 해가 뜹니다\n2. 00:03—00:06 – 새들이 지저귑니다\n3) 00:06-00:08 끝",
        8.0,
        [(0, 3, "해가 뜹니다"), (3, 6, "새들이 지저귑니다"), (6, 8, "끝")],
    ),
    (
        "full-width colons, digits and tilde",
        "００：００～００：０４　토끼가 잠을 잡니다\n00：04 - 00：08 토끼가 깨어납니다",
        8.0,
        [(0, 4, "토끼가 잠을 잡니다"), (4, 8, "토끼가 깨어납니다")],
    ),
    (
        "Markdown with a preamble and a closing summary",
        "다음은 장면별 타임라인입니다:\n\n**00:00 - 00:03**: 토끼가 잠을 잡니다\n"
        "**00:03 - 00:06**: 나비가 날아옵니다\n\n전체적으로 평화로운 분위기의 영상입니다.",
        10.0,
        [(0, 3, "토끼가 잠을 잡니다"), (3, 6, "나비가 날아옵니다")],
    ),
    (
        "scene labels",
        "장면 1 (0:00-0:04): 숲이 보입니다.\n장면 2 (0:04-0:08): 토끼가 나옵니다.",
        8.0,
        [(0, 4, "숲이 보입니다."), (4, 8, "토끼가 나옵니다.")],
    ),
    (
        "a Markdown table",
        "| 시간 | 설명 |\n|---|---|\n| 00:00-00:02 | 토끼가 잡니다 |\n| 00:02-00:05 | 나비가 옵니다 |",
        5.0,
        [(0, 2, "토끼가 잡니다"), (2, 5, "나비가 옵니다")],
    ),
    (
        "English units in brackets",
        "[0.0s - 2.5s] 토끼가 걷습니다\n[2.5s - 5.0s] 토끼가 멈춥니다",
        5.0,
        [(0, 2.5, "토끼가 걷습니다"), (2.5, 5, "토끼가 멈춥니다")],
    ),
    (
        "a time heading with bullets under it",
        "**00:00-00:02**\n- 토끼가 잡니다\n- 꼬리가 흔들립니다\n\n**00:02-00:05**\n- 나비가 날아옵니다",
        5.0,
        [(0, 2, "토끼가 잡니다\n꼬리가 흔들립니다"), (2, 5, "나비가 날아옵니다")],
    ),
    (
        "messy: unsorted, overlapping, past the end, one without an end",
        "00:04-00:09 둘째 장면\n00:00-00:06 첫 장면\n00:08 셋째 장면\n00:30-00:40 영상 밖",
        10.0,
        [(0, 4, "첫 장면"), (4, 8, "둘째 장면"), (8, 10, "셋째 장면")],
    ),
    (
        "messy: the end is before the start, a range past the end of the video",
        "00:03-00:01 거꾸로 쓴 장면\n00:05-00:25 끝까지 이어지는 장면",
        12.0,
        [(3, 5, "거꾸로 쓴 장면"), (5, 12, "끝까지 이어지는 장면")],
    ),
    (
        "messy: too-short cues are stretched to the minimum",
        "00:01.0-00:01.1 번쩍\n00:01.1-00:03 조용함",
        5.0,
        [(1, 1.5, "번쩍"), (1.5, 3, "조용함")],
    ),
    (
        "messy: times inside sentences are not cues, numbers are not times",
        "이 영상은 0:05에 시작합니다.\n3명이 걷고 있습니다.\n1-2마리의 새가 납니다.\n"
        "00:02 ~ 00:04 → 두 사람이 인사합니다",
        6.0,
        [(2, 4, "두 사람이 인사합니다")],
    ),
    (
        "the same start twice is one cue",
        "00:00 토끼가 보입니다\n00:00 나비도 보입니다\n00:03 끝",
        5.0,
        [(0, 3, "토끼가 보입니다\n나비도 보입니다"), (3, 5, "끝")],
    ),
    (
        "a clock with 초 and 약",
        "약 00:02초 - 00:04초: 토끼가 뜁니다\n(00:04 ~ 00:06) 토끼가 멈춥니다",
        6.0,
        [(2, 4, "토끼가 뜁니다"), (4, 6, "토끼가 멈춥니다")],
    ),
]


@pytest.mark.parametrize(
    ("output", "duration", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_parse_realistic_outputs(output, duration, expected):
    cues = parse(output, duration)
    assert [(c.start, c.end, c.text) for c in cues] == [
        (pytest.approx(s), pytest.approx(e), t) for s, e, t in expected
    ]


def test_the_table_is_large_enough():
    assert len(TABLE) >= 15


@pytest.mark.parametrize("cues_text", [row[1] for row in TABLE])
def test_cues_are_playable(cues_text):
    duration = 90.0
    cues = parse(cues_text, duration)
    for cue in cues:
        assert 0 <= cue.start < cue.end <= duration
        assert cue.end - cue.start >= subtitles.MIN_CUE_S - 1e-9
        assert cue.text == cue.text.strip() and cue.text
    for a, b in zip(cues, cues[1:], strict=False):
        assert a.end <= b.start


def test_unknown_duration_gives_the_last_cue_a_default_length():
    cues = parse("00:05 시작\n00:09 끝", None)
    assert [(c.start, c.end) for c in cues] == [(5, 9), (9, 9 + subtitles.LAST_CUE_S)]


@pytest.mark.parametrize(
    "output",
    [
        "",
        "토끼가 풀밭에서 잠을 자고 있습니다. 나비가 날아옵니다.",
        "3명이 걷고 있습니다.\n2024년에 촬영된 영상입니다.",
        "00:05-00:12",  # a time without any text
    ],
)
def test_nothing_parsable_is_a_typed_bilingual_error(output):
    with pytest.raises(SubtitleParseError) as info:
        parse(output, 10.0)
    error = info.value
    assert isinstance(error, InvalidRequest) and isinstance(error, CaptionerError)
    assert error.code == "subtitle_parse" and "자막" in error.ko and "subtitles" in error.en


def test_every_time_past_the_end_is_reported():
    with pytest.raises(SubtitleParseError) as info:
        parse("01:00-01:10 장면", 5.28)
    assert "5.3" in info.value.en and "영상 길이" in info.value.ko


SAMPLE = [Cue(5.0, 12.0, "토끼가 잠을 잡니다."), Cue(12.0, 75.25, "나비가 <날아>옵니다 & 앉습니다")]


def test_srt_format():
    assert to_srt(SAMPLE) == (
        "1\n00:00:05,000 --> 00:00:12,000\n토끼가 잠을 잡니다.\n\n"
        "2\n00:00:12,000 --> 00:01:15,250\n나비가 <날아>옵니다 & 앉습니다\n"
    )


def test_vtt_format_escapes_cue_text():
    assert to_vtt(SAMPLE) == (
        "WEBVTT\n\n00:00:05.000 --> 00:00:12.000\n토끼가 잠을 잡니다.\n\n"
        "00:00:12.000 --> 00:01:15.250\n나비가 &lt;날아&gt;옵니다 &amp; 앉습니다\n"
    )


def test_cue_text_cannot_break_the_format():
    cue = Cue(0.0, 1.0, "첫 줄\n\n셋째 줄 --> 화살표")
    assert "첫 줄\n셋째 줄 → 화살표" in to_srt([cue])
    assert to_vtt([cue]).count("-->") == 1


def test_hours_and_rounding():
    assert "01:01:01,500 --> 01:01:02,001" in to_srt([Cue(3661.5, 3662.0009, "x")])


def test_write_files(tmp_path):
    cues = parse("00:01-00:02 하나\n00:02-00:03 둘", 3.0)
    srt = subtitles.write(cues, tmp_path / "a.srt")
    vtt = subtitles.write(cues, tmp_path / "sub" / "a.vtt")
    assert srt.read_text(encoding="utf-8").startswith("1\n00:00:01,000 --> 00:00:02,000\n하나")
    assert vtt.read_text(encoding="utf-8").startswith("WEBVTT\n\n00:00:01.000 --> ")
    with pytest.raises(InvalidRequest):
        subtitles.write(cues, tmp_path / "a.txt")


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_an_unwritable_target_is_a_clear_error(tmp_path, where):
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    target = tmp_path / "file.txt" / "a.srt" if where == "under a file" else tmp_path
    for call in (lambda: subtitles.check_target(target),
                 lambda: subtitles.write([Cue(0, 1, "x")], target, "srt")):  # fmt: skip
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert str(target) in caught.value.en and str(target) in caught.value.ko
