"""From a path to a :class:`Clip`: check the file and its container, hash it, probe it in
the worker, sample, decode at the target size in the worker, cache. The one place that
orders these steps and decides which reader decodes with what time budget.

``limits`` bound what one upload may cost. They are passed in by the caller (the page, the
CLI, batch build them from their settings); ``None`` means the defaults below. The decode
time limit covers probing and decoding together, retries included.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

import captioner.video.cache as cache
import captioner.video.containers as containers
import captioner.video.decode as decode
import captioner.video.files as files
import captioner.video.messages as messages
import captioner.video.readers as readers
from captioner.errors import CorruptVideo
from captioner.video.probing import (
    VFR_TOLERANCE_S,
    FrameIndex,
    VideoInfo,
    frame_index,
    info_from_probe,
    probe_job,
)
from captioner.video.sampling import SamplingSpec, sample_indices, sample_span, target_size
from captioner.video.worker import WORKER, WorkerDied, WorkerTimeout

log = logging.getLogger(__name__)

# Time base used for VFR processor metadata: indices become milliseconds (see processor_metadata).
_VFR_TIME_BASE = 1000.0


@dataclass(frozen=True)
class VideoLimits:
    """What one upload may cost: bytes on disk, seconds of video, seconds of decoding."""

    max_file_bytes: int = 1024 * messages.MIB
    max_duration_s: float = 20 * 60.0
    decode_timeout_s: float = 120.0  # probe and decode together, in the worker


@dataclass(frozen=True, eq=False)
class Clip:
    """Sampled frames at the target size, with their real times. ``frames`` is read-only
    because cached clips are shared between callers; copy it before changing it."""

    frames: np.ndarray  # uint8 (T, H, W, 3) RGB
    indices: tuple[int, ...]
    timestamps: tuple[float, ...]  # seconds from the first frame
    info: VideoInfo
    backend: str  # the reader that served it: "decord" or "pyav"
    decode_seconds: float  # retries included
    from_cache: bool = False
    # Why the first reader did not serve the clip (e.g. "decord timed out after 4.0 s"),
    # when another one did; None when the first reader served it.
    retry_reason: str | None = None

    @property
    def retried(self) -> bool:
        return self.retry_reason is not None

    def processor_metadata(self) -> dict[str, Any]:
        """Keyword arguments for ``transformers.video_utils.VideoMetadata``.

        Pass the frames with ``do_sample_frames=False``: they are already sampled.
        """
        # Qwen3VLProcessor writes "<t seconds>" as frames_indices[i] / fps. For constant frame
        # rate the real indices and average fps give the real times. For variable frame rate
        # no single fps does, so we hand it a 1 ms time base instead: fps = 1000 and each
        # "index" is the frame's time in milliseconds, which makes index / fps the real time.
        # total_num_frames is counted on the same grid so sampled_fps stays frames per second.
        fps = self.info.avg_fps
        constant = fps > 0 and all(
            abs(i / fps - t) <= VFR_TOLERANCE_S
            for i, t in zip(self.indices, self.timestamps, strict=True)
        )
        if constant:
            total, indices = self.info.frame_count, list(self.indices)
        else:
            fps = _VFR_TIME_BASE
            total = max(1, round(self.info.duration_s * _VFR_TIME_BASE))
            indices = [round(t * _VFR_TIME_BASE) for t in self.timestamps]
        return {
            "total_num_frames": int(total),
            "fps": float(fps),
            "width": self.info.width,
            "height": self.info.height,
            "duration": float(self.info.duration_s),
            "video_backend": self.backend,
            "frames_indices": indices,
        }


def _checked_file(path: str, limits: VideoLimits) -> tuple[os.stat_result, str]:
    """File-system checks, the container allow-list's first lock, the content hash."""
    st = files.check_file(path, limits.max_file_bytes)
    head = files.read_head(path, containers.HEAD_BYTES)
    if not containers.accepted_head(head):
        raise messages.not_a_video(f"not an accepted container; first bytes {head[:12].hex()}")
    return st, files.sha256_of(path, st)


class _LastProbe:
    """The facts of the last file probed, by content: deciding whether a video is long
    probes it, and the clip that follows must not demux a long file a second time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: tuple[tuple[str, int], dict[str, Any]] | None = None

    def get(self, key: tuple[str, int]) -> dict[str, Any] | None:
        with self._lock:
            return self._item[1] if self._item is not None and self._item[0] == key else None

    def put(self, key: tuple[str, int], facts: dict[str, Any]) -> None:
        with self._lock:
            self._item = (key, facts)

    def clear(self) -> None:
        with self._lock:
            self._item = None


_LAST_PROBE = _LastProbe()


def _probe(
    path: str, st: os.stat_result, sha: str, limits: VideoLimits, deadline: float
) -> tuple[VideoInfo, FrameIndex | None]:
    facts = _LAST_PROBE.get((sha, st.st_size))
    if facts is None:
        args = (os.path.abspath(path), limits.max_duration_s)  # the worker has its own cwd
        try:
            facts = WORKER.call(probe_job, args, deadline - time.monotonic())
        except WorkerTimeout:
            raise messages.decode_timeout(limits.decode_timeout_s) from None
        except WorkerDied as exc:
            raise messages.corrupt(f"the worker died while probing: {exc}") from None
        _LAST_PROBE.put((sha, st.st_size), facts)
    info = info_from_probe(path, st.st_size, sha, facts)
    if info.duration_s > limits.max_duration_s:
        raise messages.too_long(info.duration_s, limits.max_duration_s)
    return info, frame_index(facts)


def probe(path: str | os.PathLike[str], limits: VideoLimits | None = None) -> VideoInfo:
    """Check the file and read its facts (no frames decoded). Raises typed video errors."""
    limits = limits or VideoLimits()
    readers.check("pyav")
    path = os.fspath(path)
    st, sha = _checked_file(path, limits)
    return _probe(path, st, sha, limits, time.monotonic() + limits.decode_timeout_s)[0]


def load_clip(
    path: str | os.PathLike[str],
    spec: SamplingSpec | None = None,
    limits: VideoLimits | None = None,
    backend: str = "auto",
) -> Clip:
    """Sampled, resized frames with real timestamps; cached by file content and spec."""
    spec = spec or SamplingSpec()
    limits = limits or VideoLimits()
    backend = readers.check(backend)
    path = os.fspath(path)
    st, sha = _checked_file(path, limits)
    key: cache.CacheKey = (sha, st.st_size, spec, backend)
    cached = cache.CACHE.get(key)
    if cached is not None:
        return replace(cached, info=replace(cached.info, path=path), from_cache=True)

    deadline = time.monotonic() + limits.decode_timeout_s
    info, index = _probe(path, st, sha, limits, deadline)
    indices = sample_indices(info, spec)
    size = target_size(info.height, info.width, spec)
    started = time.perf_counter()
    frames, times, used, retry_reason = _decode(
        path, info, index, indices, size, readers.order(backend, info.container), limits, deadline
    )
    frames.flags.writeable = False
    if info.frame_times:
        # The probe's times, whichever reader decoded: they agree with the readers' own to
        # the microsecond, except decord on AVI, which reports no times (all frames at 0).
        times = [info.frame_times[i] for i in indices]
    clip = Clip(
        frames=frames,
        indices=tuple(indices),
        timestamps=tuple(float(t) for t in times),
        info=info,
        backend=used,
        decode_seconds=time.perf_counter() - started,
        retry_reason=retry_reason,
    )
    cache.CACHE.put(key, clip)
    return clip


def _decode(
    path: str,
    info: VideoInfo,
    index: FrameIndex | None,
    indices: list[int],
    size: tuple[int, int],
    order: tuple[str, ...],
    limits: VideoLimits,
    deadline: float,
) -> tuple[np.ndarray, list[float], str, str | None]:
    """(frames, times, reader, retry reason): the readers of ``order`` in turn until one
    serves the frames. A reader another can stand in for (decord, with PyAV after it) gets
    a budget of its own, so a hang costs seconds and the retry keeps the rest of the
    deadline; the last reader gets whatever is left."""

    def call(reader: str, budget_s: float) -> tuple[np.ndarray, list[float]]:
        args: tuple[Any, ...] = (os.path.abspath(path), indices, *size)
        if reader == "pyav":
            args += (index,)
        return WORKER.call(decode.JOBS[reader], args, budget_s)

    retry_reason = None
    for reader in order[:-1]:
        work = index.decode_work(indices) if index else max(indices, default=0) + 1
        own = decode.decord_budget_s(work, info.width, info.height, limits.decode_timeout_s)
        budget = min(own, deadline - time.monotonic())
        try:
            return (*call(reader, budget), reader, None)
        except WorkerTimeout:
            retry_reason = f"{reader} timed out after {budget:.1f} s"
        except WorkerDied:
            retry_reason = f"{reader} crashed the worker"
        except CorruptVideo as exc:
            retry_reason = f"{reader} failed: {exc.detail}"
        log.warning("video %s: %s; retrying", info.sha256[:12], retry_reason)
    last = order[-1]
    try:
        frames, times = call(last, deadline - time.monotonic())
    except WorkerTimeout:
        raise messages.decode_timeout(limits.decode_timeout_s) from None
    except WorkerDied as exc:
        raise messages.corrupt(f"the worker died decoding with {last}: {exc}") from None
    return frames, times, last, retry_reason


@dataclass(frozen=True)
class Source:
    """A checked, probed video whose time ranges can be decoded one at a time: a long video
    captioned in windows (``captioner/longvideo``) probes once and decodes each window."""

    path: str
    info: VideoInfo
    index: FrameIndex | None = field(repr=False, default=None)


def open_source(path: str | os.PathLike[str], limits: VideoLimits | None = None) -> Source:
    """Check, hash and probe ``path`` (within ``limits``) without decoding a frame."""
    limits = limits or VideoLimits()
    readers.check("pyav")
    path = os.fspath(path)
    st, sha = _checked_file(path, limits)
    info, index = _probe(path, st, sha, limits, time.monotonic() + limits.decode_timeout_s)
    return Source(path, info, index)


def load_span(
    source: Source,
    spec: SamplingSpec,
    start_s: float,
    end_s: float,
    limits: VideoLimits | None = None,
    backend: str = "auto",
) -> Clip:
    """The frames of [start_s, end_s) sampled as ``sample_span`` says, at the target size,
    with their times in the whole video. Never cached: a long video's windows pass through
    memory one or two at a time. Each call has the whole decode time limit."""
    limits = limits or VideoLimits()
    backend = readers.check(backend)
    info = source.info
    indices = sample_span(info, spec, start_s, end_s)
    if not indices:
        raise messages.corrupt(f"no frames between {start_s:.2f} s and {end_s:.2f} s")
    size = target_size(info.height, info.width, spec)
    deadline = time.monotonic() + limits.decode_timeout_s
    started = time.perf_counter()
    frames, times, used, retry_reason = _decode(
        source.path,
        info,
        source.index,
        indices,
        size,
        readers.order(backend, info.container),
        limits,
        deadline,
    )
    frames.flags.writeable = False
    if info.frame_times:
        times = [info.frame_times[i] for i in indices]
    return Clip(
        frames=frames,
        indices=tuple(indices),
        timestamps=tuple(float(t) for t in times),
        info=info,
        backend=used,
        decode_seconds=time.perf_counter() - started,
        retry_reason=retry_reason,
    )


def clear_cache() -> None:
    """Forget cached clips, remembered file hashes and the last probe."""
    cache.CACHE.clear()
    files.forget_hashes()
    _LAST_PROBE.clear()
