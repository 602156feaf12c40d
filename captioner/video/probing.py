"""Probing: the facts of a video file (duration, frame count, size, every frame's time)
read from the container without decoding a frame.

PyAV is the preferred prober: demuxing every packet (no decoding) gives every frame's
presentation time cheaply, exposes a truncated file (fewer packets than the header
declares), and tells "not a video" from "audio only". decord is the fallback when PyAV is
missing. Both produce the same plain dict of facts, which ``info_from_probe`` turns into a
:class:`VideoInfo`; the dict travels from the worker process to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from captioner.errors import CaptionerError
from captioner.video import containers, messages, readers

# Frames whose index / fps misses the real time by more than this are "variable frame rate".
VFR_TOLERANCE_S = 1e-3


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


def probe_job(path: str, max_duration_s: float) -> dict[str, Any]:
    """Container facts and every frame's time. Runs in the worker process."""
    if readers.installed("av"):
        return probe_pyav(path, max_duration_s)
    if readers.installed("decord"):
        return probe_decord(path, max_duration_s)
    raise messages.missing("decord")


def _open_failed(path: str, exc: Exception) -> CaptionerError:
    with open(path, "rb") as fh:
        head = fh.read(512)
    if containers.looks_like_container(head):
        return messages.corrupt(f"{type(exc).__name__}: {exc}")
    return messages.not_a_video(f"{type(exc).__name__}: {exc}")


def video_stream(container: Any) -> Any:
    """The first real video stream; cover art attached to audio files does not count."""
    import av

    attached = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    for stream in container.streams.video:
        if not (attached and stream.disposition & attached):
            return stream
    return None


def probe_pyav(path: str, max_duration_s: float) -> dict[str, Any]:
    import av

    try:
        container = av.open(path)
    except av.error.FFmpegError as exc:
        raise _open_failed(path, exc) from None
    with container:
        fmt = container.format.name
        # FFmpeg happily opens a PNG or JPEG as a one-frame "video"; an image is not a video.
        if fmt == "image2" or fmt.endswith("_pipe"):
            raise messages.not_a_video(f"image container {fmt}")
        stream = video_stream(container)
        if stream is None:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            raise messages.no_video_stream(f"streams: {kinds}")
        if container.duration and container.duration / 1e6 > max_duration_s:
            # before reading it all
            raise messages.too_long(container.duration / 1e6, max_duration_s)
        declared = int(stream.frames or 0)
        tb = float(stream.time_base or 0)
        pts: list[int] = []
        last_duration, last_stamp, packets, shown = 0, -(2**62), 0, 0
        try:
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
            raise messages.corrupt(f"demux: {exc}") from None
        if declared and packets < declared - max(2, declared // 100):
            raise messages.corrupt(f"{packets} of {declared} frames present")
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


def probe_decord(path: str, max_duration_s: float) -> dict[str, Any]:
    import decord

    try:
        reader = decord.VideoReader(path, ctx=decord.cpu(0))
    except Exception as exc:  # decord raises DECORDError / RuntimeError with C++ text only
        text = str(exc)
        if "cannot find video stream" in text:
            raise messages.no_video_stream(text[-200:]) from None
        raise _open_failed(path, exc) from None
    count = len(reader)
    if count == 0:
        raise messages.corrupt("no frames")
    times = reader.get_frame_timestamp(list(range(count)))
    first = reader[0].shape  # one full-size frame: decord exposes the source size no other way
    rate = float(reader.get_avg_fps() or 0.0)
    duration = float(times[-1, 1] - times[0, 0])
    if duration > max_duration_s:
        raise messages.too_long(duration, max_duration_s)
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


def info_from_probe(path: str, size: int, sha: str, facts: dict[str, Any]) -> VideoInfo:
    """The probe's facts as a :class:`VideoInfo`: duration, rate and VFR decided here."""
    count = int(facts["frame_count"])
    if count <= 0 or facts["width"] <= 0 or facts["height"] <= 0:
        raise messages.corrupt("no decodable video frames")
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
        and any(abs(i / rate - t) > VFR_TOLERANCE_S for i, t in enumerate(times))
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
