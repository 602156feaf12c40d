"""CPU precision measurements on real-size random-weight checkpoints (``realsize.py``).

One run = one fresh process (so its peak memory is its own): load the checkpoint in one
precision through the real loader, then for each frame count stream one request on the Big
Buck Bunny clip through the real backend and note the time to the first token, the decode
rate after it and the peak RSS (the kernel's high-water mark, reset between phases).
``suite`` repeats the runs interleaved (precision after precision, round after round) and
keeps medians, so the machine's other load hits every precision alike.

    flock /tmp/captioner-heavy.lock python -m captioner.dev.cpu_bench \\
        --model Qwen/Qwen3-VL-2B-Instruct --precision int4 --frames 8 16

``quality`` compares a quantized model's logits with the bf16 model's on the same inputs
(64 teacher-forced decoding steps after a video prompt): cosine similarity and KL, for each
form a precision takes on some CPU (``VARIANTS``: int8 with 7-bit weights, with 7-bit
activations, weight-only), and with ``outliers=True`` on a copy of the checkpoint with outlier channels
(``realsize.with_outliers``).

``--emulate avx2`` runs the suite with torch, oneDNN, MKL and FBGEMM capped at AVX2
(``EMULATE``: their own environment switches) and the app taking the CPU for an AVX2 one
without VNNI (``hardware.BELOW_AVX512``): the code path an AMD Zen 2 takes (fp32 floats,
FBGEMM's AVX2 kernels with 7-bit weights), measured end to end on this machine's memory and
cores, which are not a Zen 2's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from captioner.dev.bench import ASSET_CLIP

PROMPT = "영상을 자세히 설명해 주세요."
GiB = 2**30
# Each library's own switch for the instructions it may use, set before torch is imported
EMULATE = {
    "avx2": {
        "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's kernels (and hardware.BELOW_AVX512)
        "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN's
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # MKL's (fp32 GEMM)
        "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",  # FBGEMM's (int8: 16-bit pair sums, no VNNI)
    },
}


def rss_bytes() -> tuple[int, int]:
    """(current RSS, high-water mark since the last reset) of this process, from /proc."""
    fields = {}
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def reset_peak() -> None:
    """Start a new high-water mark (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")
    except OSError:
        pass


def float_precision() -> str:
    """This machine's CPU float type, by the app's own rule."""
    return _runtime().float_precision


def attention() -> str:
    """The attention the app loads a CPU model with (``cpu_attention.CPU_SDPA``)."""
    return _runtime().attn_implementation


def _runtime():
    from captioner import hardware, profiles

    return profiles.runtime("cpu", hardware.detect())


def run_once(
    model_id: str,
    precision: str,
    frames: tuple[int, ...] = (8, 16),
    new_tokens: int = 32,
    threads: int | None = None,
) -> dict:
    """One measurement in this process (call it in a fresh one: see ``suite``)."""
    import torch

    from captioner import cpuspeed, generation, hardware, loader, profiles, video
    from captioner import precision as precision_

    floats = float_precision()
    compute = precision_.compute_dtype(base_precision(precision), floats)
    folder = checkpoint(model_id)
    reset_peak()
    started = time.perf_counter()
    with variant(precision) as loads:  # the whole run: a cache knob acts while generating
        request = loader.ModelRequest(
            str(folder), precision=loads, compute_dtype=compute, device="cpu",
            device_map={"": "cpu"}, threads=threads, attn_implementation=attention(),
        )  # fmt: skip
        loaded = loader.load(request)
        load_s = time.perf_counter() - started
        after_load, load_peak = rss_bytes()
        result = {
            "model": model_id,
            "precision": precision,
            "compute_dtype": compute,
            "attention": request.attn_implementation,
            "load_s": round(load_s, 2),
            "rss_after_load_bytes": after_load,
            "peak_rss_load_bytes": load_peak,
            "threads": threads or torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the kernels torch runs
            "cpu_kind": cpuspeed.kind_of(hardware.detect(), floats),
            "runs": [],
        }
        backend = generation.TransformersBackend(loaded)
        for n in frames:
            # fps high enough that the 5.3 s clip yields n frames (2 fps gives 10 at most)
            spec = video.SamplingSpec(fps=10.0, max_frames=n, max_pixels=profiles.PX_320)
            clip = video.load_clip(str(ASSET_CLIP), spec)
            options = generation.Options(max_new_tokens=new_tokens, seed=0)
            reset_peak()
            done = list(backend.stream(generation.Request(PROMPT, clip, options=options)))[-1]
            if done.kind != "done":
                raise RuntimeError(f"generation failed: {done}")
            m = done.metrics
            result["runs"].append(
                {
                    "frames": len(clip.indices),
                    "prompt_tokens": m.prompt_tokens,
                    "video_tokens": m.video_tokens,
                    "new_tokens": m.new_tokens,
                    "ttft_s": round(m.ttft_s, 3),
                    "decode_tokens_per_s": round(m.tokens_per_s, 3),
                    "peak_rss_generation_bytes": rss_bytes()[1],
                    "threads": m.threads,
                }
            )
        return result


def checkpoint(model: str) -> Path:
    """A folder as it is (the tiny checkpoint in tests), or a catalog id's real-size build."""
    import captioner.dev.realsize as realsize

    return Path(model) if Path(model).is_dir() else realsize.build(model)


# Variants beside the precisions themselves (knobs of ``quantize``, or of the module named
# before a dot): int8 as a CPU without VNNI computes it (7-bit weights), with FBGEMM's
# reduce_range instead (7-bit activations), as a torch without FBGEMM does (weights only),
# with no fused layers (what fusing q / k / v and gate / up is worth, in the speed suite),
# and with transformers' own KV cache (what ``kvcache`` is worth)
VARIANTS = {
    "int8-7bit-weights": ("int8", {"WEIGHT_BITS": 7}),
    "int8-7bit": ("int8", {"ACTIVATION_BITS": 7}),
    "int8-weight-only": ("int8", {"USE_FBGEMM": False}),
    "int8-unfused": ("int8", {"FUSE": False}),
    "int8-catcache": ("int8", {"kvcache.ENABLED": False}),
}


def base_precision(name: str) -> str:
    """The precision a variant is (``int8-unfused`` → ``int8``), or the name itself."""
    return VARIANTS.get(name, (name, {}))[0]


@contextlib.contextmanager
def variant(name: str):
    """The knobs set as the variant ``name`` wants while the block runs (a model loads, or
    loads and generates); yields the precision to load."""
    precision, knobs = VARIANTS.get(name, (name, {}))
    owners = {knob: _knob_owner(knob) for knob in knobs}
    saved = {knob: getattr(owner, attr) for knob, (owner, attr) in owners.items()}
    try:
        for knob, value in knobs.items():
            setattr(*owners[knob], value)
        yield precision
    finally:
        for knob, value in saved.items():
            setattr(*owners[knob], value)


def _knob_owner(knob: str):
    """(module, attribute) of a variant's knob: ``FUSE`` is quantize's, ``kvcache.ENABLED``
    kvcache's."""
    module, _, attr = knob.rpartition(".")
    return importlib.import_module(f"captioner.{module or 'quantize'}"), attr


QUALITY_PRECISIONS = ("int8", "int8-7bit-weights", "int8-7bit", "int8-weight-only", "int4")


def _logits_run(folder: Path, precision: str, forced: list[int] | None, steps: int, clip):
    """Raw logits of ``steps`` decoding steps after a video prompt: greedy when ``forced`` is
    None (returns the tokens it chose), else teacher-forced to ``forced``."""
    import torch

    from captioner import generation, loader
    from captioner import precision as precision_

    loader.unload()
    with variant(precision) as precision:
        compute = precision_.compute_dtype(precision, float_precision())
        loaded = loader.load(loader.ModelRequest(str(folder), precision=precision,
                                                 compute_dtype=compute, device="cpu",
                                                 attn_implementation=attention()))  # fmt: skip
    backend = generation.TransformersBackend(loaded)
    inputs, _, _ = backend.prepare(generation.Request(PROMPT, clip))
    seen: list = []
    chosen: list[int] = []
    stop_ids = loaded.model.generation_config.eos_token_id or []
    stop_ids = [stop_ids] if isinstance(stop_ids, int) else list(stop_ids)

    class Record:  # the only processor: it sees the raw logits (no min_new_tokens mask)
        def __call__(self, input_ids, scores):
            seen.append(scores[0].float().clone())
            pick = scores[0].float().clone()
            pick[stop_ids] = float("-inf")  # never end early: every run has ``steps`` steps
            token = forced[len(seen) - 1] if forced is not None else int(pick.argmax())
            chosen.append(token)
            out = torch.full_like(scores, float("-inf"))
            out[0, token] = 0.0
            return out

    with torch.inference_mode():
        loaded.model.generate(**inputs, do_sample=False, max_new_tokens=steps,
                              logits_processor=[Record()],
                              pad_token_id=loaded.tokenizer.pad_token_id)  # fmt: skip
    loader.unload()
    return torch.stack(seen), chosen


def quality(model: str, precisions: tuple[str, ...] = QUALITY_PRECISIONS, steps: int = 64,
            outliers: bool = False) -> dict:  # fmt: skip
    """Each precision's logits against bf16's on the same inputs: 8 frames of the clip, then
    ``steps`` decoding steps teacher-forced to the tokens bf16 chose greedily. Per step:
    cosine similarity of the logit vectors, the relative error ‖q − r‖ / ‖r‖, KL(bf16 ‖
    quantized) of their softmax, and whether the top token agrees; mean and worst over the
    steps. A random-weight model's softmax is nearly flat (``reference`` says how flat: its
    top probability and top-2 margin), so top-1 agreement there mostly measures coin flips;
    ``top1_decided`` counts only the steps whose bf16 top-2 margin is at least twice that
    precision's logit error (RMS over the vocabulary) — ``decided_steps`` of them — where a
    quantization that only adds noise of that size keeps the top token. ``outliers``: the
    same on ``realsize.build_with_outliers``' checkpoint (the same function, with the
    outlier channels of trained models), bf16 there the reference."""
    import torch

    import captioner.dev.realsize as realsize
    from captioner import profiles, video

    folder = checkpoint(model)
    if outliers:
        folder = realsize.with_outliers(folder)
    spec = video.SamplingSpec(fps=2.0, max_frames=8, max_pixels=profiles.PX_320)
    clip = video.load_clip(str(ASSET_CLIP), spec)
    reference, tokens = _logits_run(folder, "bf16", None, steps, clip)
    top2 = reference.topk(2, dim=-1).values
    margin = top2[:, 0] - top2[:, 1]
    probs = torch.softmax(reference, dim=-1)
    out = {"model": model, "steps": steps, "reference": "bf16", "precisions": {},
           "outliers": realsize.OUTLIER_FACTOR if outliers else None,
           "reference_stats": {
               "vocab": reference.shape[-1],
               "top_prob_median": float(f"{probs.max(-1).values.median().item():.3g}"),
               "logit_std_median": round(reference.std(-1).median().item(), 4),
               "top2_margin_median": round(margin.median().item(), 4),
           }}  # fmt: skip
    for precision in precisions:
        logits, _ = _logits_run(folder, precision, tokens, steps, clip)
        cos = torch.nn.functional.cosine_similarity(reference, logits, dim=-1)
        error = logits - reference
        rel = error.norm(dim=-1) / reference.norm(dim=-1)
        p = torch.log_softmax(reference, dim=-1)
        q = torch.log_softmax(logits, dim=-1)
        kl = (p.exp() * (p - q)).sum(-1)
        top1 = (reference.argmax(-1) == logits.argmax(-1)).float()
        rms = error.pow(2).mean(-1).sqrt()
        decided = margin >= 2 * rms
        out["precisions"][precision] = {
            "cosine_mean": round(cos.mean().item(), 5),
            "cosine_min": round(cos.min().item(), 5),
            "rel_error_mean": round(rel.mean().item(), 4),
            "kl_mean": float(f"{kl.mean().item():.3g}"),
            "kl_max": float(f"{kl.max().item():.3g}"),
            "top1_agreement": round(top1.mean().item(), 3),
            "logit_error_rms_median": round(rms.median().item(), 4),
            "decided_steps": int(decided.sum().item()),
            "top1_decided": round(top1[decided].mean().item(), 3) if decided.any() else None,
        }
    return out


def _subprocess(model_id: str, precision: str, frames, new_tokens: int, threads,
                emulate: str | None = None) -> dict:  # fmt: skip
    args = [sys.executable, "-m", "captioner.dev.cpu_bench", "--model", model_id,
            "--precision", precision, "--frames", *map(str, frames),
            "--new-tokens", str(new_tokens)]  # fmt: skip
    if threads:
        args += ["--threads", str(threads)]
    if emulate:  # the switches for the child alone, by env(1): this process's stay as they are
        args = ["env", *(f"{name}={value}" for name, value in EMULATE[emulate].items()), *args]
    root = Path(__file__).resolve().parents[2]  # `python -m` there imports this checkout
    out = subprocess.run(args, capture_output=True, text=True, cwd=root, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{precision} run failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def suite(
    model_id: str,
    precisions: tuple[str, ...],
    frames: tuple[int, ...] = (8, 16),
    repeats: int = 3,
    new_tokens: int = 32,
    threads: int | None = None,
    emulate: str | None = None,
) -> dict:
    """Every precision ``repeats`` times, interleaved, each run in a fresh process (with
    ``EMULATE[emulate]``'s switches, if given); medians."""
    runs: dict[str, list[dict]] = {p: [] for p in precisions}
    for _ in range(repeats):
        for precision in precisions:
            runs[precision].append(
                _subprocess(model_id, precision, frames, new_tokens, threads, emulate)
            )
    return {"model": model_id, "repeats": repeats, "frames": list(frames), "emulate": emulate,
            "precisions": {p: summarize(r) for p, r in runs.items()}}  # fmt: skip


def summarize(runs: list[dict]) -> dict:
    """Medians (and ranges) over repeated runs of one precision."""

    def med(values):
        return round(statistics.median(values), 3)

    first = runs[0]
    out = {
        "compute_dtype": first["compute_dtype"],
        "attention": first.get("attention", "sdpa"),
        "threads": first["threads"],
        "cpu_capability": first.get("cpu_capability"),
        "cpu_kind": first.get("cpu_kind"),
        "load_s": med([r["load_s"] for r in runs]),
        "peak_rss_load_gb": med([r["peak_rss_load_bytes"] / GiB for r in runs]),
        "rss_after_load_gb": med([r["rss_after_load_bytes"] / GiB for r in runs]),
        "per_frames": {},
        "raw": runs,
    }
    for i, run in enumerate(first["runs"]):
        rows = [r["runs"][i] for r in runs]
        decode = [x["decode_tokens_per_s"] for x in rows]
        out["per_frames"][str(run["frames"])] = {
            "prompt_tokens": run["prompt_tokens"],
            "video_tokens": run["video_tokens"],
            "ttft_s": med([x["ttft_s"] for x in rows]),
            "decode_tokens_per_s": med(decode),
            "decode_range": [min(decode), max(decode)],
            "peak_rss_generation_gb": med([x["peak_rss_generation_bytes"] / GiB for x in rows]),
        }
    out["peak_rss_gb"] = max(
        out["peak_rss_load_gb"], *(v["peak_rss_generation_gb"] for v in out["per_frames"].values())
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="Qwen/Qwen3-VL-2B-Instruct")
    parser.add_argument("--precision", nargs="+", default=["int4"],
                        help="precisions or VARIANTS; several, or --repeats: the interleaved suite")  # fmt: skip
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--repeats", type=int, help="interleaved rounds, each run a fresh process")
    parser.add_argument("--emulate", choices=sorted(EMULATE),
                        help="run as a CPU with only these instructions (the suite, in fresh processes)")  # fmt: skip
    args = parser.parse_args(argv)
    frames = tuple(args.frames)
    if args.repeats or len(args.precision) > 1 or args.emulate:
        result = suite(args.model, tuple(args.precision), frames, args.repeats or 1,
                       args.new_tokens, args.threads, args.emulate)  # fmt: skip
        for name, summary in result["precisions"].items():  # the medians, for a reader
            rates = {n: f["decode_tokens_per_s"] for n, f in summary["per_frames"].items()}
            print(f"{name}: decode tok/s by frames {rates}", file=sys.stderr)
    else:
        result = run_once(args.model, args.precision[0], frames, args.new_tokens, args.threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
