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


def test_reader_figures_compare_the_readers_on_the_same_frames(tmp_path):
    """Structure only: the figures themselves are measurements, not facts to assert."""
    import media

    clip = media.make_video(tmp_path / "gop.mp4", n_frames=96, fps=24, gop=24, bframes=2)
    report = bench.reader_figures(str(clip), repeats=1)
    assert set(report["median_s"]) == {"pyav_seek", "pyav_sequential", "decord"}
    assert report["seek_identical_to_sequential"] is True
    assert report["keyframes"] == 4 and report["frames"] == 8 and report["repeats"] == 1
    assert report["frames_decoded_by_a_seeking_reader"] < 96
