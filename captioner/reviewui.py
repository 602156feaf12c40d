"""The review tab's logic, without gradio: the run table, a run's details, ratings, exports,
the rating summary, side-by-side and blind comparisons, subtitles, and the library of
reviewed videos.

Every function that touches runs takes a ``runlog.Access``: the page builds it from the
request (a visitor's session, or a reviewer's login) and the run log applies its scope.

The run log itself (SQLite, migrations, exports, the video library) is ``captioner/runlog``;
this module turns it into what the page shows. ``app.py`` only wires components to these
functions.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from captioner import runlog, subtitles, webui
from captioner.errors import CaptionerError, InvalidRequest

HEADERS = {
    "ko": ["ID", "시각 (UTC)", "영상", "모델", "프롬프트", "상태", "평점", "답변"],
    "en": ["ID", "time (UTC)", "video", "model", "prompt", "status", "rating", "answer"],
}
STATUS = {
    "done": ("완료", "done"),
    "stopped": ("중지됨", "stopped"),
    "error": ("오류", "error"),
    "running": ("실행 중", "running"),
    "interrupted": ("중단됨", "interrupted"),
}


def find_video(run: runlog.Run, library: runlog.Library) -> str | None:
    """The library's copy of this run's video, if it was kept."""
    found = library.find(run.video_sha256)
    return str(found) if found is not None else None


# --- table, details, ratings, export --------------------------------------------------------------
def _filters(model: str, preset: str, video: str, since: str, min_rating) -> dict:
    return {
        "model": model.strip() or None,
        "preset": None if preset in (None, "", "all") else preset,
        "video": video.strip() or None,
        "since": since.strip() or None,
        "min_rating": int(min_rating) if min_rating not in (None, "", "0", 0) else None,
    }


def query(
    log: runlog.RunLog,
    access: runlog.Access,
    model="",
    preset="all",
    video="",
    since="",
    min_rating=0,
    limit=200,
):
    try:
        return log.query(
            access=access,
            **_filters(model or "", preset, video or "", since or "", min_rating),
            limit=limit,
        )
    except CaptionerError:
        raise
    except ValueError as exc:
        raise InvalidRequest(
            "필터 값이 올바르지 않습니다 (날짜는 YYYY-MM-DD).", "Bad filter (dates are YYYY-MM-DD)."
        ) from exc


def table(runs: list[runlog.Run], lang: str) -> list[list]:
    rows = []
    for run in runs:
        rating = f"{run.rating_avg:.1f} ({run.rating_count})" if run.rating_count else ""
        status = STATUS.get(run.status, (run.status, run.status))[0 if lang == "ko" else 1]
        prompt = run.preset or (run.prompt or "")[:40]
        answer = (run.answer or "").replace("\n", " ")
        rows.append([run.id, run.created_at[:19].replace("T", " "), run.video_name or "", run.model or "",
                     prompt, status, rating, answer[:80] + ("…" if len(answer) > 80 else "")])  # fmt: skip
    return rows


def config_markdown(run: runlog.Run, lang: str) -> str:
    label = lambda ko, en: ko if lang == "ko" else en  # noqa: E731
    parts = [
        f"**{label('모델', 'model')}**: `{run.model}`"
        + (f" + LoRA `{run.adapter}`" if run.adapter else ""),
        f"**{label('정밀도', 'precision')}**: {run.precision or '?'} · {run.device or '?'} · {run.profile or '?'}",
        f"**{label('프롬프트', 'prompt')}**: {run.preset or ''} {_quote(run.prompt)}",
    ]
    if run.frames:
        parts.append(
            f"**{label('프레임', 'frames')}**: {run.frames} · {run.frame_width}×{run.frame_height}"
        )
    return "\n\n".join(parts)


def _quote(text: str | None) -> str:
    return f"“{text}”" if text else ""


def run_markdown(run: runlog.Run, lang: str, *, blind: bool = False) -> str:
    """A run's output (and, unless blind, its configuration, metrics and ratings)."""
    sections = [run.answer or ("(출력 없음)" if lang == "ko" else "(no output)")]
    if run.error:
        sections.append(f"⚠️ {run.error_ko if lang == 'ko' else run.error_en}")
    if blind:
        return "\n\n".join(sections)
    sections.append("---\n" + config_markdown(run, lang))
    if run.metrics:
        m = run.metrics
        sections.append(
            f"{m.get('new_tokens', '?')} tok · {m.get('tokens_per_s', 0):.1f} tok/s · "
            f"TTFT {m.get('ttft_s', 0):.2f}s · {run.status}"
        )
    for rating in run.ratings:
        stars = "★" * rating.score + "☆" * (5 - rating.score)
        tags = ", ".join(rating.tags)
        sections.append(f"{stars} {rating.reviewer or '?'} {tags} {rating.note}".strip())
    return "\n\n".join(sections)


def open_run(
    log: runlog.RunLog, run_id, lang: str, library: runlog.Library, access: runlog.Access
) -> tuple[str | None, str]:
    run = log.get(int(run_id), access=access)
    return find_video(run, library), run_markdown(run, lang)


def rate(
    log: runlog.RunLog, run_id, score, tags: str, note: str, lang: str, access: runlog.Access
) -> str:
    """Save a rating as ``access.rater`` (the login, or a visitor's session)."""
    if run_id in (None, "") or score in (None, ""):
        raise InvalidRequest("평가할 실행과 점수를 고르세요.", "Pick a run and a score to rate.")
    tag_list = [t.strip() for t in (tags or "").replace("#", ",").split(",") if t.strip()]
    log.rate(int(run_id), int(score), tag_list, note or "", access=access)
    return f"✅ #{int(run_id)} ★{int(score)}" + (" 저장됨" if lang == "ko" else " saved")


def export(
    log: runlog.RunLog,
    fmt: str,
    filters: dict,
    access: runlog.Access,
    out_dir: str | None = None,
) -> Path:
    runs = query(log, access, **filters, limit=None)
    folder = Path(out_dir or tempfile.mkdtemp(prefix="captioner-export-"))
    return runlog.export(runs, fmt, folder / runlog.file_name("captioner-runs", fmt))


def rating_summary(
    log: runlog.RunLog, access: runlog.Access, by: str = "model", **filters
) -> list[dict]:
    """Mean rating per model or preset, with counts and a 95% interval, for the chart;
    ``filters`` as for :func:`query` (the table's filters)."""
    try:
        clean = _filters(
            filters.get("model") or "",
            filters.get("preset", "all"),
            filters.get("video") or "",
            filters.get("since") or "",
            filters.get("min_rating", 0),
        )
        return [s.to_dict() for s in log.summary(access=access, by=by, **clean)]
    except CaptionerError:
        raise
    except ValueError as exc:
        raise InvalidRequest(
            "필터 값이 올바르지 않습니다 (날짜는 YYYY-MM-DD).", "Bad filter (dates are YYYY-MM-DD)."
        ) from exc


# --- subtitles -------------------------------------------------------------------------------------
def subtitle_files(
    answer: str, duration_s: float | None, stem: str, out_dir: str | None = None
) -> tuple[Path, Path]:
    """WebVTT (for the player) and SRT files from a timeline answer; SubtitleParseError if none."""
    cues = subtitles.parse(answer, duration_s)
    folder = Path(out_dir or tempfile.mkdtemp(prefix="captioner-subs-"))
    vtt = subtitles.write(cues, folder / f"{stem}.vtt")
    srt = subtitles.write(cues, folder / f"{stem}.srt")
    return vtt, srt


# --- comparisons -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """One side of a comparison: what may differ between the two runs."""

    model: str | None
    preset: str | None = "detail"
    prompt: str = ""
    precision: str | None = None  # None / "auto": the profile's
    adapter: str | None = None

    def apply(self, form: webui.Form) -> webui.Form:
        import dataclasses

        extra = dict(form.extra)
        if self.precision and self.precision != "auto":
            extra["precision"] = self.precision
        if self.adapter:
            extra["adapter"] = self.adapter
        return dataclasses.replace(
            form, model=self.model, preset=self.preset, prompt=self.prompt, extra=extra
        )


@dataclass
class CompareState:
    left: str
    right: str
    status: str
    run_ids: tuple[int | None, int | None] = (None, None)
    done: bool = False


def compare_configs(
    base: webui.Form,
    a: Config,
    b: Config,
    stop: threading.Event,
    log: runlog.RunLog | None,
    blind: bool,
    seed: int,
    access: runlog.Access,
    library: runlog.Library | None = None,
) -> Iterator[CompareState]:
    """Run configuration A, then B, on the same video; stream both into two panels. Both
    runs are owned by ``access``; the video enters ``library`` once it decoded.

    In blind mode the panels show the outputs in an order fixed by ``seed`` (so the reviewer
    cannot know which side is A) and the configurations stay hidden until both are rated."""
    lang = base.lang
    outputs = ["", ""]
    ids: list[int | None] = [None, None]
    # blind: decide the sides up front, so streaming does not give the order away
    left, _ = runlog.blind_order(seed, 0, 1) if blind else (0, 1)
    order = (0, 1) if left == 0 else (1, 0)  # order[config index] = panel
    for index, config in enumerate((a, b)):
        if stop.is_set():
            break
        side = order[index]
        label = ("A", "B")[index] if not blind else ("1", "2")[side]
        form = config.apply(base)

        def remember(run_id, _i=index):
            ids[_i] = run_id

        def recorder(events, request, _remember=remember):
            if library is not None:
                events = library.keeping(events)
            return runlog.record(
                events, request, log=log, source="web", access=access, on_start=_remember
            )

        for state in webui.run(form, stop, events_filter=recorder):
            outputs[side] = state.answer if not state.error else state.status
            status = f"{label}: {state.status}"
            yield CompareState(outputs[0], outputs[1], status, tuple(ids))
    final = "완료" if lang == "ko" else "done"
    panels = (ids[order.index(0)], ids[order.index(1)])  # run ids by panel: left, right
    yield CompareState(outputs[0], outputs[1], final, panels, done=True)


def load_pair(
    log: runlog.RunLog,
    left_id,
    right_id,
    blind: bool,
    lang: str,
    library: runlog.Library,
    access: runlog.Access,
    seed: int = 0,
):
    """Two runs of the same video side by side: (left_md, right_md, video, pair ids). A run
    this access may not see is RunNotFound, as if it did not exist."""
    left = log.get(int(left_id), access=access)
    right = log.get(int(right_id), access=access)
    if left.video_sha256 != right.video_sha256:
        raise InvalidRequest(
            "두 실행의 영상이 다릅니다. 같은 영상의 실행을 고르세요.",
            "The two runs are of different videos. Pick two runs of the same video.",
        )
    if blind:
        left, right = runlog.blind_order(seed, left, right)
    return (
        run_markdown(left, lang, blind=blind),
        run_markdown(right, lang, blind=blind),
        find_video(left, library),
        (left.id, right.id),
    )


def reveal_if_rated(
    log: runlog.RunLog, ids: tuple[int, int], access: runlog.Access, lang: str
) -> tuple[str, str] | None:
    """The configurations of a blind pair, once this reviewer has rated both sides."""
    runs = [log.get(i, access=access) for i in ids]
    if not all(any(r.reviewer == access.rater for r in run.ratings) for run in runs):
        return None
    return run_markdown(runs[0], lang), run_markdown(runs[1], lang)
