"""The caption tab's long-video parts, without gradio: whether an upload gets the "긴 영상"
switch, and how a long run reads on the page while it streams.

- ``switch``: (visible, value, info) for the switch after an upload: shown, and on, when
  one pass of the chosen profile would see the clip too sparsely (``longvideo.layout``);
  and the upload's problem (empty, not a video, too long...), said before Generate is pressed.
- ``View``: turns a long run's events into the status line (window k of n, the time left),
  the progress bar, and the answer area (each window's caption as it finishes, then the
  merge pass), until ``Done`` puts the merged answer in its place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from captioner import engine, longvideo, video
from captioner.errors import CaptionerError, VideoError
from captioner.settings import Settings
from captioner.subtitles import clock_text
from captioner.ui.texts import pick, t

Progress = Callable[[float | None, str], None]


class Switch(NamedTuple):
    visible: bool
    value: bool
    info: str
    problem: VideoError | None = None  # what is wrong with the uploaded file, if anything


def switch(
    settings: Settings,
    path: str | None,
    profile: str | None,
    model: str | None,
    max_frames: int | None,
    lang: str,
) -> Switch:
    """The long-video switch for the uploaded ``path``, and the file's problem if it has one
    (gradio's own upload warnings are English only and say less)."""
    if not path:
        return Switch(False, False, "")
    try:
        request = engine.DescribeRequest(video=path, model=model or None, profile=profile,
                                         max_frames=int(max_frames or 0) or None)  # fmt: skip
        chosen = engine.select(request, settings)
        info = video.open_source(path, longvideo.long_limits(settings)).info
    except VideoError as exc:
        return Switch(False, False, "", exc)
    except (CaptionerError, ValueError):
        return Switch(False, False, "")  # the run will say what is wrong with the request
    plan = longvideo.layout(info.duration_s, chosen.max_frames, settings.long_seconds_per_frame,
                            settings.limits.max_duration_s)  # fmt: skip
    if not plan.windowed:
        return Switch(False, False, "")
    text = t("long_info", lang, minutes=max(1, round(info.duration_s / 60)),
             spacing=plan.spacing_s, count=plan.count, frames=plan.frame_budget)  # fmt: skip
    return Switch(True, True, text)


def _eta(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return ""
    amount = f"{seconds / 60:.0f}분" if seconds >= 90 else f"{seconds:.0f}초"
    if lang != "ko":
        amount = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
    return t("eta", lang, time=amount)


class View:
    """A long run as the page shows it while it streams."""

    def __init__(self, lang: str, progress: Progress | None = None) -> None:
        self.lang = lang
        self.progress = progress
        self.blocks: list[str] = []  # finished windows, as Markdown
        self.current: list[str] = []  # the caption (or merge) streaming now
        self.heading = ""
        self.count = 0
        self.status = ""
        self.merged: longvideo.Merged | None = None
        self.active = False

    def answer(self) -> str:
        parts = list(self.blocks)
        if self.heading:
            parts.append(f"#### {self.heading} ⏳\n\n{''.join(self.current)}")
        return "\n\n".join(parts)

    def update(self, event) -> tuple[str, str]:
        """(status, answer) after a long-run event."""
        self.active = True
        kind, lang = event.kind, self.lang
        if kind == "long_plan":
            self.count = event.layout.count
            self.status = pick(event.layout.reason_ko, event.layout.reason, lang)
            if event.reused:
                self.status += "\n\n" + t("long_resumed", lang, n=event.reused)
        elif kind == "window_start":
            w = event.window
            where = dict(k=w.index + 1, n=event.count, start=clock_text(w.start_s),
                         end=clock_text(w.end_s))  # fmt: skip
            self.heading, self.current = t("window_heading", lang, **where), []
            self.status = t("status_window", lang, **where, eta=_eta(event.eta_s, lang))
            self._report(w.index / max(event.count, 1))
        elif kind in ("window_text", "merge_text"):
            self.current.append(event.text)
        elif kind in ("window_done", "window_failed"):
            self._finished(event)
        elif kind == "merge":
            self.heading, self.current = t("merge_heading", lang), []
            self.status = t("status_merge", lang, n=event.windows_done)
            self._report(1.0)
        elif kind == "merged":
            self.merged = event
            self.heading, self.current = "", []
        return self.status, self.answer()

    def _finished(self, event) -> None:
        r, lang = event.result, self.lang
        heading = t("window_heading", lang, k=r.index + 1, n=event.count,
                    start=clock_text(r.start_s), end=clock_text(r.end_s))  # fmt: skip
        if r.status == "error" and r.error is not None:
            body = t("window_failed", lang, error=pick(r.error.ko, r.error.en, lang))
        else:
            body = r.answer.strip() + (f"\n\n{t('window_reused', lang)}" if r.reused else "")
        self.blocks.append(f"#### {heading}\n\n{body}")
        self.heading, self.current = "", []
        self._report(event.finished / max(event.count, 1))

    def _report(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress(min(max(fraction, 0.0), 1.0), self.status)

    def metrics_note(self, lang: str | None = None) -> str:
        """Lines for the metrics area after a long run: windows and the timeline check."""
        lang = lang or self.lang
        merged = self.merged
        if merged is None:
            return ""
        done = sum(1 for w in merged.windows if w.status == "done")
        lines = [t("long_done", lang, done=done, n=len(merged.windows),
                   failed=merged.failed), merged.check.summary(lang)]  # fmt: skip
        return "\n\n".join(lines)
