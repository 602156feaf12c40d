"""Subtitles from a timeline answer: parse "MM:SS-MM:SS 설명" lines into cues, write SRT / WebVTT.

The timeline preset asks for "MM:SS-MM:SS 설명" lines, but models answer in many shapes:
"0:05", "00:05-00:12", SRT blocks ("00:00:05,000 --> 00:00:07,500" with the text on the next
line), "5.0초", "5초 ~ 12초", "5초부터 12초까지", Qwen3-VL's own "<5.0 seconds>", "[00:05]",
"1분 5초", "장면 1 (0:00-0:05):", bullets and numbering, Markdown bold and tables,
full-width colons and digits, en/em dashes. :func:`parse` reads a time (or a range) at the
start of a line and takes the rest as the text; lines without a leading time continue the
cue above (until a blank line), so multi-line cues survive. Times inside a sentence are
never taken for cues.

The cues are then made playable: clamped to the video's duration (cues that start after
the end are dropped), sorted, never overlapping (a cue ends where the next begins when its
end is missing or too late), at least ``MIN_CUE_S`` long, text trimmed. When nothing can be
read, :class:`SubtitleParseError` says so in Korean and English.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from pathlib import Path

from captioner.errors import InvalidRequest

__all__ = [
    "MIN_CUE_S",
    "Cue",
    "SubtitleParseError",
    "clock_text",
    "parse",
    "to_srt",
    "to_vtt",
    "write",
]

MIN_CUE_S = 0.5
LAST_CUE_S = 3.0  # length of a last cue without an end when the video's duration is unknown
FORMATS = ("srt", "vtt")


class SubtitleParseError(InvalidRequest):
    """No usable timestamped line in the model's answer."""

    code = "subtitle_parse"


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    text: str


# --- normalising --------------------------------------------------------------------------------
# One character for one character, so positions in the normalised line are positions in the
# original: times are read from the normalised copy, the text is cut from the original.
_SAME_LENGTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},  # full-width digits
        "：": ":",
        "﹕": ":",
        "∶": ":",
        "～": "~",
        "〜": "~",
        "∼": "~",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
        "－": "-",
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "﹣": "-",
        "．": ".",
        "，": ",",
        "［": "[",
        "］": "]",
        "（": "(",
        "）": ")",
        "＜": "<",
        "＞": ">",
        "｜": "|",
        "\u3000": " ",
        "\u00a0": " ",
    }
)

_NUM = r"\d+(?:\.\d+)?"
# bullets, numbering, Markdown headings / quotes / table bars, then an optional scene label
_LEAD = re.compile(
    r"\s*(?:(?:[-*•·▪◦‣>|+#]\s*|(?:\d{1,3}[.)]|\(\d{1,3}\))\s+))*"
    r"(?:(?:장면|씬|구간|파트|scene|part|shot|clip|segment)\s*\d{0,3}\s*[:.)\-]?\s*)?",
    re.IGNORECASE,
)
_OPEN = re.compile(r"[\s\[(<{【「『*_`|]*(?:약\s*)?")
_CLOSE = re.compile(r"(?:\s*(?:초|경|쯤|께|까지))*[\s\])>}】」』*_`]*")
_CLOCK = re.compile(r"(?:(\d{1,2}):)?(\d{1,3}):(\d{2}(?:[.,]\d{1,3})?)(?![\d:])")
_KOREAN = re.compile(rf"(?:(\d+)\s*시간\s*)?(?:({_NUM})\s*분\s*)?(?:({_NUM})\s*초)?")
_ENGLISH = re.compile(
    rf"(?:(\d+)\s*(?:h(?=\s*\d)|hours?)\s*)?(?:({_NUM})\s*(?:m(?=\s*\d)|mins?|minutes?)\s*)?"
    rf"(?:({_NUM})\s*(?:s|secs?|seconds?))?(?![A-Za-z])",
    re.IGNORECASE,
)
_BARE = re.compile(_NUM)
_SEP = re.compile(r"\s*(?:-->|->|→|⟶|➔|=>|~|-|to\b|부터|에서)\s*", re.IGNORECASE)
_TAIL = re.compile(r"[\s:\-|)\]>}】」』*_`.,~=→⟶➔]*")
_SRT_INDEX = re.compile(r"\s*\d{1,5}\s*")
_HEADER = re.compile(r"\s*(?:WEBVTT|NOTE)\b.*", re.IGNORECASE)


@dataclass(frozen=True)
class _Time:
    seconds: float
    end: int  # position after the time
    unit: str  # "clock" | "s" | "min" | "bare"


def _number(text: str | None) -> float:
    return float(text) if text else 0.0


def _time_at(line: str, pos: int) -> _Time | None:
    """The time written at ``pos`` (after its opening brackets), if any."""
    m = _CLOCK.match(line, pos)
    if m:
        hours, minutes, seconds = m.group(1), m.group(2), m.group(3).replace(",", ".")
        value = _number(hours) * 3600 + _number(minutes) * 60 + float(seconds)
        return _Time(value, m.end(), "clock")
    for pattern in (_KOREAN, _ENGLISH):
        m = pattern.match(line, pos)
        if m and any(m.group(i) for i in (1, 2, 3)):
            hours, minutes, seconds = m.group(1), m.group(2), m.group(3)
            value = _number(hours) * 3600 + _number(minutes) * 60 + _number(seconds)
            end = m.end()
            while end > pos and line[end - 1].isspace():
                end -= 1
            return _Time(value, end, "s" if seconds or hours else "min")
    m = _BARE.match(line, pos)
    if m:
        return _Time(float(m.group()), m.end(), "bare")
    return None


def _leading_times(line: str) -> tuple[float, float | None, int] | None:
    """(start, end or None, where the text begins) when the line starts with a time."""
    opened = _OPEN.match(line, _LEAD.match(line).end())
    bracketed = any(c in "[(<{【「『`" for c in opened.group())
    first = _time_at(line, opened.end())
    if first is None:
        return None
    pos = _CLOSE.match(line, first.end).end()
    second = None
    sep = _SEP.match(line, pos)
    if sep and sep.end() > pos:
        second = _time_at(line, _OPEN.match(line, sep.end()).end())
    start, end = first.seconds, None
    if second is not None:
        scale = {"min": 60.0}
        after = _CLOSE.match(line, second.end).end()
        if first.unit == "bare" and second.unit in ("s", "min"):
            start, end = first.seconds * scale.get(second.unit, 1.0), second.seconds  # "5-12초"
        elif first.unit in ("s", "min") and second.unit == "bare":
            end = second.seconds * scale.get(first.unit, 1.0)  # "5초-12"
        elif first.unit == "bare" and second.unit == "bare":
            if not (bracketed or line[after:].lstrip().startswith(":")):
                return None  # "3-4 마리의 새": numbers, not times ("[5-12]", "5-12:" are)
            end = second.seconds
        elif "bare" in (first.unit, second.unit):
            second = None  # "0:05-12": not a range to trust; keep the start only
        else:
            end = second.seconds
        if second is not None:
            pos = after
    if first.unit == "bare" and second is None:
        return None  # "3명이 걷는다": a number, not a time
    return start, end, _TAIL.match(line, pos).end()


def _clean(text: str) -> str:
    text = text.strip()
    text = re.sub(r"^\*\*(.*)\*\*$", r"\1", text)  # **Markdown bold**
    text = text.strip(" \t|*_`")
    return re.sub(r"[ \t]+", " ", text).strip()


# --- parsing ----------------------------------------------------------------------------------
def _raw_cues(text: str) -> list[list]:
    cues: list[list] = []  # [start, end, [lines]]
    open_for_more = False
    for original in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = original.translate(_SAME_LENGTH)
        if not line.strip():
            open_for_more = False if cues and cues[-1][2] else open_for_more
            continue
        if _HEADER.fullmatch(line) or re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", line):
            continue  # "WEBVTT", Markdown table rules
        found = _leading_times(line)
        if found is not None:
            start, end, text_at = found
            body = _clean(original[text_at:])
            cues.append([start, end, [body] if body else []])
            open_for_more = True
            continue
        if not cues or not open_for_more:
            continue  # a preamble or a closing summary
        if _SRT_INDEX.fullmatch(line):
            continue
        body = _clean(original[_LEAD.match(line).end() :])
        if body:
            cues[-1][2].append(body)
    return cues


def parse(text: str, duration_s: float | None) -> list[Cue]:
    """Cues from a model's timeline answer, ready to write as SRT or WebVTT.

    ``duration_s``: the video's length (cues are clamped to it); None or 0 when unknown.
    Raises :class:`SubtitleParseError` when no line starts with a readable time."""
    known = duration_s is not None and duration_s > 0
    raw = [c for c in _raw_cues(text) if c[2]]
    if not raw:
        raise SubtitleParseError(
            "모델의 답에서 시각 정보(예: '00:05-00:12 설명')가 있는 줄을 찾지 못해 자막을 만들 수 "
            "없습니다. '장면별 타임라인' 프리셋으로 다시 생성해 보세요.",
            "No line with a timestamp (e.g. '00:05-00:12 description') was found in the model's "
            "answer, so no subtitles could be made. Try the 'timeline' preset again.",
        )
    if known:
        inside = [c for c in raw if c[0] < duration_s]
        if not inside:
            raise SubtitleParseError(
                f"답의 시각이 모두 영상 길이({duration_s:.1f}초)를 넘어 자막을 만들 수 없습니다.",
                f"Every timestamp in the answer is past the end of the video ({duration_s:.1f} s), "
                "so no subtitles could be made.",
            )
        raw = inside
    raw.sort(key=lambda c: c[0])  # stable: equal starts keep the model's order
    merged: list[list] = []
    for start, end, lines in raw:
        if merged and abs(merged[-1][0] - start) < 1e-6:
            previous = merged[-1]
            previous[2] = previous[2] + lines
            if end is not None:
                previous[1] = max(previous[1] or end, end)
            continue
        merged.append([start, end, list(lines)])

    cues: list[Cue] = []
    for i, (start, end, lines) in enumerate(merged):
        text_out = "\n".join(lines)
        following = merged[i + 1][0] if i + 1 < len(merged) else None
        if cues:
            start = max(start, cues[-1].end)
        if end is None or end <= start:
            if following is not None and following > start:
                end = following
            else:
                end = duration_s if known else start + LAST_CUE_S
        if following is not None and start < following < end:
            end = following
        if known:
            end = min(end, duration_s)
        if end - start < MIN_CUE_S:
            end = start + MIN_CUE_S
            if known and end > duration_s:
                end = duration_s
                start = max(cues[-1].end if cues else 0.0, end - MIN_CUE_S)
        if end - start <= 1e-3:  # squeezed out at the very end: keep its words in the last cue
            if cues:
                last = cues[-1]
                cues[-1] = Cue(last.start, last.end, f"{last.text}\n{text_out}")
            continue
        cues.append(Cue(round(start, 3), round(end, 3), text_out))
    return cues


# --- writing --------------------------------------------------------------------------------------
def _clock(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def clock_text(seconds: float) -> str:
    """A time as a timeline line writes it: "MM:SS", or "H:MM:SS" from an hour on (whole
    seconds, rounded down, so a time inside the video never reads as its end)."""
    whole = max(0, int(seconds + 1e-6))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _cue_lines(text: str) -> str:
    # a blank line would end the cue, and "-->" would be read as a timing line
    lines = [line.strip() for line in text.replace("-->", "→").splitlines()]
    return "\n".join(line for line in lines if line)


def to_srt(cues: list[Cue]) -> str:
    """SubRip: numbered blocks, "00:00:05,000 --> 00:00:12,000", blank line between."""
    blocks = [
        f"{i}\n{_clock(c.start, ',')} --> {_clock(c.end, ',')}\n{_cue_lines(c.text)}\n"
        for i, c in enumerate(cues, 1)
    ]
    return "\n".join(blocks)


def to_vtt(cues: list[Cue]) -> str:
    """WebVTT: "WEBVTT" header, "00:00:05.000 --> 00:00:12.000"; cue text escaped (& < >)."""
    blocks = ["WEBVTT\n"]
    for c in cues:
        body = _cue_lines(c.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}\n{body}\n")
    return "\n".join(blocks)


def write(cues: list[Cue], path: str | Path, format: str | None = None) -> Path:
    """Write ``cues`` as SRT or WebVTT (format from the argument or the file's suffix)."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise InvalidRequest(
            f"알 수 없는 자막 형식 '{fmt}' (가능: srt, vtt)",
            f"Unknown subtitle format '{fmt}' (choose from srt, vtt)",
        )
    check_target(path)
    try:
        path.write_text(to_srt(cues) if fmt == "srt" else to_vtt(cues), encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest.unwritable(path, exc) from exc
    return path


def check_target(path: str | Path) -> Path:
    """A subtitle file's path, its folder made now; refused (``InvalidRequest``) when it
    cannot be a file, so a command can say so before it spends minutes on the answer."""
    path = Path(path)
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequest.unwritable(path, exc) from exc
    return path
