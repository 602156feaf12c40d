"""How fast Qwen3-VL decodes on a CPU, per kind of CPU, model and precision: measured, data.

``profiles.py`` picks the CPU profile's model and precision from this table (and the memory
planner), never from a timing taken at start-up: the same machine gets the same answer at
every start, and the reason shown to users names these figures.

A CPU's kind is a rule on its features (``kind_of``): ``avx512_bf16`` (AVX-512 BF16 or AMX:
native bf16 matmuls, so the float parts run in bf16) or ``avx2`` (x86 without them: the
float parts run in fp32; bf16 matmuls are emulated there, slowly). Other CPUs (ARM) have no
rows, and keep the float rule of ``profiles.runtime``.

Figures: decode tokens/s after the first token and seconds to the first token with 8
frames of the Big Buck Bunny clip (320×320 px per frame, 574 prompt tokens, 364 of them
video), and the process's peak RSS, on random-weight real-size checkpoints with the app's
own loader and streaming generator; medians of interleaved runs. Regenerate with

    flock /tmp/captioner-heavy.lock python -m captioner bench --report docs/bench

``source`` says where each figure comes from. The ``avx2`` rows are derived, not measured
end to end: no AVX2-only machine was at hand while building this; they scale the
per-matrix kernel times measured on an AMD EPYC Zen 2 (2048×2048, one vector: fp32 0.93 ms,
int8 0.26 ms, int4 0.29 ms, bf16 25 ms) by the bytes each model reads per token, and say so.
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
_ZEN2 = "derived from 2048×2048 kernel times on an AMD EPYC Zen 2 (AVX2), not measured end to end"
_ZEN2_FP32 = "measured end to end on an AMD EPYC Zen 2 (AVX2), 2 cores"

TABLE: tuple[CpuSpeed, ...] = (
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "int4", 0.0, None, None, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "int8", 0.0, None, None, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "bf16", 0.0, None, None, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-2B-Instruct", "fp32", 0.0, None, None, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-4B-Instruct", "int4", 0.0, None, None, _EPYC),
    CpuSpeed("avx512_bf16", "Qwen/Qwen3-VL-4B-Instruct", "int8", 0.0, None, None, _EPYC),
    # Zen 2: fp32 1.80 tok/s and 29 s to the first token measured there end to end (15.4 GB
    # peak RSS); int8 / int4 = 1.80 × (0.93 ms / 0.26 or 0.29 ms), their prefill is fp32's GEMM
    CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "int8", 6.44, 29.0, None, _ZEN2),
    CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "int4", 5.77, 29.0, None, _ZEN2),
    CpuSpeed("avx2", "Qwen/Qwen3-VL-2B-Instruct", "fp32", 1.80, 29.0, 15.4, _ZEN2_FP32),
)


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
