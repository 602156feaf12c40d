"""The benchmark that produces the figures in the README runs end to end (tiny model)."""

from __future__ import annotations

from captioner import bench


def test_bench_reports_ours_against_the_raw_calls(tiny_vl):
    report = bench.run(tiny_vl, max_new_tokens=6)
    decode, before, speed = report["decode"], report["before_generation"], report["throughput"]
    assert decode["frames"] >= 4 and decode["ours_bytes"] < decode["raw_bytes"]  # target size
    assert decode["cached_s"] < decode["ours_s"]
    assert before["second_s"] < before["first_s"] and before["second_over_first"] < 0.5
    assert speed["new_tokens"] == speed["raw_new_tokens"] == 6  # same length, same settings
    assert speed["ours_tokens_per_s"] > 0 and speed["raw_decode_tokens_per_s"] > 0
