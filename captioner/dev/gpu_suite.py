"""The GPU suite: the profile's video model on whatever CUDA GPU is present, random weights of
the real architecture (nothing downloaded), one JSON.

    python -m captioner bench --suite gpu [--json]          # < 8 minutes on an H100
    python -m captioner bench --suite gpu --dry             # CPU, tiny model: does it run?

What it reports, for the model and precision ``profiles.decide`` picks on this GPU:

- decode tokens/s at batch 1 (64 tokens after a short prompt), the weight bytes each token
  reads (``memory.decode_bytes_per_token``) and the fraction of the GPU's peak memory
  bandwidth that makes (``PEAK_BANDWIDTH``, from the vendors' data sheets);
- NF4 (bitsandbytes, vision tower kept 16-bit as the loader does) against bf16/fp16 on the
  same architecture, where both fit;
- time to the first token with 32, 64 and 128 frames at the profile's pixel budget (random
  frames through the real Qwen3-VL processor), and the peak memory of each against the
  memory plan's prediction (planner error in %).

The model is built on the meta device and materialised on the GPU with N(0, 0.02) weights,
so no checkpoint is written or read. Without a GPU (CI) ``--dry`` runs every step on the CPU
with a tiny Qwen3-VL of the same classes, so the suite is known to execute.
"""

from __future__ import annotations

import dataclasses
import re
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

    import captioner.dev.tiny as tiny
    from captioner import prompts

    messages = prompts.build_messages(PROMPT, with_video=True, accepts_video=True)
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    del tiny
    n = len(frames)
    meta = VideoMetadata(total_num_frames=n, fps=2.0, frames_indices=list(range(n)),
                         duration=n / 2.0, width=frames.shape[2], height=frames.shape[1])  # fmt: skip
    inputs = processor(text=[text], videos=[frames], video_metadata=[meta],
                       do_sample_frames=False, do_resize=False, return_tensors="pt")  # fmt: skip
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


def decode_rate(model, device: str, tokens: int = DECODE_TOKENS) -> float:
    """Tokens/s at batch 1 after the first token (greedy, EOS ignored)."""
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
                       pad_token_id=0)  # fmt: skip
    times = stamps[1:]  # the first put is the prompt
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


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


def _planned(spec, precision: str, frames: int, pixels: int, prompt_tokens: int, decision):
    workload = memory.Workload(frames=frames, frame_pixels=pixels, max_new_tokens=1,
                               prompt_tokens=prompt_tokens - int(frames * memory.vision_tokens_for_pixels(spec, pixels)))  # fmt: skip
    workload = dataclasses.replace(workload, prompt_tokens=max(workload.prompt_tokens, 1))
    plan = memory.plan(spec, precision, decision.available_bytes, workload)
    return plan.total_bytes - plan.reserve_bytes  # the allocator's peak has no CUDA context


def run(settings=None, *, dry: bool = False, frames: tuple[int, ...] | None = None) -> dict:
    """The whole suite; ``dry``: on the CPU with a tiny Qwen3-VL (what CI runs)."""
    import torch

    import captioner.dev.tiny as tiny

    started = time.perf_counter()
    cuda = torch.cuda.is_available() and not dry
    device = "cuda" if cuda else "cpu"
    report: dict = {"dry": not cuda, "device": device, "torch": torch.__version__}
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
                  profile=decision.profile.name if decision else None)  # fmt: skip
    model = _random_model(config, device, dtype)
    dense = _decode_entry(model, device, spec, float_precision, float_precision, bandwidth)
    report["decode"] = {float_precision: dense}
    runs = []
    for n in frame_counts:
        seconds, prompt_tokens, peak = ttft(model, processor, _frames(n, pixels), device)
        row = {"frames": n, "prompt_tokens": prompt_tokens, "ttft_s": round(seconds, 3),
               "peak_memory_gb": round(peak / GiB, 3) if peak else None}  # fmt: skip
        if spec is not None and peak:
            planned = _planned(spec, float_precision, n, pixels, prompt_tokens, decision)
            row["planned_gb"] = round(planned / GiB, 3)
            row["planner_error_pct"] = round((planned - peak) / peak * 100, 1)
        runs.append(row)
    report["ttft"] = runs
    if cuda:
        _to_nf4(model, dtype)
        report["decode"]["nf4"] = _decode_entry(model, device, spec, "nf4", float_precision, bandwidth)  # fmt: skip
    else:
        report["decode"]["nf4"] = None  # bitsandbytes' NF4 is measured on CUDA only
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _decode_entry(model, device, spec, precision, float_precision, bandwidth) -> dict:
    rate = decode_rate(model, device, DECODE_TOKENS if device != "cpu" else 8)
    entry = {"tokens_per_s": round(rate, 2)}
    if spec is not None:
        per_token = memory.decode_bytes_per_token(spec, precision, float_precision)
        entry["bytes_per_token"] = per_token
        if bandwidth:
            entry["bandwidth_fraction"] = round(per_token * rate / (bandwidth * 1e9), 3)
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
