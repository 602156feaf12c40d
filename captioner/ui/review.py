"""The review tab's logic, without gradio: the run table, a run's details, ratings, the
rating summary, exports, and side-by-side or blind comparisons.

Every function that touches runs takes a ``runlog.Access`` (``ui/access.py`` builds it from
the request: a visitor's session, or a reviewer's login) and the run log applies its scope,
so no handler can forget it. The run log itself (SQLite, exports, the video library, blind
pairing) is ``runlog``; this module turns it into what the page shows, in its language.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import captioner.ui.caption as caption
from captioner import longvideo, precision, runlog
from captioner.errors import CaptionerError, InvalidRequest
from captioner.settings import Settings
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


def query(log: runlog.RunLog, access: runlog.Access, model="", preset="all", video="", since="",
          min_rating=0, limit=200):  # fmt: skip
    try:
        filters = _filters(model, preset, video, since, min_rating)
        return log.query(access=access, **filters, limit=limit)
    except CaptionerError:
        raise
    except ValueError as exc:
        raise InvalidRequest(t("bad_filter", "ko"), t("bad_filter", "en")) from exc


def table(runs: list[runlog.Run], lang: str) -> dict:
    """The run table in ``lang``: its headers and rows (the file name the user uploaded; the
    content hash is in the run's detail view)."""
    rows = []
    for run in runs:
        rating = f"{run.rating_avg:.1f} ({run.rating_count})" if run.rating_count else ""
        prompt = run.preset or (run.prompt or "")[:40]
        answer = (run.answer or "").replace("\n", " ")
        rows.append([run.id, run.created_at[:19].replace("T", " "), run.video_name or "",
                     run.model or "", prompt, status_text(run.status, lang), rating,
                     answer[:80] + ("…" if len(answer) > 80 else "")])  # fmt: skip
    return {"headers": headers(lang), "data": rows}


def config_markdown(run: runlog.Run, lang: str) -> str:
    adapter = f" + LoRA `{run.adapter}`" if run.adapter else ""
    video = f"{run.video_name or '-'} · `sha256 {(run.video_sha256 or '')[:16]}…`"
    parts = [
        f"**{t('detail_video', lang)}**: {video}",
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


def get_run(log: runlog.RunLog, access: runlog.Access, run_id) -> runlog.Run:
    return log.get(_run_id(run_id), access=access)


def run_markdown(run: runlog.Run, lang: str, *, blind: bool = False) -> str:
    """A run's output (and, unless blind, its configuration, metrics and every reviewer's
    rating side by side). Model output is shown as text: no HTML, no outside images."""
    from captioner.ui.caption import safe_markdown

    sections = [safe_markdown(run.answer) or t("no_output", lang)]
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
    if run.ratings:
        rows = [t("ratings_table", lang), "|---|---|---|---|"]
        for rating in run.ratings:
            stars = "★" * rating.score + "☆" * (5 - rating.score)
            cells = (rating.reviewer or "?", stars, ", ".join(rating.tags), rating.note)
            rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        sections.append("\n".join(rows))
    return "\n\n".join(sections)


def _cell(text: str) -> str:
    from captioner.ui.caption import safe_markdown

    return safe_markdown(str(text)).replace("|", "\\|").replace("\n", " ")


def open_run(log: runlog.RunLog, settings: Settings, access: runlog.Access, run_id,
             lang: str) -> tuple[str | None, str]:  # fmt: skip
    run = log.get(_run_id(run_id), access=access)
    return find_video(settings, run), run_markdown(run, lang)


def rate(log: runlog.RunLog, access: runlog.Access, run_id, score, tags: str, note: str,
         lang: str) -> str:  # fmt: skip
    """Save a rating as ``access.rater`` (the login, or a visitor's session)."""
    if run_id in (None, "") or score in (None, ""):
        raise InvalidRequest(t("pick_run_and_score", "ko"), t("pick_run_and_score", "en"))
    tag_list = [tag.strip() for tag in (tags or "").replace("#", ",").split(",") if tag.strip()]
    run, stars = _run_id(run_id), _score(score)
    log.rate(run, stars, tag_list, note or "", access=access)  # refuses a score not 1..5
    return t("saved", lang, run=run, score=stars)


def export(log: runlog.RunLog, access: runlog.Access, fmt: str, filters: dict,
           out_dir: str | None = None) -> Path:  # fmt: skip
    runs = query(log, access, **filters, limit=None)
    folder = Path(out_dir or tempfile.mkdtemp(prefix="captioner-export-"))
    return runlog.export(runs, fmt, folder / runlog.file_name("captioner-runs", fmt))


def rating_summary(log: runlog.RunLog, access: runlog.Access, by: str = "model",
                   **filters) -> list[runlog.RatingSummary]:  # fmt: skip
    """Mean rating per model or preset with counts and a 95% interval, for the chart;
    ``filters`` as the table's."""
    clean = _filters(filters.get("model") or "", filters.get("preset", "all"),
                     filters.get("video") or "", filters.get("since") or "",
                     filters.get("min_rating", 0))  # fmt: skip
    try:
        return log.summary(access=access, by=by, **clean)
    except CaptionerError:
        raise
    except ValueError as exc:
        raise InvalidRequest(t("bad_filter", "ko"), t("bad_filter", "en")) from exc


def _score(value):
    """A score from the page or the API as a whole number; anything else as it came, for the
    log to refuse in both languages ("5" and 5.0 are 5; "abc" and 4.5 are no score)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() else value


def _run_id(value) -> int:
    """A run id from the page (a number box may send a float or text)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidRequest(t("pick_run_and_score", "ko"), t("pick_run_and_score", "en")) from None


# --- the library of videos (so a reviewer can watch what was captioned) ------------------------
def library(settings: Settings) -> runlog.Library | None:
    """The review library with the settings' size and age budget; None without a run log."""
    if settings.library is None:
        return None
    return runlog.Library(settings.library, max_bytes=settings.library_max_bytes,
                          max_age=settings.library_max_age)  # fmt: skip


def prune(settings: Settings, log: runlog.RunLog | None) -> None:
    """Keep the library within its budget (after each run, and at start)."""
    kept = library(settings)
    if kept is not None and log is not None:
        kept.prune(log)


def library_line(settings: Settings, lang: str) -> str:
    kept = library(settings)
    if kept is None:
        return ""
    usage = kept.usage()
    gb = lambda n: f"{n / 1e9:.2f} GB"  # noqa: E731
    return t("library_usage", lang, files=usage.files, size=gb(usage.bytes),
             budget=gb(settings.library_max_bytes))  # fmt: skip


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
    access: runlog.Access,
) -> Iterator[CompareState]:
    """Run configuration A, then B, on the same video; stream both into two panels. Both
    runs are owned by ``access``; the video enters the library once it decoded.

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

            return recorded(events, request, settings, log, access, on_start=remember)

        for state in caption.stream(config.apply(base), settings, stop,
                                    recorder=recorder if log is not None else None):  # fmt: skip
            outputs[side] = state.answer if not state.error else state.status
            yield CompareState(outputs[0], outputs[1], f"{label}: {state.status}", tuple(ids))
    panels = (ids[order.index(0)], ids[order.index(1)])  # run ids by panel: left, right
    yield CompareState(outputs[0], outputs[1], t("status_done", lang), panels, done=True)


def load_pair(log: runlog.RunLog, settings: Settings, access: runlog.Access, left_id, right_id,
              blind: bool, lang: str, seed: int = 0):  # fmt: skip
    """Two runs of the same video side by side: (left_md, right_md, video, pair ids). A run
    this access may not see is RunNotFound, as if it did not exist."""
    left = log.get(_run_id(left_id), access=access)
    right = log.get(_run_id(right_id), access=access)
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
    log: runlog.RunLog, access: runlog.Access, ids: tuple[int, int], lang: str
) -> tuple[str, str] | None:
    """The configurations of a blind pair, once this reviewer has rated both sides."""
    runs = [log.get(_run_id(i), access=access) for i in ids]
    if not all(any(r.reviewer == access.rater for r in run.ratings) for run in runs):
        return None
    return run_markdown(runs[0], lang), run_markdown(runs[1], lang)


def recorded(events, request, settings: Settings, log: runlog.RunLog | None,
             access: runlog.Access, *, video_name: str | None = None, on_start=None):  # fmt: skip
    """A page run's events, recorded as owned by ``access`` (with the name the user uploaded),
    its video kept in the library once it decoded; passed through unchanged without a log.
    A long video continues this session's unfinished run of the same configuration."""
    resumed = longvideo.resume(events, log, access, request) if log is not None else None
    kept = library(settings)
    if kept is not None:
        events = kept.keeping(events)
    if log is None:
        return events
    return runlog.record(events, request, log=log, source="web", access=access,
                         video_name=video_name, on_start=on_start, resume_run=resumed)  # fmt: skip
