"""The engine: select (the decision plus the request's choices) and describe (plan -> decode
-> load -> stream), on simulated machines and the tiny checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from captioner import engine, errors, loader
from captioner.errors import ModelDoesNotFit, UnsupportedInput
from captioner.generation import Options
from captioner.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BBB = ROOT / "assets" / "bigbuckbunny.mp4"
T4 = Settings(simulate_gpu="Tesla T4:15:7.5")


def test_select_on_a_simulated_t4_is_nf4_with_fp16_compute():
    chosen = engine.select(engine.DescribeRequest(video="x.mp4"), T4)
    assert chosen.model == "Qwen/Qwen3-VL-8B-Instruct"
    assert (chosen.precision, chosen.compute_dtype, chosen.device) == ("nf4", "float16", "cuda")
    request = chosen.model_request(engine.DescribeRequest())
    assert (request.precision, request.compute_dtype, request.device_map) == (
        "nf4",
        "float16",
        "auto",
    )
    assert chosen.plan.fits and "sm75" in chosen.reason


def test_the_default_request_reuses_the_decisions_plan():
    chosen = engine.select(engine.DescribeRequest(video="x.mp4"), T4)
    assert chosen.plan is T4.decide().video.plan
    fewer = engine.select(engine.DescribeRequest(video="x.mp4", max_frames=8), T4)
    assert fewer.plan is not chosen.plan and fewer.plan.frames == 8


def test_a_model_too_big_is_refused_with_what_fits():
    request = engine.DescribeRequest(video="x.mp4", model="Qwen/Qwen3-VL-235B-A22B-Instruct")
    with pytest.raises(ModelDoesNotFit) as info:
        engine.select(request, T4)
    assert "fits" in info.value.en and "들어갑니다" in info.value.ko


def test_text_only_models_with_a_video_are_refused_before_loading(tiny_text):
    l4 = Settings(simulate_gpu="NVIDIA L4:22.5:8.9")
    with pytest.raises(UnsupportedInput):
        engine.select(engine.DescribeRequest(video="x.mp4", model="Qwen/Qwen3-8B"), l4)
    with pytest.raises(UnsupportedInput):  # a local folder whose config has no vision tower
        engine.select(engine.DescribeRequest(video="x.mp4", model=tiny_text), l4)


def test_a_gpu_too_small_for_any_model_runs_on_the_cpu():
    chosen = engine.select(
        engine.DescribeRequest(video="x.mp4"), Settings(simulate_gpu="Old GPU:1.5:6.1")
    )
    assert chosen.profile == "cpu" and chosen.device == "cpu" and chosen.plan.fits


def test_a_chosen_gpu_profile_is_planned_for_its_own_memory():
    # "h200" chosen on a T4 plans for an H200 (a preview), warning that this machine is smaller
    chosen = engine.select(engine.DescribeRequest(video="x.mp4", profile="h200"), T4)
    assert (
        chosen.model == "Qwen/Qwen3-VL-32B-Instruct" and chosen.plan.available_bytes > 100 * 2**30
    )
    assert chosen.precision == "fp16" and "WARNING" in chosen.reason  # sm75: no bf16


def test_describe_streams_on_the_real_clip(tiny_vl, settings):
    loader.unload()
    request = engine.DescribeRequest(
        video=str(BBB), model=tiny_vl, options=Options(max_new_tokens=6, seed=0)
    )
    events = list(engine.describe(request, settings))
    kinds = [e.kind for e in events]
    assert kinds[:4] == ["status", "status", "status", "prepared"] and kinds[-1] == "done"
    prepared = events[3]
    clip = prepared.clip
    # Big Buck Bunny sample: 132 frames at 25 fps, 5.28 s; frames sampled uniformly at <= 2 fps
    assert clip.info.frame_count == 132 and clip.info.avg_fps == pytest.approx(25.0)
    assert clip.timestamps == pytest.approx([i / 25 for i in clip.indices], abs=1e-3)
    assert len(clip.indices) % 2 == 0 and 4 <= len(clip.indices) <= prepared.selection.max_frames
    assert events[-1].metrics.frames == len(clip.indices)
    runtime = settings.decide().runtime
    assert prepared.backend.loaded.request.device_map == runtime.device_map  # decided once


def test_describe_bad_video_is_an_error_event(tmp_path, tiny_vl, settings):
    bad = tmp_path / "notes.mp4"
    bad.write_text("이건 영상이 아닙니다", encoding="utf-8")
    events = list(engine.describe(engine.DescribeRequest(video=str(bad), model=tiny_vl), settings))
    assert events[-1].kind == "error" and events[-1].user_error
    assert events[-1].error.code == "not_a_video"


def test_cpu_only_precisions_are_refused_on_a_gpu():
    from captioner.settings import from_environment

    settings = from_environment(simulate_gpu="NVIDIA L4:22.5:8.9")
    with pytest.raises(errors.InvalidRequest) as caught:
        engine.select(engine.DescribeRequest(prompt="x", precision="int4"), settings)
    assert "cpu" in caught.value.en
