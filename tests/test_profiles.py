"""The one decision (profiles.decide): models, precision, device and frames per machine."""

from __future__ import annotations

import dataclasses

import pytest

from captioner import catalog, cpuspeed, errors, hardware, precision, profiles
from captioner.cpu_attention import CPU_SDPA
from captioner.hardware import Hardware
from captioner.precision import GiB


def pick(spec: str, profile: str = "auto") -> profiles.Decision:
    return profiles.decide(hardware.simulate(spec), profile)


def cpu(flags=frozenset(), speedup=None, ram_gb=24, simulated=False) -> Hardware:
    return Hardware((), False, "test cpu", 2, ram_gb * GiB, frozenset(flags), simulated, speedup)


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
        assert p.max_frames % 2 == 0 and p.max_pixels % 1024 == 0
        assert p.video_precision in (profiles.NATIVE, "nf4") and p.text_precision == profiles.NATIVE
    for row in cpuspeed.TABLE:  # the CPU table names real catalog models and CPU precisions
        assert catalog.get(row.model).supports_video
        assert "cpu" in precision.get(row.precision).devices and row.kind in ("avx512_bf16", "avx2")
    with pytest.raises(errors.InvalidRequest):
        profiles.get("tpu")


# --- decide() --------------------------------------------------------------------------------
def test_t4_gets_fp16_compute_and_nf4():
    c = pick("Tesla T4:15:7.5")
    assert c.profile.name == "t4"
    assert (c.video.model, c.video.precision, c.runtime.compute_dtype(c.video.precision)) == (
        "Qwen/Qwen3-VL-8B-Instruct",
        "nf4",
        "float16",
    )
    assert c.text.model == "Qwen/Qwen3-4B" and c.text.precision == "fp16"
    assert c.max_frames == 32 and c.runtime.device_map == "auto" and c.fits
    assert "sm75 has no native bf16" in c.reason and "NF4" in c.reason and "32 frames" in c.reason
    assert "bf16" in c.reason_ko


@pytest.mark.parametrize("gpu", ["NVIDIA L4:22.5:8.9", "NVIDIA A10G:22.5:8.6"])
def test_24gb_cards_run_8b_in_bf16(gpu):
    c = pick(gpu)
    assert c.profile.name == "l4"
    assert (c.video.model, c.video.precision, c.runtime.compute_dtype(c.video.precision)) == (
        "Qwen/Qwen3-VL-8B-Instruct",
        "bf16",
        "bfloat16",
    )
    assert c.text.model == "Qwen/Qwen3-8B" and c.max_frames >= 32


def test_a100_40():
    c = pick("NVIDIA A100-SXM4-40GB:39.5:8.0")
    assert c.profile.name == "a100-40"
    assert (c.video.model, c.video.precision, c.text.model) == (
        "Qwen/Qwen3-VL-8B-Instruct",
        "bf16",
        "Qwen/Qwen3-14B",
    )


@pytest.mark.parametrize(("gpu", "name"), [("NVIDIA A100-SXM4-80GB:79.2:8.0", "a100-80"),
                                           ("NVIDIA H100 80GB HBM3:79.2:9.0", "h100")])  # fmt: skip
def test_80gb_cards_run_32b_in_bf16(gpu, name):
    c = pick(gpu)
    assert c.profile.name == name
    assert (c.video.model, c.video.precision, c.text.model) == (
        "Qwen/Qwen3-VL-32B-Instruct",
        "bf16",
        "Qwen/Qwen3-32B",
    )


def test_h200_gets_a_bigger_frame_budget_than_h100():
    h200, h100 = pick("NVIDIA H200:139.8:9.0"), pick("NVIDIA H100 80GB HBM3:79.2:9.0")
    assert h200.profile.name == "h200" and h200.video.model == "Qwen/Qwen3-VL-32B-Instruct"
    assert h200.max_frames > h100.max_frames


def test_eight_h100s_run_235b_across_gpus():
    c = pick("NVIDIA H100 80GB HBM3:80:9.0:8")
    assert c.profile.name == "multi-gpu" and c.runtime.device_map == "auto"
    assert (c.video.model, c.video.precision) == ("Qwen/Qwen3-VL-235B-A22B-Instruct", "bf16")
    assert c.text.model == "Qwen/Qwen3-235B-A22B"


def test_two_h100s_are_too_small_for_235b_and_the_planner_says_so():
    c = pick("NVIDIA H100 80GB HBM3:80:9.0:2")
    assert c.profile.name == "multi-gpu"
    assert c.video.model == "Qwen/Qwen3-VL-32B-Instruct" and "does not fit" in c.reason


def test_unknown_48gb_gpu_gets_the_largest_model_that_fits():
    c = pick("NVIDIA RTX A6000:48:8.6")
    assert c.profile.name == "gpu" and c.fits
    # 32B bf16 (62 GB) cannot fit; 30B-A3B stays ~56 GB even in NF4 (experts are not quantized)
    assert (c.video.model, c.video.precision, c.runtime.compute_dtype(c.video.precision)) == (
        "Qwen/Qwen3-VL-32B-Instruct",
        "nf4",
        "bfloat16",
    )
    assert c.max_frames >= profiles.MIN_FRAMES


def test_unknown_tiny_gpus_fall_back_instead_of_crashing():
    small = pick("Some GPU:4:7.5")
    assert (small.video.model, small.video.precision, small.runtime.compute_dtype(small.video.precision)) == (
        "Qwen/Qwen3-VL-2B-Instruct", "nf4", "float16")  # fmt: skip
    assert small.max_frames >= profiles.MIN_FRAMES_FLOOR
    tiny = pick("Old GPU:1.5:6.1")
    assert (
        tiny.profile.name == "cpu"
        and "CPU" in tiny.reason
        and tiny.runtime.device_map == {"": "cpu"}
    )


def test_cpu_float_type_is_a_rule_on_cpu_features():
    """bf16 only with native bf16 instructions (AVX-512 BF16 or AMX): an AVX2-only CPU such
    as AMD EPYC Zen 2 gets fp32 float parts whatever it measures; the same facts, the same
    answer."""
    zen2 = profiles.decide(cpu({"avx2", "avx512f"}))
    assert (zen2.profile.name, zen2.video.model, zen2.text.model) == (
        "cpu", "Qwen/Qwen3-VL-2B-Instruct", "Qwen/Qwen3-0.6B")  # fmt: skip
    assert zen2.runtime.float_precision == "fp32" and "no native bf16" in zen2.reason
    assert profiles.decide(cpu({"avx2"}, speedup=3.0)).runtime.float_precision == "fp32"
    amx = profiles.decide(cpu({"avx512_bf16", "amx_bf16"}))
    assert amx.runtime.float_precision == amx.text.precision == "bf16" and "AMX" in amx.reason
    assert amx.runtime.device_map == {"": "cpu"} and amx.runtime.attn_implementation == CPU_SDPA
    assert amx.runtime.threads == 2  # one per core of the (simulated) machine


def test_a_measurement_can_only_veto_bf16():
    measured_fast = profiles.decide(cpu({"avx512_bf16"}, speedup=1.8))
    assert measured_fast.runtime.float_precision == "bf16"
    assert "×1.80 faster" in measured_fast.reason
    measured_slow = profiles.decide(cpu({"avx512_bf16"}, speedup=0.6))
    assert measured_slow.runtime.float_precision == "fp32" and "×0.60" in measured_slow.reason
    assert cpuspeed.kind_of(cpu({"avx512_bf16", "avx2"}, speedup=0.6), "fp32") == "avx2"


def test_without_table_rows_a_cpu_keeps_the_float_rule():
    """An ARM CPU (no x86 flags): nothing measured, so the float type as before; and with too
    little RAM for fp32, bf16."""
    arm = profiles.decide(cpu(set()))
    assert arm.video.precision == "fp32" and cpuspeed.kind_of(cpu(set()), "fp32") is None
    assert profiles.decide(cpu(set(), ram_gb=8)).video.precision == "bf16"


FAKE = (
    cpuspeed.CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "int4", 15.0, 9.0, 4.5, "test"),
    cpuspeed.CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "int8", 10.5, 8.0, 4.2, "test"),
    cpuspeed.CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "bf16", 5.9, 8.0, 5.0, "test"),
    cpuspeed.CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-4B-Instruct", "int4", 8.0, 16.0, 8.0, "test"),
    cpuspeed.CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "int8", 6.0, 29.0, 6.0, "test"),
    cpuspeed.CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "int4", 7.0, 29.0, 6.5, "test"),
    cpuspeed.CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "fp32", 1.8, 29.0, 15.4, "test"),
)
GOOD = {
    p: cpuspeed.Quality(p, 0.999, 0.04, 0.6, 1.0, 20, 64)
    for p in {key for keys in cpuspeed.MEASURED_AS.values() for key in keys}
}


@pytest.fixture
def fake_table(monkeypatch):
    monkeypatch.setattr(cpuspeed, "TABLE", FAKE)
    monkeypatch.setattr(cpuspeed, "QUALITY", dict(GOOD))
    profiles.decide.cache_clear()
    yield
    profiles.decide.cache_clear()


def test_the_cpu_rule_picks_the_largest_model_at_10_tokens_per_s(fake_table):
    """Of the rows that fit: the largest model decoding >= 10 tok/s, in the precision with
    the most bytes that still does (int8 over int4); the 4B at 8 tok/s is too slow."""
    decision = profiles.decide(cpu({"avx512_bf16", "avx2"}, ram_gb=16))
    assert (decision.video.model, decision.video.precision) == ("Qwen/Qwen3-VL-2B-Instruct", "int8")
    assert decision.runtime.float_precision == "bf16"
    assert "10.5 tok/s" in decision.reason and "first token 8.0 s" in decision.reason
    assert "INT4 (CPU) 15.0" in decision.reason and "10.5 tok/s" in decision.reason_ko
    assert "첫 토큰 8.0초" in decision.reason_ko and "first token" not in decision.reason_ko
    assert decision.fits and decision.max_frames == 8
    assert decision.runtime.compute_dtype("int8") == "bfloat16"


def test_when_nothing_reaches_10_tokens_per_s_the_fastest_wins(fake_table):
    zen2 = profiles.decide(cpu({"avx2", "avx512f"}, ram_gb=16))
    assert (zen2.video.model, zen2.video.precision) == ("Qwen/Qwen3-VL-2B-Instruct", "int4")
    assert zen2.runtime.float_precision == "fp32" and "the fastest" in zen2.reason
    assert "10 tok/s에 이르는 것이 없어" in zen2.reason_ko
    assert zen2.runtime.compute_dtype("int4") == "float32"  # the prefill GEMM in fp32 there


def test_a_precision_below_the_quality_bar_is_not_picked(fake_table):
    """int4 fails the bar (cosine or top-1 on the decided steps): the rule never takes it,
    however fast; an unmeasured quantized precision is not taken either; floats always are."""
    cpuspeed.QUALITY["int4"] = dataclasses.replace(GOOD["int4"], top1_decided=0.8)
    zen2 = profiles.decide(cpu({"avx2", "avx512f"}, ram_gb=16))
    assert zen2.video.precision == "int8"  # int4's 7.0 tok/s row is out, and says so
    assert "not taken" in zen2.reason and "INT4 (CPU) 7.0" in zen2.reason
    assert "제외" in zen2.reason_ko
    cpuspeed.QUALITY["int4"] = dataclasses.replace(GOOD["int4"], cosine_mean=0.98)
    assert not cpuspeed.accepted("int4") and cpuspeed.accepted("int8")
    cpuspeed.QUALITY["int4"] = dataclasses.replace(GOOD["int4"], decided_steps=1)
    assert not cpuspeed.accepted("int4")  # one decided step is no verdict, however it agrees
    for failing in cpuspeed.MEASURED_AS["int8"]:  # each form, with and without outliers
        cpuspeed.QUALITY[failing] = dataclasses.replace(GOOD[failing], cosine_mean=0.98)
        assert not cpuspeed.accepted("int8"), failing
        cpuspeed.QUALITY[failing] = GOOD[failing]
        assert cpuspeed.accepted("int8")
    del cpuspeed.QUALITY["int8"]
    assert not cpuspeed.accepted("int8") and cpuspeed.accepted("bf16") and cpuspeed.accepted("fp32")


def test_a_row_that_does_not_fit_the_ram_is_skipped(fake_table, monkeypatch):
    fast_4b = FAKE + (
        cpuspeed.CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-8B-Instruct", "int8", 20.0, 1.0, 1.0, "x"),
    )
    monkeypatch.setattr(cpuspeed, "TABLE", fast_4b)
    small = profiles.decide(cpu({"avx512_bf16"}, ram_gb=8))  # 8B int8 needs > 6 GB usable
    assert small.video.model == "Qwen/Qwen3-VL-2B-Instruct"
    big = profiles.decide(cpu({"avx512_bf16"}, ram_gb=64))
    assert big.video.model == "Qwen/Qwen3-VL-8B-Instruct"


def test_forcing_the_cpu_profile_gives_the_cpu_rule():
    hw = cpu({"avx512_bf16", "avx2"})
    forced, auto = profiles.decide(hw, "cpu"), profiles.decide(hw)
    assert forced.forced and (forced.video.model, forced.video.precision) == (
        auto.video.model, auto.video.precision)  # fmt: skip
    assert "chosen by the user" in forced.reason


def test_this_machine_gets_the_rule_its_cpu_flags_give(settings):
    """The detected machine (with the measurement cpu.py made, if any) against the rule
    computed here from /proc/cpuinfo."""
    hw = settings.hardware
    decision = settings.decide("auto")
    if hw.kind != "cpu":
        pytest.skip("this machine has an accelerator")
    native = bool({"avx512_bf16", "amx_bf16"} & hw.cpu_flags)
    fast = hw.cpu_bf16_speedup is None or hw.cpu_bf16_speedup >= 1.0
    assert decision.runtime.float_precision == ("bf16" if native and fast else "fp32")


def test_mps_uses_fp16():
    c = pick("mps:16")
    assert (
        c.profile.name == "mps"
        and c.video.precision == "fp16"
        and c.runtime.compute_dtype(c.video.precision) == "float16"
    )
    assert c.video.model == "Qwen/Qwen3-VL-2B-Instruct"


def test_a_chosen_profile_is_forced():
    c = pick("NVIDIA H100 80GB HBM3:79.2:9.0", "t4")
    assert c.forced and c.profile.name == "t4" and "chosen by the user" in c.reason
    assert c.video.precision == "nf4" and c.runtime.compute_dtype("nf4") == "float16"
    with pytest.raises(errors.InvalidRequest):
        pick("Tesla T4:15:7.5", "nonsense")
    assert not pick("Tesla T4:15:7.5", "auto").forced


def test_a_gpu_profile_previewed_on_a_cpu_uses_that_gpus_float_type():
    h100_on_cpu = profiles.decide(cpu({"avx2"}), "h100")
    assert h100_on_cpu.video.precision == "bf16" and h100_on_cpu.runtime.device == "cpu"
    assert "no cuda device" in h100_on_cpu.reason
    t4_on_cpu = profiles.decide(cpu({"avx2"}), "t4")
    assert t4_on_cpu.runtime.compute_dtype("nf4") == "float16" and "sm75" in t4_on_cpu.reason


def test_forcing_a_bf16_profile_on_a_t4_uses_fp16_and_warns():
    c = pick("Tesla T4:15:7.5", "h100")
    assert (
        c.forced
        and c.video.precision == "fp16"
        and c.runtime.compute_dtype(c.video.precision) == "float16"
    )
    assert not c.fits and "WARNING" in c.reason


def test_this_machine_gets_a_working_choice(settings):
    c = settings.decide("auto")
    assert c.fits and c.max_frames >= profiles.MIN_FRAMES_FLOOR
    assert catalog.get(c.video.model).supports_video


def test_the_decision_is_made_once_and_reused():
    hw = hardware.simulate("Tesla T4:15:7.5")
    assert profiles.decide(hw, "auto") is profiles.decide(hw, "auto")
    decision = profiles.decide(hw)
    assert decision.fits_model(catalog.get("Qwen/Qwen3-VL-8B-Instruct"))
    assert not decision.fits_model(catalog.get("Qwen/Qwen3-VL-235B-A22B-Instruct"))


def test_the_default_video_plan_holds_the_frame_budget():
    decision = pick("Tesla T4:15:7.5")
    assert decision.video.plan.frames == decision.max_frames == 32 and decision.video.plan.fits
    assert dataclasses.replace(decision.video.plan.workload, frames=0).frames == 0
