"""Hardware facts and the profile choice, on simulated machines (no GPU needed)."""

from __future__ import annotations

import pytest

from captioner import catalog, errors, hardware, profiles
from captioner.hardware import GPU, Hardware

GiB = hardware.GiB


def pick(spec: str):
    return profiles.pick(hardware.simulate(spec), override="")


# --- hardware ----------------------------------------------------------------------------
def test_simulate_parses_name_memory_capability_and_count():
    t4 = hardware.simulate("Tesla T4:15:7.5")
    assert t4.kind == "cuda" and t4.gpu_count == 1 and t4.simulated
    assert t4.gpus[0] == GPU(0, "Tesla T4", 15 * GiB, (7, 5))
    assert not t4.bf16 and not t4.gpus[0].bf16  # sm75: never bf16, whatever torch claims
    h100 = hardware.simulate("NVIDIA H100 80GB HBM3:80:9.0:8")
    assert h100.gpu_count == 8 and h100.bf16
    assert h100.gpu_memory_bytes == 8 * 80 * GiB and h100.smallest_gpu_memory_bytes == 80 * GiB
    assert hardware.simulate("odd:name:24:sm86").gpus[0].name == "odd:name"
    assert hardware.simulate("cpu").kind == "cpu"
    mps = hardware.simulate("mps:16")
    assert mps.kind == "mps" and mps.ram_bytes == 16 * GiB


@pytest.mark.parametrize("bad", ["", "T4", "Tesla T4:15", "Tesla T4:x:7.5", "Tesla T4:15:seven", ":15:7.5",
                                 "Tesla T4:-1:7.5", "Tesla T4:15:7.5:0", "cpu:lots"])  # fmt: skip
def test_simulate_refuses_bad_strings_in_both_languages(bad):
    with pytest.raises(errors.InvalidRequest) as info:
        hardware.simulate(bad)
    assert "시뮬레이션" in info.value.ko and "NAME:MEMORY_GB:CAPABILITY" in info.value.en


def test_bf16_starts_at_sm80():
    assert GPU(0, "A100", 40 * GiB, (8, 0)).bf16
    assert not GPU(0, "V100", 32 * GiB, (7, 0)).bf16
    mixed = Hardware((GPU(0, "A", GiB, (8, 0)), GPU(1, "B", GiB, (7, 5))), False, "cpu", 2, GiB)
    assert not mixed.bf16


def test_describe_is_one_line_in_english_and_korean():
    line = hardware.simulate("Tesla T4:15:7.5").describe()
    assert (
        "1× Tesla T4 (15.0 GB, sm75)" in line and "[simulated]" in line and "[시뮬레이션]" in line
    )
    assert "\n" not in line
    assert "8× NVIDIA H100" in hardware.simulate("NVIDIA H100 80GB HBM3:80:9.0:8").describe()
    assert "GPU 없음" in hardware.simulate("cpu").describe()


def test_detect_is_cached_and_reads_this_machine():
    hw = hardware.detect()
    assert hw is hardware.detect()
    assert hw.ram_bytes > 0 and hw.cpu_count >= 1 and not hw.simulated
    assert hw.kind in ("cuda", "mps", "cpu")


# --- profiles table ----------------------------------------------------------------------
def test_profiles_table_is_consistent():
    names = [p.name for p in profiles.PROFILES]
    assert len(names) == len(set(names))
    assert {"cpu", "mps", "t4", "l4", "a100-40", "a100-80", "h100", "h200", "multi-gpu"} <= set(
        names
    )
    for p in profiles.PROFILES:
        assert catalog.get(p.video_model).supports_video
        assert not catalog.get(p.text_model).supports_video
        assert p.attn_implementation == "sdpa"
        assert p.max_frames % 2 == 0 and p.max_pixels % 1024 == 0
        assert (p.device_map is None) == (p.kind == "cpu")
        if p.precision == "bf16" or p.compute_dtype == "bfloat16":
            assert p.name not in ("t4", "mps")
    with pytest.raises(errors.InvalidRequest):
        profiles.get("tpu")


# --- pick() --------------------------------------------------------------------------------
def test_t4_gets_fp16_compute_and_nf4():
    c = pick("Tesla T4:15:7.5")
    assert c.profile.name == "t4"
    assert (c.video_model, c.precision, c.compute_dtype) == (
        "Qwen/Qwen3-VL-8B-Instruct",
        "nf4",
        "float16",
    )
    assert c.text_model == "Qwen/Qwen3-4B" and c.text_precision == "fp16"
    assert c.max_frames == 32 and c.device_map == "auto" and c.fits
    assert "sm75 has no native bf16" in c.reason and "NF4" in c.reason and "32 frames" in c.reason
    assert "bf16" in c.reason_ko


@pytest.mark.parametrize("gpu", ["NVIDIA L4:22.5:8.9", "NVIDIA A10G:22.5:8.6"])
def test_24gb_cards_run_8b_in_bf16(gpu):
    c = pick(gpu)
    assert c.profile.name == "l4"
    assert (c.video_model, c.precision, c.compute_dtype) == (
        "Qwen/Qwen3-VL-8B-Instruct",
        "bf16",
        "bfloat16",
    )
    assert c.text_model == "Qwen/Qwen3-8B" and c.max_frames >= 32


def test_a100_40():
    c = pick("NVIDIA A100-SXM4-40GB:39.5:8.0")
    assert c.profile.name == "a100-40"
    assert (c.video_model, c.precision, c.text_model) == (
        "Qwen/Qwen3-VL-8B-Instruct",
        "bf16",
        "Qwen/Qwen3-14B",
    )


@pytest.mark.parametrize(("gpu", "name"), [("NVIDIA A100-SXM4-80GB:79.2:8.0", "a100-80"),
                                           ("NVIDIA H100 80GB HBM3:79.2:9.0", "h100")])  # fmt: skip
def test_80gb_cards_run_32b_in_bf16(gpu, name):
    c = pick(gpu)
    assert c.profile.name == name
    assert (c.video_model, c.precision, c.text_model) == (
        "Qwen/Qwen3-VL-32B-Instruct",
        "bf16",
        "Qwen/Qwen3-32B",
    )


def test_h200_gets_a_bigger_frame_budget_than_h100():
    h200, h100 = pick("NVIDIA H200:139.8:9.0"), pick("NVIDIA H100 80GB HBM3:79.2:9.0")
    assert h200.profile.name == "h200" and h200.video_model == "Qwen/Qwen3-VL-32B-Instruct"
    assert h200.max_frames > h100.max_frames


def test_eight_h100s_run_235b_across_gpus():
    c = pick("NVIDIA H100 80GB HBM3:80:9.0:8")
    assert c.profile.name == "multi-gpu" and c.device_map == "auto"
    assert (c.video_model, c.precision) == ("Qwen/Qwen3-VL-235B-A22B-Instruct", "bf16")
    assert c.text_model == "Qwen/Qwen3-235B-A22B"


def test_two_h100s_are_too_small_for_235b_and_the_planner_says_so():
    c = pick("NVIDIA H100 80GB HBM3:80:9.0:2")
    assert c.profile.name == "multi-gpu"
    assert c.video_model == "Qwen/Qwen3-VL-32B-Instruct" and "does not fit" in c.reason


def test_unknown_48gb_gpu_gets_the_largest_model_that_fits():
    c = pick("NVIDIA RTX A6000:48:8.6")
    assert c.profile.name == "gpu" and c.fits
    # 32B bf16 (62 GB) cannot fit; 30B-A3B stays ~56 GB even in NF4 (experts are not quantized)
    assert (c.video_model, c.precision, c.compute_dtype) == (
        "Qwen/Qwen3-VL-32B-Instruct",
        "nf4",
        "bfloat16",
    )
    assert c.max_frames >= profiles.MIN_FRAMES


def test_unknown_tiny_gpus_fall_back_instead_of_crashing():
    small = pick("Some GPU:4:7.5")
    assert (small.video_model, small.precision, small.compute_dtype) == (
        "Qwen/Qwen3-VL-2B-Instruct", "nf4", "float16")  # fmt: skip
    assert small.max_frames >= profiles.MIN_FRAMES_FLOOR
    tiny = pick("Old GPU:1.5:6.1")
    assert tiny.profile.name == "cpu" and "CPU" in tiny.reason and tiny.device_map is None


def test_cpu_dtype_is_measured_on_the_real_machine():
    from captioner.loader import measure_cpu_dtype

    base = dict(gpus=(), mps=False, cpu_name="test", cpu_count=2, ram_bytes=24 * GiB)
    real = profiles.pick(Hardware(**base, cpu_flags=frozenset({"avx512f"})), override="")
    assert (real.profile.name, real.video_model, real.text_model) == (
        "cpu", "Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-0.6B")  # fmt: skip
    assert real.precision == measure_cpu_dtype()[0] and "measured" in real.reason


def test_simulated_cpu_dtype_follows_flags():
    base = dict(
        gpus=(), mps=False, cpu_name="test", cpu_count=2, ram_bytes=24 * GiB, simulated=True
    )
    plain = profiles.pick(Hardware(**base, cpu_flags=frozenset({"avx2"})), override="")
    assert plain.precision == "fp32" and "no native bf16" in plain.reason
    amx = profiles.pick(
        Hardware(**base, cpu_flags=frozenset({"avx512_bf16", "amx_bf16"})), override=""
    )
    assert amx.precision == "bf16" and "AMX" in amx.reason
    little_ram = profiles.pick(Hardware(**{**base, "ram_bytes": 8 * GiB}), override="")
    assert little_ram.precision == "bf16"  # fp32 2B (7.9 GB) does not fit 6 GB of usable RAM


def test_mps_uses_fp16():
    c = pick("mps:16")
    assert c.profile.name == "mps" and c.precision == "fp16" and c.compute_dtype == "float16"
    assert c.video_model == "Qwen/Qwen3-VL-2B-Instruct"


def test_env_override_forces_a_profile(monkeypatch):
    monkeypatch.setenv(profiles.ENV_OVERRIDE, "t4")
    c = profiles.pick(hardware.simulate("NVIDIA H100 80GB HBM3:79.2:9.0"))
    assert c.forced and c.profile.name == "t4" and profiles.ENV_OVERRIDE in c.reason
    assert c.precision == "nf4"
    monkeypatch.setenv(profiles.ENV_OVERRIDE, "nonsense")
    with pytest.raises(errors.InvalidRequest):
        profiles.pick(hardware.simulate("Tesla T4:15:7.5"))
    monkeypatch.setenv(profiles.ENV_OVERRIDE, "auto")
    assert not profiles.pick(hardware.simulate("Tesla T4:15:7.5")).forced


def test_forcing_a_bf16_profile_on_a_t4_uses_fp16_and_warns():
    c = profiles.pick(hardware.simulate("Tesla T4:15:7.5"), override="h100")
    assert c.forced and c.precision == "fp16" and c.compute_dtype == "float16"
    assert not c.fits and "WARNING" in c.reason


def test_this_machine_gets_a_working_choice():
    c = profiles.pick(hardware.detect(), override="")
    assert c.fits and c.max_frames >= profiles.MIN_FRAMES_FLOOR
    assert catalog.get(c.video_model).supports_video
