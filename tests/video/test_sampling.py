"""captioner/video/sampling.py: target sizes, frame budgets and which frames are taken."""

from __future__ import annotations

import math

import media
import pytest

from captioner import errors, video
from captioner.video import SamplingSpec, VideoInfo


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
    small = SamplingSpec(max_pixels=224 * 224, min_pixels=64 * 64)
    assert video.target_size(720, 1280, small) == (160, 288)


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
        (10.0, None, SamplingSpec(max_frames=1, min_frames=1), 1),  # a cap of 1 is not 0
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
    if min(info.frame_count, spec.max_frames) >= 2:
        assert len(indices) % 2 == 0


def test_sampling_is_uniform_in_time_for_vfr() -> None:
    times = tuple(float(t) for t in media.VFR_TIMES)
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
    for bad in ({"fps": 0}, {"max_frames": 0}, {"max_pixels": 100}, {"fps": math.nan}):
        with pytest.raises(errors.InvalidRequest) as caught:
            SamplingSpec(**bad)
        assert "샘플링" in caught.value.ko and "sampling" in caught.value.en


def test_small_budgets_lower_qwens_floors() -> None:
    spec = SamplingSpec(min_frames=8, max_frames=4, max_pixels=160 * 128)
    assert (spec.min_frames, spec.min_pixels) == (4, 160 * 128)


def test_sample_span_takes_whole_video_indices_from_a_time_range() -> None:
    info = _info(100.0, fps=25.0, frame_times=tuple(i / 25 for i in range(2500)))
    spec = SamplingSpec(fps=2.0, max_frames=8)
    spans = [(0.0, 20.0), (20.0, 40.0), (40.0, 100.0)]
    taken = [video.sample_span(info, spec, a, b) for a, b in spans]
    for (a, b), indices in zip(spans, taken, strict=True):
        assert len(indices) == 8 and indices == sorted(set(indices))
        assert all(a <= i / 25 < b for i in indices)
    assert taken[0] == [31, 94, 156, 219, 281, 344, 406, 469]  # the middles of 8 equal shares
    assert not set(taken[0]) & set(taken[1])
    assert video.sample_span(info, spec, 99.9, 100.0) == [2498, 2499]  # the last frame counts
    assert video.sample_span(info, SamplingSpec(fps=2.0, max_frames=32), 0.0, 3.0) == [
        6, 19, 31, 44, 56, 69  # 3 s at 2 fps: 6 frames, under the cap
    ]  # fmt: skip
    assert video.sample_span(info, spec, 200.0, 210.0) == []


def test_sample_span_on_variable_frame_rate_is_uniform_in_time() -> None:
    times = media.VFR_TIMES
    info = _info(8.05, fps=len(times) / 8.05, frame_count=len(times), frame_times=tuple(times),
                 variable_frame_rate=True)  # fmt: skip
    indices = video.sample_span(info, SamplingSpec(fps=2.0, max_frames=4), 3.0, 8.05)
    assert len(indices) == 4 and all(3.0 <= times[i] for i in indices)
    chosen = [times[i] for i in indices]
    assert chosen[0] < 5.0 and chosen[-1] == 8.0  # spread over the range, not bunched
