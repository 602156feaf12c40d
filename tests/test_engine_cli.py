"""The engine (plan -> decode -> load -> stream) and the command line, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from captioner import engine, hardware, loader
from captioner.errors import ModelDoesNotFit, UnsupportedInput
from captioner.generation import Options

ROOT = Path(__file__).resolve().parent.parent
BBB = ROOT / "assets" / "bigbuckbunny.mp4"


def _cli(*args, env=None, timeout=180):
    full_env = {**os.environ, **(env or {})}
    if "CAPTIONER_PROFILE" not in (env or {}):
        full_env.pop("CAPTIONER_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "captioner", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- engine -----------------------------------------------------------------------------------
def test_setup_on_a_simulated_t4_is_nf4_with_fp16_compute():
    chosen = engine.setup(
        engine.DescribeRequest(video="x.mp4"), hardware.simulate("Tesla T4:15:7.5")
    )
    assert chosen.model == "Qwen/Qwen3-VL-8B-Instruct"
    assert (chosen.precision, chosen.compute_dtype, chosen.device) == ("nf4", "float16", "cuda")
    request = chosen.model_request(engine.DescribeRequest())
    assert request.precision == "nf4" and request.compute_dtype == "float16"
    assert chosen.plan.fits and "sm75" in chosen.reason


def test_a_model_too_big_is_refused_with_what_fits():
    request = engine.DescribeRequest(video="x.mp4", model="Qwen/Qwen3-VL-235B-A22B-Instruct")
    with pytest.raises(ModelDoesNotFit) as info:
        engine.setup(request, hardware.simulate("Tesla T4:15:7.5"))
    assert "fits" in info.value.en and "들어갑니다" in info.value.ko


def test_text_only_catalog_model_with_a_video_is_refused_before_loading():
    with pytest.raises(UnsupportedInput):
        engine.setup(
            engine.DescribeRequest(video="x.mp4", model="Qwen/Qwen3-8B"),
            hardware.simulate("NVIDIA L4:22.5:8.9"),
        )


def test_describe_streams_on_the_real_clip(tiny_vl):
    loader.unload()
    request = engine.DescribeRequest(
        video=str(BBB), model=tiny_vl, options=Options(max_new_tokens=6, seed=0)
    )
    events = list(engine.describe(request))
    kinds = [e.kind for e in events]
    assert kinds[:4] == ["status", "status", "status", "prepared"] and kinds[-1] == "done"
    prepared = events[3]
    clip = prepared.clip
    # Big Buck Bunny sample: 132 frames at 25 fps, 5.28 s; frames sampled uniformly at <= 2 fps
    assert clip.info.frame_count == 132 and clip.info.avg_fps == pytest.approx(25.0)
    assert clip.timestamps == pytest.approx([i / 25 for i in clip.indices], abs=1e-3)
    assert len(clip.indices) % 2 == 0 and 4 <= len(clip.indices) <= prepared.setup.max_frames
    assert events[-1].metrics.frames == len(clip.indices)


def test_describe_bad_video_is_an_error_event(tmp_path, tiny_vl):
    bad = tmp_path / "notes.mp4"
    bad.write_text("이건 영상이 아닙니다", encoding="utf-8")
    events = list(engine.describe(engine.DescribeRequest(video=str(bad), model=tiny_vl)))
    assert events[-1].kind == "error" and events[-1].user_error
    assert events[-1].error.code == "not_a_video"


# --- CLI ----------------------------------------------------------------------------------------
SIMULATED = [
    ("Tesla T4:15:7.5", "t4", "Qwen/Qwen3-VL-8B-Instruct", "nf4", "float16"),
    ("NVIDIA L4:22.5:8.9", "l4", "Qwen/Qwen3-VL-8B-Instruct", "bf16", "bfloat16"),
    ("NVIDIA A100-SXM4-40GB:39.5:8.0", "a100-40", "Qwen/Qwen3-VL-8B-Instruct", "bf16", "bfloat16"),
    ("NVIDIA H100 80GB HBM3:79.2:9.0", "h100", "Qwen/Qwen3-VL-32B-Instruct", "bf16", "bfloat16"),
    ("NVIDIA H200:139.8:9.0", "h200", "Qwen/Qwen3-VL-32B-Instruct", "bf16", "bfloat16"),
    (
        "NVIDIA H100 80GB HBM3:79.2:9.0:8",
        "multi-gpu",
        "Qwen/Qwen3-VL-235B-A22B-Instruct",
        "bf16",
        "bfloat16",
    ),
    ("NVIDIA RTX A6000:48:8.6", "gpu", "Qwen/Qwen3-VL-32B-Instruct", "nf4", "bfloat16"),
]


@pytest.mark.parametrize(("gpu", "profile", "model", "precision", "compute"), SIMULATED)
def test_doctor_on_simulated_gpus(gpu, profile, model, precision, compute):
    from captioner import cli

    report = cli._doctor_report(hardware.simulate(gpu), None)
    assert report["profile"] == profile
    assert (report["video"]["model"], report["video"]["precision"]) == (model, precision)
    assert report["video"]["compute_dtype"] == compute


def test_doctor_cli_json_t4():
    result = _cli("doctor", "--json", "--simulate-gpu", "Tesla T4:15:7.5")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["simulated"] and report["profile"] == "t4"
    assert (report["video"]["precision"], report["video"]["compute_dtype"]) == ("nf4", "float16")


def test_doctor_bad_simulation_exits_2_without_traceback():
    result = _cli("doctor", "--simulate-gpu", "T4")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "오류" in result.stderr and "error" in result.stderr


def test_profile_env_override():
    result = _cli("doctor", "--json", env={"CAPTIONER_PROFILE": "t4"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile"] == "t4"


def test_describe_cli_json_on_the_real_clip(tiny_vl):
    result = _cli(
        "describe",
        str(BBB),
        "--model",
        tiny_vl,
        "--max-new-tokens",
        "8",
        "--seed",
        "1",
        "--json",
        "--preset",
        "timeline",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"model", "profile", "precision", "frame_times", "metrics", "answer"} <= set(record)
    assert record["model"] == tiny_vl and record["video"] == "bigbuckbunny.mp4"
    assert (record["decode_backend"], record["decode_retry"]) == ("decord", None)
    assert record["frame_times"] == pytest.approx(
        [i / 25 for i in record["frame_indices"]], abs=1e-3
    )
    assert record["metrics"]["new_tokens"] == 8 and record["metrics"]["frames"] == len(
        record["frame_times"]
    )
    assert result.stdout.startswith(record["answer"])  # streamed before the record


def test_describe_cli_bad_input_exits_2(tmp_path, tiny_vl):
    bad = tmp_path / "empty.mp4"
    bad.write_bytes(b"")
    result = _cli("describe", str(bad), "--model", tiny_vl, "--json")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["error"]["code"] == "video_empty"
    missing = _cli("describe", str(tmp_path / "nope.mp4"), "--model", tiny_vl)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_ask_cli_with_text_model(tiny_text):
    result = _cli(
        "ask",
        "가을을 한 문장으로 묘사해 줘",
        "--model",
        tiny_text,
        "--max-new-tokens",
        "5",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["metrics"]["video_tokens"] == 0 and "frame_times" not in record


def test_make_tiny_writes_loadable_checkpoints(tmp_path):
    result = _cli("make-tiny", str(tmp_path / "t"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t" / "vl" / "model.safetensors").exists()
    assert (tmp_path / "t" / "text" / "tokenizer.json").exists()


def test_ask_cli_style_length_and_hanja_switch_in_the_record(tiny_text):
    result = _cli(
        "ask",
        "가을을 묘사해 줘",
        "--model",
        tiny_text,
        "--max-new-tokens",
        "6",
        "--seed",
        "0",
        "--style",
        "haeyo",
        "--length",
        "short",
        "--allow-hanja",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert (record["style"], record["length"], record["allow_hanja"]) == ("haeyo", "short", True)
    korean = record["korean"]
    assert {"hangul_share", "letters", "han_chars", "kana_chars", "warning_ko"} <= set(korean)
    assert "한글 비율" in result.stderr


def test_cli_defaults_and_a_bad_style(tiny_text, capsys):
    from captioner import cli

    args = cli._parser().parse_args(["ask", "가을", "--style", "해요체"])
    request = cli._request(args)
    assert (request.style, request.length, request.options.allow_hanja) == (
        "해요체",
        "normal",
        False,
    )
    code = cli.main(["ask", "가을", "--model", tiny_text, "--style", "banmal", "--json"])
    captured = capsys.readouterr()
    assert code == 2 and "문체" in captured.err and "style" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["error"]["code"] == "invalid_request"


# --- run log, batch and review from the command line ------------------------------------------
def test_describe_is_recorded_and_review_commands_work(tiny_vl, tmp_path):
    db = str(tmp_path / "runs.sqlite3")
    result = _cli(
        "describe", str(BBB), "--model", tiny_vl, "--max-new-tokens", "4", "--db", db, "--quiet"
    )
    assert result.returncode == 0, result.stderr
    listed = _cli("review", "list", "--db", db, "--json")
    assert listed.returncode == 0, listed.stderr
    runs = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert len(runs) == 1 and runs[0]["status"] == "done" and runs[0]["source"] == "cli"
    rated = _cli(
        "review", "rate", str(runs[0]["id"]), "4", "--tag", "정확", "--reviewer", "민지", "--db", db
    )
    assert rated.returncode == 0, rated.stderr
    out = tmp_path / "report.html"
    exported = _cli(
        "review", "export", "--format", "html", "--out", str(out), "--min-rating", "4", "--db", db
    )
    assert exported.returncode == 0 and "민지" in out.read_text(encoding="utf-8")
    bad = _cli("review", "rate", "999", "4", "--db", db)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_describe_srt_on_unparseable_output_says_so(tiny_vl, tmp_path):
    result = _cli("describe", str(BBB), "--model", tiny_vl, "--preset", "timeline", "--max-new-tokens", "4",
                  "--srt", str(tmp_path / "x.srt"), "--db", str(tmp_path / "r.sqlite3"), "--json")  # fmt: skip
    # the tiny model writes no timestamps: a clear message and exit 2, the caption still printed
    assert result.returncode == 2 and "Traceback" not in result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["subtitles_error"]["code"] == "subtitle_parse" and "answer" in record


def test_batch_is_resumable_and_survives_a_bad_video(tiny_vl, tmp_path):
    from media import make_video

    clips = tmp_path / "clips"
    clips.mkdir()
    make_video(clips / "a.mp4", n_frames=24, fps=12, width=160, height=120)
    make_video(clips / "b.mp4", n_frames=30, fps=12, width=160, height=120)
    (clips / "broken.mp4").write_text("not a video", encoding="utf-8")
    db = str(tmp_path / "runs.sqlite3")
    args = ("batch", str(clips), "--preset", "detail", "--model", tiny_vl, "--out", str(tmp_path / "out"),
            "--max-new-tokens", "4", "--seed", "0", "--db", db, "--quiet")  # fmt: skip
    first = _cli(*args)
    assert first.returncode == 2, first.stderr  # one video failed; the others are done
    assert (tmp_path / "out" / "runs.csv").exists() and (tmp_path / "out" / "report.html").exists()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["done"], summary["failed"]) == (2, 1)
    again = json.loads(
        (_cli(*args), (tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))[1]
    )
    assert again["skipped"] == 2 and again["done"] == 0


def test_a_gpu_too_small_for_any_model_runs_on_the_cpu():
    chosen = engine.setup(
        engine.DescribeRequest(video="x.mp4"), hardware.simulate("Old GPU:1.5:6.1")
    )
    assert chosen.choice.profile.name == "cpu" and chosen.device == "cpu"
    assert chosen.plan.fits


def test_a_chosen_gpu_profile_is_planned_for_its_own_memory():
    # "h200" chosen on a T4 plans for an H200 (a preview), warning that this machine is smaller
    chosen = engine.setup(
        engine.DescribeRequest(video="x.mp4", profile="h200"), hardware.simulate("Tesla T4:15:7.5")
    )
    assert (
        chosen.model == "Qwen/Qwen3-VL-32B-Instruct" and chosen.plan.available_bytes > 100 * 2**30
    )
    assert chosen.precision == "fp16" and "WARNING" in chosen.reason  # sm75: no bf16


def test_video_settings_come_from_the_environment_once(monkeypatch):
    from captioner import cli, video
    from captioner.errors import InvalidRequest
    from captioner.video import cache

    monkeypatch.setenv("CAPTIONER_MAX_FILE_MB", "10")
    monkeypatch.setenv("CAPTIONER_MAX_DURATION_S", "30")
    monkeypatch.setenv("CAPTIONER_DECODE_TIMEOUT_S", "5.5")
    monkeypatch.setenv("CAPTIONER_CLIP_CACHE_MB", "0")
    try:
        assert cli.configure_video() == video.VideoLimits(10 * 2**20, 30.0, 5.5)
        clip = video.load_clip(BBB)
        assert not video.load_clip(BBB).from_cache  # a 0 MB cache keeps nothing
        assert clip.frames.shape[0] == 10
        monkeypatch.setenv("CAPTIONER_MAX_DURATION_S", "ten")
        with pytest.raises(InvalidRequest):
            cli.configure_video()
        monkeypatch.setenv("CAPTIONER_MAX_DURATION_S", "-1")
        with pytest.raises(InvalidRequest):
            cli.configure_video()
    finally:
        video.set_cache_limit(cache.DEFAULT_LIMIT_BYTES)


def test_describe_cli_honours_the_file_size_limit_from_the_environment(tmp_path):
    result = _cli("describe", str(BBB), env={"CAPTIONER_MAX_FILE_MB": "0.01"})
    assert result.returncode == 2, result.stderr
    assert "너무 큽니다" in result.stderr and "too large" in result.stderr
    assert "Traceback" not in result.stderr


def test_describe_cli_refuses_a_playlist_before_loading_the_model(tmp_path, tiny_vl):
    """An HLS playlist naming a video elsewhere on disk: exit 2, both languages, no decode."""
    playlist = tmp_path / "thing.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:5.0,\n{BBB}\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    result = _cli("describe", str(playlist), "--model", tiny_vl, "--json")
    assert result.returncode == 2, result.stderr
    assert "지원하는 영상 파일이 아닙니다" in result.stderr and "MP4/MOV" in result.stderr
    assert "not a video file we accept" in result.stderr
    assert "Traceback" not in result.stderr
    assert "모델 준비" not in result.stderr  # the load stage never began
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["error"]["code"] == "not_a_video" and "frame_indices" not in record
