""" "Frames the model saw": small thumbnails of the sampled frames with their real times.

The strip shows, as soon as decoding finishes (before the first token), exactly the frames
the model receives, so a reviewer can tell a model error from a sampling gap. In the review
tab the same strip is rebuilt from the library's copy of the video at the run's stored
frame indices (the thumbnails are not stored: the frame indices and times are).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from captioner import video
from captioner.errors import CaptionerError

THUMB_WIDTH = 160  # px: enough to recognise a scene, small enough for a row of 32


def clock(seconds: float) -> str:
    """A time for people and for the timeline links: "0:05.2", "12:03.0", "1:02:03.5"."""
    seconds = max(0.0, float(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 1:
        return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}"
    return f"{int(minutes)}:{secs:04.1f}"


def strip(frames: np.ndarray, times: tuple[float, ...] | list[float]) -> list[tuple[str, str]]:
    """(JPEG path, "0:05.2") per frame, written to a fresh temporary folder (gradio copies
    files from the system's temp directory into its own cache and deletes them later)."""
    from PIL import Image

    folder = Path(tempfile.mkdtemp(prefix="captioner-frames-"))
    out = []
    for i, (frame, when) in enumerate(zip(frames, times, strict=True)):
        image = Image.fromarray(np.asarray(frame))
        height = max(1, round(image.height * THUMB_WIDTH / max(1, image.width)))
        image = image.resize((THUMB_WIDTH, height))
        path = folder / f"frame-{i:03d}.jpg"
        image.save(path, quality=80)
        out.append((str(path), clock(when)))
    return out


def strip_for_clip(clip) -> list[tuple[str, str]]:
    return strip(clip.frames, clip.timestamps)


def strip_for_run(path: str | None, run, limits: video.VideoLimits) -> list[tuple[str, str]]:
    """The strip of a recorded run, decoded again from ``path`` (the library's copy) at the
    run's frames; empty when the video is gone or does not decode."""
    if not path or not run.frames:
        return []
    spec = video.SamplingSpec(
        fps=float(run.fps_requested or 2.0),
        max_frames=int(run.frames),
        max_pixels=THUMB_WIDTH * THUMB_WIDTH,
    )
    try:
        clip = video.load_clip(path, spec, limits)
    except CaptionerError:
        return []
    times = run.frame_times or list(clip.timestamps)
    if list(clip.indices) != list(run.frame_indices or clip.indices) or len(times) != len(
        clip.indices
    ):
        times = list(clip.timestamps)  # another sampling than the run's: show what it is
    return strip(clip.frames, times)
