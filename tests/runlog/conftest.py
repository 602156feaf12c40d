"""Fixtures for the run log tests: a fresh log file per test and a small real clip."""

from __future__ import annotations

from pathlib import Path

import pytest
from media import make_video

from captioner import runlog


@pytest.fixture
def db(tmp_path) -> runlog.RunLog:
    with runlog.RunLog(tmp_path / "runs.sqlite3") as run_log:
        yield run_log


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", n_frames=12, fps=12, width=96)
