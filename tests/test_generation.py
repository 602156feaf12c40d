"""Streaming generation on tiny real checkpoints: events, timestamps, stop, thread errors,
thinking split, metrics. Tiny models output nonsense: assert on structure, never on words."""

from __future__ import annotations

import dataclasses
import re
import threading
import time

import pytest
import torch

from captioner import generation, loader, video
from captioner.errors import InvalidRequest, UnsupportedInput
from captioner.generation import Options, Request


@pytest.fixture(scope="module")
def vl(tiny_vl):
    loader.unload()
    return loader.load(loader.ModelRequest(tiny_vl, precision="fp32", device="cpu"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from media import make_video

    path = make_video(tmp_path_factory.mktemp("gen") / "clip.mp4", n_frames=72, fps=24)
    return video.load_clip(path, video.SamplingSpec(fps=2.0, max_frames=8, max_pixels=160 * 128))


def _run(loaded, request, stop=None):
    return list(generation.TransformersBackend(loaded).stream(request, stop))


def test_stream_yields_text_then_done_with_metrics(vl, clip):
    events = _run(
        vl, Request("영상을 설명해 주세요.", clip, options=Options(max_new_tokens=12, seed=0))
    )
    kinds = [e.kind for e in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) <= {"text"}
    done = events[-1]
    assert "".join(e.text for e in events[:-1]) == done.answer
    assert "\ufffd" not in done.answer
    m = done.metrics
    assert m.new_tokens == 12 and m.finish_reason == "length"
    assert m.frames == len(clip.indices) == 6  # 3 s at 2 fps
    assert m.video_tokens > 0 and m.prompt_tokens > m.video_tokens
    assert 0 < m.ttft_s <= m.total_s and m.tokens_per_s > 0 and m.peak_memory_bytes > 0
    assert done.sampling["temperature"] == 0.7 and done.sampling["top_k"] == 20  # generation_config


def test_prompt_carries_the_frames_real_timestamps(vl, clip):
    _, prompt_ids, video_tokens = generation.TransformersBackend(vl).prepare(Request("설명", clip))
    text = vl.tokenizer.decode(prompt_ids)
    stamps = [float(s) for s in re.findall(r"<([\d.]+) seconds>", text)]
    # one stamp per temporal patch of 2 frames: the mean of the pair's real times
    pairs = [(a + b) / 2 for a, b in zip(clip.timestamps[::2], clip.timestamps[1::2], strict=True)]
    assert stamps == pytest.approx(pairs, abs=0.051)
    assert text.count("<|video_pad|>") == video_tokens
    assert "<|im_start|>system\n" in text and text.endswith("<|im_start|>assistant\n")


def test_processor_takes_the_frames_as_sampled_and_sized(vl, clip):
    """captioner.video sampled and sized the frames: the processor patches them as they are,
    and is told its per-frame pixel cap (a resize rule) is moot, so transformers does not warn
    at every start that uncapped videos "cost far more tokens"."""
    import logging

    from transformers.utils import logging as hf_logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = hf_logging.get_logger("transformers.models.qwen3_vl.video_processing_qwen3_vl")
    verbosity = hf_logging.get_verbosity()
    logging.Logger.warning_once.cache_clear()  # transformers warns once per process
    logger.addHandler(handler)
    hf_logging.set_verbosity_warning()
    try:
        inputs, _, video_tokens = generation.TransformersBackend(vl).prepare(Request("설명", clip))
    finally:
        logger.removeHandler(handler)
        hf_logging.set_verbosity(verbosity)
    assert not [r for r in records if "cap_pixels_per_frame" in r.getMessage()]
    n, height, width, _ = clip.frames.shape
    patch = vl.processor.video_processor.patch_size
    assert inputs["video_grid_thw"].tolist() == [[n // 2, height // patch, width // patch]]
    assert video_tokens == n // 2 * (height // patch) * (width // patch) // 4


def test_same_seed_same_answer(vl, clip):
    options = Options(max_new_tokens=8, seed=123)
    first = _run(vl, Request("설명", clip, options=options))[-1].answer
    assert _run(vl, Request("설명", clip, options=options))[-1].answer == first


def test_stop_ends_generation_within_a_step_and_frees_the_model(vl, clip):
    stop = threading.Event()
    events, stopped_at = [], None
    for event in generation.stream(
        vl, Request("설명", clip, options=Options(max_new_tokens=4000)), stop
    ):
        events.append(event)
        if event.kind == "text" and stopped_at is None and len(events) >= 3:
            stop.set()
            stopped_at = time.perf_counter()
    assert time.perf_counter() - stopped_at < 5.0  # liveness on a busy machine, not speed
    done = events[-1]
    assert done.kind == "done" and done.metrics.finish_reason == "stopped"
    assert done.metrics.new_tokens < 100
    assert not vl.lock.locked()
    assert _run(vl, Request("설명", clip, options=Options(max_new_tokens=2)))[-1].kind == "done"


def test_abandoned_stream_releases_the_model(vl, clip):
    stream = generation.stream(vl, Request("설명", clip, options=Options(max_new_tokens=4000)))
    next(stream)
    assert vl.lock.locked()
    stream.close()  # e.g. the browser tab went away
    assert not vl.lock.locked()


def test_generate_thread_errors_reach_the_caller(vl, clip, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(vl.model, "generate", boom)
    events = _run(vl, Request("설명", clip))
    assert [e.kind for e in events] == ["error"]
    assert not events[0].user_error and "kernel exploded" in events[0].error.detail


def test_out_of_memory_in_the_thread_is_a_user_facing_error(vl, clip, monkeypatch):
    def oom(**kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(vl.model, "generate", oom)
    (event,) = _run(vl, Request("설명", clip))
    assert event.user_error and event.error.code == "out_of_memory" and "프레임" in event.error.ko


def test_text_model_refuses_video(tiny_text, clip):
    text = loader.load(loader.ModelRequest(tiny_text, precision="fp32", device="cpu"))
    (event,) = _run(text, Request("설명", clip))
    assert isinstance(event.error, UnsupportedInput) and event.user_error


def test_text_prompt_on_hybrid_model_with_thinking_off(tiny_text):
    text = loader.load(loader.ModelRequest(tiny_text, precision="fp32", device="cpu"))
    backend = generation.TransformersBackend(text)
    _, ids, _ = backend.prepare(Request("안녕", options=Options(think=False)))
    assert text.tokenizer.decode(ids).endswith("<think>\n\n</think>\n\n")
    _, ids, _ = backend.prepare(Request("안녕", options=Options(think=True)))
    assert text.tokenizer.decode(ids).endswith("<|im_start|>assistant\n")
    events = _run(text, Request("안녕", options=Options(max_new_tokens=6, seed=1)))
    assert events[-1].kind == "done" and events[-1].metrics.video_tokens == 0


def test_bad_sampling_is_a_user_error(vl, clip):
    (event,) = _run(vl, Request("설명", clip, options=Options(top_p=1.5)))
    assert isinstance(event.error, InvalidRequest) and "top_p" in event.error.en


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (Options(repetition_penalty=float("nan")), "repetition_penalty"),
        (Options(presence_penalty=float("nan")), "presence_penalty"),
        (Options(presence_penalty=1e308), "presence_penalty"),
        (Options(temperature=float("inf")), "temperature"),
        (Options(top_k=-1), "top_k"),
        (Options(seed=-1), "seed"),
        (Options(seed=2**32), "seed"),
    ],
)
def test_every_sampling_value_has_a_range(options, named):
    # NaN slips past "<= 0" tests; a seed outside 0..2**32-1 made set_seed fail mid-run
    with pytest.raises(InvalidRequest) as caught:
        generation.merged_sampling("Qwen/Qwen3-VL-2B-Instruct", options)
    assert named in caught.value.en and named in caught.value.ko


def test_temperature_zero_is_greedy():
    greedy = generation.merged_sampling("Qwen/Qwen3-VL-2B-Instruct", Options(temperature=0))
    assert greedy["do_sample"] is False
    sampled = generation.merged_sampling("Qwen/Qwen3-VL-2B-Instruct", Options(seed=2**32 - 1))
    assert sampled["do_sample"] is True and sampled["temperature"] == 0.7
    with pytest.raises(InvalidRequest, match="temperature"):
        generation.merged_sampling(
            "Qwen/Qwen3-VL-2B-Instruct", Options(temperature=0, do_sample=True)
        )


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_think_blocks_never_leak_into_the_answer(vl):
    tok = vl.tokenizer
    think, end = tok.convert_tokens_to_ids("<think>"), tok.convert_tokens_to_ids("</think>")
    prompt = _ids(tok, "<|im_start|>assistant\n")
    splitter = generation._ThinkSplitter(tok, prompt)
    ids = [think, *_ids(tok, "\n생각 중입니다\n"), end, *_ids(tok, "\n\n답변입니다")]
    events = []
    for token in ids:  # one token at a time, as generate() streams
        events += splitter.feed([token])
    events += splitter.finish()
    assert "".join(e.text for e in events if e.kind == "thinking") == "생각 중입니다\n"
    assert "".join(e.text for e in events if e.kind == "text") == "답변입니다"
    assert all("think>" not in e.text for e in events)


def test_thinking_template_starts_inside_the_think_block(tiny_thinking_vl, clip):
    loaded = loader.load(loader.ModelRequest(tiny_thinking_vl, precision="fp32", device="cpu"))
    assert loaded.thinking == "always"
    events = _run(loaded, Request("설명", clip, options=Options(max_new_tokens=6, seed=0)))
    done = events[-1]
    # the prompt opened <think>, the random model never closes it: everything is reasoning
    assert done.answer == "" and done.thinking
    assert {e.kind for e in events[:-1]} == {"thinking"}


def test_presence_penalty_lowers_seen_tokens_only():
    processor = generation._presence_penalty(prompt_len=2, penalty=1.5)
    ids = torch.tensor([[5, 6, 7, 7]])
    scores = torch.zeros(1, 10)
    out = processor(ids, scores)
    assert out[0, 7] == -1.5 and out[0, 5] == 0 and out[0, 6] == 0


def test_done_carries_the_korean_check(vl, clip):
    from captioner import korean

    done = _run(vl, Request("설명", clip, options=Options(max_new_tokens=6, seed=0)))[-1]
    assert isinstance(done.korean, korean.KoreanCheck)
    assert done.korean == korean.check(done.answer)
    # the field has a default: constructors that predate it still work
    assert generation.Done("a", "", done.metrics, {}).korean is None


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), [(0.7, 20, 0.8), (1.0, 0, 0.95),
                                                             (0.6, 20, 1.0), (1.3, 50, 0.5)])  # fmt: skip
def test_our_sampler_draws_from_transformers_distribution(temperature, top_k, top_p):
    """The last processor samples from exactly what temperature, top-k and top-p leave in
    transformers (generate() then only picks the one token left)."""
    from transformers.generation.logits_process import (
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    scores = torch.randn(3, 2000, generator=torch.Generator().manual_seed(0)) * 3
    warped = TemperatureLogitsWarper(temperature)(None, scores.clone())
    if top_k:
        warped = TopKLogitsWarper(top_k)(None, warped)
    if top_p < 1.0:
        warped = TopPLogitsWarper(top_p)(None, warped)
    expected = torch.softmax(warped, dim=-1)
    indices, probs = generation.sampling_distribution(scores, temperature, top_k, top_p)
    ours = torch.zeros_like(scores).scatter_(-1, indices, probs)
    ours = ours / ours.sum(-1, keepdim=True)
    assert torch.allclose(ours, expected, atol=1e-6)
    picked = generation._sampler(temperature, top_k, top_p)(None, scores.clone())
    assert (torch.isfinite(picked).sum(-1) == 1).all()  # one token left per row
    assert (expected.gather(-1, picked.argmax(-1, keepdim=True)) > 0).all()


def test_metrics_say_how_many_threads_generate_ran_with(vl, clip):
    """No thread count asked for: torch's own in the generate thread, reported all the same
    (tests/test_quantize.py asks for one)."""
    done = _run(vl, Request("x", clip, options=Options(max_new_tokens=2, seed=0)))[-1]
    assert done.metrics.threads >= 1


def test_the_streamer_hands_ids_over_at_once_or_with_the_next_token(monkeypatch):
    """Ids within HANDOFF_S of the last hand-off wait for the next one (a fast model wakes
    the consumer less often); the first goes at once; end() hands over the rest with the
    last token's own time."""
    import queue

    clock = iter([10.0, 10.001, 10.002, 10.5, 10.501])
    monkeypatch.setattr(generation.time, "perf_counter", lambda: next(clock))
    sink: queue.Queue = queue.Queue()
    streamer = generation._QueueStreamer(sink)
    streamer.put(torch.tensor([[1, 2, 3]]))  # the prompt: not handed over
    for token in (7, 8, 9, 10, 11):
        streamer.put(torch.tensor([token]))
    streamer.end()
    streamer.end()  # nothing twice
    got = [sink.get_nowait() for _ in range(sink.qsize())]
    assert got == [("ids", [7], 10.0), ("ids", [8, 9, 10], 10.5), ("ids", [11], 10.501)]


def test_a_rate_needs_two_tokens():
    # stopped after one token: the first token's time is the ttft, so there is no rate to show
    one = generation.Metrics(prompt_tokens=10, video_tokens=0, frames=0, new_tokens=1,
                             preprocess_s=0.1, ttft_s=0.4, total_s=0.4, tokens_per_s=0.0,
                             peak_memory_bytes=2**30, peak_memory_kind="process peak RSS",
                             finish_reason="stopped")  # fmt: skip
    assert "· – tok/s ·" in one.line("ko") and "· – tok/s ·" in one.line("en")
    two = dataclasses.replace(one, new_tokens=2, tokens_per_s=12.34)
    assert "· 12.3 tok/s ·" in two.line("en")
