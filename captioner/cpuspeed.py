"""How fast Qwen3-VL decodes on a CPU, per kind of CPU, model and precision: measured, data.

``profiles.py`` picks the CPU profile's model and precision from this table (and the memory
planner), never from a timing taken at start-up: the same machine gets the same answer at
every start, and the reason shown to users names these figures.

A CPU's kind is a rule on its features (``kind_of``): ``avx512_bf16`` (AVX-512 BF16 or AMX:
native bf16 matmuls, so the float parts run in bf16) or ``avx2`` (x86 without them: the
float parts run in fp32; bf16 matmuls are emulated there, slowly). Other CPUs (ARM) have no
rows, and keep the float rule of ``profiles.runtime``.

Figures: decode tokens/s after the first token and seconds to the first token with 8
frames of the Big Buck Bunny clip (a 320×320 px budget: 416×224 frames, 520 prompt tokens,
364 of them video), and the process's peak RSS, on random-weight real-size checkpoints with the app's
own loader and streaming generator; medians of interleaved runs. Regenerate with

    flock /tmp/captioner-heavy.lock python -m captioner bench --report docs/bench

``source`` says where each figure comes from. The ``avx2`` rows are measured end to end on
this Zen 4 machine with every library capped at AVX2 (``cpu_bench --emulate avx2``: torch's,
oneDNN's, MKL's and FBGEMM's own switches, and the app taking the CPU for one without
AVX-512 or VNNI), not on an AMD Zen 2: the kernels are an AVX2 CPU's, the memory and cores
are this machine's. The one figure measured on a real Zen 2 (fp32: 1.80 tok/s, older code)
is within 12% of the emulated fp32's 2.01. The rows they replace were derived from
2048×2048 kernel times there and put int8's weight-only kernel at 6.4 tok/s; emulated end to
end it decodes 5.7, against 10.8 for FBGEMM with 7-bit weights in the same run, which is why
such a CPU now runs the latter.

Quality (``QUALITY``, the bar ``accepted``): a quantized precision may be picked only when its
logits stay close to bf16's (``cpu_bench.quality``: 8 frames, then 64 decoding steps
teacher-forced to bf16's greedy tokens, on the same random-weight real-size 2B). The bar:
cosine similarity of the logit vectors ≥ 0.99 on average (a logit error under ~14% of the
logits' norm), and top-1 agreement ≥ 90% on the *decided* steps, those where bf16's top-2
margin is at least twice the precision's logit error (its RMS over the vocabulary), with at
least 16 such steps of the 64 (fewer: no verdict, not accepted). Why not top-1 over every
step, or KL: a random-weight model's softmax over 151,936 rows is nearly flat (measured: its
top token holds 7e-6 of the mass, the logits' spread is 0.018 and the top-2 margin 0.0024,
medians), so a small perturbation flips the top token about half the time and KL is ~1e-6
whatever happens: neither says how a trained model, whose top token usually stands clear,
would fare. The decided steps are the ones where a trained model's situation holds: the top
token leads by more than the quantization noise.

Each quantized precision is measured as it runs on every kind of CPU (``MEASURED_AS``), on
the random checkpoint and on the same checkpoint with outlier channels: trained models have a
few hidden channels tens of times louder than the rest, random ones none, and per-token
activation quantization is what such channels hurt. ``realsize.add_outliers`` multiplies 8
channels of every norm and MLP by 32 and divides the weights that read them by 32, so the
float model computes the same and bf16 stays the reference.

Measured: int8 passes as FBGEMM runs it with VNNI (8-bit weights and activations: cosine
0.9995, 51 decided steps, all agree; with outliers 0.9944, 31 of 31), as it runs without VNNI
(7-bit weights, 8-bit activations: 0.9990, 43 of 43; with outliers 0.9929, 30 of 30) and as
the weight-only kernel of a torch without FBGEMM runs it (0.9997; with outliers 0.9994, 98%
of 51). With 7-bit activations (PyTorch's own recipe without VNNI) it fails once outliers
exist (0.980, no step decided), which is why ``quantize`` takes the bit from the weights.
int4 has cosine 0.990 (0.986 with outliers) and a logit error as large as bf16's typical
top-2 margin: 2 of 64 steps decided, no verdict, and the rule takes
**int8** (int4 stays available with ``--precision int4``). What no figure here can show:
trained weights have heavier tails than N(0, σ), and judging real captions needs the real
weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from captioner.hardware import Hardware

TARGET_TOKENS_PER_S = 10.0  # twice what a fast Korean reader reads


@dataclass(frozen=True)
class CpuSpeed:
    kind: str  # "avx512_bf16" | "avx2"
    model: str  # catalog id
    precision: str  # precision.NAMES entry
    decode_tokens_per_s: float
    ttft_8_frames_s: float | None
    peak_rss_gb: float | None
    source: str


_EPYC = "AMD EPYC (Zen 4, AVX-512 BF16), 2 cores, measured"
_AVX2_EMULATED = (
    "AMD EPYC (Zen 4), 2 cores, every library capped at AVX2 (cpu_bench --emulate avx2), "
    "measured; not a Zen 2"
)

TABLE: tuple[CpuSpeed, ...] = (
    # bench --report, 2026-11-30 early morning: medians of 3 interleaved runs, 8 frames
    # (docs/bench); int8 on FBGEMM with 8-bit activations, q / k / v and gate / up fused
    # (quantize.py), generate() on the compute thread, the slab-grown KV cache (kvcache.py).
    # Runs on this shared machine vary by ±15%: int8's six (8 and 16 frames) run 8.21-11.11
    # tok/s, median 9.65; its 8-frame median is the 10.08 here
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "int4", 11.28, 9.0, 8.84, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "int8", 10.08, 9.6, 8.12, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "bf16", 3.08, 12.1, 5.26, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "fp32", 1.79, 21.1, 12.60, _EPYC),
    # Qwen3-VL-4B, the same code an hour later, 3 interleaved runs (fp32 does not fit this
    # 24 GB machine's load)
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-4B-Instruct", "int4", 5.28, 20.1, 16.46, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-4B-Instruct", "int8", 4.15, 19.8, 14.70, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-4B-Instruct", "bf16", 1.31, 21.9, 9.66, _EPYC),
    # The AVX2 path, bench --report 2026-11-30 ("avx2" section): 3 interleaved runs, fp32
    # float parts, int8 on FBGEMM's AVX2 kernels with 7-bit weights; int8's six runs (8 and
    # 16 frames) span 7.75-10.55 tok/s, median 9.44
    CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "int8", 10.38, 15.2, 9.53, _AVX2_EMULATED),
    CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "int4", 6.17, 15.7, 10.13, _AVX2_EMULATED),
    CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "fp32", 2.00, 21.7, 12.60, _AVX2_EMULATED),
)


@dataclass(frozen=True)
class Quality:
    """A quantized precision's logits against bf16's (``cpu_bench.quality``, in the report)."""

    precision: str
    cosine_mean: float
    rel_error_mean: float  # ‖q − r‖ / ‖r‖ per step, mean
    top1_all: float  # top-1 agreement over all steps: coin flips on a flat softmax
    top1_decided: float  # ... over the steps whose bf16 top-2 margin >= 2 × the error's RMS
    decided_steps: int
    steps: int


# The accepted bar for a CPU default (see the module docstring for why these figures).
MIN_COSINE = 0.99
MIN_TOP1_DECIDED = 0.90
MIN_DECIDED_STEPS = 16  # fewer decided steps than this: no verdict, so not accepted

# bench --report, 2026-11-29 (docs/bench/report.json, "quality" and "quality_outliers"):
# real-size random 2B, and the same with outlier channels (x32) in every layer
QUALITY: dict[str, Quality] = {
    "int8": Quality("int8", 0.99948, 0.032, 0.969, 1.0, 51, 64),
    # 7-bit weights: how a CPU without VNNI runs int8 (quantize.WEIGHT_BITS), measured
    # 2026-11-30 with the same reference (int8's figures came out identical in that run)
    "int8-7bit-weights": Quality("int8-7bit-weights", 0.99895, 0.0458, 1.0, 1.0, 43, 64),
    "int8-7bit": Quality("int8-7bit", 0.99876, 0.0497, 0.844, 0.953, 43, 64),
    "int8-weight-only": Quality("int8-weight-only", 0.99974, 0.0228, 1.0, 1.0, 60, 64),
    "int4": Quality("int4", 0.99032, 0.1397, 0.5, 1.0, 2, 64),  # 2 decided steps: no verdict
    "int8@outliers": Quality("int8@outliers", 0.99436, 0.1064, 1.0, 1.0, 31, 64),
    "int8-7bit-weights@outliers": Quality(
        "int8-7bit-weights@outliers", 0.99285, 0.1197, 1.0, 1.0, 30, 64
    ),
    # 7-bit activations with outliers: cosine 0.980, no decided step (why quantize.py gives
    # a CPU without VNNI 7-bit weights instead); int4 with outliers: 0.986, none decided
    "int8-weight-only@outliers": Quality(
        "int8-weight-only@outliers", 0.99943, 0.0337, 0.891, 0.98, 51, 64
    ),
}


# The measurements a precision's verdict rests on: as CPUs with VNNI compute it (FBGEMM, 8
# bits), as CPUs without VNNI do (FBGEMM, 7-bit weights) and as a torch without FBGEMM does
# (weights only, ``quantize``), each on the random checkpoint and on the one with outlier
# channels (``realsize.add_outliers``).
MEASURED_AS: dict[str, tuple[str, ...]] = {
    "int8": (
        "int8",
        "int8@outliers",
        "int8-7bit-weights",
        "int8-7bit-weights@outliers",
        "int8-weight-only",
        "int8-weight-only@outliers",
    ),
    "int4": ("int4", "int4@outliers"),
}


def passes(q: Quality | None) -> bool:
    """One measurement clears the bar (None, unmeasured: no)."""
    return (
        q is not None
        and q.cosine_mean >= MIN_COSINE
        and q.decided_steps >= MIN_DECIDED_STEPS
        and q.top1_decided >= MIN_TOP1_DECIDED
    )


def accepted(precision: str) -> bool:
    """May the CPU rule pick ``precision``? Float types always; a quantized one when every
    measurement of it clears the bar (unmeasured: no)."""
    from captioner import precision as precision_

    if precision_.get(precision).quantizer is None:
        return True
    return all(passes(QUALITY.get(key)) for key in MEASURED_AS.get(precision, (precision,)))


def kind_of(hw: Hardware, float_precision: str) -> str | None:
    """The table's kind of this CPU, given the float type the runtime rule chose for it
    (bf16 only where native bf16 was found and confirmed), or None: no rows for it."""
    if float_precision == "bf16" and hw.cpu_bf16:
        return "avx512_bf16"
    if "avx2" in hw.cpu_flags:
        return "avx2"  # x86 without native bf16 (Zen 2, Skylake...): float parts in fp32
    return None


def rows(kind: str | None) -> tuple[CpuSpeed, ...]:
    return tuple(r for r in TABLE if r.kind == kind)
