"""Decoding the sampled frames, straight to the target size, with their real times.

Both readers scale inside FFmpeg, so a 4K upload costs what a 448x448 one does: only the
small copies reach Python. decord reads first (fast random access); PyAV takes over when
decord is missing or cannot read the file. Runs in the worker process.
"""

from __future__ import annotations

import numpy as np

from captioner.video import messages, readers
from captioner.video.probing import video_stream


class ReaderFailed(Exception):
    """decord could not read this file; the caller may try PyAV."""


def decode_job(
    path: str, backend: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float], str]:
    """Decode ``indices`` at (height, width): (frames, times, reader used)."""
    if backend in ("auto", "decord") and readers.installed("decord"):
        try:
            frames, times = decode_decord(path, indices, height, width)
            return frames, times, "decord"
        except ReaderFailed as exc:
            if backend == "decord" or not readers.installed("av"):
                raise messages.corrupt(f"decord: {exc}") from None
    if not readers.installed("av"):
        raise messages.missing("av" if backend == "pyav" else "decord")
    frames, times = decode_pyav(path, indices, height, width)
    return frames, times, "pyav"


def decode_decord(
    path: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float]]:
    import decord

    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0), width=width, height=height)
        if not indices or max(indices) >= len(reader):
            raise ReaderFailed(f"{len(reader)} frames, wanted index {max(indices, default=-1)}")
        frames = reader.get_batch(indices).asnumpy()
        first = float(reader.get_frame_timestamp([0])[0, 0])
        times = [float(t) - first for t in reader.get_frame_timestamp(indices)[:, 0]]
    except ReaderFailed:
        raise
    except Exception as exc:  # DECORDError and friends carry only C++ text
        raise ReaderFailed(f"{type(exc).__name__}: {str(exc)[-300:]}") from None
    return np.ascontiguousarray(frames, dtype=np.uint8), times


def decode_pyav(
    path: str, indices: list[int], height: int, width: int
) -> tuple[np.ndarray, list[float]]:
    import av

    out = np.empty((len(indices), height, width, 3), dtype=np.uint8)
    times: list[float] = []
    slot = {index: k for k, index in enumerate(indices)}
    last = max(indices, default=-1)
    seen = -1
    try:
        with av.open(path) as container:
            stream = video_stream(container)
            if stream is None:
                raise messages.no_video_stream("no video stream")
            stream.thread_type = "AUTO"
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
