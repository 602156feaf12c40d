"""The CPU's bf16 check: real shapes, measured once per machine and torch version, on disk."""

from __future__ import annotations

import json

import pytest

from captioner import catalog, cpu
from captioner.hardware import Hardware
from captioner.precision import GiB

VL2B = catalog.get("Qwen/Qwen3-VL-2B-Instruct")


def machine(flags, simulated=False) -> Hardware:
    return Hardware((), False, "Test CPU", 2, 16 * GiB, frozenset(flags), simulated)


def test_layer_shapes_are_the_models_full_width():
    assert cpu.layer_shapes(VL2B) == (
        (2048, 2048), (1024, 2048), (1024, 2048), (2048, 2048),
        (6144, 2048), (6144, 2048), (2048, 6144),
    )  # fmt: skip


def test_measurement_is_a_positive_ratio():
    assert cpu.measure_bf16_speedup(((64, 64), (128, 64)), rounds=2) > 0


def test_measured_once_then_read_from_disk(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cpu, "measure_bf16_speedup", lambda shapes: calls.append(1) or 1.5)
    hw = machine({"avx512_bf16"})
    first = cpu.with_bf16_measurement(hw, VL2B, tmp_path)
    assert first.cpu_bf16_speedup == 1.5 and len(calls) == 1
    saved = json.loads((tmp_path / cpu.CACHE_FILE).read_text(encoding="utf-8"))
    (key,) = saved
    assert "Test CPU" in key and "torch=" in key and saved[key]["speedup"] == 1.5

    def must_not_measure(shapes):
        raise AssertionError("measured again")

    monkeypatch.setattr(cpu, "measure_bf16_speedup", must_not_measure)
    again = cpu.with_bf16_measurement(hw, VL2B, tmp_path)  # another start on this machine
    assert again.cpu_bf16_speedup == 1.5


@pytest.mark.parametrize("hw", [machine({"avx2"}), machine({"avx512_bf16"}, simulated=True)])
def test_nothing_to_confirm_without_native_bf16_or_on_a_simulated_machine(hw, tmp_path):
    assert cpu.with_bf16_measurement(hw, VL2B, tmp_path) is hw
    assert not (tmp_path / cpu.CACHE_FILE).exists()


def test_an_unreadable_cache_means_measuring_again(tmp_path, monkeypatch):
    (tmp_path / cpu.CACHE_FILE).write_text("{broken", encoding="utf-8")
    monkeypatch.setattr(cpu, "measure_bf16_speedup", lambda shapes: 0.5)
    assert cpu.with_bf16_measurement(machine({"amx_bf16"}), VL2B, tmp_path).cpu_bf16_speedup == 0.5
