"""From a path to a :class:`Clip`: check the file, hash it, probe it in the worker, sample,
decode at the target size in the worker, cache. The one place that orders these steps.

``limits`` bound what one upload may cost. They are passed in by the caller (the page, the
CLI, batch build them from their settings); ``None`` means the defaults below.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from captioner.video import cache, files, messages, readers
from captioner.video.decode import decode_job
from captioner.video.probing import VFR_TOLERANCE_S, VideoInfo, info_from_probe, probe_job
from captioner.video.sampling import SamplingSpec, sample_indices, target_size
from captioner.video.worker import WORKER

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
    backend: str  # "decord" or "pyav"
    decode_seconds: float
    from_cache: bool = False

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


def _probe_checked(
    path: str, st: os.stat_result, sha: str, limits: VideoLimits, deadline: float
) -> VideoInfo:
    facts = WORKER.call(probe_job, (path, limits.max_duration_s), deadline - time.monotonic())
    info = info_from_probe(path, st.st_size, sha, facts)
    if info.duration_s > limits.max_duration_s:
        raise messages.too_long(info.duration_s, limits.max_duration_s)
    return info


def probe(path: str | os.PathLike[str], limits: VideoLimits | None = None) -> VideoInfo:
    """Check the file and read its facts (no frames decoded). Raises typed video errors."""
    limits = limits or VideoLimits()
    path = os.fspath(path)
    st = files.check_file(path, limits.max_file_bytes)
    sha = files.sha256_of(path, st)
    return _probe_checked(path, st, sha, limits, time.monotonic() + limits.decode_timeout_s)


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
    st = files.check_file(path, limits.max_file_bytes)
    sha = files.sha256_of(path, st)
    key: cache.CacheKey = (sha, st.st_size, spec, backend)
    cached = cache.CACHE.get(key)
    if cached is not None:
        return replace(cached, info=replace(cached.info, path=path), from_cache=True)

    deadline = time.monotonic() + limits.decode_timeout_s
    info = _probe_checked(path, st, sha, limits, deadline)
    indices = sample_indices(info, spec)
    height, width = target_size(info.height, info.width, spec)
    started = time.perf_counter()
    frames, times, used = WORKER.call(
        decode_job, (path, backend, indices, height, width), deadline - time.monotonic()
    )
    frames.flags.writeable = False
    clip = Clip(
        frames=frames,
        indices=tuple(indices),
        timestamps=tuple(float(t) for t in times),
        info=info,
        backend=used,
        decode_seconds=time.perf_counter() - started,
    )
    cache.CACHE.put(key, clip)
    return clip


def clear_cache() -> None:
    """Forget cached clips and remembered file hashes."""
    cache.CACHE.clear()
    files.forget_hashes()
