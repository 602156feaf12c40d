"""captioner/video/cache.py: decoded clips reused by content, bounded in bytes."""

from __future__ import annotations

from pathlib import Path

import media
import pytest

from captioner import errors, video
from captioner.video import SamplingSpec, worker


def test_cache_hit_and_misses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = media.make_video(tmp_path / "c.mp4", n_frames=48)
    first = video.load_clip(path)
    assert not first.from_cache
    assert not first.frames.flags.writeable  # shared between callers: read-only

    with monkeypatch.context() as m:  # a hit never reaches the worker
        m.setattr(worker.WORKER, "call", lambda *a: pytest.fail("decoded again"))
        second = video.load_clip(path)
    assert second.from_cache and second.frames is first.frames

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


def test_cache_is_bounded(tmp_path: Path) -> None:
    path = media.make_video(tmp_path / "c.mp4", n_frames=48)
    clip = video.load_clip(path)  # 4 x 320 x 448 x 3 = 1.7 MB
    video.set_cache_limit(int(clip.frames.nbytes * 1.5))
    video.clear_cache()
    video.load_clip(path)
    video.load_clip(path, SamplingSpec(fps=1.0, min_frames=4))  # evicts the first
    assert video.load_clip(path, SamplingSpec(fps=1.0, min_frames=4)).from_cache
    assert not video.load_clip(path).from_cache


def test_lowering_the_limit_evicts_at_once_and_zero_caches_nothing(cfr_path: Path) -> None:
    video.load_clip(cfr_path)
    video.set_cache_limit(0)
    assert not video.load_clip(cfr_path).from_cache
    assert not video.load_clip(cfr_path).from_cache


@pytest.mark.parametrize("bad", [-1, 1.5, "512", True, None])
def test_bad_cache_limit_is_a_typed_error(bad: object) -> None:
    with pytest.raises(errors.InvalidRequest):
        video.set_cache_limit(bad)  # type: ignore[arg-type]
