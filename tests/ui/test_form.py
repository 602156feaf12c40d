"""The caption form: one definition for the page's inputs, the API and ZeroGPU."""

from __future__ import annotations

import dataclasses

import pytest

from captioner.errors import InvalidRequest
from captioner.ui import form


def test_the_api_order_is_the_documented_one():
    assert form.NAMES == (
        "video", "preset", "prompt", "system", "profile", "model", "fps", "max_frames",
        "max_pixels", "max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
        "presence_penalty", "seed", "think", "language", "style", "length", "allow_hanja",
        "long",
    )  # fmt: skip
    names = {f.name for f in dataclasses.fields(form.Form)}
    assert set(form.NAMES) <= names  # every field has a place in the Form


def test_values_by_name_become_a_request():
    f = form.Form.from_values({"video": "a.mp4", "preset": "timeline", "max_frames": 8,
                               "seed": 3, "language": "English", "style": "haeyo",
                               "presence_penalty": 0, "allow_hanja": True, "unknown": 1})  # fmt: skip
    request = f.request()
    assert f.lang == "en" and request.video == "a.mp4" and request.max_frames == 8
    assert request.options.seed == 3 and request.options.presence_penalty is None
    assert request.options.allow_hanja and request.style == "haeyo"
    assert request.long is None  # not sent: decided by the video's length
    assert form.Form.from_values({"long": True}).request().long is True
    assert form.Form.from_values({"long": False}).request().long is False
    cleared = form.Form.from_values({"max_frames": None, "seed": None, "fps": ""})
    assert (cleared.max_frames, cleared.seed, cleared.fps) == (0, -1, 2.0)


@pytest.mark.parametrize(("name", "value"), [("max_pixels", 10**12), ("seed", 2**64),
                                             ("max_new_tokens", 0), ("fps", float("nan")),
                                             ("top_k", "many"), ("max_frames", -2)])  # fmt: skip
def test_numbers_outside_their_range_are_refused_in_both_languages(name, value):
    with pytest.raises(InvalidRequest) as info:
        form.Form.from_values({name: value})
    assert name in info.value.en and name in info.value.ko


def test_the_pixel_ceiling_is_full_hd():
    assert form.BY_NAME["max_pixels"].high == 1920 * 1080 == form.MAX_PIXELS_CEILING


def test_gpu_seconds_read_named_fields_and_grow_with_frames_and_tokens():
    small = form.gpu_seconds({"max_frames": 8, "max_new_tokens": 256})
    large = form.gpu_seconds({"max_frames": 64, "max_new_tokens": 4096})
    assert 60 <= small < large <= 300
    assert form.gpu_seconds({}) == form.gpu_seconds({"max_frames": 32, "max_new_tokens": 1024})
    # values the form will refuse reach the duration first: they never break it
    assert form.gpu_seconds({"max_frames": "abc", "max_new_tokens": float("inf")}) == (
        form.gpu_seconds({})
    )
