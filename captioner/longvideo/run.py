"""A long video, captioned window by window through the same backend, merged into one
timeline. ``describe(request, settings)`` is what the CLI, batch and the page call for any
request: it hands short videos (and text prompts) to ``engine.describe`` unchanged.

For a long video (``windows.layout``): the model is loaded once (``engine.open_backend``,
whichever backend that is); a feeder thread (``feeder.py``) finds each boundary (the best
scene cut near it, ``cuts.py``) and decodes each window's frames (``video.load_span``:
indices of the whole video, so the processor's ``<t seconds>`` are whole-video times); each
window is captioned with the full frame budget and the timeline prompt; one text-only pass
of the same backend merges the captions (``timeline.py``). A window that fails is reported
and skipped. Stop ends the run after the current decoding step of the model, or at once
while it waits for frames; the finished windows are merged into the stopped run's answer
and kept in the run log, where a later run of the same configuration resumes them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import captioner.longvideo.cuts as cuts
import captioner.longvideo.timeline as timeline
import captioner.longvideo.windows as windows
from captioner import engine, korean, prompts, video
from captioner.errors import CaptionerError, InternalError
from captioner.generation import Done, Error, Metrics, Request, Text, Thinking
from captioner.longvideo.events import (
    LongPlanned,
    Merged,
    MergeStarted,
    MergeText,
    WindowDone,
    WindowFailed,
    WindowResult,
    WindowStarted,
    WindowText,
)
from captioner.longvideo.feeder import Feeder
from captioner.settings import Settings

log = logging.getLogger(__name__)

# decode(source, spec, start_s, end_s, limits) -> video.Clip: video.load_span, or a test's
Decode = Callable[..., Any]


@dataclass(frozen=True)
class Prior:
    """An unfinished long run of the same configuration, to continue (see ``resume``)."""

    run_id: int
    count: int  # windows that run planned
    windows: tuple[Any, ...]  # its window records (runlog.WindowRecord)


def long_limits(settings: Settings) -> video.VideoLimits:
    """The video limits of a long run: longer videos are allowed, as windows keep each pass small."""
    longest = max(settings.long_max_duration_s, settings.limits.max_duration_s)
    return replace(settings.limits, max_duration_s=longest)


class Events:
    """The events of one request, a plain iterator that starts working on the first
    ``next()``: ``engine.describe``'s for a short video or a text prompt, the windows' and
    the merge's for a long one. Before it starts, ``resume_from(prior)`` makes a long run
    reuse the finished windows of an unfinished run of the same configuration."""

    def __init__(self, request, settings, progress, stop, decode) -> None:
        self.request = request
        self._args = (settings, progress, stop or threading.Event(), decode)
        self.prior: Prior | None = None
        self._events: Iterator | None = None

    def resume_from(self, prior: Prior | None) -> None:
        if self._events is not None:
            raise RuntimeError("resume_from() after the run started")
        self.prior = prior

    def __iter__(self) -> Events:
        return self

    def __next__(self):
        if self._events is None:
            self._events = _describe(self.request, *self._args, self.prior)
        return next(self._events)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()


def describe(
    request: engine.DescribeRequest,
    settings: Settings,
    *,
    progress=None,
    stop: threading.Event | None = None,
    decode: Decode | None = None,
) -> Events:
    """Events for ``request``: a long video in windows, anything else as ``engine.describe``."""
    return Events(request, settings, progress, stop, decode)


def _describe(request, settings, progress, stop, decode, prior) -> Iterator:
    if request.video is None or request.long is False:
        yield from engine.describe(request, settings, progress=progress, stop=stop)
        return
    try:
        chosen = engine.select(request, settings)
        prompts.resolve_prompt(request.preset, request.prompt)  # a bad preset fails now
        source = video.open_source(request.video, long_limits(settings))
        plan = windows.layout(
            source.info.duration_s,
            chosen.max_frames,
            settings.long_seconds_per_frame,
            settings.limits.max_duration_s,
            request.long,
        )
    except CaptionerError as exc:
        yield Error(exc, user_error=True)
        return
    except Exception as exc:  # noqa: BLE001 - an event, never a traceback
        log.exception("planning a long run failed")
        yield Error(InternalError.wrap(exc), user_error=False)
        return
    if not plan.windowed:
        yield from engine.describe(request, settings, progress=progress, stop=stop)
        return
    yield from _long(request, settings, progress, stop, decode or video.load_span, prior,
                     chosen, source, plan)  # fmt: skip


def _long(request, settings, progress, stop, decode, prior, chosen, source, plan) -> Iterator:
    started = time.perf_counter()
    yield engine.Status("plan", f"긴 영상: 구간 {plan.count}개 / long video: {plan.count} windows")
    yield engine.Status("load", f"모델 준비 / preparing {chosen.model} ({chosen.precision})")
    try:
        backend = engine.open_backend(chosen, request, settings, progress)
    except CaptionerError as exc:
        yield Error(exc, user_error=True)
        return
    except Exception as exc:  # noqa: BLE001
        log.exception("loading the model failed")
        yield Error(InternalError.wrap(exc), user_error=False)
        return
    yield engine.Prepared(chosen, None, backend)
    usable = prior is not None and prior.count == plan.count
    records = prior.windows if usable else ()
    reused = {r.index: _reused(r) for r in records if r.status == "done"}
    yield LongPlanned(plan, source.info, reused=len(reused), fresh=not usable)
    limits = long_limits(settings)
    spec = engine.sampling_spec(chosen, request)
    feeder = Feeder(
        windows.windows(plan, _cut_finder(source, decode, limits), _known(records, plan.count)),
        lambda w: decode(source, spec, w.start_s, w.end_s, limits),
        ahead=_ahead(settings, backend),
        reused=set(reused),
        stop=stop,
    )
    results: list[WindowResult] = []
    clock = _Clock(plan.count)
    try:
        yield engine.Status("generate", "구간별 생성 중 / captioning windows")
        while not stop.is_set():
            item = feeder.next()
            if item is None:
                break
            window = item.window
            if item.reused:
                results.append(reused[window.index])
                yield WindowDone(results[-1], plan.count, len(results), clock.eta(len(results)))
                continue
            if item.error is not None:
                results.append(WindowResult(window, "error", error=item.error,
                                            decode_s=item.decode_s))  # fmt: skip
                clock.spent(item.decode_s)
                yield WindowFailed(results[-1], plan.count, len(results), clock.eta(len(results)))
                continue
            clip, decode_s, item = item.clip, item.decode_s, None
            window_started = time.perf_counter()
            yield WindowStarted(window, plan.count, clip.timestamps, clock.eta(len(results)))
            result = yield from _caption(backend, clip, window, plan, request, stop)
            clip = None  # the frames go before the next window may be decoded
            feeder.done_with()
            results.append(replace(result, decode_s=decode_s))
            clock.spent(time.perf_counter() - window_started + decode_s)
            event = WindowFailed if result.status == "error" else WindowDone
            yield event(results[-1], plan.count, len(results), clock.eta(len(results)))
    finally:
        feeder.close()
    yield from _finish(request, backend, plan, results, stop, started)


def _caption(backend, clip, window, plan, request, stop) -> Iterator:
    """Window ``window``'s caption, streamed as WindowText; returns its WindowResult."""
    prompt = prompts.window_prompt(
        prompts.preset("timeline").prompt, window.start_s, window.end_s, plan.duration_s
    )
    generation_request = Request(
        prompt,
        clip,
        request.system,
        request.options,
        style=prompts.style(request.style).key,
        length=prompts.length(request.length).key,
    )
    started = time.perf_counter()
    frames = {
        "frame_indices": tuple(clip.indices),
        "frame_times": tuple(clip.timestamps),
        "frame_size": tuple(clip.frames.shape[1:3]),
    }
    done: Done | None = None
    error: CaptionerError | None = None
    parts: list[str] = []
    events = backend.stream(generation_request, stop)
    try:
        for event in events:
            if event.kind == "text":
                parts.append(event.text)
                yield WindowText(window.index, event.text)
            elif event.kind == "thinking":
                yield Thinking(event.text)
            elif event.kind == "done":
                done = event
            elif event.kind == "error":
                error = event.error
    except Exception as exc:  # noqa: BLE001 - a backend that raises fails this window only
        log.exception("window %d failed", window.index)
        error = InternalError.wrap(exc)
    finally:
        _close(events)
    elapsed = time.perf_counter() - started
    if done is None:
        error = error or InternalError.wrap(RuntimeError("the window ended without a result"))
        return WindowResult(window, "error", answer="".join(parts), error=error,
                            generate_s=elapsed, **frames)  # fmt: skip
    status = "stopped" if done.metrics.finish_reason == "stopped" else "done"
    return WindowResult(
        window,
        status,
        answer=done.answer,
        thinking=done.thinking,
        cues=timeline.window_cues(done.answer, window) if status == "done" else (),
        metrics=done.metrics,
        sampling=done.sampling,
        generate_s=elapsed,
        **frames,
    )


def _finish(request, backend, plan, results, stop, started) -> Iterator:
    """The merge pass over the finished windows, then the final Text and Done."""
    done = [r for r in results if r.status == "done"]
    failures = [r for r in results if r.status == "error"]
    if not done and failures and not stop.is_set():
        error = failures[0].error
        yield Error(error, user_error=not isinstance(error, InternalError))
        return
    merge_done: Done | None = None
    merge_error: CaptionerError | None = None
    if done and not stop.is_set():
        yield MergeStarted(len(done), plan.count)
        merge_done, merge_error = yield from _merge(backend, plan, results, request, stop)
    stopped = stop.is_set()
    summary, model_cues = "", []
    if merge_done is not None and merge_done.metrics.finish_reason != "stopped":
        summary, model_cues = timeline.read_merge(merge_done.answer, plan.duration_s)
    cues, filled = timeline.combine(model_cues, [(r.window, r.cues) for r in done], plan.duration_s)
    answer = timeline.final_text(summary, cues)
    yield Merged(
        summary,
        tuple(cues),
        timeline.check_text(answer, plan.duration_s),
        tuple(results),
        len(model_cues),
        filled,
        merge_error,
    )
    if answer:
        yield Text(answer)
    yield Done(
        answer,
        "",
        _aggregate(results, merge_done, started, stopped),
        merge_done.sampling if merge_done is not None else _last_sampling(results),
        korean=korean.check(answer, allow_hanja=request.options.allow_hanja),
    )


def _merge(backend, plan, results, request, stop) -> Iterator:
    """The text-only pass; returns (its Done or None, its error or None)."""
    sections = [
        (
            r.start_s,
            r.end_s,
            timeline.section_text(r.answer, r.cues) if r.status == "done" else None,
        )
        for r in results
    ]
    wanted, preset = prompts.resolve_prompt(request.preset, request.prompt)
    focus = None if preset in ("timeline", "detail") else wanted
    merge_request = Request(
        prompts.merge_prompt(sections, plan.duration_s, focus),
        None,
        None,
        request.options,
        style=prompts.style(request.style).key,
        length=prompts.length(request.length).key,
    )
    done, error = None, None
    events = backend.stream(merge_request, stop)
    try:
        for event in events:
            if event.kind == "text":
                yield MergeText(event.text)
            elif event.kind == "thinking":
                yield Thinking(event.text)
            elif event.kind == "done":
                done = event
            elif event.kind == "error":
                error = event.error
                log.warning("the merge pass failed: %s", error.en)
    finally:
        _close(events)
    return done, error


def _close(events) -> None:
    # a consumer that stops early must stop the backend's generation too (frees the model)
    close = getattr(events, "close", None)
    if close is not None:
        close()


def _reused(record) -> WindowResult:
    """A finished window of the run being resumed, as this run's result."""
    window = windows.Window(record.index, record.start_s, record.end_s, record.cut_score)
    return WindowResult(
        window,
        "done",
        answer=record.answer or "",
        thinking=record.thinking or "",
        cues=timeline.window_cues(record.answer or "", window),
        frame_indices=tuple(record.frame_indices or ()),
        frame_times=tuple(record.frame_times or ()),
        frame_size=tuple(record.frame_size) if record.frame_size else None,
        metrics=record.metrics,
        decode_s=record.decode_s,
        generate_s=record.generate_s,
        reused=True,
    )


def _known(records, count: int) -> dict[int, tuple[float, float | None]]:
    """Boundaries an earlier run decided (window j starts at boundary j)."""
    known: dict[int, tuple[float, float | None]] = {}
    for r in records:
        if 1 <= r.index < count:
            known[r.index] = (r.start_s, r.cut_score)
        if r.index + 1 < count and r.index + 1 not in known:
            known[r.index + 1] = (r.end_s, None)
    return known


def _cut_finder(source, decode: Decode, limits) -> windows.FindCut:
    """find_cut(lo, hi): the best scene cut in [lo, hi] from small frames at SCAN_FPS."""
    spec = video.SamplingSpec(
        fps=cuts.SCAN_FPS, max_frames=100_000, min_frames=2, max_pixels=cuts.THUMB_PIXELS
    )
    step = 1.0 / cuts.SCAN_FPS

    def find_cut(lo: float, hi: float):
        try:
            clip = decode(source, spec, max(0.0, lo - step), hi + step, limits)
        except CaptionerError as exc:  # a bad segment near a boundary: the nominal place
            log.info("no cut scan at %.1f-%.1f s: %s", lo, hi, exc.en)
            return None
        return cuts.best_cut(clip.timestamps, cuts.scores(clip.frames), lo, hi)

    return find_cut


def _ahead(settings: Settings, backend) -> int:
    """Windows decoded ahead: 1 where decoding does not take turns with generation on the
    same few cores (a GPU or a server generates; or 4+ cores), else 0; the setting wins."""
    if settings.long_prefetch in ("on", "off"):
        return 1 if settings.long_prefetch == "on" else 0
    return 1 if getattr(backend, "device", "cpu") != "cpu" or (os.cpu_count() or 1) >= 4 else 0


class _Clock:
    """The time left: seconds per window so far, times the windows left plus the merge."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.seconds = 0.0
        self.windows = 0

    def spent(self, seconds: float) -> None:
        self.seconds += seconds
        self.windows += 1

    def eta(self, finished: int) -> float | None:
        if not self.windows:
            return None
        return self.seconds / self.windows * (self.count - finished + 1)


def _aggregate(results, merge: Done | None, started: float, stopped: bool) -> Metrics:
    """One Metrics for the whole run: sums over the windows generated now and the merge."""
    parts = [r.metrics for r in results if not r.reused and isinstance(r.metrics, Metrics)]
    if merge is not None:
        parts.append(merge.metrics)
    timed = [m for m in parts if m.tokens_per_s > 0 and m.new_tokens > 1]
    decode_s = sum((m.new_tokens - 1) / m.tokens_per_s for m in timed)
    finish = "stopped" if stopped else (merge.metrics.finish_reason if merge else "eos")
    return Metrics(
        prompt_tokens=sum(m.prompt_tokens for m in parts),
        video_tokens=sum(m.video_tokens for m in parts),
        frames=sum(len(r.frame_indices) for r in results if r.status == "done"),
        new_tokens=sum(m.new_tokens for m in parts),
        preprocess_s=sum(m.preprocess_s for m in parts),
        ttft_s=parts[0].ttft_s if parts else 0.0,
        total_s=time.perf_counter() - started,
        tokens_per_s=sum(m.new_tokens - 1 for m in timed) / decode_s if decode_s > 0 else 0.0,
        peak_memory_bytes=max((m.peak_memory_bytes for m in parts), default=0),
        peak_memory_kind=parts[0].peak_memory_kind if parts else "process peak RSS",
        finish_reason=finish,
    )


def _last_sampling(results) -> dict:
    for r in reversed(results):
        sampling = getattr(r, "sampling", None)
        if sampling:
            return sampling
    return {}


# --- resuming: the run log's unfinished long runs ---------------------------------------------
def find_prior(log, access, request) -> Prior | None:
    """The latest unfinished (stopped, failed, interrupted) long run of this configuration
    owned by ``access``, with the windows it finished; None when there is none."""
    if log is None or getattr(request, "video", None) is None or request.long is False:
        return None
    from captioner import runlog

    run = log.unfinished_long(runlog.config_key(request), access=access)
    if run is None:
        return None
    return Prior(run.id, int(run.windows), tuple(log.windows(run.id, access=access)))


def resume(events, log, access, request) -> int | None:
    """Let ``events`` (from ``describe``) continue an unfinished long run of the same
    configuration, if there is one; returns that run's id for ``runlog.record(resume_run=)``."""
    if not isinstance(events, Events):
        return None
    prior = find_prior(log, access, request)
    events.resume_from(prior)
    return prior.run_id if prior is not None else None
