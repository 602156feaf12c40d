"""captioner/video/decode.py: both readers decode the sampled frames at the target size, at
their real times, and agree with each other."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import media
import numpy as np
import pytest

from captioner import video
from captioner.video import SamplingSpec, decode, probing

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_cfr_timestamps_are_real(cfr_path: Path, backend: str) -> None:
    clip = video.load_clip(cfr_path, backend=backend)
    assert clip.backend == backend
    assert clip.info.frame_count == 48 and clip.info.avg_fps == 24.0
    assert not clip.info.variable_frame_rate
    assert math.isclose(clip.info.duration_s, 2.0, abs_tol=1e-6)
    assert clip.indices == (0, 16, 31, 47)
    assert clip.frames.shape == (4, 320, 448, 3) and clip.frames.dtype == np.uint8
    for index, t in zip(clip.indices, clip.timestamps, strict=True):
        assert abs(t - index / 24) < 1e-3
    meta = clip.processor_metadata()
    assert meta["fps"] == 24.0 and meta["frames_indices"] == [0, 16, 31, 47]
    assert meta["total_num_frames"] == 48


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_vfr_timestamps_are_real(vfr_path: Path, backend: str) -> None:
    clip = video.load_clip(vfr_path, backend=backend)
    assert clip.info.variable_frame_rate
    assert clip.info.frame_count == len(media.VFR_TIMES)
    assert math.isclose(clip.info.duration_s, 8.04, abs_tol=0.01)
    for index, t in zip(clip.indices, clip.timestamps, strict=True):
        assert abs(t - media.VFR_TIMES[index]) < 2e-3  # to the millisecond
    meta = clip.processor_metadata()
    assert meta["fps"] == 1000.0  # the millisecond time base, see Clip.processor_metadata


def test_decord_and_pyav_agree(bbb: Path, vfr_path: Path) -> None:
    for path in (bbb, vfr_path):
        a = video.load_clip(path, backend="decord")
        b = video.load_clip(path, backend="pyav")
        assert (a.backend, b.backend) == ("decord", "pyav")
        assert a.indices == b.indices
        assert np.allclose(a.timestamps, b.timestamps, atol=1e-3)
        assert a.frames.shape == b.frames.shape
        # Same pictures; the two scalers differ by a few levels at edges.
        assert np.abs(a.frames.astype(int) - b.frames).mean() < 3


def test_4k_is_decoded_at_target_size(uhd_path: Path) -> None:
    spec = SamplingSpec()
    for backend in ("decord", "pyav"):
        clip = video.load_clip(uhd_path, spec, backend=backend)
        assert clip.frames.shape[1:] == (320, 576, 3)
        assert clip.frames.nbytes <= spec.max_frames * spec.max_pixels * 3  # 19 MB, never 4K


_RSS_SCRIPT = """
import sys
import numpy as np
from captioner.video import decode
import av, decord

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

base = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
path, mode = sys.argv[1], sys.argv[2]
if mode == "full":  # the naive way, for scale: every frame decoded to full-size RGB
    with av.open(path) as c:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
else:
    fn = decode.decode_pyav if mode == "pyav" else decode.decode_decord
    frames, _ = fn(path, list(range(0, 24, 2)), 320, 576)
print(status("VmHWM") - base)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc peak RSS")
def test_4k_decode_peak_memory_is_bounded(uhd_path: Path) -> None:
    """Peak RSS of decoding 12 of 24 4K frames, in a fresh process (what the worker does)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def peak(mode: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _RSS_SCRIPT, str(uhd_path), mode],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return int(out.stdout.strip().splitlines()[-1])

    full_rgb = 24 * 3840 * 2160 * 3  # 597 MB if full-size frames of the clip were kept
    for mode in ("pyav", "decord"):
        # Measured ~105-115 MB: FFmpeg's own frame-thread buffers, not our frames.
        assert peak(mode) < 250 * 2**20, mode
    assert peak("full") > full_rgb  # the measurement can see what we avoid


# --- PyAV seeks per wanted frame, and returns exactly what decoding from the start does ---
def _seek_cases(root: Path) -> dict[str, Path]:
    root.mkdir(exist_ok=True)
    return {
        "cfr_gop12_bframes": media.make_video(root / "a.mp4", n_frames=120, gop=12, bframes=2),
        "mkv_gop12_bframes": media.make_video(root / "a.mkv", n_frames=120, gop=12, bframes=2),
        "mov_gop10": media.make_video(root / "a.mov", n_frames=90, gop=10),
        "avi_gop12": media.make_video(root / "a.avi", n_frames=120, gop=12),
        "vfr_gop5": media.make_vfr_video(root / "vfr.mp4", media.VFR_TIMES, gop=5),
        "bbb": media.bbb_path(),
    }


def _wanted(path: Path, spec: SamplingSpec) -> tuple[list[int], int, int, probing.FrameIndex]:
    facts = probing.probe_job(str(path), 1e9)
    info = probing.info_from_probe(str(path), 1, "0", facts)
    index = probing.frame_index(facts)
    assert index is not None
    return (
        video.sample_indices(info, spec),
        *video.target_size(info.height, info.width, spec),
        index,
    )


@pytest.mark.parametrize("spec", [SamplingSpec(), SamplingSpec(fps=8.0, max_frames=64)])
def test_seeking_returns_the_frames_of_the_sequential_path(
    tmp_path: Path, spec: SamplingSpec
) -> None:
    for name, path in _seek_cases(tmp_path / "seek").items():
        indices, height, width, index = _wanted(path, spec)
        seek_frames, seek_times = decode.decode_pyav_seeking(
            str(path), indices, height, width, index
        )
        seq_frames, seq_times = decode.decode_pyav_sequential(str(path), indices, height, width)
        assert np.array_equal(seek_frames, seq_frames), name  # the same pictures, bit for bit
        assert seek_times == seq_times, name
        if name != "bbb":  # our own clips show their frame number: the right frames, too
            n_frames = len(index.pts)
            assert [media.which_frame(f, n_frames) for f in seek_frames] == indices, name
        if path.suffix == ".avi":
            continue  # decord misreads AVI (see readers.order); auto never uses it there
        decord_frames, decord_times = decode.decode_decord(str(path), indices, height, width)
        assert np.abs(decord_frames.astype(int) - seek_frames).mean() < 3, name
        assert np.allclose(decord_times, seek_times, atol=1e-3), name


def test_seeking_skips_whole_groups_of_pictures(tmp_path: Path) -> None:
    path = media.make_video(tmp_path / "long.mp4", n_frames=240, gop=24)
    indices, _, _, index = _wanted(path, SamplingSpec(max_frames=4, min_frames=4))
    assert indices == [0, 80, 159, 239]
    assert index.decode_work(indices) == 1 + 9 + 16 + 24  # of 240 frames in sequence


def test_an_unreliable_seek_falls_back_to_decoding_from_the_start(tmp_path: Path) -> None:
    """AVI stores no presentation times: with B-frames a seek cannot name its frame."""
    path = media.make_video(tmp_path / "b.avi", n_frames=120, gop=12, bframes=2)
    indices, height, width, index = _wanted(path, SamplingSpec())
    with pytest.raises(decode._SeekUnreliable):
        decode.decode_pyav_seeking(str(path), indices, height, width, index)
    frames, times = decode.decode_pyav(str(path), indices, height, width, index)
    expected = decode.decode_pyav_sequential(str(path), indices, height, width)
    assert np.array_equal(frames, expected[0]) and times == expected[1]


def test_decords_budget_grows_with_the_work_within_bounds() -> None:
    limit = 120.0
    small = decode.decord_budget_s(10, 320, 240, limit)
    assert small == decode.DECORD_MIN_S  # seconds, however small the clip
    hd = decode.decord_budget_s(1597, 1280, 720, limit)  # 60 s of 720p, 32 frames wanted
    assert decode.DECORD_MIN_S < hd < limit / 2
    assert decode.decord_budget_s(36_000, 3840, 2160, limit) == limit / 2  # PyAV keeps half
