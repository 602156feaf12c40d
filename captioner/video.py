"""The video pipeline: check, probe, sample, decode and cache a clip for Qwen3-VL.

``load_clip(path)`` turns a user's file into a :class:`Clip`: a few RGB frames already at the
resolution the model will see, the frames' real presentation times, and the metadata that
transformers' ``Qwen3VLProcessor`` needs to write correct ``<t seconds>`` markers.

Why it is shaped like this:

- decord reads frames (it is fast at random access); PyAV is the fallback when decord is not
  installed or fails on a file. PyAV also probes the container, because it can tell "not a
  video" from "audio only" from "truncated", which decord reports as one opaque error.
- Frames are decoded straight to the target size, so a 4K upload costs what a 448x448 one does.
- Decoders can hang (decord holds the GIL while it does), so probing and decoding run in one
  persistent worker process that is killed and replaced when a decode overruns its time limit.
- Every failure a user can cause becomes a typed error from :mod:`captioner.errors` with a
  Korean and an English message.
- Decoded clips are cached in-process, keyed by the file's content hash and the sampling spec,
  so re-running a prompt on the same upload does not decode again.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from captioner import errors
from captioner.errors import (
    CaptionerError,
    CorruptVideo,
    DecodeTimeout,
    EmptyVideo,
    InvalidRequest,
    MissingDependency,
    NotAVideo,
    NoVideoStream,
    VideoNotFound,
    VideoTooLarge,
    VideoTooLong,
)

__all__ = [
    "BACKENDS",
    "Clip",
    "SamplingSpec",
    "VideoInfo",
    "VideoLimits",
    "clear_cache",
    "load_clip",
    "probe",
    "sample_indices",
    "target_size",
]

BACKENDS = ("auto", "decord", "pyav")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".avi")  # what the page and batch accept
_MIB = 1024 * 1024
# Frames whose index/fps misses the real time by more than this are "variable frame rate".
_VFR_TOLERANCE_S = 1e-3
# Time base used for VFR processor metadata: indices become milliseconds (see processor_metadata).
_VFR_TIME_BASE = 1000.0


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise InvalidRequest(
            f"환경 변수 {name}의 값 '{raw}'이(가) 숫자가 아닙니다.",
            f"Environment variable {name}='{raw}' is not a number.",
        ) from exc
    if not math.isfinite(value) or value <= 0:
        raise InvalidRequest(
            f"환경 변수 {name}은(는) 0보다 커야 합니다 (현재 {raw}).",
            f"Environment variable {name} must be positive (got {raw}).",
        )
    return value


# --- limits and sampling -----------------------------------------------------------------
@dataclass(frozen=True)
class VideoLimits:
    """What one upload may cost: bytes on disk, seconds of video, seconds of decoding."""

    max_file_bytes: int = 1024 * _MIB
    max_duration_s: float = 20 * 60.0
    decode_timeout_s: float = 120.0

    @classmethod
    def from_env(cls) -> VideoLimits:
        """Defaults, overridden by CAPTIONER_MAX_FILE_MB / _MAX_DURATION_S / _DECODE_TIMEOUT_S."""
        default = cls()
        return cls(
            max_file_bytes=int(
                _env_float("CAPTIONER_MAX_FILE_MB", default.max_file_bytes / _MIB) * _MIB
            ),
            max_duration_s=_env_float("CAPTIONER_MAX_DURATION_S", default.max_duration_s),
            decode_timeout_s=_env_float("CAPTIONER_DECODE_TIMEOUT_S", default.decode_timeout_s),
        )


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
            text = "; ".join(problems)
            raise InvalidRequest(
                f"프레임 샘플링 설정이 올바르지 않습니다: {text}",
                f"Invalid frame sampling settings: {text}",
            )


@dataclass(frozen=True)
class VideoInfo:
    """Facts from probing the file, before any frame is decoded."""

    path: str
    size_bytes: int
    sha256: str
    duration_s: float
    avg_fps: float
    frame_count: int
    width: int
    height: int
    codec: str | None
    variable_frame_rate: bool
    # Presentation time of every frame (seconds from the first), when the probe could read
    # them; lets sampling be uniform in time, not in frame number, for VFR video.
    frame_times: tuple[float, ...] = field(default=(), repr=False, compare=False)


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
            abs(i / fps - t) <= _VFR_TOLERANCE_S
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


def _frame_budget(info: VideoInfo, spec: SamplingSpec) -> int:
    n = int(info.duration_s * spec.fps + 1e-6)  # floor, as Qwen's own sampler does
    n = min(max(n, spec.min_frames), spec.max_frames, info.frame_count)
    if n % 2 and info.frame_count >= 2:
        # Qwen3-VL merges frames in pairs (temporal patch 2): an odd count would make the
        # processor repeat the last frame, so round to even, up where the limits allow.
        n = n + 1 if n + 1 <= min(spec.max_frames, info.frame_count) else n - 1
    return max(n, 0)


def sample_indices(info: VideoInfo, spec: SamplingSpec) -> list[int]:
    """Frame indices, uniform over the duration at ``spec.fps``; sorted, unique, even count.

    At most ``max_frames``; at least ``min_frames`` where the video has that many frames.
    """
    n = _frame_budget(info, spec)
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


# --- file checks and hashing -------------------------------------------------------------
_CONTAINER_MAGIC = (
    (4, b"ftyp"),  # MP4 / MOV / 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"FLV"),
    (0, b"OggS"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
    (0, b"GIF8"),
)


def _looks_like_container(head: bytes) -> bool:
    """Whether the first bytes belong to a video container: then a failure to open it means
    a damaged video, not some other kind of file."""
    if any(head[o : o + len(m)] == m for o, m in _CONTAINER_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return True
    return len(head) > 188 and head[0] == 0x47 and head[188] == 0x47  # MPEG-TS sync bytes


def _check_file(path: str, limits: VideoLimits) -> os.stat_result:
    """Existence, emptiness and size, from the file system alone (nothing is read)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise VideoNotFound(
            f"영상 파일을 찾을 수 없습니다: {Path(path).name}",
            f"Video file not found: {Path(path).name}",
            detail=str(exc),
        ) from None
    if not os.path.isfile(path):
        raise VideoNotFound(
            f"영상 파일이 아닙니다 (폴더 등): {Path(path).name}",
            f"Not a video file (a folder or device): {Path(path).name}",
        )
    if st.st_size == 0:
        raise EmptyVideo(
            "영상 파일이 비어 있습니다 (0 바이트).", "The video file is empty (0 bytes)."
        )
    if st.st_size > limits.max_file_bytes:
        size_mb, limit_mb = st.st_size / _MIB, limits.max_file_bytes / _MIB
        raise VideoTooLarge(
            f"영상 파일이 너무 큽니다: {size_mb:,.1f} MB (최대 {limit_mb:,.0f} MB).",
            f"The video file is too large: {size_mb:,.1f} MB (limit {limit_mb:,.0f} MB).",
        )
    return st


_HASH_MEMO: OrderedDict[tuple[str, int, int, int], str] = OrderedDict()
_HASH_MEMO_MAX = 256
_HASH_LOCK = threading.Lock()


def _memo_key(path: str, st: os.stat_result) -> tuple[str, int, int, int]:
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Content hash of a file (the key of the clip cache and of the run log), computed once
    per file version: an upload is read for hashing once, whoever asks."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise VideoNotFound(
            f"영상 파일을 찾을 수 없습니다: {Path(path).name}",
            f"Video file not found: {Path(path).name}",
            detail=str(exc),
        ) from None
    return _file_sha256(path, st)


def remember_sha256(path: str | os.PathLike[str], sha256: str) -> None:
    """Record a hash already known (e.g. of a byte-for-byte copy) so it is not read again."""
    path = os.fspath(path)
    with _HASH_LOCK:
        _HASH_MEMO[_memo_key(path, os.stat(path))] = sha256


def _file_sha256(path: str, st: os.stat_result) -> str:
    """SHA-256 of the file, read in 1 MiB chunks; remembered while size and mtime hold."""
    memo_key = _memo_key(path, st)
    with _HASH_LOCK:
        if memo_key in _HASH_MEMO:
            _HASH_MEMO.move_to_end(memo_key)
            return _HASH_MEMO[memo_key]
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_MIB):
                digest.update(chunk)
    except OSError as exc:  # e.g. no permission, or the upload vanished meanwhile
        raise VideoNotFound(
            f"영상 파일을 읽을 수 없습니다: {Path(path).name}",
            f"Cannot read the video file: {Path(path).name}",
            detail=f"{type(exc).__name__}: {exc}",
        ) from None
    value = digest.hexdigest()
    with _HASH_LOCK:
        _HASH_MEMO[memo_key] = value
        while len(_HASH_MEMO) > _HASH_MEMO_MAX:
            _HASH_MEMO.popitem(last=False)
    return value


# --- errors shared by both backends ------------------------------------------------------
def _span(seconds: float) -> tuple[str, str]:
    """A duration for people: seconds under a minute, minutes above."""
    if seconds < 60:
        return f"{seconds:.1f}초", f"{seconds:.1f} s"
    return f"{seconds / 60:.1f}분", f"{seconds / 60:.1f} min"


def _too_long(duration_s: float, limit_s: float) -> VideoTooLong:
    (got_ko, got_en), (max_ko, max_en) = _span(duration_s), _span(limit_s)
    return VideoTooLong(
        f"영상이 너무 깁니다: {got_ko} (최대 {max_ko}).",
        f"The video is too long: {got_en} (limit {max_en}).",
    )


def _corrupt(detail: str) -> CorruptVideo:
    return CorruptVideo(
        "영상 파일이 손상되었거나 끝까지 저장되지 않아 읽을 수 없습니다.",
        "The video file is damaged or incomplete and cannot be read.",
        detail=detail,
    )


def _not_a_video(detail: str) -> NotAVideo:
    return NotAVideo(
        "영상 파일이 아닙니다. MP4, MOV, WebM 같은 동영상을 올려 주세요.",
        "This is not a video file. Please upload a video such as MP4, MOV or WebM.",
        detail=detail,
    )


def _no_video_stream(detail: str) -> NoVideoStream:
    return NoVideoStream(
        "파일에 영상 트랙이 없습니다 (오디오만 있음).",
        "The file has no video track (audio only).",
        detail=detail,
    )


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _missing(package: str) -> MissingDependency:
    return MissingDependency(package, "영상 읽기 (video decoding)")


# --- probing (runs in the worker) --------------------------------------------------------
def _probe_job(path: str, max_duration_s: float) -> dict[str, Any]:
    """Container facts and every frame's time. Top level so the worker can receive it."""
    if _has_module("av"):
        return _probe_pyav(path, max_duration_s)
    if _has_module("decord"):
        return _probe_decord(path, max_duration_s)
    raise _missing("decord")


def _open_failed(path: str, exc: Exception) -> CaptionerError:
    with open(path, "rb") as fh:
        head = fh.read(512)
    if _looks_like_container(head):
        return _corrupt(f"{type(exc).__name__}: {exc}")
    return _not_a_video(f"{type(exc).__name__}: {exc}")


def _video_stream(container: Any) -> Any:
    """The first real video stream; cover art attached to audio files does not count."""
    import av

    attached = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    for stream in container.streams.video:
        if not (attached and stream.disposition & attached):
            return stream
    return None


def _probe_pyav(path: str, max_duration_s: float) -> dict[str, Any]:
    import av

    try:
        container = av.open(path)
    except av.error.FFmpegError as exc:
        raise _open_failed(path, exc) from None
    with container:
        fmt = container.format.name
        # FFmpeg happily opens a PNG or JPEG as a one-frame "video"; an image is not a video.
        if fmt == "image2" or fmt.endswith("_pipe"):
            raise _not_a_video(f"image container {fmt}")
        stream = _video_stream(container)
        if stream is None:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            raise _no_video_stream(f"streams: {kinds}")
        if container.duration and container.duration / 1e6 > max_duration_s:
            raise _too_long(container.duration / 1e6, max_duration_s)  # before reading it all
        declared = int(stream.frames or 0)
        tb = float(stream.time_base or 0)
        pts: list[int] = []
        last_duration, last_stamp, packets, shown = 0, -(2**62), 0, 0
        try:
            # Demuxing (no decoding) gives every frame's time cheaply, and exposes truncation.
            for packet in container.demux(stream):
                if not packet.size:
                    continue
                packets += 1
                if packet.is_discard:  # before an edit list's start: the decoder drops it
                    continue
                shown += 1
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is not None:
                    pts.append(stamp)
                    if stamp >= last_stamp:  # the last frame shown lasts this long
                        last_stamp, last_duration = stamp, packet.duration or 0
        except av.error.FFmpegError as exc:
            raise _corrupt(f"demux: {exc}") from None
        if declared and packets < declared - max(2, declared // 100):
            raise _corrupt(f"{packets} of {declared} frames present")
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        return {
            "pts": sorted(pts),
            "time_base": tb,
            "frame_count": shown,
            "rate": float(rate) if rate else 0.0,
            "last_duration": last_duration * tb,
            "header_duration": (container.duration or 0) / 1e6,
            "width": int(ctx.width),
            "height": int(ctx.height),
            "codec": ctx.name,
        }


def _probe_decord(path: str, max_duration_s: float) -> dict[str, Any]:
    import decord

    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0))
    except Exception as exc:  # decord raises DECORDError / RuntimeError with C++ text only
        text = str(exc)
        if "cannot find video stream" in text:
            raise _no_video_stream(text[-200:]) from None
        raise _open_failed(path, exc) from None
    count = len(reader)
    if count == 0:
        raise _corrupt("no frames")
    times = reader.get_frame_timestamp(list(range(count)))
    first = reader[0].shape  # one full-size frame: decord exposes the source size no other way
    rate = float(reader.get_avg_fps() or 0.0)
    duration = float(times[-1, 1] - times[0, 0])
    if duration > max_duration_s:
        raise _too_long(duration, max_duration_s)
    return {
        "pts": [round(float(t) * 1e6) for t in times[:, 0]],
        "time_base": 1e-6,
        "frame_count": count,
        "rate": rate,
        "last_duration": float(times[-1, 1] - times[-1, 0]),
        "header_duration": duration,
        "width": int(first[1]),
        "height": int(first[0]),
        "codec": None,
    }


def _info_from_probe(path: str, size: int, sha: str, facts: dict[str, Any]) -> VideoInfo:
    count = int(facts["frame_count"])
    if count <= 0 or facts["width"] <= 0 or facts["height"] <= 0:
        raise _corrupt("no decodable video frames")
    pts, tb = facts["pts"], facts["time_base"]
    times: tuple[float, ...] = ()
    if len(pts) == count and tb > 0:
        times = tuple((p - pts[0]) * tb for p in pts)
    rate = facts["rate"]
    if times:
        step = facts["last_duration"] or (1.0 / rate if rate > 0 else 0.0)
        duration = times[-1] + step
    else:
        duration = facts["header_duration"] or (count / rate if rate > 0 else 0.0)
    if rate <= 0 and duration > 0:
        rate = count / duration
    variable = (
        bool(times)
        and rate > 0
        and any(abs(i / rate - t) > _VFR_TOLERANCE_S for i, t in enumerate(times))
    )
    return VideoInfo(
        path=path,
        size_bytes=size,
        sha256=sha,
        duration_s=float(duration),
        avg_fps=float(rate),
        frame_count=count,
        width=int(facts["width"]),
        height=int(facts["height"]),
        codec=facts["codec"],
        variable_frame_rate=variable,
        frame_times=times,
    )


# --- decoding (runs in the worker) -------------------------------------------------------
class _BackendFailed(Exception):
    """decord could not read this file; the caller may try PyAV."""


def _decode_job(
    path: str, backend: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float], str]:
    """Decode ``indices`` at (height, width). Top level so the worker can receive it."""
    if backend in ("auto", "decord") and _has_module("decord"):
        try:
            frames, times = _decode_decord(path, indices, height, width)
            return frames, times, "decord"
        except _BackendFailed as exc:
            if backend == "decord" or not _has_module("av"):
                raise _corrupt(f"decord: {exc}") from None
    if not _has_module("av"):
        raise _missing("av" if backend == "pyav" else "decord")
    frames, times = _decode_pyav(path, indices, height, width)
    return frames, times, "pyav"


def _decode_decord(
    path: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float]]:
    import decord

    try:
        # decord scales inside FFmpeg, so full-size frames never reach Python.
        reader = decord.VideoReader(path, ctx=decord.cpu(0), width=width, height=height)
        if not indices or max(indices) >= len(reader):
            raise _BackendFailed(f"{len(reader)} frames, wanted index {max(indices, default=-1)}")
        frames = reader.get_batch(indices).asnumpy()
        first = float(reader.get_frame_timestamp([0])[0, 0])
        times = [float(t) - first for t in reader.get_frame_timestamp(indices)[:, 0]]
    except _BackendFailed:
        raise
    except Exception as exc:  # DECORDError and friends carry only C++ text
        raise _BackendFailed(f"{type(exc).__name__}: {str(exc)[-300:]}") from None
    return np.ascontiguousarray(frames, dtype=np.uint8), times


def _decode_pyav(
    path: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float]]:
    import av

    out = np.empty((len(indices), height, width, 3), dtype=np.uint8)
    times: list[float] = []
    slot = {index: k for k, index in enumerate(indices)}
    last = max(indices, default=-1)
    try:
        with av.open(path) as container:
            stream = _video_stream(container)
            if stream is None:
                raise _no_video_stream("no video stream")
            stream.thread_type = "AUTO"
            rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            first: float | None = None
            seen = -1
            for seen, frame in enumerate(container.decode(stream)):
                when = frame.time if frame.time is not None else seen / rate  # no pts: nominal
                first = when if first is None else first
                if seen in slot:
                    # Reformat one frame at a time: only the small copy is kept.
                    out[slot[seen]] = frame.to_ndarray(width=width, height=height, format="rgb24")
                    times.append(when - first)
                if seen >= last:
                    break
    except av.error.FFmpegError as exc:
        raise _corrupt(f"pyav decode: {exc}") from None
    if len(times) != len(indices):
        raise _corrupt(f"stream ended after {seen + 1} frames, wanted index {last}")
    return out, times


# --- the worker process ------------------------------------------------------------------
def _worker_main(fd: int) -> None:
    """Worker loop: receive (job, args), send back ("ok", result) or a typed error's state."""
    from multiprocessing.connection import Connection

    # Imports happen before "ready" so the decode time limit measures decoding, not imports.
    for name in ("av", "decord"):
        if _has_module(name):
            __import__(name)
    conn = Connection(fd)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job, args = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            reply: tuple[str, Any] = ("ok", job(*args))
        except CaptionerError as exc:
            reply = ("error", (type(exc).__name__, exc.ko, exc.en, exc.detail))
        except Exception as exc:
            reply = ("crash", f"{type(exc).__name__}: {exc}")
        conn.send(reply)


_BOOT = (
    "import sys, json; sys.path[:0] = json.loads(sys.argv[2]); "
    f"from {__name__} import _worker_main; _worker_main(int(sys.argv[1]))"
)
_WORKER_START_TIMEOUT_S = 120.0


class _Worker:
    """One persistent decode process, reused between calls, replaced after a timeout.

    It is a fresh interpreter started with subprocess, not multiprocessing's "spawn": spawn
    re-imports the parent's ``__main__`` (``app.py``) in the child, which would build a second
    Gradio page, or launch one where app.py calls ``launch()`` at module level.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Any = None

    def call(self, job: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> Any:
        with self._lock:
            conn = self._ensure_started()
            try:
                conn.send((job, args))
                if not conn.poll(max(timeout_s, 0.0)):
                    self._stop()
                    raise DecodeTimeout(
                        f"영상 처리가 제한 시간({timeout_s:g}초) 안에 끝나지 않았습니다.",
                        f"Video decoding did not finish within the time limit ({timeout_s:g} s).",
                    )
                status, payload = conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                self._stop()  # the decoder crashed the worker (e.g. a segfault on a bad file)
                raise _corrupt(f"decode worker died: {type(exc).__name__}") from None
        if status == "ok":
            return payload
        if status == "error":
            raise _rebuild_error(*payload)
        raise RuntimeError(f"video worker failed: {payload}")

    def _ensure_started(self) -> Any:
        if self._proc is not None and self._proc.poll() is None:
            return self._conn
        self._stop()
        parent, child = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(child.fileno()), json.dumps(sys.path)],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child.close()
        from multiprocessing.connection import Connection

        self._conn = Connection(parent.detach())
        if not self._conn.poll(_WORKER_START_TIMEOUT_S):
            self._stop()
            raise RuntimeError("the video worker process did not start")
        self._conn.recv()
        return self._conn

    def _stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None

    def close(self) -> None:
        with self._lock:
            self._stop()


def _rebuild_error(name: str, ko: str, en: str, detail: str | None) -> CaptionerError:
    """Typed errors do not pickle (their __init__ takes two messages), so they travel as state."""
    cls = getattr(errors, name, CaptionerError)
    exc = cls.__new__(cls)
    CaptionerError.__init__(exc, ko, en, detail=detail)
    return exc


_WORKER = _Worker()
atexit.register(_WORKER.close)


# --- the clip cache ----------------------------------------------------------------------
_CacheKey = tuple[str, int, SamplingSpec, str]


class _ClipCache:
    """LRU by total frame bytes; the bound is read from CAPTIONER_CLIP_CACHE_MB at each put."""

    def __init__(self) -> None:
        self._items: OrderedDict[_CacheKey, Clip] = OrderedDict()
        self._bytes = 0
        self.limit = 512 * _MIB
        self._lock = threading.Lock()

    def get(self, key: _CacheKey) -> Clip | None:
        with self._lock:
            clip = self._items.get(key)
            if clip is not None:
                self._items.move_to_end(key)
            return clip

    def put(self, key: _CacheKey, clip: Clip) -> None:
        limit = self.limit
        with self._lock:
            if key in self._items:
                self._bytes -= self._items.pop(key).frames.nbytes
            if clip.frames.nbytes > limit:
                return
            self._items[key] = clip
            self._bytes += clip.frames.nbytes
            while self._bytes > limit:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.frames.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_CACHE = _ClipCache()


def set_cache_limit(max_bytes: int) -> None:
    """Bound the decoded clips kept in memory."""
    _CACHE.limit = int(max_bytes)


def clear_cache() -> None:
    """Forget cached clips and remembered file hashes."""
    _CACHE.clear()
    with _HASH_LOCK:
        _HASH_MEMO.clear()


# --- public entry points -----------------------------------------------------------------
def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise InvalidRequest(
            f"알 수 없는 영상 백엔드입니다: {backend} (가능: {', '.join(BACKENDS)})",
            f"Unknown video backend: {backend} (choose from {', '.join(BACKENDS)})",
        )
    needed = {"decord": ("decord",), "pyav": ("av",), "auto": ("decord", "av")}[backend]
    if not any(_has_module(name) for name in needed):
        raise _missing(needed[0])
    return backend


def _probe_checked(
    path: str, st: os.stat_result, sha: str, limits: VideoLimits, deadline: float
) -> VideoInfo:
    facts = _WORKER.call(_probe_job, (path, limits.max_duration_s), deadline - time.monotonic())
    info = _info_from_probe(path, st.st_size, sha, facts)
    if info.duration_s > limits.max_duration_s:
        raise _too_long(info.duration_s, limits.max_duration_s)
    return info


def probe(path: str | os.PathLike[str], limits: VideoLimits | None = None) -> VideoInfo:
    """Check the file and read its facts (no frames decoded). Raises typed video errors."""
    limits = limits or VideoLimits.from_env()
    path = os.fspath(path)
    st = _check_file(path, limits)
    sha = _file_sha256(path, st)
    return _probe_checked(path, st, sha, limits, time.monotonic() + limits.decode_timeout_s)


def load_clip(
    path: str | os.PathLike[str],
    spec: SamplingSpec | None = None,
    limits: VideoLimits | None = None,
    backend: str = "auto",
) -> Clip:
    """Sampled, resized frames with real timestamps; cached by file content and spec."""
    spec = spec or SamplingSpec()
    limits = limits or VideoLimits.from_env()
    backend = _check_backend(backend)
    path = os.fspath(path)
    st = _check_file(path, limits)
    sha = _file_sha256(path, st)
    key: _CacheKey = (sha, st.st_size, spec, backend)
    cached = _CACHE.get(key)
    if cached is not None:
        return replace(cached, info=replace(cached.info, path=path), from_cache=True)

    deadline = time.monotonic() + limits.decode_timeout_s
    info = _probe_checked(path, st, sha, limits, deadline)
    indices = sample_indices(info, spec)
    height, width = target_size(info.height, info.width, spec)
    started = time.perf_counter()
    frames, times, used = _WORKER.call(
        _decode_job, (path, backend, indices, height, width), deadline - time.monotonic()
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
    _CACHE.put(key, clip)
    return clip
