"""``cpu_bench --emulate avx2``: the AVX2 path (an AMD Zen 2's) run on this machine, on the
tiny checkpoint in a fresh process, as the report's ``avx2`` section runs it (structure
only: the figures are measurements, in the README)."""

from __future__ import annotations

from captioner.dev import cpu_bench


def test_an_emulated_avx2_run_takes_the_avx2_path(tiny_vl):
    """``--emulate avx2``: a fresh process whose torch runs its AVX2 kernels and whose app
    takes the CPU for an AVX2 one (fp32 floats; int8 on FBGEMM with 7-bit weights)."""
    result = cpu_bench.suite(tiny_vl, ("int8",), frames=(4,), repeats=1, new_tokens=2,
                             emulate="avx2")  # fmt: skip
    summary = result["precisions"]["int8"]
    assert result["emulate"] == "avx2" and summary["cpu_capability"] == "AVX2"
    assert summary["cpu_kind"] == "avx2" and summary["compute_dtype"] == "float32"
    assert summary["per_frames"]["4"]["prompt_tokens"] > 0
