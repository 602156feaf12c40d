"""Batch runs: videos × (presets and prompts) × models, recorded in the run log, resumable.

``run_batch(...)`` is what ``python -m captioner batch`` calls. Why it is shaped like this:

- Models are the outer loop: the loader keeps one resident model, so each model is loaded
  once per batch instead of once per video. Decoded clips are cached by content, so the same
  video under several prompts is decoded once per model.
- Every run goes through ``runlog.record``, so batch runs land in the same log as the page's
  and the CLI's, with the same provenance, and can be rated and exported the same way.
- Resumable: a combination whose configuration key (``runlog.config_key``: the video's
  content hash, the model, the prompt text, the preset and every generation option) already
  has a "done" run is skipped, so re-running a half-finished batch only does what is left.
- One bad video must not sink a batch: its error is recorded and the batch goes on; later
  combinations with the same bad video (or a model that failed to load) are recorded as
  failed at once instead of paying for the failure again (a decode timeout costs minutes).
- Concurrency (``concurrency=N``): N combinations in flight at once, for a server backend
  that batches them; the same resume rule, and each run recorded once (the same run log,
  which is safe between threads). ``stop`` ends what is in flight after its current step.
- At the end: a summary (done / skipped / failed, per-model load time against total time)
  and exports of the batch's runs (CSV, JSONL, HTML); with ``srt`` / ``vtt``, subtitle files
  for timeline-preset runs and long-video runs (a parse failure is reported, not fatal).
- Long videos (``captioner/longvideo``) are captioned in windows (``long=True`` forces it,
  ``long=False`` never); a long run that stopped or failed is resumed from its finished
  windows instead of started again.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from captioner import runlog, subtitles, video
from captioner.errors import CaptionerError, InternalError, InvalidRequest, ModelError, VideoError
from captioner.settings import Settings

EXPORT_NAMES = {
    "csv": "runs.csv",
    "jsonl": "runs.jsonl",
    "html": "report.html",
    "dataset": "dataset.jsonl",
}
BATCH_ACCESS = runlog.Access.cli()  # the CLI passes its own, owned by cli:<user>
Progress = Callable[[int, int, str], None]  # (finished jobs, total jobs, what just finished)


# --- inputs -----------------------------------------------------------------------------------
def find_videos(inputs: Iterable[str | os.PathLike[str]], recursive: bool = False) -> list[Path]:
    """Files as given (any extension: a bad one is reported by the run), folders scanned for
    video extensions and sorted; duplicates dropped, order kept."""
    found: list[Path] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            found.append(path)

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for child in sorted(path.glob(pattern), key=lambda p: str(p).lower()):
                if (
                    child.is_file()
                    and child.suffix.lower() in video.VIDEO_EXTENSIONS
                    and not child.name.startswith(".")
                ):
                    add(child)
        else:
            add(path)  # a missing file becomes a recorded "video not found" run
    return found


def _prompt_items(presets: Sequence[str], prompts_: Sequence[str]) -> list[tuple[str, str]]:
    from captioner import prompts

    items = [("preset", prompts.preset(p).key) for p in presets]  # unknown preset: fail early
    for text in prompts_:
        if not text or not text.strip():
            raise InvalidRequest("프롬프트가 비어 있습니다.", "A prompt is empty.")
        items.append(("prompt", text.strip()))
    return items or [("preset", prompts.DEFAULT_PRESET)]


def _check_fields(fields: dict) -> None:
    from captioner.engine import DescribeRequest

    allowed = {f.name for f in dataclasses.fields(DescribeRequest)} - {
        "video",
        "prompt",
        "preset",
        "model",
    }
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidRequest(
            f"알 수 없는 요청 옵션: {', '.join(unknown)}",
            f"Unknown request options: {', '.join(unknown)}",
        )


def model_label(model: str | None) -> str:
    """A short name: the Hub id, or the last two parts of a local folder ("tiny-a/vl")."""
    if not model:
        return "auto"
    if os.path.sep in model or os.path.isdir(model):
        return "/".join(Path(model).parts[-2:])
    return model


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE).strip("._")
    return slug[:limit] or "x"


# --- results ----------------------------------------------------------------------------------
@dataclass
class ModelStats:
    model: str | None
    jobs: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    load_s: float = 0.0  # from the "load" status to the Prepared event, summed
    total_s: float = 0.0  # wall time of this model's part of the batch
    first_start: float = field(default=0.0, repr=False)

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values.pop("first_start", None)
        values["label"] = model_label(self.model)
        values["load_s"], values["total_s"] = round(self.load_s, 3), round(self.total_s, 3)
        return values


@dataclass
class BatchSummary:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    stopped: int = 0
    interrupted: bool = False
    total_s: float = 0.0
    run_ids: list[int] = field(default_factory=list)
    models: list[ModelStats] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    subtitle_files: list[Path] = field(default_factory=list)
    subtitle_errors: list[dict] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)  # requests per server replica
    output_error: dict | None = None  # the exports could not be written (ko, en)

    @property
    def internal_failures(self) -> int:
        return sum(1 for f in self.failures if not f.get("user_error", True))

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "stopped": self.stopped,
            "interrupted": self.interrupted,
            "total_s": round(self.total_s, 3),
            "run_ids": self.run_ids,
            "models": [m.to_dict() for m in self.models],
            "failures": self.failures,
            "subtitle_files": [str(p) for p in self.subtitle_files],
            "subtitle_errors": self.subtitle_errors,
            "files": {k: str(v) for k, v in self.files.items()},
            "replicas": self.replicas,
            "output_error": self.output_error,
        }

    def text(self) -> str:
        """The summary for people, in Korean and English."""
        lines = [
            f"배치 {'중단' if self.interrupted else '완료'}: {self.total}개 조합 중 완료 {self.done} · "
            f"건너뜀 {self.skipped} · 실패 {self.failed}"
            + (f" · 멈춤 {self.stopped}" if self.stopped else "")
            + f" ({self.total_s:.1f}s)",
            f"batch {'interrupted' if self.interrupted else 'finished'}: {self.total} combinations, "
            f"done {self.done} · skipped {self.skipped} · failed {self.failed}"
            + (f" · stopped {self.stopped}" if self.stopped else "")
            + f" ({self.total_s:.1f} s)",
        ]
        for m in self.models:
            lines.append(
                f"  모델 / model {model_label(m.model)}: {m.jobs} runs, "
                f"로딩 / load {m.load_s:.1f}s / 전체 / total {m.total_s:.1f}s"
            )
        for f in self.failures[:20]:
            lines.append(
                f"  실패 / failed: {f['video']} · {f['model']} · {f['prompt']}: [{f['code']}] "
                f"{f['ko']} / {f['en']}"
            )
        if len(self.failures) > 20:
            lines.append(f"  … 외 {len(self.failures) - 20}건 / and {len(self.failures) - 20} more")
        if self.subtitle_files:
            lines.append(f"  자막 / subtitles: {len(self.subtitle_files)} files")
        for s in self.subtitle_errors:
            lines.append(
                f"  자막 실패 / subtitles failed: run #{s['run_id']} {s['video']}: {s['en']}"
            )
        for kind, path in self.files.items():
            lines.append(f"  {kind}: {path}")
        if self.output_error:
            e = self.output_error
            lines.append(f"  결과 파일 실패 / outputs failed: {e['ko']} / {e['en']}")
        return "\n".join(lines)


# --- the batch --------------------------------------------------------------------------------
def run_batch(
    inputs: Sequence[str | os.PathLike[str]],
    presets: Sequence[str] = (),
    prompts: Sequence[str] = (),
    models: Sequence[str | None] = (),
    out_dir: str | os.PathLike[str] | None = None,
    *,
    log: runlog.RunLog,
    access: runlog.Access = BATCH_ACCESS,
    srt: bool = False,
    vtt: bool = False,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    recursive: bool = False,
    exports: Sequence[str] = runlog.EXPORT_FORMATS,
    settings: Settings,
    concurrency: int = 1,
    **request_fields: Any,
) -> BatchSummary:
    """Run every video × prompt × model combination not already done; returns the summary.

    ``request_fields`` are further ``engine.DescribeRequest`` fields shared by every run
    (``options=Options(max_new_tokens=..., seed=...)``, ``fps``, ``max_frames``, ``profile``,
    ``precision``, ``system``, and whatever fields the request gains later). ``stop`` ends
    the batch after the current step of the current run. Exports and subtitles go to
    ``out_dir``. ``settings`` carry the hardware and the limits every video is held to; runs
    are recorded as owned by ``access`` (the CLI passes ``cli:<user>``). ``concurrency``
    runs that many combinations at once (for a server backend: requests in flight, spread over
    its replicas by ``backends.servers.Replicas``)."""
    from captioner import engine

    _check_fields(request_fields)
    videos = find_videos(inputs, recursive=recursive)
    if not videos:
        raise InvalidRequest(
            "처리할 영상이 없습니다 (폴더에 mp4/webm/mov/mkv/avi 파일이 없음).",
            "No videos to process (no mp4/webm/mov/mkv/avi files in the folders given).",
        )
    items = _prompt_items(presets, prompts)
    model_list: list[str | None] = list(models) or [None]
    out = _output_folder(out_dir) if out_dir is not None else None
    stop = stop or threading.Event()
    summary = BatchSummary(total=len(videos) * len(items) * len(model_list))
    started = time.perf_counter()

    jobs = [(model, path, kind, value) for model in model_list for path in videos
            for kind, value in items]  # fmt: skip
    stats_of = {}
    for model in model_list:
        stats_of[model] = ModelStats(model)
        summary.models.append(stats_of[model])
    state = _BatchState(video_errors={}, model_errors={})
    lock = threading.Lock()

    def handle(job) -> None:
        model, path, kind, value = job
        stats = stats_of[model]
        request = engine.DescribeRequest(
            video=str(path),
            model=model,
            preset=value if kind == "preset" else None,
            prompt=value if kind == "prompt" else None,
            **request_fields,
        )
        label = f"{path.name} · {model_label(model)} · {value[:30]}"
        began = time.perf_counter()
        with lock:
            stats.jobs += 1
            known = state.video_errors.get(str(path)) or state.model_errors.get(model)
            stats.first_start = stats.first_start or began
        outcome, run_id, error, user_error = _one(
            request, log, access, stats, stop, settings, known_error=known
        )
        with lock:
            if run_id is not None:
                summary.run_ids.append(run_id)
            if outcome == "skipped":
                summary.skipped += 1
                stats.skipped += 1
            elif outcome == "done":
                summary.done += 1
                stats.done += 1
            elif outcome == "stopped":
                summary.stopped += 1
            else:
                summary.failed += 1
                stats.failed += 1
                summary.failures.append(_failure(path, model, value, run_id, error, user_error))
                if isinstance(error, VideoError):
                    state.video_errors[str(path)] = error
                elif isinstance(error, ModelError):
                    state.model_errors[model] = error
            state.finished += 1
            stats.total_s = time.perf_counter() - stats.first_start
            if progress is not None:
                progress(state.finished, summary.total, label)

    try:
        if concurrency <= 1:
            for job in jobs:
                if stop.is_set():
                    summary.interrupted = True
                    break
                handle(job)
        else:
            _in_flight(jobs, handle, concurrency, stop)
            summary.interrupted = stop.is_set() and state.finished < len(jobs)
    except KeyboardInterrupt:
        stop.set()
        summary.interrupted = True
    finally:
        summary.run_ids.sort()
        summary.total_s = time.perf_counter() - started
        summary.replicas = _replica_counts(settings)
        if out is not None:
            try:
                _write_outputs(summary, log, access, out, exports, srt, vtt)
            except OSError as exc:  # a full disk, a folder removed meanwhile: the runs are logged
                summary.output_error = {
                    "ko": f"{out} 에 쓰지 못했습니다 ({exc.strerror or exc}). 결과는 실행 기록에 "
                    "있습니다: review export 로 다시 내보낼 수 있습니다.",
                    "en": f"could not write to {out} ({exc.strerror or exc}). The runs are in "
                    "the run log: review export writes them again.",
                }
    return summary


def _output_folder(out_dir: str | os.PathLike[str]) -> Path:
    """The output folder, made now: a path that cannot be one is refused before any run."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        raise InvalidRequest.unwritable(out, exc) from exc
    return out


@dataclass
class _BatchState:
    video_errors: dict[str, CaptionerError]
    model_errors: dict[str | None, CaptionerError]
    finished: int = 0


def _in_flight(jobs: list, handle, concurrency: int, stop: threading.Event) -> None:
    """Run ``handle`` over ``jobs`` with ``concurrency`` of them in flight; after ``stop``
    nothing new starts, and the ones in flight end after their current step (they read the
    same switch). Ctrl-C sets the switch and waits for them, so each run is recorded once."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    pending = iter(jobs)
    running: set = set()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="batch") as pool:
        try:
            while True:
                while len(running) < concurrency and not stop.is_set():
                    job = next(pending, None)
                    if job is None:
                        break
                    running.add(pool.submit(handle, job))
                if not running:
                    return
                done, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # a bug in handle() is not swallowed
        except KeyboardInterrupt:
            stop.set()
            wait(running)
            raise


def _replica_counts(settings: Settings) -> dict[str, int]:
    """Requests each server replica took (empty with the local backend)."""
    if settings.backend != "openai":
        return {}
    from captioner.backends import remote

    return remote.deployment(settings).replicas.served()


def _one(request, log, access, stats: ModelStats, stop, settings: Settings, known_error=None):
    """(outcome, run id, error, user_error) for one combination; outcome is "skipped",
    "done", "stopped" or "failed"."""
    from captioner import longvideo

    prior = log.find_done(runlog.config_key(request), access=access)
    if prior is not None:
        return "skipped", prior.id, None, True
    if known_error is not None:
        # the same bad video / unloadable model again: record it without paying for it again
        run_id = log.start(request, "batch", access=access)
        log.finish(run_id, error=known_error)
        return "failed", run_id, known_error, True
    run_ids: list[int] = []
    last = None
    load_started = None
    try:
        events = longvideo.describe(request, settings, stop=stop)
        resumed = longvideo.resume(events, log, access, request)
        for event in runlog.record(
            events,
            request,
            log=log,
            source="batch",
            access=access,
            on_start=run_ids.append,
            resume_run=resumed,
        ):
            kind = getattr(event, "kind", None)
            if kind == "status" and getattr(event, "stage", None) == "load":
                load_started = time.perf_counter()
            elif kind == "prepared" and load_started is not None:
                stats.load_s += time.perf_counter() - load_started
            elif kind in ("done", "error"):
                last = event
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded by runlog.record; the batch goes on
        user_error = isinstance(exc, CaptionerError)
        error = exc if user_error else InternalError.wrap(exc)
        return "failed", run_ids[0] if run_ids else None, error, user_error
    run_id = run_ids[0] if run_ids else None
    if last is None:
        return "failed", run_id, InternalError.wrap(RuntimeError("no result")), False
    if last.kind == "error":
        return "failed", run_id, last.error, bool(last.user_error)
    if last.metrics.finish_reason == "stopped":
        return "stopped", run_id, None, True
    return "done", run_id, None, True


def _failure(path: Path, model, prompt: str, run_id, error, user_error: bool) -> dict:
    return {
        "video": path.name,
        "model": model_label(model),
        "prompt": prompt[:60],
        "run_id": run_id,
        "code": getattr(error, "code", "error"),
        "ko": getattr(error, "ko", str(error)),
        "en": getattr(error, "en", str(error)),
        "user_error": user_error,
    }


def _timeline_presets() -> set[str]:
    from captioner import prompts

    return {p.key for p in prompts.PRESETS if p.timeline}


def _write_outputs(
    summary: BatchSummary, log, access, out: Path, exports, srt: bool, vtt: bool
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    runs = log.query(access=access, run_ids=summary.run_ids, limit=None, newest_first=False)
    for fmt in exports:
        summary.files[fmt] = runlog.export(runs, fmt, out / EXPORT_NAMES[fmt])
    if srt or vtt:
        timeline = _timeline_presets()
        for run in runs:
            if run.status != "done" or (run.preset not in timeline and not run.windows):
                continue
            try:
                cues = subtitles.parse(run.answer, run.video_duration_s)
            except subtitles.SubtitleParseError as exc:
                summary.subtitle_errors.append(
                    {"run_id": run.id, "video": run.video_name, "ko": exc.ko, "en": exc.en}
                )
                continue
            stem = f"{_slug(Path(run.video_name or 'video').stem)}.{_slug(model_label(run.model))}"
            base = out / "subtitles" / f"{stem}.run{run.id}"
            for wanted, fmt in ((srt, "srt"), (vtt, "vtt")):
                if wanted:
                    summary.subtitle_files.append(
                        subtitles.write(cues, base.parent / f"{base.name}.{fmt}", fmt)
                    )
    summary_path = out / "summary.json"
    summary.files["summary"] = summary_path
    summary_path.write_text(
        json.dumps(summary.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8"
    )
