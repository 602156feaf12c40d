"""captioner/video/clip.py and the package's public face: a file in, a Clip out, or a typed
error with Korean and English text for every bad input."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import media
import numpy as np
import pytest

from captioner import errors, video
from captioner.video import Clip, VideoLimits, readers

BBB_FRAMES, BBB_FPS, BBB_SIZE, BBB_SECONDS = 132, 25.0, (720, 1280), 5.28
PACKAGE = Path(video.__file__).parent


def _round_trip(clip: Clip) -> list[float]:
    from transformers.video_utils import VideoMetadata

    return VideoMetadata(**clip.processor_metadata()).timestamps


def test_public_api() -> None:
    for name in (
        "Clip",
        "VideoInfo",
        "SamplingSpec",
        "VideoLimits",
        "load_clip",
        "probe",
        "sample_indices",
        "target_size",
        "file_sha256",
        "remember_sha256",
        "clear_cache",
        "set_cache_limit",
        "VIDEO_EXTENSIONS",
        "BACKENDS",
    ):
        assert name in video.__all__ and hasattr(video, name), name
    assert callable(video.probe)  # the function, not a submodule of the same name


def test_the_package_never_reads_the_environment() -> None:
    """Limits and the cache bound come from the caller's settings, passed explicitly."""
    banned = {"environ", "getenv", "environb", "getenvb"}
    for source in PACKAGE.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            named = {getattr(node, "attr", None), getattr(node, "id", None)}
            if isinstance(node, ast.ImportFrom):
                named |= {alias.name for alias in node.names}
            assert not named & banned, f"{source.name}:{getattr(node, 'lineno', '?')}"


def test_default_limits() -> None:
    assert VideoLimits() == VideoLimits(1024 * 2**20, 1200.0, 120.0)


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


def test_unknown_or_missing_backend(cfr_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.InvalidRequest):
        video.load_clip(cfr_path, backend="opencv")
    monkeypatch.setattr(readers, "installed", lambda name: False)
    with pytest.raises(errors.MissingDependency) as missing:
        video.load_clip(cfr_path)
    assert missing.value.package == "decord"
