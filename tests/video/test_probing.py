"""captioner/video/probing.py: facts read from the container without decoding."""

from __future__ import annotations

import math
from pathlib import Path

import media
import numpy as np
import pytest

from captioner import errors, video
from captioner.video import VideoLimits, probing


def test_probe_reads_cfr_facts(cfr_path: Path) -> None:
    info = video.probe(cfr_path)
    assert (info.frame_count, info.avg_fps, info.width, info.height) == (48, 24.0, 320, 240)
    assert math.isclose(info.duration_s, 2.0, abs_tol=1e-6) and not info.variable_frame_rate
    assert info.size_bytes == cfr_path.stat().st_size and info.sha256 == video.file_sha256(cfr_path)
    assert np.allclose(info.frame_times, [i / 24 for i in range(48)], atol=1e-6)


def test_probe_reads_every_vfr_time(vfr_path: Path) -> None:
    info = video.probe(vfr_path)
    assert info.variable_frame_rate and info.frame_count == len(media.VFR_TIMES)
    assert np.allclose(info.frame_times, media.VFR_TIMES, atol=1e-3)
    assert math.isclose(info.duration_s, 8.04, abs_tol=0.01)


def test_probe_refuses_over_the_duration_limit(cfr_path: Path) -> None:
    with pytest.raises(errors.VideoTooLong):
        video.probe(cfr_path, VideoLimits(max_duration_s=1.99))
    assert video.probe(cfr_path, VideoLimits(max_duration_s=2.5)).duration_s == 2.0


def test_decord_probe_matches_pyav_probe(bbb: Path, vfr_path: Path) -> None:
    """Without PyAV, probing falls back to decord; both must describe the file alike."""
    for path in (bbb, vfr_path):
        facts = [probing.probe_pyav(str(path), 1e9), probing.probe_decord(str(path), 1e9)]
        a, b = (probing.info_from_probe(str(path), 1, "0", f) for f in facts)
        assert (a.frame_count, a.width, a.height) == (b.frame_count, b.width, b.height)
        assert a.variable_frame_rate == b.variable_frame_rate
        assert math.isclose(a.avg_fps, b.avg_fps, rel_tol=1e-3)
        assert np.allclose(a.frame_times, b.frame_times, atol=1e-3)


def test_facts_without_frames_are_a_corrupt_video() -> None:
    facts = {
        "pts": [],
        "time_base": 0.001,
        "frame_count": 0,
        "rate": 25.0,
        "last_duration": 0.0,
        "header_duration": 1.0,
        "width": 320,
        "height": 240,
        "codec": "h264",
    }
    with pytest.raises(errors.CorruptVideo):
        probing.info_from_probe("x.mp4", 1, "0", facts)
