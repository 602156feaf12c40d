"""End to end against a real ``transformers serve`` started by the tests (tests/inference.py):
describe, ask, Stop, batch with concurrency over two replicas, doctor, errors and the page.
Tiny models write nonsense: assert on structure, frames, times and liveness, never words
or speeds."""

from __future__ import annotations

import json
import re
import threading
import time

import av
import pytest
from runcli import BBB, cli

from captioner import engine, video
from captioner.backends import transport
from captioner.cli import terminal


def _served(url: str, *extra: str) -> list[str]:
    return ["--backend", "openai", "--base-url", url, *extra]


def _pts(indices):
    with av.open(str(BBB)) as container:
        times = [float(f.time) for f in container.decode(video=0)]
    return [times[i] - times[0] for i in indices]


def test_describe_through_the_server_sees_our_frames_at_their_real_times(serve_url, tiny_vl,
                                                                          tmp_path):  # fmt: skip
    result = cli("describe", str(BBB), "--model", tiny_vl, "--max-new-tokens", "8", "--json",
                 "--preset", "timeline", *_served(serve_url), "--db", str(tmp_path / "r.db"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    real = _pts(record["frame_indices"])
    assert record["frame_times_seen"] == pytest.approx(real, abs=0.1)
    assert record["device"].startswith("transformers serve @ 127.0.0.1")
    # stdout is the answer as a terminal may see it (no control characters: a random model
    # writes "\r" now and then); the record keeps it as generated
    assert "\ufffd" not in record["answer"]
    assert result.stdout.startswith(terminal.safe(record["answer"]))
    metrics, sampling = record["metrics"], record["sampling"]
    assert metrics["new_tokens"] == 8 and metrics["frames"] == len(real)
    assert sampling["video"]["transport"] == "path" and sampling["video"]["bytes"] < 200_000
    assert sampling["korean_bias_tokens"] > 20000 and sampling["korean_guarantee"] is True

    # The server's prompt is the local backend's prompt: same frames, same size, same tokens.
    from captioner import generation, loader
    from captioner.settings import from_environment

    settings = from_environment(db="off")
    chosen = engine.select(engine.DescribeRequest(video=str(BBB), model=tiny_vl), settings)
    clip = video.load_clip(str(BBB), engine.sampling_spec(chosen, engine.DescribeRequest()))
    assert list(clip.indices) == record["frame_indices"]
    loaded = loader.load(loader.ModelRequest(tiny_vl, precision="fp32", device="cpu"))
    from captioner import prompts

    _, prompt_ids, video_tokens = generation.TransformersBackend(loaded).prepare(
        generation.Request(prompts.resolve_prompt("timeline", None)[0], clip)
    )
    assert metrics["prompt_tokens"] == len(prompt_ids)
    assert metrics["video_tokens"] == video_tokens

    # ...and the <t seconds> the server's processor writes for the clip it read are the
    # frames' real times (pairs averaged), within 0.1 s: the same code, on the same file.
    encoded = transport.encode(clip, audio_track=True)
    path = tmp_path / "sent.mp4"
    path.write_bytes(encoded.data)
    messages = [{"role": "user", "content": [{"type": "video", "url": str(path)},
                                             {"type": "text", "text": "x"}]}]  # fmt: skip
    out = loaded.processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True,
        processor_kwargs={"do_sample_frames": False, "do_resize": False},
    )  # fmt: skip
    text = loaded.tokenizer.decode(out["input_ids"][0])
    stamps = [float(s) for s in re.findall(r"<([\d.]+) seconds>", text)]
    pairs = [(a + b) / 2 for a, b in zip(real[::2], real[1::2], strict=True)]
    assert stamps == pytest.approx(pairs, abs=0.1)


def test_ask_a_text_model_through_the_server(serve_url, tiny_text):
    result = cli("ask", "가을을 한 문장으로", "--model", tiny_text, "--max-new-tokens", "6",
                 "--json", "--db", "off", *_served(serve_url))  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["metrics"]["new_tokens"] == 6 and record["metrics"]["video_tokens"] == 0
    assert "frame_times_seen" not in record


def test_stop_closes_the_stream_and_frees_the_server(served, tiny_vl):
    request = engine.DescribeRequest(
        video=str(BBB), model=tiny_vl, max_frames=4,
        options=engine.Options(max_new_tokens=3000),
    )  # fmt: skip
    stop = threading.Event()
    stopped_at = None
    last = None
    for event in engine.describe(request, served, stop=stop):
        last = event
        if event.kind == "text" and stopped_at is None:
            stop.set()
            stopped_at = time.perf_counter()
    assert last.kind == "done" and last.metrics.finish_reason == "stopped"
    assert time.perf_counter() - stopped_at < 5.0
    # the server aborted the request: the next one gets its first token within seconds
    quick = engine.DescribeRequest(
        video=str(BBB), model=tiny_vl, max_frames=4, options=engine.Options(max_new_tokens=4)
    )
    began = time.perf_counter()
    done = list(engine.describe(quick, served))[-1]
    assert done.kind == "done" and done.metrics.new_tokens == 4
    assert time.perf_counter() - began < 30.0


def test_batch_concurrency_over_two_replicas_records_each_run_once(serve_url, tiny_vl, tmp_path):
    from media import make_video

    clips = tmp_path / "clips"
    clips.mkdir()
    for n, name in enumerate("abcd"):  # different bytes: identical files are one video
        make_video(clips / f"{name}.mp4", n_frames=36 + 2 * n, fps=24)
    db = tmp_path / "runs.db"
    args = ["batch", str(clips), "--model", tiny_vl, "--max-new-tokens", "4", "--max-frames",
            "4", "--concurrency", "3", "--out", str(tmp_path / "out"), "--db", str(db),
            "--quiet", "--json", "--backend", "openai", "--base-url", serve_url,
            "--base-url", serve_url.replace("127.0.0.1", "localhost")]  # fmt: skip
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["done"], summary["failed"]) == (4, 0)
    assert len(summary["replicas"]) == 2 and all(summary["replicas"].values())
    from captioner import runlog

    with runlog.RunLog(db) as log:
        runs = log.query(access=runlog.Access.cli(), limit=None)
    assert len(runs) == 4 and {r.status for r in runs} == {"done"}
    again = json.loads(cli(*args).stdout.strip().splitlines()[-1])
    assert (again["skipped"], again["done"]) == (4, 0)


def test_doctor_shows_the_server(serve_url):
    result = cli("doctor", "--json", *_served(serve_url, "--base-url", "http://127.0.0.1:9"))
    assert result.returncode == 0, result.stderr
    backend = json.loads(result.stdout)["backend"]
    first, down = backend["servers"]
    assert (first["kind"], first["answers"]) == ("transformers", True)
    assert down["answers"] is False and backend["api_key_set"] in (True, False)


def test_server_down_and_unknown_model_exit_2_without_traceback(serve_url, tiny_vl, tmp_path):
    down = cli("describe", str(BBB), "--model", tiny_vl, "--db", "off",
               *_served("http://127.0.0.1:9"), env={"CAPTIONER_MAX_RETRIES": "0"})  # fmt: skip
    assert down.returncode == 2 and "Traceback" not in down.stderr
    assert "추론 서버에 연결할 수 없습니다" in down.stderr
    missing = cli("ask", "안녕", "--model", str(tmp_path / "nope"), "--db", "off",
                  *_served(serve_url), env={"CAPTIONER_MAX_RETRIES": "0"})  # fmt: skip
    assert missing.returncode in (1, 2) and "Traceback" not in missing.stderr


def test_the_page_through_the_server_serves_visitors_at_once(serve_url, tiny_vl, tmp_path):
    from appserver import running_app
    from gradio_client import Client, handle_file

    extra = ("--backend", "openai", "--base-url", serve_url)
    with running_app(tiny_vl, tmp_path / "uploads", *extra) as (url, _):
        jobs = [
            Client(url, verbose=False).submit(
                video=handle_file(str(BBB)),
                model=tiny_vl,
                max_new_tokens=6,
                max_frames=4,
                api_name="/describe",
            )  # fmt: skip
            for _ in range(2)
        ]
        for job in jobs:
            status, answer, _thinking, metrics, *_ = job.result(timeout=600)
            assert "6" in metrics and "\ufffd" not in answer


def test_a_long_video_through_the_server_is_windowed_and_merged(served, tiny_vl, tmp_path):
    """Issue 12's "the OpenAI backend": every window and the text-only merge pass go to the
    server; the windows' frames are whole-video times and the timeline covers the clip."""
    import dataclasses

    import media

    from captioner import longvideo
    from captioner.generation import Options

    path = media.make_scenes_video(tmp_path / "scenes.mp4", [15.0, 31.0, 44.0], 60.0)
    settings = dataclasses.replace(served, long_seconds_per_frame=2.0)
    request = engine.DescribeRequest(video=str(path), model=tiny_vl,
                                     options=Options(max_new_tokens=4, seed=0))  # fmt: skip
    events = list(longvideo.describe(request, settings))
    assert events[-1].kind == "done", events[-1]
    windows = [e.result for e in events if e.kind == "window_done"]
    assert len(windows) >= 3 and all(w.status == "done" for w in windows)
    assert windows[0].start_s == 0 and windows[-1].end_s == pytest.approx(60.0, abs=0.5)
    for before, after in zip(windows, windows[1:], strict=False):
        assert before.end_s == pytest.approx(after.start_s)
    merged = next(e for e in events if e.kind == "merged")
    assert merged.check.ok and merged.check.coverage == 1.0
    prepared = next(e for e in events if e.kind == "prepared")
    assert prepared.backend.device.startswith("transformers serve @ 127.0.0.1")
