"""The precisions a checkpoint can be loaded in: their names, torch dtypes and sizes.

Data only. Which precision a machine uses is decided in ``profiles.py`` (one rule per kind of
device); how many bytes a whole model takes is ``memory.py``'s arithmetic on these sizes.

- ``bf16`` / ``fp16`` / ``fp32``: the weights in that float type, computed in it too.
- ``nf4``: bitsandbytes 4-bit NF4 with double quantization; the matmuls run in a *compute*
  dtype (bf16 or fp16), chosen with the device's float type.
- ``int8`` / ``int4`` (CPU only): the language model's linear layers and its output head in
  int8 (one scale per row; FBGEMM's kernel, activations quantized per token) or int4
  (groups of 128, PyTorch's packed kernel while decoding), see ``quantize.py``; the vision
  tower, embeddings and norms stay in the CPU's float type (bf16 or fp32). An int4 layer
  keeps the int8 form for the prefill, so it holds 1.5 bytes per weight and reads 0.53 per
  decoded token.

Sizes are in GiB (2**30 bytes) and printed as "GB", the way nvidia-smi and torch report
them: a T4 shows about 15 GB, an "80GB" H100 about 79 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

from captioner.errors import InvalidRequest

GiB = 2**30


@dataclass(frozen=True)
class Precision:
    name: str  # what users type: --precision NAME
    label: str  # how it is printed
    weight_bytes: float  # per parameter of a converted (quantized) weight
    float_dtype: str | None  # torch dtype of weights and compute; None: the compute dtype decides
    quantizer: str | None = None  # what converts the weights: "bitsandbytes" | "torch-cpu"
    devices: tuple[str, ...] = ("cuda", "mps", "cpu")  # where it can run


# Ordered from the most to the least bytes per weight.
TABLE: tuple[Precision, ...] = (
    Precision("fp32", "FP32", 4, "float32"),
    Precision("bf16", "BF16", 2, "bfloat16"),
    Precision("fp16", "FP16", 2, "float16"),
    Precision("nf4", "NF4 4-bit", 0.5, None, quantizer="bitsandbytes"),
    Precision("int8", "INT8 (CPU)", 1, None, quantizer="torch-cpu", devices=("cpu",)),
    Precision("int4", "INT4 (CPU)", 0.5, None, quantizer="torch-cpu", devices=("cpu",)),
)
_BY_NAME = {p.name: p for p in TABLE}
NAMES: tuple[str, ...] = tuple(_BY_NAME)
FLOATS: tuple[str, ...] = tuple(p.name for p in TABLE if p.float_dtype)  # fp32, bf16, fp16


def get(name: str) -> Precision:
    """The precision called ``name``; a bilingual InvalidRequest listing the names otherwise."""
    found = _BY_NAME.get((name or "").strip().lower())
    if found is None:
        raise InvalidRequest(
            f"알 수 없는 정밀도입니다: '{name}' (가능: {', '.join(NAMES)})",
            f"Unknown precision '{name}' (choose from {', '.join(NAMES)})",
        )
    return found


def require_device(name: str, device: str) -> None:
    """A bilingual InvalidRequest when precision ``name`` cannot run on ``device``."""
    precision = get(name)
    if device not in precision.devices:
        where = ", ".join(precision.devices)
        raise InvalidRequest(
            f"{precision.label} 정밀도는 {where}에서만 쓸 수 있습니다 (이 실행: {device}).",
            f"{precision.label} runs on {where} only (this run: {device}).",
        )


def compute_dtype(name: str, float_precision: str) -> str:
    """The torch dtype the matmuls run in: a float precision's own; for the CPU's int8 / int4
    the device's float precision (the prefill GEMM and everything not quantized); for NF4 the
    device's float precision but never fp32 (bitsandbytes' 4-bit kernels compute in 16 bit;
    a CPU without fast bf16 still gets bf16 there)."""
    precision = get(name)
    if precision.float_dtype:
        return precision.float_dtype
    if precision.quantizer == "torch-cpu":
        return get(float_precision).float_dtype or ""
    return get("bf16" if float_precision == "fp32" else float_precision).float_dtype or ""


def compute_bytes(name: str, float_precision: str = "bf16") -> int:
    """Bytes of one activation / KV-cache / unquantized-weight element under ``name``."""
    return {"float32": 4, "bfloat16": 2, "float16": 2}[compute_dtype(name, float_precision)]


def label(name: str) -> str:
    return get(name).label


def gb(n: float) -> str:
    """Bytes as "12.3 GB" (GiB, as torch and nvidia-smi count)."""
    return f"{n / GiB:.1f} GB"
