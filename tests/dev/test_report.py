"""``bench --report`` and ``bench --suite gpu``: the JSON's keys and the plots, on the tiny
checkpoint (structure only: the figures are measurements, shown in the README)."""

from __future__ import annotations

import json

import pytest

from captioner.dev import cpu_bench, gpu_suite, report


def _in_process(model, precision, frames, new_tokens, threads, emulate=None):
    # the structure only: an emulated run needs its own process (tests/dev/test_cpu_bench.py)
    return cpu_bench.run_once(model, precision, tuple(frames), new_tokens, threads)


@pytest.fixture(scope="module")
def built(tiny_vl, tmp_path_factory):
    """A quick report of the tiny checkpoint, each run in this process (no subprocesses)."""
    folder = tmp_path_factory.mktemp("report")
    patch = pytest.MonkeyPatch()
    patch.setattr(cpu_bench, "_subprocess", _in_process)
    patch.setattr(report, "measure_bandwidth", lambda threads, **kw: 10.0 * threads)
    try:
        yield folder, report.build(folder, quick=True, tiny=tiny_vl)
    finally:
        patch.undo()


def test_the_report_has_every_section_and_the_machine(built):
    folder, result = built
    saved = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert set(saved) == {"machine", "precisions", "frames", "quality", "quality_outliers",
                          "kvcache", "avx2", "avx2_int8", "streaming", "readers"}  # fmt: skip
    assert saved["avx2"]["emulate"] == "avx2" and list(saved["avx2"]["precisions"]) == ["int8"]
    tables = (folder / "tables.md").read_text(encoding="utf-8")
    assert "· int8 (AVX2, emulated) |" in tables and "| weight-only | paired" in tables
    assert list(saved["avx2_int8"]["precisions"]) == ["int8", "int8-weight-only"]
    kv = saved["kvcache"]["precisions"]  # the cache's own comparison, both forms run
    assert list(kv) == ["int8", "int8-catcache"] and all(s["per_frames"] for s in kv.values())
    assert "transformers' cache" in (folder / "tables.md").read_text(encoding="utf-8")
    machine = saved["machine"]
    assert {"cpu", "cores", "memory_gb", "bandwidth_gb_s", "torch", "transformers"} <= set(machine)
    (suite,) = saved["precisions"].values()
    assert list(suite["precisions"]) == ["int4", "int8-unfused", "bf16"]
    for summary in suite["precisions"].values():
        assert {"load_s", "peak_rss_gb", "threads", "per_frames", "compute_dtype"} <= set(summary)
    compute = {p: s["compute_dtype"] for p, s in suite["precisions"].items()}
    assert compute["int8-unfused"] == compute["int4"]  # a quantized one's float parts
    rows = report.cpuspeed_rows(saved)
    assert '"int4"' in rows and "int8-unfused" not in rows  # a comparison, not a choice
    assert rows.count("_AVX2_EMULATED),") == 1  # the AVX2 path's int8
    assert [row["frames"] for row in saved["frames"]["rows"]] == [4, 8]
    variants = {"int8", "int8-7bit-weights", "int8-7bit", "int8-weight-only", "int4"}
    assert set(saved["quality"]["precisions"]) == variants
    assert set(saved["quality_outliers"]["precisions"]) == variants
    assert saved["quality_outliers"]["outliers"] and saved["quality"]["outliers"] is None
    assert "with outliers, vs bf16" in (folder / "tables.md").read_text(encoding="utf-8")
    assert {"threads_1", "threads_2", "steps"} <= set(saved["streaming"])
    assert "transformers_load_video_pyav" in saved["readers"]["median_s"]
    assert {p.split("/")[-1] for p in result["plots"]} == {
        "decode.png", "frames.png", "streaming.png", "readers.png"}  # fmt: skip


def test_a_variant_loads_its_precision_with_the_knobs_set_only_while_it_runs(monkeypatch):
    from captioner import kvcache, quantize

    assert cpu_bench.base_precision("int8-unfused") == "int8"
    assert cpu_bench.base_precision("bf16") == "bf16"
    with cpu_bench.variant("int8-unfused") as precision:
        assert precision == "int8" and quantize.FUSE is False
    assert quantize.FUSE is True
    with pytest.raises(RuntimeError), cpu_bench.variant("int8-weight-only"):
        assert quantize.USE_FBGEMM is False
        raise RuntimeError("a failed load")
    assert quantize.USE_FBGEMM is True
    with cpu_bench.variant("int8-catcache") as precision:  # another module's knob
        assert precision == "int8" and kvcache.ENABLED is False and quantize.FUSE is True
    assert kvcache.ENABLED is True


def test_plots_are_png_files(built):
    folder, result = built
    for path in result["plots"]:
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_measured_section_is_reused(built, monkeypatch):
    folder, _ = built
    monkeypatch.setattr(report, "machine", lambda: pytest.fail("measured again"))
    assert report._section(folder, "machine", report.machine)["cores"] >= 1


def test_the_gpu_suite_runs_dry_on_the_cpu():
    result = gpu_suite.run(dry=True, frames=(4,))
    assert result["dry"] is True and result["device"] == "cpu"
    assert result["decode"]["bf16"]["tokens_per_s"] > 0 and result["decode"]["nf4"] is None
    assert [row["frames"] for row in result["ttft"]] == [4] and result["ttft"][0]["ttft_s"] > 0


@pytest.mark.parametrize(("name", "bandwidth"), [
    ("NVIDIA H100 80GB HBM3", 3350.0), ("NVIDIA H100 PCIe", 2000.0), ("NVIDIA H200", 4800.0),
    ("NVIDIA A100-SXM4-80GB", 2039.0), ("NVIDIA A100-SXM4-40GB", 1555.0), ("NVIDIA L4", 300.0),
    ("NVIDIA A10G", 600.0), ("Tesla T4", 320.0), ("NVIDIA GeForce RTX 4090", None),
])  # fmt: skip
def test_peak_bandwidth_table(name, bandwidth):
    assert gpu_suite.peak_bandwidth(name) == bandwidth


@pytest.fixture(scope="module")
def suite_model():
    import torch

    return gpu_suite._random_model(gpu_suite._tiny_config(), "cpu", torch.bfloat16)


def test_decode_rate_gives_the_rate_and_the_median_gap(suite_model):
    rate, median_ms = gpu_suite.decode_rate(suite_model, "cpu", 8)
    assert rate > 0 and median_ms > 0
    # the rate counts the 7 gaps between 8 tokens; a median gap cannot exceed the whole span
    assert median_ms / 1000 <= 7 / rate


def test_the_static_cache_decode_runs_and_a_failure_is_recorded(suite_model, monkeypatch):
    entry = gpu_suite._compiled_entry(suite_model, "cpu", None, "bf16", None)
    assert entry["tokens_per_s"] > 0 and entry["first_run_s"] >= 0

    def broken(*args, **kwargs):
        raise RuntimeError("no graphs here")

    monkeypatch.setattr(suite_model, "generate", broken)
    assert gpu_suite._compiled_entry(suite_model, "cpu", None, "bf16", None) == {
        "error": "RuntimeError: no graphs here"
    }


def test_copy_bandwidth_is_measured_on_gpus_only():
    assert gpu_suite.copy_bandwidth("cpu") is None
