"""Measurements of our pipeline against the raw library calls, in one run.

    python -m captioner bench --model ./tiny/vl             # after `make-tiny ./tiny`

Reports (all wall-clock, best of a few repeats where cheap):
- decode: ``video.load_clip`` (hash + probe + decode at the target size, in the worker
  process) vs a raw ``decord.VideoReader(...).get_batch`` of the same indices at full size;
  and the cached second ``load_clip``;
- time before generation starts for a first and a second request on the same video
  through ``engine.describe`` (the second finds the model and the clip cached);
- tokens/s of the streaming generator vs a raw ``model.generate`` on the same model, inputs,
  seed and sampling settings (ours also applies the Korean mask, so the sampled tokens may
  differ; both generate the requested number of tokens unless EOS comes first).

``reader_figures(path)`` compares the frame readers alone (decord, PyAV seeking per frame,
PyAV decoding from the start) on the same sampled frames of one clip.
"""

from __future__ import annotations

import os
import queue
import statistics
import threading
import time
from pathlib import Path

from captioner import compute, engine, generation, loader, video

ASSET_CLIP = Path(__file__).resolve().parent.parent.parent / "assets" / "bigbuckbunny.mp4"


def _best(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def decode_figures(path: str, spec: video.SamplingSpec) -> dict:
    import decord

    def ours():
        video.clear_cache()
        return video.load_clip(path, spec)

    clip = ours()
    indices = list(clip.indices)

    def raw():
        reader = decord.VideoReader(path)
        return reader.get_batch(indices).asnumpy()

    ours_s, raw_s = _best(ours), _best(raw)
    video.load_clip(path, spec)
    cached_s = _best(lambda: video.load_clip(path, spec))
    return {
        "frames": len(indices),
        "frame_size": list(clip.frames.shape[1:3]),
        "ours_s": round(ours_s, 4),
        "raw_decord_full_size_s": round(raw_s, 4),
        "ratio_ours_over_raw": round(ours_s / raw_s, 3),
        "cached_s": round(cached_s, 6),
        "ours_bytes": int(clip.frames.nbytes),
        "raw_bytes": int(raw().nbytes),
    }


def time_to_generation(request: engine.DescribeRequest, settings) -> float:
    """Seconds from the call until generate() starts: planning, decoding, loading, the chat
    template and the processor (the part of ``preprocess_s`` spent inside ``stream``)."""
    start = time.perf_counter()
    before = None
    for event in engine.describe(request, settings):
        if getattr(event, "stage", None) == "generate":
            before = time.perf_counter() - start
        elif event.kind == "error":
            raise event.error
        elif event.kind == "done" and before is not None:
            return before + event.metrics.preprocess_s
    raise RuntimeError("the request ended without generating")  # pragma: no cover


class _Stamps:
    """A do-nothing streamer that only notes when each token arrives (for raw decode rates)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.prompt_seen = False

    def put(self, value) -> None:
        if self.prompt_seen:
            self.times.append(time.perf_counter())
        self.prompt_seen = True

    def end(self) -> None:
        pass


def _where_generate_runs(fn, threads: int | None, *, consumer: bool = False):
    """``fn()`` with generate() where the streaming generator runs it: on the compute thread
    (``compute.py``), with ``threads`` torch threads set there (torch's count is per OS
    thread). A ``consumer`` (ours) runs here and hands its generate() there itself; the
    others run there whole. (result, the torch threads generate() ran with)."""
    import torch

    def setup() -> int:
        if threads:
            torch.set_num_threads(threads)
        return torch.get_num_threads()

    used = compute.call(setup)
    return (fn() if consumer else compute.call(fn)), used


def _rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def throughput(
    loaded, clip, max_new_tokens: int, seed: int = 0, rounds: int = 3, threads: int | None = None
) -> dict:
    """Three ways to generate the same tokens count on identical inputs and seed, each with
    generate() on the compute thread and the same number of torch threads (reported),
    interleaved, medians:

    - ``ours``: the streaming generator (``TransformersBackend.stream``) as users get it: chat
      template and processor, Korean mask, presence penalty, our sampler, the queue to the
      consuming thread, per-syllable detokenizing, events;
    - ``same_processors``: raw ``model.generate`` with exactly our logits processors, sampler
      and KV cache (``kvcache`` on a CPU runtime) and a do-nothing streamer that only notes the time of each token: the
      difference to ``ours`` is what streaming itself costs per token;
    - ``raw``: raw ``model.generate`` with transformers' own sampling (temperature, top-k,
      top-p, multinomial over the whole vocabulary), no mask, no presence penalty.

    End to end = tokens / wall time of the whole call (prefill included); decode = tokens
    after the first / time after the first."""
    import torch
    from transformers import set_seed

    threads = threads or getattr(loaded.request, "threads", None) or torch.get_num_threads()
    backend = generation.TransformersBackend(loaded)
    options = generation.Options(max_new_tokens=max_new_tokens, seed=seed)
    request = generation.Request("영상을 자세히 설명해 주세요.", clip, options=options)
    inputs, prompt_ids, _ = compute.call(backend.prepare, request)
    sampling = backend.sampling(options)
    plain = {k: v for k, v in sampling.items() if k != "presence_penalty"}

    def ours():
        start = time.perf_counter()
        done = list(backend.stream(request))[-1]
        m = done.metrics
        return m.new_tokens, time.perf_counter() - start, m.tokens_per_s

    def generate_with(kwargs):
        set_seed(seed)
        stamps = _Stamps()
        start = time.perf_counter()
        with torch.inference_mode():
            out = loaded.model.generate(**{**kwargs, "streamer": stamps})
        n = out.shape[1] - inputs["input_ids"].shape[1]
        return n, time.perf_counter() - start, _rate(stamps.times)

    def same_processors():
        kwargs = backend._generate_kwargs(
            inputs, prompt_ids, sampling, threading.Event(), queue.Queue()
        )
        return generate_with(kwargs)

    def raw():
        pad = loaded.tokenizer.pad_token_id
        return generate_with({**inputs, **plain, "pad_token_id": pad})

    jobs = {"ours": ours, "same_processors": same_processors, "raw": raw}
    used = {}
    for name, job in jobs.items():  # warm-up, and the threads each side gets
        _, used[name] = _where_generate_runs(job, threads, consumer=name == "ours")
    runs: dict[str, list] = {name: [] for name in jobs}
    for _ in range(rounds):  # interleaved: the machine's noise hits all three alike
        for name, job in jobs.items():
            runs[name].append(_where_generate_runs(job, threads, consumer=name == "ours")[0])
    e2e = {k: statistics.median(n / s for n, s, _ in v) for k, v in runs.items()}
    decode = {k: statistics.median(rate for _, _, rate in v) for k, v in runs.items()}

    def per_token_ms(a: str, b: str) -> float:
        return round((1 / decode[a] - 1 / decode[b]) * 1000, 3) if decode[a] and decode[b] else 0.0

    # the same difference round by round (each round runs both back to back): its median and
    # range say how much of it is the machine's noise
    paired = [
        (1 / x[2] - 1 / y[2]) * 1000
        for x, y in zip(runs["ours"], runs["same_processors"], strict=True)
        if x[2] and y[2]
    ]

    return {
        "new_tokens": runs["ours"][0][0],
        "raw_new_tokens": runs["raw"][0][0],
        "same_processors_new_tokens": runs["same_processors"][0][0],
        "threads": used,
        "rounds": rounds,
        "ours_tokens_per_s": round(e2e["ours"], 2),
        "raw_tokens_per_s": round(e2e["raw"], 2),
        "same_processors_tokens_per_s": round(e2e["same_processors"], 2),
        "ratio_ours_over_raw": round(e2e["ours"] / e2e["raw"], 3),
        "ours_decode_tokens_per_s": round(decode["ours"], 2),
        "raw_decode_tokens_per_s": round(decode["raw"], 2),
        "same_processors_decode_tokens_per_s": round(decode["same_processors"], 2),
        "decode_ratio_ours_over_raw": round(decode["ours"] / decode["raw"], 3),
        "streaming_overhead_ms_per_token": per_token_ms("ours", "same_processors"),
        "streaming_overhead_paired_ms": {
            "median": round(statistics.median(paired), 3) if paired else None,
            "range": [round(min(paired), 3), round(max(paired), 3)] if paired else None,
        },
        "ours_minus_raw_ms_per_token": per_token_ms("ours", "raw"),
    }


def processor_costs(rows: int = 151_936, answer_tokens: int = 64, repeats: int = 200) -> dict:
    """Milliseconds per token of each per-token step of generation, on one 151,936-wide score
    row (the real vocabulary), one thread, medians: ours and transformers' sampling path."""
    import torch
    from transformers.generation.logits_process import (
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    import captioner.dev.tiny as tiny
    from captioner import korean

    tokenizer = tiny.build_tokenizer()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(0)
        scores = torch.randn(1, rows, generator=generator)
        prompt = 600
        ids = torch.randint(0, 150_000, (1, prompt + answer_tokens), generator=generator)
        mask = korean.logits_processor(tokenizer, rows, prompt_len=prompt)
        steps = {
            "korean_mask": lambda: mask(ids, scores.clone()),
            "presence_penalty": lambda: generation._presence_penalty(prompt, 1.5)(
                ids, scores.clone()
            ),
            "our_sampler": lambda: generation._sampler(0.7, 20, 0.8)(ids, scores.clone()),
            "greedy_pick": lambda: scores.argmax(-1),
            "stopping_criterion": lambda: generation._stop_on(threading.Event())(ids, scores),
            "transformers_topk_topp": lambda: TopPLogitsWarper(0.8)(
                ids, TopKLogitsWarper(20)(ids, TemperatureLogitsWarper(0.7)(ids, scores.clone()))
            ),
            "transformers_multinomial": lambda: torch.multinomial(torch.softmax(scores, -1), 1),
        }
        queue_, streamer = queue.Queue(), generation._QueueStreamer(queue.Queue())
        streamer.sink, streamer.prompt_seen = queue_, True
        streamer.HANDOFF_S = 0.0  # every token handed over: the cost of one hand-off
        splitter = generation._ThinkSplitter(tokenizer, [])
        answer = iter(tokenizer("숲 속의 토끼가 나비를 바라봅니다. " * 400)["input_ids"])

        def consumer():  # what the consuming thread does per token, hand-off aside
            streamer.put(torch.tensor([next(answer)]))
            splitter.feed(queue_.get()[1])

        steps["streamer_queue_and_detokenize"] = consumer
        out = {}
        for name, step in steps.items():
            for _ in range(10):
                step()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
            out[name] = round(statistics.median(times) * 1000, 4)
        return {"rows": rows, "threads": 1, "ms_per_token": out}
    finally:
        torch.set_num_threads(threads)


def report(model: str, settings, video_path: str | None = None, max_new_tokens: int = 64) -> dict:
    path = str(video_path or ASSET_CLIP)
    request = engine.DescribeRequest(
        video=path, model=model, max_frames=8, options=generation.Options(max_new_tokens=1)
    )
    chosen = engine.select(request, settings)
    spec = engine.sampling_spec(chosen, request)
    report = {"model": model, "video": Path(path).name, "decode": decode_figures(path, spec)}
    loader.unload()
    video.clear_cache()
    first = time_to_generation(request, settings)
    second = time_to_generation(request, settings)
    report["before_generation"] = {
        "first_s": round(first, 4),
        "second_s": round(second, 4),
        "second_over_first": round(second / first, 4),
    }
    loaded = loader.load(chosen.model_request(request, settings.hub_cache))
    clip = video.load_clip(path, spec)
    report["throughput"] = throughput(loaded, clip, max_new_tokens)
    return report


def reader_figures(path: str, spec: video.SamplingSpec | None = None, repeats: int = 5) -> dict:
    """Seconds to decode the sampled frames of ``path`` with each reader, in this process (no
    worker, no probe, no cache): medians of ``repeats`` interleaved rounds, the order of the
    readers rotating each round, after one warm-up round, so the machine's noise and the
    page cache hit every reader alike. Also checks that PyAV's seeking and sequential paths
    return identical frames and times."""
    import numpy as np

    from captioner import hardware
    from captioner.video import decode, probing, readers

    path = os.path.abspath(path)
    spec = spec or video.SamplingSpec()
    facts = probing.probe_job(path, float("inf"))
    info = probing.info_from_probe(path, 0, "", facts)
    index = probing.frame_index(facts)
    indices = video.sample_indices(info, spec)
    height, width = video.target_size(info.height, info.width, spec)
    jobs = {
        "pyav_seek": lambda: decode.decode_pyav_seeking(path, indices, height, width, index),
        "pyav_sequential": lambda: decode.decode_pyav_sequential(path, indices, height, width),
    }
    if readers.installed("decord"):
        jobs["decord"] = lambda: decode.decode_decord(path, indices, height, width)
    seek, sequential = jobs["pyav_seek"](), jobs["pyav_sequential"]()  # also the warm-up
    identical = bool(np.array_equal(seek[0], sequential[0]) and seek[1] == sequential[1])
    names = list(jobs)
    runs: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats + 1):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            jobs[name]()
            if round_:  # round 0 warms up decord
                runs[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in runs.items()}
    report = {
        "video": Path(path).name,
        "cpu": hardware.detect().cpu_name,
        "source": f"{info.width}x{info.height}, {info.frame_count} frames, {info.duration_s:.1f} s",
        "keyframes": len(index.keyframes) if index else None,
        "frames": len(indices),
        "frame_size": [height, width],
        "frames_decoded_by_a_seeking_reader": index.decode_work(indices) if index else None,
        "repeats": repeats,
        "median_s": {name: round(value, 4) for name, value in median.items()},
        "range_s": {name: [round(min(v), 4), round(max(v), 4)] for name, v in runs.items()},
        "seek_identical_to_sequential": identical,
        "seek_over_sequential": round(median["pyav_seek"] / median["pyav_sequential"], 3),
    }
    if "decord" in median:
        report["seek_over_decord"] = round(median["pyav_seek"] / median["decord"], 3)
    return report
