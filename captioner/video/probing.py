"""Probing: the facts of a video file (duration, frame count, size, every frame's time and
which frames are keyframes) read from the container with PyAV, without decoding a frame.

Demuxing every packet (no decoding) gives every frame's presentation time cheaply, exposes
a truncated file (fewer packets than the header declares), and tells "not a video" from
"audio only". The probe runs in the worker process and sends back a plain dict of facts;
``info_from_probe`` turns it into a :class:`VideoInfo` and ``frame_index`` into the
:class:`FrameIndex` a seeking reader needs.
"""

from __future__ import annotations

import errno
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import captioner.video.containers as containers
import captioner.video.messages as messages
from captioner.errors import CaptionerError

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
    container: str = ""  # FFmpeg's demuxer, e.g. "mov,mp4,m4a,3gp,3g2,mj2" (containers.py)


@dataclass(frozen=True)
class FrameIndex:
    """Where each frame sits in the stream, for a reader that seeks: every frame's
    presentation timestamp (in the stream's time base, in presentation order) and the
    frames decoding can start from. Frame ``i`` is the frame whose timestamp is ``pts[i]``.
    """

    pts: tuple[int, ...]
    keyframes: tuple[int, ...]  # positions in ``pts``, sorted; 0 always (decode from the start)

    def keyframe_before(self, frame: int) -> int:
        """The last frame at or before ``frame`` that decoding can start from."""
        return self.keyframes[bisect_right(self.keyframes, frame) - 1]

    def decode_work(self, wanted: Sequence[int]) -> int:
        """Frames a seeking reader decodes to reach the sorted ``wanted`` frames: it decodes
        on from the last frame when no keyframe lies between, else from the keyframe."""
        work, position = 0, -1
        for frame in wanted:
            key = self.keyframe_before(frame)
            work += frame - position if key <= position else frame - key + 1
            position = frame
        return work


def _open_failed(path: str, exc: Exception) -> CaptionerError:
    if getattr(exc, "errno", None) == errno.EINVAL:
        # FFmpeg found a demuxer, and it is not on the allow-list (e.g. a playlist whose
        # first bytes pose as an MP4).
        return messages.not_a_video(f"demuxer not allowed: {exc}")
    with open(path, "rb") as fh:
        head = fh.read(containers.HEAD_BYTES)
    if containers.accepted_head(head):
        return messages.corrupt(f"{type(exc).__name__}: {exc}")
    return messages.not_a_video(f"{type(exc).__name__}: {exc}")


def open_video(path: str) -> Any:
    """The file opened through the allow-list (see ``containers.py``), or a typed error."""
    import av

    try:
        container = containers.open_input(path)
    except av.error.FFmpegError as exc:
        raise _open_failed(path, exc) from None
    name = container.format.name
    if not containers.is_accepted(name):  # the whitelist refused it already; never trust one lock
        container.close()
        raise messages.not_a_video(f"demuxer {name}")
    return container


def video_stream(container: Any) -> Any:
    """The first real video stream; cover art attached to audio files does not count."""
    import av

    attached = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    for stream in container.streams.video:
        if not (attached and stream.disposition & attached):
            return stream
    return None


def probe_job(path: str, max_duration_s: float) -> dict[str, Any]:
    """Container facts, every frame's time and the keyframes. Runs in the worker process."""
    import av

    with open_video(path) as container:
        stream = video_stream(container)
        if stream is None:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            raise messages.no_video_stream(f"streams: {kinds}")
        if container.duration and container.duration / 1e6 > max_duration_s:
            # before reading it all
            raise messages.too_long(container.duration / 1e6, max_duration_s)
        declared = int(stream.frames or 0)
        tb = float(stream.time_base or 0)
        stamps: list[tuple[int, bool]] = []
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
                    stamps.append((stamp, bool(packet.is_keyframe)))
                    if stamp >= last_stamp:  # the last frame shown lasts this long
                        last_stamp, last_duration = stamp, packet.duration or 0
        except av.error.FFmpegError as exc:
            raise messages.corrupt(f"demux: {exc}") from None
        if declared and packets < declared - max(2, declared // 100):
            raise messages.corrupt(f"{packets} of {declared} frames present")
        stamps.sort()
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        return {
            "container": container.format.name,
            "pts": [stamp for stamp, _ in stamps],
            "keyframes": [i for i, (_, key) in enumerate(stamps) if key],
            "time_base": tb,
            "frame_count": shown,
            "rate": float(rate) if rate else 0.0,
            "last_duration": last_duration * tb,
            "header_duration": (container.duration or 0) / 1e6,
            "width": int(ctx.width),
            "height": int(ctx.height),
            "codec": ctx.name,
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
        container=facts.get("container", ""),
    )


def frame_index(facts: dict[str, Any]) -> FrameIndex | None:
    """The probe's timestamps as a :class:`FrameIndex`; None where a frame lacks one or two
    frames share one, because then a timestamp does not name one frame and seeking by
    timestamp cannot be trusted."""
    pts = tuple(facts["pts"])
    if len(pts) != int(facts["frame_count"]) or len(set(pts)) != len(pts):  # pts are sorted
        return None
    return FrameIndex(pts=pts, keyframes=tuple(sorted({0, *facts["keyframes"]})))
