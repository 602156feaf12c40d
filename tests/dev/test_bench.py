"""The benchmark that produces the README's figures runs end to end (tiny model).

Only the shape of the report is checked here: speeds and ratios are measurements, printed by
``python -m captioner bench`` and copied to the README, never asserted (CI runs on a busy
2-core machine)."""

from __future__ import annotations

from captioner.dev import bench


def test_bench_reports_ours_against_the_raw_calls(tiny_vl, settings):
    report = bench.report(tiny_vl, settings, max_new_tokens=6)
    decode, before, speed = report["decode"], report["before_generation"], report["throughput"]
    assert decode["frames"] >= 4 and decode["ours_bytes"] < decode["raw_bytes"]  # target size
    assert decode["ours_s"] > 0 and decode["raw_decord_full_size_s"] > 0 and decode["cached_s"] > 0
    assert before["first_s"] > 0 and before["second_s"] > 0
    # same length, same settings; like with like: every side in a worker thread, same threads
    assert (
        speed["new_tokens"] == speed["raw_new_tokens"] == speed["same_processors_new_tokens"] == 6
    )
    assert len(set(speed["threads"].values())) == 1 and speed["threads"]["ours"] >= 1
    assert speed["ours_tokens_per_s"] > 0 and speed["raw_decode_tokens_per_s"] > 0
    assert "streaming_overhead_ms_per_token" in speed


def test_per_token_steps_are_measured_on_the_real_vocabulary_width():
    costs = bench.processor_costs(repeats=3)
    assert costs["rows"] == 151_936 and costs["threads"] == 1
    assert set(costs["ms_per_token"]) >= {
        "korean_mask", "presence_penalty", "our_sampler", "transformers_topk_topp",
        "transformers_multinomial", "streamer_queue_and_detokenize",
    }  # fmt: skip


def test_make_tiny_writes_loadable_checkpoints(tmp_path):
    from runcli import cli

    result = cli("make-tiny", str(tmp_path / "t"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t" / "vl" / "model.safetensors").exists()
    assert (tmp_path / "t" / "text" / "tokenizer.json").exists()


def test_reader_figures_compare_the_readers_on_the_same_frames(tmp_path):
    """Structure only: the figures themselves are measurements, not facts to assert."""
    import media

    clip = media.make_video(tmp_path / "gop.mp4", n_frames=96, fps=24, gop=24, bframes=2)
    report = bench.reader_figures(str(clip), repeats=1)
    assert set(report["median_s"]) == {"pyav_seek", "pyav_sequential", "decord"}
    assert report["seek_identical_to_sequential"] is True
    assert report["keyframes"] == 4 and report["frames"] == 8 and report["repeats"] == 1
    assert report["frames_decoded_by_a_seeking_reader"] < 96
