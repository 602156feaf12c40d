"""From window captions to one timeline: each window's lines read in whole-video time, the
merge pass's answer read back and checked, gaps filled, repeats merged, coverage measured.

The merged timeline never depends on a model writing good timestamps. A window's lines are
parsed (``subtitles.parse``) and kept inside the window; a window whose caption has no
readable time becomes one line spanning the window. The merge pass's own lines are kept
where they are inside the video; any window they leave without a line gets its own lines
back. Then lines about the same scene at a window boundary (similar text, touching times)
become one, and the result is sorted and never overlaps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from captioner import subtitles
from captioner.errors import CaptionerError
from captioner.longvideo.windows import Window
from captioner.subtitles import Cue, clock_text

SAME_SCENE = 0.8  # text similarity above which touching lines describe one scene
TOUCHING_S = 2.0  # gap (seconds) within which two lines count as touching
FALLBACK_CHARS = 300  # a window's caption without times, as one line, is cut here
_SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")


def _parse(text: str, duration_s: float | None) -> list[Cue]:
    try:
        return subtitles.parse(text, duration_s)
    except CaptionerError:
        return []


def _one_line(text: str) -> str:
    """A cue's text on one line, its repeated lines once (lines with the same start time are
    joined by ``subtitles.parse``; a model that repeats a line repeats its start too)."""
    kept: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line and not any(_similar(line, other) >= SAME_SCENE for other in kept):
            kept.append(line)
    return " ".join(kept)


def window_cues(answer: str, window: Window) -> tuple[Cue, ...]:
    """A window's caption as timeline lines in whole-video time, inside the window.

    A model that wrote times from the window's start (all inside the window's length, none
    inside the window) is shifted by the window's start. A caption without readable times
    is one line spanning the window."""
    tol = 1.0
    cues = _parse(answer, None)
    inside = [c for c in cues if window.start_s - tol <= c.start < window.end_s + tol]
    relative = [c for c in cues if c.start < window.length_s + tol]
    if window.start_s > tol and cues and not inside and len(relative) == len(cues):
        cues = [Cue(c.start + window.start_s, c.end + window.start_s, c.text) for c in cues]
    kept = []
    for c in cues:
        start = min(max(c.start, window.start_s), window.end_s)
        end = min(max(c.end, start), window.end_s)
        if window.start_s - tol <= c.start < window.end_s and end > start:
            kept.append(Cue(round(start, 3), round(end, 3), _one_line(c.text)))
    if not kept and answer.strip():
        text = _one_line(answer)
        first = _SENTENCE_END.split(text)
        short = " ".join(first[:2]) if first else text
        kept.append(Cue(window.start_s, window.end_s, short[:FALLBACK_CHARS]))
    return tuple(kept)


def section_text(answer: str, cues: Sequence[Cue]) -> str:
    """What the merge pass reads of a window: its lines in whole-video time (as this module
    read them: shifted, clamped) when the caption had timed lines, else the caption."""
    return format_lines(cues) if cues and _parse(answer, None) else answer


def read_merge(answer: str, duration_s: float) -> tuple[str, list[Cue]]:
    """(overall description, timeline lines) from the merge pass's answer. The description
    is the text before the first timestamped line, without list markers or headings."""
    cues = _parse(answer, duration_s)
    summary: list[str] = []
    for line in answer.splitlines():
        if _parse(line, None):
            break
        clean = re.sub(r"^\s*(?:#+|\d+[.)]|[-*•])\s*", "", line).strip(" *")
        clean = re.sub(r"^(?:요약|전체 요약|타임라인|전체 타임라인|summary|timeline)\s*[:：]?\s*",
                       "", clean, flags=re.IGNORECASE)  # fmt: skip
        if clean:
            summary.append(clean)
    return " ".join(summary).strip(), [Cue(c.start, c.end, _one_line(c.text)) for c in cues]


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()


def merged(cues: Iterable[Cue], duration_s: float) -> list[Cue]:
    """Sorted, inside [0, duration), repeats at boundaries joined, never overlapping."""
    ordered = sorted(
        (c for c in cues if 0 <= c.start < duration_s and c.text.strip()),
        key=lambda c: (c.start, c.end),
    )
    out: list[Cue] = []
    for cue in ordered:
        end = min(cue.end, duration_s)
        if out:
            last = out[-1]
            if cue.start <= last.end + TOUCHING_S and _similar(last.text, cue.text) >= SAME_SCENE:
                text = cue.text if len(cue.text) > len(last.text) else last.text
                out[-1] = Cue(last.start, max(last.end, end), text)
                continue
            if cue.start < last.end:  # a line ends where the next begins
                out[-1] = Cue(last.start, max(cue.start, last.start), last.text)
                if out[-1].end <= out[-1].start:
                    out.pop()
        out.append(Cue(cue.start, max(end, cue.start), cue.text))
    return [c for c in out if c.end > c.start]


def combine(
    model: Sequence[Cue], per_window: Sequence[tuple[Window, Sequence[Cue]]], duration_s: float
) -> tuple[list[Cue], int]:
    """(timeline, windows filled): the merge pass's lines, plus the own lines of every window
    those leave without a line, merged."""
    lines = list(model)
    filled = 0
    for window, cues in per_window:
        if not cues:
            continue
        if not any(window.start_s <= c.start < window.end_s for c in model):
            lines.extend(cues)
            filled += 1
    return merged(lines, duration_s), filled


def format_lines(cues: Sequence[Cue]) -> str:
    return "\n".join(f"{clock_text(c.start)}-{clock_text(c.end)} {c.text}" for c in cues)


TIMELINE_HEADING = "타임라인"


def final_text(summary: str, cues: Sequence[Cue]) -> str:
    """The answer of a long run: the overall description, then the timeline lines (which
    subtitles.parse turns into SRT / WebVTT as any timeline answer)."""
    parts = [summary.strip()] if summary.strip() else []
    if cues:
        parts.append(f"{TIMELINE_HEADING}\n{format_lines(cues)}")
    return "\n\n".join(parts)


@dataclass(frozen=True)
class TimelineCheck:
    """Is the timeline usable: every line inside the video, in time order, and how much of
    the video it covers (minutes that a line's range overlaps; minutes a line starts in)."""

    lines: int
    inside: bool
    ordered: bool
    coverage: float  # share of the video's minutes overlapped by some line's range
    coverage_starts: float  # share of the video's minutes in which some line starts
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.lines > 0 and self.inside and self.ordered

    def summary(self, lang: str = "ko") -> str:
        total = clock_text(self.duration_s)
        if lang == "ko":
            return (
                f"타임라인 {self.lines}줄 · 시각이 모두 영상 안(00:00-{total}) "
                f"{'✓' if self.inside else '✗'} · 시간 순서 {'✓' if self.ordered else '✗'} · "
                f"분 단위 범위 {self.coverage:.0%} (줄이 시작하는 분 {self.coverage_starts:.0%})"
            )
        return (
            f"timeline {self.lines} lines · every time inside the video (00:00-{total}) "
            f"{'yes' if self.inside else 'NO'} · in time order {'yes' if self.ordered else 'NO'} "
            f"· minutes covered {self.coverage:.0%} (minutes where a line starts "
            f"{self.coverage_starts:.0%})"
        )

    def to_dict(self) -> dict:
        return {
            "lines": self.lines,
            "inside": self.inside,
            "ordered": self.ordered,
            "coverage": round(self.coverage, 4),
            "coverage_starts": round(self.coverage_starts, 4),
            "ok": self.ok,
        }


def minutes(duration_s: float) -> int:
    return max(1, -int(-duration_s // 60))


def check(cues: Sequence[Cue], duration_s: float) -> TimelineCheck:
    """The check of a timeline read back from text (what a user gets), against the video."""
    total = minutes(duration_s)
    spanned: set[int] = set()
    started: set[int] = set()
    for c in cues:
        started.add(min(int(c.start // 60), total - 1))
        last = max(int(c.start // 60), int((min(c.end, duration_s) - 1e-6) // 60))
        spanned.update(range(int(c.start // 60), min(last, total - 1) + 1))
    return TimelineCheck(
        lines=len(cues),
        inside=all(0 <= c.start < duration_s and c.end <= duration_s + 1e-3 for c in cues),
        ordered=all(a.start <= b.start for a, b in zip(cues, cues[1:], strict=False)),
        coverage=len(spanned) / total,
        coverage_starts=len(started) / total,
        duration_s=duration_s,
    )


def check_text(answer: str, duration_s: float) -> TimelineCheck:
    """``check`` on the timeline lines of an answer as written (no clamping, no reordering)."""
    raw = []
    for line in answer.splitlines():
        cues = _parse(line, None)
        if cues:
            raw.append(cues[0])
    return check(raw, duration_s)


def single_pass_coverage(answer: str, duration_s: float) -> TimelineCheck:
    """The same check for a one-pass timeline answer (today's behaviour), for comparison."""
    return check_text(answer, duration_s)
