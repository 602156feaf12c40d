"""Fixtures for the long-video tests: small long clips written once per session (minutes of
video at 4 fps and 64x48 pixels: seconds to write, milliseconds to decode), settings that
make them long, and the fake backend in place of a model."""

from __future__ import annotations

import bisect
import dataclasses
from pathlib import Path

import media
import numpy as np
import pytest
from longvideo.fakes import FakeBackend

from captioner import engine, video

CUTS = [14.0, 28.0, 42.0, 49.0, 70.0, 95.0]  # shot changes of the scenes clip
DURATION = 120.0


def scene_at(t: float) -> int:
    return bisect.bisect_right(CUTS, t + 1e-9)


def vfr_times(duration: float, seed: int = 3) -> list[float]:
    """Irregular frame times (gaps of 0.05-0.9 s, bursts and pauses) over ``duration``."""
    rng = np.random.default_rng(seed)
    times, t = [], 0.0
    while t < duration:
        times.append(round(t, 3))
        t += float(rng.choice([0.05, 0.1, 0.25, 0.5, 0.9]))
    return times


@pytest.fixture(scope="session")
def long_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("long")


@pytest.fixture(scope="session")
def scenes_path(long_dir) -> Path:
    return media.make_scenes_video(long_dir / "scenes.mp4", CUTS, DURATION)


@pytest.fixture(scope="session")
def vfr_scenes_path(long_dir) -> Path:
    return media.make_scenes_video(long_dir / "vfr-scenes.mp4", CUTS, 90.0,
                                   times=vfr_times(90.0))  # fmt: skip


@pytest.fixture
def long_settings(settings):
    """This machine's settings, with a frame every 2 s as the threshold: the 2-minute clip
    with the CPU profile's 8 frames is long (one pass: a frame every 15 s), 8 windows."""
    return dataclasses.replace(settings, long_seconds_per_frame=2.0, long_prefetch="on")


@pytest.fixture
def fake(monkeypatch) -> FakeBackend:
    backend = FakeBackend()
    monkeypatch.setattr(engine, "open_backend", lambda *args, **kwargs: backend)
    return backend


@pytest.fixture(autouse=True)
def _fresh_video_cache():
    video.clear_cache()
    yield


def pyav_times(path: Path) -> list[float]:
    """Every frame's presentation time in seconds from the first, read by decoding with
    PyAV directly (no captioner code): what the frame times must match."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = sorted(float(frame.pts * stream.time_base) for frame in container.decode(stream))
    return [t - times[0] for t in times]


def replace(settings, **changes):
    return dataclasses.replace(settings, **changes)


@pytest.fixture(scope="session")
def bbb_path() -> Path:
    return media.bbb_path()
