"""Which frames to take and at what size: arithmetic on the probe's facts, no I/O.

The rules follow Qwen3-VL's own video processor, so the model sees what it was trained on:
uniform sampling at ``fps`` (2 by default) between ``min_frames`` and the profile's
``max_frames``, an even number of frames (Qwen merges frames in pairs), and frames resized
to multiples of 32 pixels within a per-frame pixel budget. For variable-frame-rate video
the frames are spread uniformly in time, not in frame number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

import captioner.video.messages as messages

if TYPE_CHECKING:
    from captioner.video.probing import VideoInfo


@dataclass(frozen=True)
class SamplingSpec:
    """Which frames to take and at what size. Hashable: it is part of the cache key."""

    fps: float = 2.0  # Qwen's default sampling rate
    max_frames: int = 32  # cap from the GPU profile's frame budget
    min_frames: int = 4
    max_pixels: int = 448 * 448  # per frame, at the target resolution
    min_pixels: int = 128 * 32 * 32  # the floor Qwen3-VL's video processor uses
    factor: int = 32  # patch_size 16 * spatial_merge_size 2

    def __post_init__(self) -> None:
        # Qwen's floors (4 frames, 128 tokens a frame) give way to a smaller budget asked for.
        if 0 < self.max_frames < self.min_frames:
            object.__setattr__(self, "min_frames", self.max_frames)
        if 0 < self.max_pixels < self.min_pixels:
            object.__setattr__(self, "min_pixels", self.max_pixels)
        problems = []
        if not (math.isfinite(self.fps) and self.fps > 0):
            problems.append(f"fps={self.fps}")
        if self.min_frames < 1 or self.max_frames < self.min_frames:
            problems.append(f"min_frames={self.min_frames}, max_frames={self.max_frames}")
        if self.factor < 1 or self.max_pixels < self.factor**2 or self.min_pixels > self.max_pixels:
            problems.append(
                f"factor={self.factor}, min_pixels={self.min_pixels}, max_pixels={self.max_pixels}"
            )
        if problems:
            raise messages.bad_sampling("; ".join(problems))


def target_size(height: int, width: int, spec: SamplingSpec) -> tuple[int, int]:
    """(H, W), multiples of ``spec.factor``, aspect kept, area within the pixel budget.

    Per frame, the same rounding as Qwen's ``smart_resize``: nearest multiple first, then
    scale down to ``max_pixels`` or up to ``min_pixels``. The budget wins over the floor.
    """
    f = spec.factor
    height, width = max(1, int(height)), max(1, int(width))
    h = max(f, round(height / f) * f)
    w = max(f, round(width / f) * f)
    if h * w < spec.min_pixels:
        beta = math.sqrt(spec.min_pixels / (height * width))
        h = max(f, math.ceil(height * beta / f) * f)
        w = max(f, math.ceil(width * beta / f) * f)
    if h * w > spec.max_pixels:
        beta = math.sqrt(height * width / spec.max_pixels)
        h = max(f, math.floor(height / beta / f) * f)
        w = max(f, math.floor(width / beta / f) * f)
    return h, w


def frame_budget(info: VideoInfo, spec: SamplingSpec) -> int:
    """How many frames to take from this video."""
    n = int(info.duration_s * spec.fps + 1e-6)  # floor, as Qwen's own sampler does
    n = min(max(n, spec.min_frames), spec.max_frames, info.frame_count)
    if n % 2 and info.frame_count >= 2:
        # Qwen3-VL merges frames in pairs (temporal patch 2): an odd count would make the
        # processor repeat the last frame, so round to even, up where the limits allow, down
        # where they do not, except from one frame (a cap of 1: the processor repeats it).
        if n + 1 <= min(spec.max_frames, info.frame_count):
            n += 1
        elif n > 1:
            n -= 1
    return max(n, 0)


def sample_indices(info: VideoInfo, spec: SamplingSpec) -> list[int]:
    """Frame indices, uniform over the duration at ``spec.fps``; sorted, unique, an even count
    (but 1 where the video or the cap allows only one).

    At most ``max_frames``; at least ``min_frames`` where the video has that many frames.
    """
    n = frame_budget(info, spec)
    if n <= 0:
        return []
    by_index = np.linspace(0, info.frame_count - 1, n).round().astype(int).tolist()
    times = info.frame_times
    if not info.variable_frame_rate or len(times) != info.frame_count or n < 2:
        return sorted(set(by_index))
    # VFR: frame numbers are not uniform in time, so take the frame nearest each uniform time,
    # then top up from the index grid where two targets landed on the same frame.
    t = np.asarray(times, dtype=float)
    targets = np.linspace(t[0], t[-1], n)
    right = np.clip(np.searchsorted(t, targets), 1, len(t) - 1)
    nearest = np.where(targets - t[right - 1] <= t[right] - targets, right - 1, right)
    chosen = set(nearest.tolist())
    for i in by_index + list(range(info.frame_count)):
        if len(chosen) >= n:
            break
        chosen.add(i)
    return sorted(chosen)


def frame_times(info: VideoInfo) -> np.ndarray:
    """Every frame's time in seconds: the probe's, or index / fps where it had none."""
    if len(info.frame_times) == info.frame_count:
        return np.asarray(info.frame_times, dtype=float)
    rate = info.avg_fps if info.avg_fps > 0 else 25.0
    return np.arange(info.frame_count, dtype=float) / rate


def sample_span(info: VideoInfo, spec: SamplingSpec, start_s: float, end_s: float) -> list[int]:
    """Frame indices of the whole video taken from the time range [start_s, end_s), as
    ``sample_indices`` takes them from a whole clip: ``spec.fps`` capped by ``max_frames``,
    at least ``min_frames`` where the range has them, an even count. Each frame is the one
    nearest the middle of its equal share of the range, for constant and variable frame
    rate alike, so consecutive ranges never take the same frame twice.

    The indices are the video's own, so their times (and the processor's ``<t seconds>``)
    are times in the whole video. The last range of a video includes its last frame."""
    times = frame_times(info)
    last = end_s >= info.duration_s - 1e-6
    inside = np.nonzero((times >= start_s - 1e-6) & ((times < end_s) | last))[0]
    if not len(inside):
        return []
    span = max(end_s - start_s, 0.0)
    n = int(span * spec.fps + 1e-6)
    n = min(max(n, spec.min_frames), spec.max_frames, len(inside))
    if n % 2 and len(inside) >= 2:  # pairs, as in frame_budget
        n = n + 1 if n + 1 <= min(spec.max_frames, len(inside)) else n - 1
    n = max(n, 1)
    local = times[inside]
    targets = start_s + (np.arange(n) + 0.5) * span / n
    right = np.clip(np.searchsorted(local, targets), 1, max(len(local) - 1, 1))
    left = right - 1
    nearest = np.where(
        np.abs(targets - local[left]) <= np.abs(local[np.minimum(right, len(local) - 1)] - targets),
        left,
        np.minimum(right, len(local) - 1),
    )
    chosen = set(nearest.tolist())
    grid = np.linspace(0, len(inside) - 1, n).round().astype(int).tolist()
    for i in grid + list(range(len(inside))):  # two targets on one frame: top up
        if len(chosen) >= n:
            break
        chosen.add(i)
    return sorted(int(inside[i]) for i in chosen)
