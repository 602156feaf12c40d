"""The long-video measurement helpers: the scenes clip is made as said (known cuts, 720p)."""

from __future__ import annotations

import json

import pytest

from captioner import video
from captioner.dev import longvideo
from captioner.longvideo import cuts


def test_make_long_clip_writes_distinct_scenes_at_known_cuts(tmp_path):
    out = tmp_path / "long.mp4"
    facts = longvideo.make_long_clip(out, minutes=0.25, seed=1, scene_s=(3.0, 6.0))
    assert facts == json.loads(out.with_suffix(".cuts.json").read_text(encoding="utf-8"))
    source = video.open_source(out)
    assert (source.info.width, source.info.height) == (1280, 720)
    assert source.info.duration_s == pytest.approx(15.0, abs=0.1)  # the clip's length
    assert facts["scenes"] >= 3
    cut = facts["cuts_s"][0]
    spec = video.SamplingSpec(fps=2, max_frames=100, min_frames=2, max_pixels=cuts.THUMB_PIXELS)
    clip = video.load_span(source, spec, cut - 2, cut + 2)
    found = cuts.best_cut(clip.timestamps, cuts.scores(clip.frames), cut - 2, cut + 2)
    assert found is not None and cut <= found[0] <= cut + 0.5
