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

from captioner import errors, video
from captioner.video import SamplingSpec, decode

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


def test_auto_falls_back_to_pyav_when_decord_fails(
    cfr_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise decode.ReaderFailed("DECORDError: simulated")

    monkeypatch.setattr(decode, "decode_decord", broken)  # in this process, not the worker
    frames, times, used = decode.decode_job(str(cfr_path), "auto", [0, 47], 320, 448)
    assert used == "pyav" and frames.shape == (2, 320, 448, 3)
    assert np.allclose(times, [0.0, 47 / 24], atol=1e-3)
    with pytest.raises(errors.CorruptVideo):
        decode.decode_job(str(cfr_path), "decord", [0, 47], 320, 448)
