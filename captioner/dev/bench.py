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
import statistics
import time
from pathlib import Path

from captioner import engine, generation, loader, video

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


def throughput(loaded, clip, max_new_tokens: int, seed: int = 0) -> dict:
    """Streaming generator vs raw generate() on identical inputs and seed, in one run.

    Two rates each: end to end (tokens / wall time of the whole call, prefill included) and
    decoding (tokens after the first / time after the first). Ours includes everything a
    user gets: the chat template and processor, the Korean mask, per-syllable detokenizing."""
    import torch
    from transformers import set_seed

    backend = generation.TransformersBackend(loaded)
    options = generation.Options(max_new_tokens=max_new_tokens, seed=seed)
    request = generation.Request("영상을 자세히 설명해 주세요.", clip, options=options)
    inputs, _, _ = backend.prepare(request)
    sampling = backend.sampling(options)
    sampling.pop("presence_penalty")

    def ours():
        start = time.perf_counter()
        done = list(backend.stream(request))[-1]
        m = done.metrics
        return m.new_tokens, time.perf_counter() - start, m.tokens_per_s

    def raw():
        set_seed(seed)
        stamps = _Stamps()
        start = time.perf_counter()
        with torch.inference_mode():
            out = loaded.model.generate(
                **inputs, **sampling, pad_token_id=loaded.tokenizer.pad_token_id, streamer=stamps
            )
        elapsed = time.perf_counter() - start
        n = out.shape[1] - inputs["input_ids"].shape[1]
        t = stamps.times
        return n, elapsed, (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 else 0.0

    ours(), raw()  # warm-up
    runs = {"ours": [], "raw": []}
    for _ in range(3):  # interleaved, best of three: the machine's noise hits both alike
        runs["ours"].append(ours())
        runs["raw"].append(raw())
    e2e = {k: max(n / s for n, s, _ in v) for k, v in runs.items()}
    decode = {k: max(rate for _, _, rate in v) for k, v in runs.items()}
    return {
        "new_tokens": runs["ours"][0][0],
        "raw_new_tokens": runs["raw"][0][0],
        "ours_tokens_per_s": round(e2e["ours"], 2),
        "raw_tokens_per_s": round(e2e["raw"], 2),
        "ratio_ours_over_raw": round(e2e["ours"] / e2e["raw"], 3),
        "ours_decode_tokens_per_s": round(decode["ours"], 2),
        "raw_decode_tokens_per_s": round(decode["raw"], 2),
        "decode_ratio_ours_over_raw": round(decode["ours"] / decode["raw"], 3),
    }


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
