"""Hardware facts: detection on this machine and simulated machines (no GPU needed)."""

from __future__ import annotations

import pytest

from captioner import errors, hardware
from captioner.hardware import GPU, Hardware

GiB = hardware.GiB


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


def test_a_linux_machine_without_gpu_device_nodes_is_detected_without_torch(monkeypatch):
    """No /dev/nvidia* and no /dev/kfd: no GPU can exist, so torch is not imported (doctor
    answers in well under a second after its first run; the figure is in the README)."""
    import subprocess
    import sys

    if hardware._may_have_accelerator():
        pytest.skip("this machine has GPU device nodes")
    code = "import sys; from captioner import hardware; hardware.detect(); print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_a_cpu_torch_is_told_to_run_as_avx2_is_taken_for_an_avx2_one(monkeypatch, tmp_path):
    """ATEN_CPU_CAPABILITY below AVX-512 (PyTorch's own switch; ``cpu_bench --emulate
    avx2``): no AVX-512, AMX or VNNI flags, so the float rule and FBGEMM's bits follow."""
    from captioner import profiles, quantize

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "model name\t: AMD EPYC 9R14\n"
        "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni avx_vnni amx_int8\n"
    )
    real_open = open
    monkeypatch.setattr(
        "builtins.open",
        lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path, *a, **k),
    )
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    _, _, _, flags = hardware._cpu_facts()
    assert {"avx512_bf16", "avx512_vnni", "amx_int8"} <= flags
    for capability in ("avx2", "AVX2", "default"):
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", capability)
        name, cores, ram, flags = hardware._cpu_facts()
        assert flags == {"avx2"} and name == "AMD EPYC 9R14"
        hw = Hardware((), False, name, cores, ram, flags)
        assert not hw.cpu_bf16 and quantize.sums_in_16_bits(flags)
        assert profiles.runtime("cpu", hw).float_precision == "fp32"
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx512")
    assert "avx512_bf16" in hardware._cpu_facts()[3]
