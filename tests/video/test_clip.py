"""captioner/video/clip.py and the package's public face: a file in, a Clip out, or a typed
error with Korean and English text for every bad input."""

from __future__ import annotations

import ast
import math
import time
from pathlib import Path

import faulty_readers
import media
import numpy as np
import pytest

from captioner import errors, video
from captioner.video import Clip, VideoLimits, decode, readers, worker

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
        "wav": (media.make_audio_only(root / "tone.wav"), errors.NotAVideo),  # not on the list
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
    # PyAV probes every file (behind the container allow-list): required for any reader.
    monkeypatch.setattr(readers, "installed", lambda name: name == "decord")
    for backend in ("auto", "decord", "pyav"):
        with pytest.raises(errors.MissingDependency) as missing:
            video.load_clip(cfr_path, backend=backend)
        assert missing.value.package == "av"
    with pytest.raises(errors.MissingDependency):
        video.probe(cfr_path)
    monkeypatch.setattr(readers, "installed", lambda name: name == "av")
    with pytest.raises(errors.MissingDependency) as missing:
        video.load_clip(cfr_path, backend="decord")
    assert missing.value.package == "decord"


def test_without_decord_auto_reads_with_pyav(
    cfr_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where decord has no wheel (ARM Linux, Apple Silicon), auto is PyAV, not a retry."""
    monkeypatch.setattr(readers, "installed", lambda name: name == "av")
    clip = video.load_clip(cfr_path)
    assert (clip.backend, clip.retried) == ("pyav", False)


def test_timestamps_come_from_the_probe_whichever_reader(tmp_path: Path) -> None:
    """decord reports no times for AVI (every frame at 0 s); the clip's times are still real."""
    avi = media.make_video(tmp_path / "clip.avi", n_frames=48, fps=24)
    for backend in ("decord", "pyav"):
        clip = video.load_clip(avi, backend=backend)
        assert clip.backend == backend
        assert np.allclose(clip.timestamps, [i / 24 for i in clip.indices], atol=1e-6), backend
        assert clip.processor_metadata()["frames_indices"] == list(clip.indices)


def test_auto_reads_avi_with_pyav(tmp_path: Path) -> None:
    """decord returns the wrong frames from an AVI with several keyframes: auto avoids it."""
    avi = media.make_video(tmp_path / "gop.avi", n_frames=120, fps=24, gop=12)
    clip = video.load_clip(avi)
    assert (clip.backend, clip.info.container) == ("pyav", "avi")
    assert [media.which_frame(f, 120) for f in clip.frames] == list(clip.indices)
    mp4 = media.make_video(tmp_path / "gop.mp4", n_frames=120, fps=24, gop=12, bframes=2)
    clip = video.load_clip(mp4)
    assert clip.backend == "decord"
    assert [media.which_frame(f, 120) for f in clip.frames] == list(clip.indices)


# --- a reader that hangs, crashes or refuses: retried on PyAV ---------------------------
def _decode_jobs_sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the decode jobs the worker is sent from now on."""
    sent: list[str] = []
    real_call = worker.WORKER.call

    def spy(job, args, timeout_s):
        sent.append(job.__name__)
        return real_call(job, args, timeout_s)

    monkeypatch.setattr(worker.WORKER, "call", spy)
    return sent


def test_a_hung_decord_is_retried_on_pyav_well_before_the_deadline(
    cfr_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = video.load_clip(cfr_path, backend="pyav")
    video.probe(cfr_path)  # a warm worker
    video.clear_cache()  # (and no remembered probe)
    pid = worker.WORKER.pid
    monkeypatch.setitem(decode.JOBS, "decord", faulty_readers.hang)
    sent = _decode_jobs_sent(monkeypatch)
    limits = VideoLimits()  # the full 120 s deadline
    started = time.monotonic()
    clip = video.load_clip(cfr_path, limits=limits)
    elapsed = time.monotonic() - started
    assert elapsed < limits.decode_timeout_s / 4  # liveness: seconds, not the deadline
    assert sent == ["probe_job", "hang", "decode_pyav"]
    assert clip.backend == "pyav" and clip.retried
    assert clip.retry_reason.startswith("decord timed out after")
    assert np.array_equal(clip.frames, expected.frames) and clip.timestamps == expected.timestamps
    assert worker.WORKER.pid != pid  # the hung process was killed and replaced


@pytest.mark.parametrize(
    "stand_in,reason",
    [(faulty_readers.crash, "decord crashed"), (faulty_readers.refuse, "decord failed")],
)
def test_a_crashed_or_failing_decord_is_retried_on_pyav(
    cfr_path: Path, monkeypatch: pytest.MonkeyPatch, stand_in, reason: str
) -> None:
    monkeypatch.setitem(decode.JOBS, "decord", stand_in)
    clip = video.load_clip(cfr_path)
    assert clip.backend == "pyav" and clip.retry_reason.startswith(reason)
    assert clip.frames.shape == (4, 320, 448, 3)


def test_no_retry_when_decord_was_asked_for(
    cfr_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(decode.JOBS, "decord", faulty_readers.refuse)
    with pytest.raises(errors.CorruptVideo):
        video.load_clip(cfr_path, backend="decord")
    monkeypatch.setitem(decode.JOBS, "decord", faulty_readers.crash)
    with pytest.raises(errors.CorruptVideo):
        video.load_clip(cfr_path, backend="decord")


def test_the_timeout_message_shows_the_configured_limit(
    cfr_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both readers hang: the error names the limit the operator set, not what was left."""
    video.probe(cfr_path)  # a warm worker
    monkeypatch.setitem(decode.JOBS, "decord", faulty_readers.hang)
    monkeypatch.setitem(decode.JOBS, "pyav", faulty_readers.hang)
    with pytest.raises(errors.DecodeTimeout) as late:
        video.load_clip(cfr_path, limits=VideoLimits(decode_timeout_s=6.5))
    assert "6.5초" in late.value.ko and "(6.5 s)" in late.value.en


def test_a_source_decodes_ranges_with_whole_video_times(bbb: Path, monkeypatch) -> None:
    """open_source probes once; load_span decodes one range, uncached, times in the video."""
    from captioner.video import cache, clip

    source = video.open_source(bbb)
    assert source.info.frame_count == BBB_FRAMES and source.index is not None
    spec = video.SamplingSpec(fps=2.0, max_frames=4)
    part = video.load_span(source, spec, 2.0, 4.0)
    assert part.indices == (56, 69, 81, 94) and part.frames.shape[0] == 4
    assert part.timestamps == pytest.approx([i / BBB_FPS for i in part.indices], abs=1e-3)
    assert not part.frames.flags.writeable and cache.CACHE.get((source.info.sha256,
        source.info.size_bytes, spec, "auto")) is None  # fmt: skip
    # the clip that follows the probe of the same file does not demux it again
    monkeypatch.setattr(clip, "probe_job", lambda *a: (_ for _ in ()).throw(AssertionError))
    assert video.load_clip(bbb).info.frame_count == BBB_FRAMES
    with pytest.raises(errors.CorruptVideo):
        video.load_span(source, spec, 10.0, 12.0)  # past the end: no frames there
