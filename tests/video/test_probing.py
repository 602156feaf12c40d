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


def test_keyframes_are_found(tmp_path: Path) -> None:
    path = media.make_video(tmp_path / "gop.mp4", n_frames=60, fps=24, gop=12, bframes=2)
    facts = probing.probe_job(str(path), 1e9)
    index = probing.frame_index(facts)
    assert index is not None and len(index.pts) == 60
    assert index.keyframes == (0, 12, 24, 36, 48)
    assert list(index.pts) == sorted(index.pts)  # presentation order, though stored out of it


def test_frame_index_arithmetic() -> None:
    index = probing.FrameIndex(pts=tuple(range(0, 1000, 10)), keyframes=(0, 25, 50, 75))
    assert [index.keyframe_before(i) for i in (0, 24, 25, 26, 99)] == [0, 0, 25, 25, 75]
    # 10 -> from 0 (11 frames); 20 -> on from 10 (10); 60 -> from 50 (11); 62 -> on (2)
    assert index.decode_work([10, 20, 60, 62]) == 11 + 10 + 11 + 2
    assert index.decode_work([99]) == 25  # from keyframe 75
    assert probing.FrameIndex(pts=tuple(range(100)), keyframes=(0,)).decode_work([99]) == 100


def test_frame_index_is_refused_where_timestamps_do_not_name_frames() -> None:
    facts = {"pts": [0, 1, 1, 2], "keyframes": [0], "frame_count": 4}
    assert probing.frame_index(facts) is None  # two frames share a timestamp
    assert probing.frame_index({**facts, "pts": [0, 1, 2]}) is None  # one frame has none
    index = probing.frame_index({**facts, "pts": [0, 1, 2, 3], "keyframes": [2]})
    assert index is not None and index.keyframes == (0, 2)  # decoding can always start at 0


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
