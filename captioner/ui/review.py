"""The review tab's logic, without gradio: the run table, a run's details, ratings, exports,
and side-by-side or blind comparisons.

The run log itself (SQLite, exports, the video library, blind pairing) is ``runlog``; this
module turns it into what the page shows, in the page's language.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from captioner import precision, runlog
from captioner.errors import CaptionerError, InvalidRequest
from captioner.settings import Settings
from captioner.ui import caption
from captioner.ui.form import Form
from captioner.ui.texts import pick, t

COLUMNS = ("col_id", "col_time", "col_video", "col_model", "col_prompt", "col_status",
           "col_rating", "col_answer")  # fmt: skip
PRECISIONS = ("auto", *precision.NAMES)  # "auto": the profile's


def headers(lang: str) -> list[str]:
    return [t(key, lang) for key in COLUMNS]


def status_text(status: str, lang: str) -> str:
    key = f"run_status_{status}"
    return t(key, lang) if key in _STATUS_KEYS else status


_STATUS_KEYS = {f"run_status_{s}" for s in ("done", "stopped", "error", "running", "interrupted")}


# --- table, details, ratings, export --------------------------------------------------------------
def _filters(model: str, preset: str, video: str, since: str, min_rating) -> dict:
    return {
        "model": (model or "").strip() or None,
        "preset": None if preset in (None, "", "all") else preset,
        "video": (video or "").strip() or None,
        "since": (since or "").strip() or None,
        "min_rating": int(min_rating) if min_rating not in (None, "", "0", 0) else None,
    }


def query(log: runlog.RunLog, model="", preset="all", video="", since="", min_rating=0, limit=200):
    try:
        return log.query(**_filters(model, preset, video, since, min_rating), limit=limit)
    except CaptionerError:
        raise
    except ValueError as exc:
        raise InvalidRequest(t("bad_filter", "ko"), t("bad_filter", "en")) from exc


def table(runs: list[runlog.Run], lang: str) -> list[list]:
    rows = []
    for run in runs:
        rating = f"{run.rating_avg:.1f} ({run.rating_count})" if run.rating_count else ""
        prompt = run.preset or (run.prompt or "")[:40]
        answer = (run.answer or "").replace("\n", " ")
        rows.append([run.id, run.created_at[:19].replace("T", " "), run.video_name or "",
                     run.model or "", prompt, status_text(run.status, lang), rating,
                     answer[:80] + ("…" if len(answer) > 80 else "")])  # fmt: skip
    return rows


def config_markdown(run: runlog.Run, lang: str) -> str:
    adapter = f" + LoRA `{run.adapter}`" if run.adapter else ""
    parts = [
        f"**{t('detail_model', lang)}**: `{run.model}`{adapter}",
        f"**{t('detail_precision', lang)}**: {run.precision or '?'} · {run.device or '?'} · "
        f"{run.profile or '?'}",
        f"**{t('detail_prompt', lang)}**: {run.preset or ''} {_quote(run.prompt)}",
    ]
    if run.frames:
        parts.append(
            f"**{t('detail_frames', lang)}**: {run.frames} · {run.frame_width}×{run.frame_height}"
        )
    return "\n\n".join(parts)


def _quote(text: str | None) -> str:
    return f"“{text}”" if text else ""


def run_markdown(run: runlog.Run, lang: str, *, blind: bool = False) -> str:
    """A run's output (and, unless blind, its configuration, metrics and ratings)."""
    sections = [run.answer or t("no_output", lang)]
    if run.error:
        sections.append(f"⚠️ {pick(run.error_ko or '', run.error_en or '', lang)}")
    if blind:
        return "\n\n".join(sections)
    sections.append("---\n" + config_markdown(run, lang))
    if run.metrics:
        m = run.metrics
        sections.append(
            f"{m.get('new_tokens', '?')} tok · {m.get('tokens_per_s', 0):.1f} tok/s · "
            f"TTFT {m.get('ttft_s', 0):.2f}s · {status_text(run.status, lang)}"
        )
    for rating in run.ratings:
        stars = "★" * rating.score + "☆" * (5 - rating.score)
        tags = ", ".join(rating.tags)
        sections.append(f"{stars} {rating.reviewer or '?'} {tags} {rating.note}".strip())
    return "\n\n".join(sections)


def open_run(log: runlog.RunLog, settings: Settings, run_id, lang: str) -> tuple[str | None, str]:
    run = log.get(int(run_id))
    return find_video(settings, run), run_markdown(run, lang)


def rate(log: runlog.RunLog, run_id, score, tags: str, note: str, reviewer: str, lang: str) -> str:
    if run_id in (None, "") or score in (None, ""):
        raise InvalidRequest(t("pick_run_and_score", "ko"), t("pick_run_and_score", "en"))
    tag_list = [tag.strip() for tag in (tags or "").replace("#", ",").split(",") if tag.strip()]
    log.rate(int(run_id), int(score), tag_list, note or "", reviewer or "")
    return t("saved", lang, run=int(run_id), score=int(score))


def export(log: runlog.RunLog, fmt: str, filters: dict, out_dir: str | None = None) -> Path:
    runs = query(log, **filters, limit=None)
    folder = Path(out_dir or tempfile.mkdtemp(prefix="captioner-export-"))
    return runlog.export(runs, fmt, folder / f"captioner-runs.{fmt}")


# --- the library of videos (so a reviewer can watch what was captioned) ------------------------
def library(settings: Settings) -> runlog.Library | None:
    return runlog.Library(settings.library) if settings.library is not None else None


def keep_video(settings: Settings, path: str | None) -> str | None:
    """A copy of an upload in the review library (uploads expire after an hour)."""
    kept = library(settings)
    return kept.keep(path) if kept is not None else path


def find_video(settings: Settings, run: runlog.Run) -> str | None:
    kept = library(settings)
    found = kept.find(run.video_sha256) if kept is not None else None
    return str(found) if found is not None else None


# --- comparisons -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """One side of a comparison: what may differ between the two runs."""

    model: str | None
    preset: str | None = "detail"
    prompt: str = ""
    precision: str | None = None  # None / "auto": the profile's
    adapter: str | None = None

    def apply(self, form: Form) -> Form:
        return form.replace(model=self.model, preset=self.preset, prompt=self.prompt,
                            precision=self.precision, adapter=self.adapter)  # fmt: skip


@dataclass
class CompareState:
    left: str
    right: str
    status: str
    run_ids: tuple[int | None, int | None] = (None, None)
    done: bool = False


def compare_configs(
    base: Form,
    a: Config,
    b: Config,
    settings: Settings,
    stop: threading.Event,
    log: runlog.RunLog | None,
    blind: bool,
    seed: int,
) -> Iterator[CompareState]:
    """Run configuration A, then B, on the same video; stream both into two panels.

    In blind mode the panels show the outputs in an order fixed by ``seed`` (so the reviewer
    cannot know which side is A) and the configurations stay hidden until both are rated."""
    lang = base.lang
    outputs = ["", ""]
    ids: list[int | None] = [None, None]
    order = runlog.blind_order(seed, 0, 1) if blind else (0, 1)
    for index, config in enumerate((a, b)):
        if stop.is_set():
            break
        side = order[index]
        label = ("1", "2")[side] if blind else ("A", "B")[index]

        def recorder(events, request, _i=index):
            def remember(run_id):
                ids[_i] = run_id

            return runlog.record(events, request, log=log, source="web", on_start=remember)

        for state in caption.stream(config.apply(base), settings, stop,
                                    recorder=recorder if log is not None else None):  # fmt: skip
            outputs[side] = state.answer if not state.error else state.status
            yield CompareState(outputs[0], outputs[1], f"{label}: {state.status}", tuple(ids))
    panels = (ids[order.index(0)], ids[order.index(1)])  # run ids by panel: left, right
    yield CompareState(outputs[0], outputs[1], t("status_done", lang), panels, done=True)


def load_pair(log: runlog.RunLog, settings: Settings, left_id, right_id, blind: bool, lang: str,
              seed: int = 0):  # fmt: skip
    """Two runs of the same video side by side: (left_md, right_md, video, pair ids)."""
    left, right = log.get(int(left_id)), log.get(int(right_id))
    if left.video_sha256 != right.video_sha256:
        raise InvalidRequest(t("different_videos", "ko"), t("different_videos", "en"))
    if blind:
        left, right = runlog.blind_order(seed, left, right)
    return (
        run_markdown(left, lang, blind=blind),
        run_markdown(right, lang, blind=blind),
        find_video(settings, left),
        (left.id, right.id),
    )


def reveal_if_rated(
    log: runlog.RunLog, ids: tuple[int, int], reviewer: str, lang: str
) -> tuple[str, str] | None:
    """The configurations of a blind pair, once this reviewer has rated both sides."""
    runs = [log.get(i) for i in ids]
    if not all(any(r.reviewer == (reviewer or "") for r in run.ratings) for run in runs):
        return None
    return run_markdown(runs[0], lang), run_markdown(runs[1], lang)
