"""The GPU suite: the profile's video model on whatever CUDA GPU is present, random weights of
the real architecture (nothing downloaded), one JSON.

    python -m captioner bench --suite gpu [--json]          # ~2 minutes on an H200
    python -m captioner bench --suite gpu --dry             # CPU, tiny model: does it run?

What it reports, for the model and precision ``profiles.decide`` picks on this GPU:

- decode tokens/s at batch 1 (64 tokens after a short prompt and a warm-up run), the weight
  bytes each token reads (``memory.decode_bytes_per_token``) and the fraction of the GPU's
  memory bandwidth that makes: the data sheet's (``PEAK_BANDWIDTH``) and a measured copy's;
- the same decode with transformers' static cache, which ``generate()`` compiles into CUDA
  graphs: the difference is what Python and kernel launches cost (on an H200, most of it);
- NF4 (bitsandbytes, vision tower kept 16-bit as the loader does) against bf16/fp16 on the
  same architecture: decode, and the weights' bytes against the plan;
- time to the first token with 32, 64 and 128 frames at the profile's pixel budget (random
  frames through the real Qwen3-VL processor), and the peak memory of each against the
  memory plan's prediction (planner error in %).

The model is built on the meta device and materialised on the GPU with N(0, 0.02) weights,
so no checkpoint is written or read. Without a GPU (CI) ``--dry`` runs every step on the CPU
with a tiny Qwen3-VL of the same classes, so the suite is known to execute.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import sys
import time

from captioner import catalog, memory, profiles
from captioner.precision import GiB

# Peak DRAM bandwidth, GB/s (10^9 bytes/s), from the vendors' data sheets; most specific first.
PEAK_BANDWIDTH: tuple[tuple[str, float], ...] = (
    (r"GH200|H200", 4800.0),
    (r"H100.*PCIe", 2000.0),
    (r"H100|H800", 3350.0),  # SXM5, HBM3
    (r"A100.*80", 2039.0),  # SXM4 80 GB (the PCIe card: 1935)
    (r"A100", 1555.0),  # 40 GB
    (r"A10G", 600.0),
    (r"\bL4\b", 300.0),
    (r"\bT4\b", 320.0),
)
FRAMES = (32, 64, 128)
DRY_FRAMES = (4, 8)
DECODE_TOKENS = 64
PROMPT = "영상을 자세히 설명해 주세요."


def peak_bandwidth(gpu_name: str) -> float | None:
    """GB/s of the first table row matching ``gpu_name``, or None for an unknown GPU."""
    return next((bw for pattern, bw in PEAK_BANDWIDTH if re.search(pattern, gpu_name, re.I)), None)


def _random_model(config, device: str, dtype):
    """``config``'s model with N(0, 0.02) weights on ``device`` (parameters never on the CPU)."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForImageTextToText

    with init_empty_weights(include_buffers=False):
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    model.to_empty(device=device)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            buffer.copy_(buffers[name])
        for param in model.parameters():
            param.normal_(0.0, 0.02)
    model.tie_weights()
    return model.eval()


def _to_nf4(model, compute_dtype) -> None:
    """The language model's nn.Linear layers (not the head, not the vision tower) to
    bitsandbytes NF4 with double quantization, in place, as the loader's config does."""
    import bitsandbytes as bnb
    import torch

    head = model.get_output_embeddings()
    names = [
        name
        for name, m in model.named_modules()
        if type(m) is torch.nn.Linear and "visual" not in name and m is not head
    ]  # fmt: skip (names only: a list of the layers would keep every 16-bit weight alive)
    for name in names:
        linear = model.get_submodule(name)
        q = bnb.nn.Linear4bit(
            linear.in_features, linear.out_features, bias=linear.bias is not None,
            compute_dtype=compute_dtype, compress_statistics=True, quant_type="nf4",
            device="meta",
        )  # fmt: skip
        q.weight = bnb.nn.Params4bit(
            linear.weight.data, requires_grad=False, quant_type="nf4",
            compress_statistics=True, module=q,
        ).to(linear.weight.device)  # fmt: skip
        if linear.bias is not None:
            q.bias = linear.bias
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, q)
        del linear
    torch.cuda.empty_cache()


def _frames(n: int, pixels: int):
    import numpy as np

    side = max(32, int(pixels**0.5) // 32 * 32)
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


def _inputs(processor, frames, device):
    from transformers.video_utils import VideoMetadata

    from captioner import generation, prompts

    messages = prompts.build_messages(PROMPT, with_video=True, accepts_video=True)
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    n = len(frames)
    meta = VideoMetadata(total_num_frames=n, fps=2.0, frames_indices=list(range(n)),
                         duration=n / 2.0, width=frames.shape[2], height=frames.shape[1])  # fmt: skip
    inputs = processor(text=[text], videos=[frames], video_metadata=[meta],
                       **generation.PREPARED_FRAMES, return_tensors="pt")  # fmt: skip
    return {k: v.to(device) for k, v in inputs.items() if k != "token_type_ids"}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_reset(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated()) if device.startswith("cuda") else None


def decode_rate(model, device: str, tokens: int = DECODE_TOKENS, **generate) -> tuple[float, float]:
    """(tokens/s after the first token, median ms between tokens) at batch 1, greedy, EOS
    ignored. The median is the steady state; the mean also counts the allocator's growth.
    ``generate``: more arguments for ``generate`` (``cache_implementation="static"``)."""
    import statistics

    import torch

    stamps: list[float] = []

    class Stamps:
        def put(self, value):
            _sync(device)
            stamps.append(time.perf_counter())

        def end(self):
            pass

    ids = torch.randint(0, 150_000, (1, 32), device=device)
    with torch.inference_mode():
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                       max_new_tokens=tokens, min_new_tokens=tokens, streamer=Stamps(),
                       pad_token_id=0, **generate)  # fmt: skip
    times = stamps[1:]  # the first put is the prompt
    if len(times) < 2:
        return 0.0, 0.0
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return (len(times) - 1) / (times[-1] - times[0]), statistics.median(gaps) * 1000


def ttft(model, processor, frames, device: str) -> tuple[float, int, int | None]:
    """(seconds to the first token, prompt tokens, peak bytes) for one video request."""
    import torch

    inputs = _inputs(processor, frames, device)
    _peak_reset(device)
    _sync(device)
    start = time.perf_counter()
    with torch.inference_mode():
        model.generate(**inputs, do_sample=False, max_new_tokens=1, pad_token_id=0)
    _sync(device)
    return time.perf_counter() - start, int(inputs["input_ids"].shape[1]), _peak(device)


def copy_bandwidth(device: str, nbytes: int = 2 * GiB, repeats: int = 10) -> float | None:
    """GB/s of a device-to-device copy, counting bytes read and written: the ceiling this
    GPU reaches in practice (the data sheet's figure is the other one reported)."""
    import torch

    if not device.startswith("cuda"):
        return None
    src = torch.empty(nbytes // 2, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    _sync(device)
    seconds = time.perf_counter() - start
    del src, dst
    torch.cuda.empty_cache()
    return round(nbytes * repeats / seconds / 1e9, 1)


def _planned(spec, precision: str, frames: int, pixels: int, prompt_tokens: int, decision):
    workload = memory.Workload(frames=frames, frame_pixels=pixels, max_new_tokens=1,
                               prompt_tokens=prompt_tokens - int(frames * memory.vision_tokens_for_pixels(spec, pixels)))  # fmt: skip
    workload = dataclasses.replace(workload, prompt_tokens=max(workload.prompt_tokens, 1))
    plan = memory.plan(spec, precision, decision.available_bytes, workload)
    return plan.total_bytes - plan.reserve_bytes  # the allocator's peak has no CUDA context


class _Log:
    """Progress on stderr with the seconds since the start (a long run shows where it is)."""

    def __init__(self, quiet: bool):
        self.quiet, self.started = quiet, time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[gpu suite {time.perf_counter() - self.started:6.1f} s] {message}",
                  file=sys.stderr, flush=True)  # fmt: skip


def run(settings=None, *, dry: bool = False, frames: tuple[int, ...] | None = None,
        quiet: bool = False) -> dict:  # fmt: skip
    """The whole suite; ``dry``: on the CPU with a tiny Qwen3-VL (what CI runs)."""
    import torch
    import transformers

    import captioner.dev.tiny as tiny

    log = _Log(quiet)
    cuda = torch.cuda.is_available() and not dry
    device = "cuda" if cuda else "cpu"
    report: dict = {"dry": not cuda, "device": device, "torch": torch.__version__,
                    "transformers": transformers.__version__}  # fmt: skip
    processor = tiny.vl_processor()
    if cuda:
        from captioner import hardware

        hw = hardware.detect()
        decision = profiles.decide(hw, settings.profile if settings else None)
        if decision.devices > 1:
            raise RuntimeError(
                f"the profile's {decision.video.model} spreads over {decision.devices} GPUs; "
                "the suite measures one GPU: pass --profile with a one-GPU profile"
            )
        spec = catalog.get(decision.video.model)
        precision = decision.video.precision
        float_precision = decision.runtime.float_precision
        config = catalog.hf_config(spec)
        gpu = hw.gpus[0]
        report["gpu"] = {"name": gpu.name, "memory_gb": round(gpu.memory_gb, 1),
                         "capability": list(gpu.capability), "count": hw.gpu_count}  # fmt: skip
        bandwidth = peak_bandwidth(gpu.name)
        pixels = decision.max_pixels
        frame_counts = frames or FRAMES
    else:
        decision = None
        spec = None
        precision, float_precision = "bf16", "bf16"
        config = _tiny_config()
        bandwidth = None
        pixels = 64 * 64
        frame_counts = frames or DRY_FRAMES
    dtype = getattr(torch, {"bf16": "bfloat16", "fp16": "float16"}.get(float_precision, "float32"))
    report.update(model=spec.id if spec else "tiny Qwen3-VL", precision=precision,
                  float_precision=float_precision, peak_bandwidth_gb_s=bandwidth,
                  profile=decision.profile.name if decision else None,
                  max_pixels=pixels)  # fmt: skip
    log(f"{report['model']} {precision} (floats {float_precision}) on {device}")
    report["copy_bandwidth_gb_s"] = copy_bandwidth(device)
    measured = report["copy_bandwidth_gb_s"]
    start = time.perf_counter()
    model = _random_model(config, device, dtype)
    _sync(device)
    report["build_s"] = round(time.perf_counter() - start, 1)
    report["weights"] = {float_precision: _weights_entry(device, spec, float_precision)}
    log(f"built in {report['build_s']} s: {report['weights'][float_precision]}")
    entry = lambda p: _decode_entry(model, device, spec, p, float_precision, bandwidth, measured)  # noqa: E731
    report["decode"] = {float_precision: entry(float_precision)}
    log(f"decode {float_precision}: {report['decode'][float_precision]}")
    if cuda:  # what the launches cost: the same decode as CUDA graphs
        report["decode_compiled"] = {float_precision: _compiled_entry(model, device, spec, float_precision, bandwidth)}  # fmt: skip
        log(f"decode {float_precision}, static cache + torch.compile: {report['decode_compiled']}")
    nf4 = cuda  # bitsandbytes' NF4 is measured on CUDA only
    if nf4 and precision == "nf4":  # the profile runs NF4: its first token and memory too
        _to_nf4(model, dtype)
        report["weights"]["nf4"] = _weights_entry(device, spec, "nf4", float_precision)
    ttft(model, processor, _frames(min(4, *frame_counts), pixels), device)  # warm-up (kernels)
    runs = []
    for n in frame_counts:
        row = _ttft_entry(model, processor, n, pixels, device, spec, precision, decision)
        log(f"first token, {n} frames: {row}")
        runs.append(row)
    report["ttft"] = runs
    if nf4 and precision != "nf4":
        _to_nf4(model, dtype)
        report["weights"]["nf4"] = _weights_entry(device, spec, "nf4", float_precision)
        n = frame_counts[0]
        report["ttft_nf4"] = [_ttft_entry(model, processor, n, pixels, device, spec, "nf4", decision)]  # fmt: skip
    report["decode"]["nf4"] = entry("nf4") if nf4 else None
    log(f"decode nf4: {report['decode']['nf4']}")
    report["seconds"] = round(time.perf_counter() - log.started, 1)
    return report


def _weights_entry(device, spec, precision, float_precision="bf16") -> dict | None:
    """Bytes the model holds on the GPU against the planner's weight bytes."""
    import torch

    if not device.startswith("cuda"):
        return None
    torch.cuda.empty_cache()
    held = torch.cuda.memory_allocated()
    entry = {"allocated_gb": round(held / GiB, 3)}
    if spec is not None:
        planned = memory.weight_bytes(spec, precision, float_precision=float_precision)
        entry["planned_gb"] = round(planned / GiB, 3)
        entry["planner_error_pct"] = round((planned - held) / held * 100, 1)
    return entry


def _ttft_entry(model, processor, n, pixels, device, spec, precision, decision) -> dict:
    seconds, prompt_tokens, peak = ttft(model, processor, _frames(n, pixels), device)
    row = {"frames": n, "prompt_tokens": prompt_tokens, "ttft_s": round(seconds, 3),
           "peak_memory_gb": round(peak / GiB, 3) if peak else None}  # fmt: skip
    if spec is not None and peak:
        planned = _planned(spec, precision, n, pixels, prompt_tokens, decision)
        row["planned_gb"] = round(planned / GiB, 3)
        row["planner_error_pct"] = round((planned - peak) / peak * 100, 1)
    return row


def _decode_entry(model, device, spec, precision, float_precision, bandwidth, measured) -> dict:
    # The first generate() of a process or of new kernels runs cold (clocks ramping, kernels
    # loaded lazily, cuBLAS choosing): 110 ms a token on an H200 where warm ones take 32.
    decode_rate(model, device, 8)
    rate, median_ms = decode_rate(model, device, DECODE_TOKENS if device != "cpu" else 8)
    entry = {"tokens_per_s": round(rate, 2), "median_ms_per_token": round(median_ms, 2)}
    if spec is not None:
        per_token = memory.decode_bytes_per_token(spec, precision, float_precision)
        entry["bytes_per_token"] = per_token
        steady = per_token / (median_ms / 1000) / 1e9 if median_ms else 0.0
        if bandwidth:
            entry["bandwidth_fraction"] = round(per_token * rate / (bandwidth * 1e9), 3)
            entry["bandwidth_fraction_median"] = round(steady / bandwidth, 3)
        if measured:
            entry["copy_bandwidth_fraction_median"] = round(steady / measured, 3)
    return entry


def _compiled_entry(model, device, spec, precision, bandwidth) -> dict:
    """Decode with transformers' static cache, which generate() compiles into CUDA graphs:
    what batch-1 decoding costs without Python and kernel launches. The first run compiles."""
    try:
        start = time.perf_counter()
        decode_rate(model, device, DECODE_TOKENS, cache_implementation="static")
        compile_s = time.perf_counter() - start
        rate, median_ms = decode_rate(model, device, DECODE_TOKENS, cache_implementation="static")
    except Exception as exc:  # a measurement, not the product: record it and go on
        return {"error": f"{type(exc).__name__}: {exc}"[:400]}
    entry = {"tokens_per_s": round(rate, 2), "median_ms_per_token": round(median_ms, 2),
             "first_run_s": round(compile_s, 1)}  # fmt: skip
    if spec is not None and bandwidth and median_ms:
        per_token = memory.decode_bytes_per_token(spec, precision, precision)
        entry["bandwidth_fraction_median"] = round(per_token / (median_ms / 1000) / 1e9 / bandwidth, 3)  # fmt: skip
    return entry


def _tiny_config():
    from transformers import Qwen3VLConfig

    import captioner.dev.tiny as tiny

    text = tiny._tiny_text_dims()
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": 5_000_000.0,
                               "mrope_section": [4, 2, 2], "mrope_interleaved": True}  # fmt: skip
    vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
                  spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=64,
                  num_position_embeddings=2304, deepstack_visual_indexes=[0])  # fmt: skip
    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True,
                         image_token_id=151655, video_token_id=151656,
                         vision_start_token_id=151652, vision_end_token_id=151653)  # fmt: skip
