"""Decoding the sampled frames, straight to the target size, with their real times.

Two readers, each a job the worker process runs (``JOBS``): decord (fast random access)
and PyAV. Both scale inside FFmpeg, so a 4K upload costs what a 448x448 one does: only
the small copies reach Python. ``clip.py`` decides which runs, with what time budget, and
retries on PyAV when decord fails.

PyAV seeks per wanted frame: to the keyframe at or before it (from the probe's
:class:`FrameIndex`), then decodes forward to the frame whose presentation timestamp is
the wanted one; a wanted frame in the same group of pictures as the last one is reached by
decoding on, without a new seek. Frames are named by timestamp, not counted, so seeking
returns exactly the frames (and times) that decoding from the start returns. Where that
cannot be trusted (no index, a frame without a timestamp, a seek that lands past its
target, an FFmpeg error while seeking) PyAV decodes sequentially from the start instead.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

import captioner.video.messages as messages
from captioner.video.probing import FrameIndex, open_video, video_stream

# decord's time budget when PyAV can retry: seconds to open the file plus an allowance for
# every frame it must decode, at the source resolution (it decodes each frame from the
# keyframe before a wanted one; FrameIndex.decode_work counts them). 15 ns per source pixel
# is 5-7x what the project's 2-core AMD EPYC needs for 720p H.264 (Big Buck Bunny: 2.7-2.9
# ns a pixel; 60 s of grainy 720p at 15 Mbit/s, 1,597 frames for 32 wanted: 3.3 s, 2.3 ns),
# so a slow or busy machine still finishes while a hang is cut after seconds (4 s for a
# short clip, 24 s for that minute of 720p). A cut that was not a hang costs a PyAV retry,
# not a failure. Never more than half the decode limit, so the retry keeps the other half.
DECORD_OPEN_S = 2.0
DECORD_S_PER_PIXEL = 15e-9
DECORD_MIN_S = 4.0


def decord_budget_s(work_frames: int, width: int, height: int, limit_s: float) -> float:
    """Seconds decord may take to decode ``work_frames`` frames of ``width`` x ``height``."""
    estimate = DECORD_OPEN_S + work_frames * width * height * DECORD_S_PER_PIXEL
    return min(limit_s / 2, max(DECORD_MIN_S, estimate))


def decode_decord(
    path: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float]]:
    import decord

    # An absolute path is never read as a URL ("concat:a|b"): decord's FFmpeg has no
    # protocol whitelist. decord sees only files the allow-list accepted (containers.py).
    where = os.path.abspath(path)
    try:
        reader = decord.VideoReader(where, ctx=decord.cpu(0), width=width, height=height)
        if not indices or max(indices) >= len(reader):
            raise RuntimeError(f"{len(reader)} frames, wanted index {max(indices, default=-1)}")
        frames = reader.get_batch(indices).asnumpy()
        first = float(reader.get_frame_timestamp([0])[0, 0])
        times = [float(t) - first for t in reader.get_frame_timestamp(indices)[:, 0]]
    except Exception as exc:  # DECORDError and friends carry only C++ text
        raise messages.corrupt(f"decord: {type(exc).__name__}: {str(exc)[-300:]}") from None
    return np.ascontiguousarray(frames, dtype=np.uint8), times


class _SeekUnreliable(Exception):
    """Seeking did not reach a wanted frame by its timestamp: decode from the start."""


def decode_pyav(
    path: str, indices: list[int], height: int, width: int, index: FrameIndex | None = None
) -> tuple[np.ndarray, list[float]]:
    """Seek per wanted frame when ``index`` allows it, else decode from the start."""
    import av

    if index is not None:
        try:
            return decode_pyav_seeking(path, indices, height, width, index)
        except (_SeekUnreliable, av.error.FFmpegError):
            pass  # decoding from the start is slower, never wrong
    return decode_pyav_sequential(path, indices, height, width)


def _opened_stream(container: Any) -> Any:
    stream = video_stream(container)
    if stream is None:
        raise messages.no_video_stream("no video stream")
    stream.thread_type = "AUTO"
    return stream


def decode_pyav_seeking(
    path: str, indices: list[int], height: int, width: int, index: FrameIndex
) -> tuple[np.ndarray, list[float]]:
    out = np.empty((len(indices), height, width, 3), dtype=np.uint8)
    times: list[float] = []
    with open_video(path) as container:
        stream = _opened_stream(container)
        tb = stream.time_base
        start = float(index.pts[0]) * tb.numerator / tb.denominator  # frame.time of frame 0
        frames = None
        position = -1  # the last frame decoded
        for slot, wanted in enumerate(indices):
            key = index.keyframe_before(wanted)
            if frames is None or not key <= position < wanted:
                if frames is not None or key > 0:  # from frame 0 the start needs no seek
                    container.seek(index.pts[key], stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
            frame = _decode_to(frames, index.pts[wanted])
            out[slot] = frame.to_ndarray(width=width, height=height, format="rgb24")
            times.append(frame.time - start)
            position = wanted
    return out, times


def _decode_to(frames: Any, target: int) -> Any:
    """The next frame from ``frames`` whose timestamp is ``target``."""
    for frame in frames:
        if frame.pts is None:
            raise _SeekUnreliable("a frame without a timestamp")
        if frame.pts == target:
            return frame
        if frame.pts > target:
            raise _SeekUnreliable(f"landed at pts {frame.pts}, past {target}")
    raise _SeekUnreliable(f"the stream ended before pts {target}")


def decode_pyav_sequential(
    path: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float]]:
    import av

    out = np.empty((len(indices), height, width, 3), dtype=np.uint8)
    times: list[float] = []
    slot = {index: k for k, index in enumerate(indices)}
    last = max(indices, default=-1)
    seen = -1
    try:
        with open_video(path) as container:
            stream = _opened_stream(container)
            rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            first: float | None = None
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
        raise messages.corrupt(f"pyav decode: {exc}") from None
    if len(times) != len(indices):
        raise messages.corrupt(f"stream ended after {seen + 1} frames, wanted index {last}")
    return out, times


JOBS = {"decord": decode_decord, "pyav": decode_pyav}  # what the worker runs, per reader
