"""Weight-only int8 / int4 for the text decoder on a CPU, on PyTorch's own packed kernels.

Decoding one token reads every weight of the language model once (the tied 151,936-row
``lm_head`` included), so on a CPU its speed is memory bandwidth divided by bytes per
weight: fewer bytes, read by a fast kernel, is the only way to go faster. ``quantize_model``
replaces the ``nn.Linear`` layers of the language model and its ``lm_head`` by
``QuantizedLinear``; the vision tower, the embeddings and the norms stay in the float type
the runtime chose (bf16 where the CPU has native bf16, fp32 elsewhere).

Two kernels per layer, chosen by the number of rows (tokens) in the call:

- decoding (a few rows): ``torch._weight_int8pack_mm`` (int8, one scale per output row) or
  ``torch._weight_int4pack_mm_for_cpu`` (int4, groups of 128 with a bf16 scale and zero).
  They take bf16 activations on every x86 CPU, also where bf16 matmuls are slow (AVX2 only):
  on an AMD EPYC Zen 2 a 2048×2048 product took 0.26 ms (int8) / 0.29 ms (int4) in bf16
  against 1.97 ms with fp32 activations and 0.93 ms for a plain fp32 weight.
- the prefill (a whole prompt of video tokens): the int8 weights converted to the runtime's
  float type in one pass and multiplied by its GEMM, so the time to the first token stays
  that of the float model (the packed kernels are 2-4× slower than a GEMM there). An int4
  layer keeps an int8 copy of its weights for this: 1.5 bytes per weight in memory, 0.53
  read per decoded token.

Why not torchao or bitsandbytes (both measured here, without ``torch.compile``, 2048×2048):
torchao 0.18's ``Int8WeightOnlyConfig`` converts the whole int8 weight to bf16 at every call
(1.0 ms against 0.22 ms for the packed kernel); its CPU int4 (``prototype.quantization.int4.
PrototypeInt4WeightOnlyConfig``, ``Int4OpaqueTensor``) runs the same int4 kernel for
decoding but also for the prefill; ``Int8DynamicActivationInt4WeightConfig`` needs torchao
C++ kernels its wheel does not ship; bitsandbytes' CPU NF4 / int8 took 2.3 / 9.4 ms.
The tensors are plain buffers: nothing here needs anything beyond torch.
"""

from __future__ import annotations

import math

GROUP_SIZES = (128, 64, 32)  # int4 group size: the largest that divides the input width
DECODE_ROWS = 8  # up to this many rows the packed kernels win; above it the GEMM does
CHUNK_ROWS = 8192  # rows quantized at a time (bounds the fp32 temporaries of a 151,936-row head)
SCHEMES = ("int8", "int4")


def group_size(in_features: int) -> int | None:
    """The int4 group size for a layer of this width, or None (stays in its float type)."""
    return next((g for g in GROUP_SIZES if in_features % g == 0), None)


def int8_bytes(out_features: int, in_features: int) -> int:
    """Bytes of one int8 layer: the weights plus a bf16 scale per output row."""
    return out_features * in_features + 2 * out_features


def int4_bytes(out_features: int, in_features: int) -> int:
    """Bytes of the packed int4 weights: two per byte plus a bf16 scale and zero per group."""
    groups = math.ceil(in_features / (group_size(in_features) or in_features))
    return out_features * in_features // 2 + 4 * out_features * groups


def layer_bytes(scheme: str, out_features: int, in_features: int, *, prefill: bool) -> int:
    """Bytes a QuantizedLinear holds: int8; or int4, plus the int8 prefill copy if kept."""
    if scheme == "int8":
        return int8_bytes(out_features, in_features)
    copy = int8_bytes(out_features, in_features) if prefill else 0
    return int4_bytes(out_features, in_features) + copy


def decode_bytes(scheme: str, out_features: int, in_features: int) -> int:
    """Bytes one decoded token reads from this layer."""
    if scheme == "int8":
        return int8_bytes(out_features, in_features)
    return int4_bytes(out_features, in_features)


def _int8_rows(w):
    """Symmetric int8 per output row of a float32 block: (int8 weights, bf16 scales)."""
    import torch

    scale = (w.abs().amax(dim=1) / 127).clamp_(min=1e-12)
    q = (w * scale.reciprocal()[:, None]).round_().clamp_(-127, 127).to(torch.int8)
    return q, scale.to(torch.bfloat16)


def _int4_rows(w, group: int):
    """Asymmetric int4 in groups along the input of a float32 block: (packed weights, scales
    and zeros as [groups, rows, 2] fp32), as ``_weight_int4pack_mm_for_cpu`` reads them:
    w = (q - 8) · scale + zero."""
    import torch

    g = w.reshape(w.shape[0], w.shape[1] // group, group)
    low, high = g.amin(dim=-1, keepdim=True), g.amax(dim=-1, keepdim=True)
    scale = ((high - low) / 15).clamp_(min=1e-12)
    q = ((g - low) * scale.reciprocal()).round_().clamp_(0, 15).to(torch.int32)
    packed = torch._convert_weight_to_int4pack_for_cpu(q.reshape(w.shape), 1)
    return packed, torch.cat([scale, low + 8 * scale], dim=-1).transpose(0, 1)


def quantize_weight(weight, scheme: str, prefill: bool) -> dict:
    """The buffers of one QuantizedLinear, made CHUNK_ROWS rows at a time (the fp32 copy of a
    151,936-row head would take 1.2 GB at once)."""
    import torch

    parts: dict[str, list] = {"q8": [], "s8": [], "q4": [], "p4": []}
    group = group_size(weight.shape[1]) if scheme == "int4" else None
    for start in range(0, weight.shape[0], CHUNK_ROWS):
        w = weight[start : start + CHUNK_ROWS].float()
        if scheme == "int8" or prefill:
            q8, s8 = _int8_rows(w)
            parts["q8"].append(q8)
            parts["s8"].append(s8)
        if group is not None:
            q4, p4 = _int4_rows(w, group)
            parts["q4"].append(q4)
            parts["p4"].append(p4)
    out = {key: torch.cat(values) for key, values in parts.items() if key != "p4" and values}
    if parts["p4"]:
        out["p4"] = torch.cat(parts["p4"], dim=1).to(torch.bfloat16).contiguous()
    return out


def _module_class():
    import torch

    class QuantizedLinear(torch.nn.Module):
        """A linear layer with int8 or int4 weights; see the module docstring."""

        def __init__(self, linear, scheme: str, float_dtype, prefill: bool) -> None:
            super().__init__()
            weight = linear.weight.detach()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.scheme = scheme
            self.float_dtype = float_dtype  # the prefill GEMM's and the output's type
            self.group = group_size(self.in_features) if scheme == "int4" else None
            buffers = quantize_weight(weight, scheme, prefill)
            for key in ("q8", "s8", "q4", "p4"):
                self.register_buffer(key, buffers.get(key))
            bias = linear.bias
            self.register_buffer("bias", None if bias is None else bias.detach().to(float_dtype))

        def forward(self, x):
            shape = x.shape
            x2 = x.reshape(-1, shape[-1])
            if x2.shape[0] > DECODE_ROWS and self.q8 is not None:
                y = torch.nn.functional.linear(
                    x2.to(self.float_dtype), self.q8.to(self.float_dtype)
                )
                y = y * self.s8.to(self.float_dtype)
            else:
                xb = x2.to(torch.bfloat16)  # the packed kernels' fast type on every x86 CPU
                if self.q4 is not None:
                    y = torch._weight_int4pack_mm_for_cpu(xb, self.q4, self.group, self.p4)
                else:
                    y = torch._weight_int8pack_mm(xb, self.q8, self.s8)
                y = y.to(self.float_dtype)
            if self.bias is not None:
                y = y + self.bias
            return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

        def extra_repr(self) -> str:
            group = f", group={self.group}" if self.group else ""
            prefill = "int8 GEMM" if self.q8 is not None else "packed kernel"
            return (
                f"in={self.in_features}, out={self.out_features}, {self.scheme}{group}, "
                f"prefill: {prefill}"
            )

    return QuantizedLinear


def quantizable(name: str, module) -> bool:
    """The language model's linear layers and the output head; never the vision tower."""
    import torch

    if type(module) is not torch.nn.Linear or ".visual." in f".{name}." or "visual" in name:
        return False
    if module.in_features % 32 or module.out_features % 2:
        return False
    return True


def quantize_model(model, scheme: str, float_dtype) -> dict:
    """Replace the quantizable linear layers of ``model`` in place (one at a time, so the float
    weights are freed as their quantized copies are made). The head keeps no prefill copy:
    generate() computes logits for one row at a time. Returns counts for the log."""
    import torch

    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}")
    cls = _module_class()
    lm_head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    targets = [
        (name, module) for name, module in model.named_modules() if quantizable(name, module)
    ]
    counts = {"layers": 0, "weights": 0, "bytes": 0}
    with torch.no_grad():
        for name, module in targets:
            is_head = module is lm_head
            prefill = scheme == "int4" and not is_head
            quantized = cls(module, scheme, float_dtype, prefill)
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, quantized)
            counts["layers"] += 1
            counts["weights"] += module.in_features * module.out_features
            counts["bytes"] += layer_bytes(
                scheme, module.out_features, module.in_features, prefill=prefill
            )
    # the head was tied to the input embeddings: they stay in the float type for lookups
    if lm_head is not None and hasattr(model.config, "tie_word_embeddings"):
        model.config.tie_word_embeddings = False
        text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else None
        if text is not None and hasattr(text, "tie_word_embeddings"):
            text.tie_word_embeddings = False
    return counts


def cast_floats(model, dtype) -> None:
    """Every floating-point parameter and buffer outside the quantized layers in ``dtype``, in
    memory of its own (``model.to(dtype)`` would also cast the bf16 scales the kernels need).

    Copied even where the type already matches: transformers maps the safetensors file and
    hands out views of it, and while one view lives the file's pages read so far (every
    quantized layer's) stay in the process's RSS, ~2.8 GB for Qwen3-VL-2B."""
    import torch

    with torch.no_grad():
        for module in model.modules():
            if type(module).__name__ == "QuantizedLinear":
                continue
            for param in module.parameters(recurse=False):
                if param.is_floating_point():
                    param.data = param.data.to(dtype, copy=True)
            for name, buffer in list(module.named_buffers(recurse=False)):
                if buffer is None or not buffer.is_floating_point() or "inv_freq" in name:
                    continue  # rotary frequencies stay fp32, as transformers keeps them
                module._buffers[name] = buffer.to(dtype, copy=True)
