"""int8 / int4 for the text decoder on a CPU, on PyTorch's own CPU kernels.

Decoding one token reads every weight of the language model once (the tied 151,936-row
``lm_head`` included), so on a CPU its speed is memory bandwidth divided by bytes per
weight: fewer bytes, read by a fast kernel, is the only way to go faster. ``quantize_model``
replaces the ``nn.Linear`` layers of the language model and its ``lm_head`` by
``QuantizedLinear``; the vision tower, the embeddings and the norms stay in the float type
the runtime chose (bf16 where the CPU has native bf16, fp32 elsewhere).

The kernels, per scheme and number of rows (tokens) in the call:

- int8, every call: FBGEMM's dynamic quantized linear (``quantized::linear_dynamic``, the
  ``x86`` engine): int8 weights with one scale per output row, and the activations
  quantized to 8 bits per token at run time, multiplied in integers (VNNI where the CPU has
  it). Measured here (Zen 4, 2 threads, every layer of Qwen3-VL-2B's text decoder read from
  memory once): 73 ms per token against 135 ms for ``torch._weight_int8pack_mm`` (int8
  weights, bf16 activations), about 24 GB/s, near the machine's bandwidth; for a 600-token
  prefill 1.5x faster than converting the weights and running the float GEMM. Each row is
  divided by its largest magnitude first (and multiplied back after), so the kernel's one
  quantization range per call is a range per token: one loud token (a prompt's first one
  often is) cannot flatten the others. Without VNNI (AVX2, AVX-512F) the kernel adds pairs
  of u8*s8 products in 16 bits, which saturate past 32,767 (2 * 255 * 127 does: one layer
  of all-positive activations came out 9% wrong with FBGEMM held to AVX2). PyTorch's own x86
  recipe makes the activations 7-bit (``reduce_range``), which fails the quality bar on a
  model with outlier channels (``cpu_bench.quality``: cosine 0.980 against 8 bits' 0.994).
  Such a CPU gets 7-bit weights instead (``WEIGHT_BITS``: -63..63, so 2 * 255 * 63 fits):
  the products are exact on every x86 CPU, the activations keep their 8 bits, and the
  weights lose one bit of their per-row range (cosine 0.9990 against bf16; 0.9929 with
  outlier channels: over the bar). With every library held to AVX2 (``cpu_bench --emulate
  avx2``), Qwen3-VL-2B decoded 10.8 tok/s this way against 5.7 on the weight-only kernel
  below (3 interleaved runs, 8 frames; its layers alone ~100-117 against 185 ms a token).
- int4, decoding (up to ``DECODE_ROWS`` rows): ``torch._weight_int4pack_mm_for_cpu`` (groups
  of 128 with a bf16 scale and zero), bf16 activations. For the prefill an int4 layer keeps
  the int8 form above: 1.5 bytes per weight held, 0.53 read per decoded token.
- Where PyTorch has no FBGEMM engine (ARM, or a build without it):
  int8 weights through ``torch._weight_int8pack_mm`` (decoding) and converted to the float
  type for the prefill GEMM, with no activation quantization. PyTorch marks quantized
  tensors as deprecated (pytorch#184982); when they go, this fallback is what remains.

Layers that read the same input are fused (``FUSED``: an attention's q / k / v projections,
an MLP's gate and up): one kernel call over their stacked rows, the activations quantized
once, and each original layer becomes a ``FusedPart`` that returns its columns of that one
product. transformers' own forward code runs unchanged. Measured here (Zen 4, 2 threads,
28 layers of Qwen3-VL-2B, one token): q / k / v 12.1 ms as three calls, 9.6 ms as one; gate
and up 27.8 against 26.4 ms.

Why not torchao or bitsandbytes (both measured here, without ``torch.compile``, 2048x2048):
torchao 0.18's ``Int8WeightOnlyConfig`` converts the whole int8 weight to bf16 at every call
(1.0 ms against 0.22 ms for the packed kernel); its CPU int4 (``prototype.quantization.int4.
PrototypeInt4WeightOnlyConfig``, ``Int4OpaqueTensor``) runs the same int4 kernel for
decoding but also for the prefill; ``Int8DynamicActivationInt4WeightConfig`` needs torchao
C++ kernels its wheel does not ship; bitsandbytes' CPU NF4 / int8 took 2.3 / 9.4 ms.
Nothing here needs anything beyond torch.
"""

from __future__ import annotations

import functools
import math
import warnings

GROUP_SIZES = (128, 64, 32)  # int4 group size: the largest that divides the input width
DECODE_ROWS = 8  # up to this many rows the int4 kernel wins; above it the int8 GEMM does
CHUNK_ROWS = 8192  # rows quantized at a time (bounds the fp32 temporaries of a 151,936-row head)
# FBGEMM's prepacking slows down on very tall matrices (the 151,936-row head: 7.2 s in one
# piece, 1.7 s in pieces of 16,384 rows, decoding as fast): the int8 form is made in pieces.
PACK_ROWS = 16384
PACKED_ROW_BYTES = 12  # per output row of an FBGEMM int8 weight: fp32 scale, int32 zero, offset
SCHEMES = ("int8", "int4")
# Sibling layers that read one input in every transformers decoder we load (Qwen3, Qwen3-VL),
# computed as one layer named by the key (see the module docstring)
FUSED = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}
# FBGEMM's bits. Activations: 8 (the benchmark sets 7 to measure FBGEMM's reduce_range, the
# reason it is not used). Weights, None: by the CPU, 8 with VNNI and 7 without (see the
# module docstring); the benchmark sets 7 on a VNNI CPU to measure what such a CPU computes.
ACTIVATION_BITS: int | None = None
WEIGHT_BITS: int | None = None
USE_FBGEMM = True  # False: the weight-only fallback, as on a torch without the engine
FUSE = True  # False: each layer alone (``FUSED``), as the benchmark compares
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # u8*s8 summed in 32 bits


def group_size(in_features: int) -> int | None:
    """The int4 group size for a layer of this width, or None (stays in its float type)."""
    return next((g for g in GROUP_SIZES if in_features % g == 0), None)


def int8_bytes(out_features: int, in_features: int) -> int:
    """Bytes of one int8 layer: the weights plus what each output row carries beside them
    (FBGEMM's packed form; the fallback's bf16 scale per row is smaller)."""
    return out_features * in_features + PACKED_ROW_BYTES * out_features


def int4_bytes(out_features: int, in_features: int) -> int:
    """Bytes of the packed int4 weights: two per byte plus a bf16 scale and zero per group."""
    groups = math.ceil(in_features / (group_size(in_features) or in_features))
    return out_features * in_features // 2 + 4 * out_features * groups


def layer_bytes(scheme: str, out_features: int, in_features: int, *, prefill: bool) -> int:
    """Bytes a QuantizedLinear holds: int8; or int4, plus the int8 prefill form if kept."""
    if scheme == "int8":
        return int8_bytes(out_features, in_features)
    copy = int8_bytes(out_features, in_features) if prefill else 0
    return int4_bytes(out_features, in_features) + copy


def decode_bytes(scheme: str, out_features: int, in_features: int) -> int:
    """Bytes one decoded token reads from this layer."""
    if scheme == "int8":
        return int8_bytes(out_features, in_features)
    return int4_bytes(out_features, in_features)


@functools.cache
def dynamic_engine() -> str | None:
    """The quantized engine that runs FBGEMM's dynamic int8 linear here, or None (fallback).
    Asked once: a tiny layer is packed and run, so a build that lists the engine but cannot
    use it on this CPU falls back too."""
    import torch

    engines = torch.backends.quantized.supported_engines
    engine = next((e for e in ("x86", "fbgemm") if e in engines), None)
    if engine is None or not hasattr(torch.ops.quantized, "linear_dynamic"):
        return None
    try:
        packed = _prepack(torch.ones(8, 64, dtype=torch.int8), torch.ones(8), engine)
        torch.ops.quantized.linear_dynamic(torch.ones(1, 64), packed[0], True)
    except (RuntimeError, NotImplementedError, AttributeError):
        return None
    return engine


def sums_in_16_bits(cpu_flags: frozenset[str]) -> bool:
    """Whether FBGEMM adds pairs of u8*s8 products in 16 bits on this CPU (no VNNI): 2 * 255
    * 127 would saturate there, 2 * 255 * 63 (7-bit weights) cannot."""
    return not (cpu_flags & VNNI_FLAGS)


def _prepack(q8, scales, engine: str) -> list:
    """FBGEMM's packed form of an int8 weight with one scale per row, PACK_ROWS rows a piece.
    PyTorch warns that quantized tensors are deprecated; the fallback covers their removal."""
    import torch

    pieces = []
    previous = torch.backends.quantized.engine
    try:
        torch.backends.quantized.engine = engine
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*quantized tensor creation.*deprecated")
            warnings.filterwarnings("ignore", message=".*quantize_per_.*deprecated")
            for start in range(0, q8.shape[0], PACK_ROWS):
                q = q8[start : start + PACK_ROWS]
                zeros = torch.zeros(q.shape[0], dtype=torch.long)
                s = scales[start : start + PACK_ROWS].double()
                qt = torch._make_per_channel_quantized_tensor(q, s, zeros, 0)
                pieces.append(torch.ops.quantized.linear_prepack(qt, None))
    finally:
        torch.backends.quantized.engine = previous
    return pieces


def _int8_rows(w, top: int = 127):
    """Symmetric int8 per output row of a float32 block, values in -top..top: (int8
    weights, fp32 scales)."""
    import torch

    scale = (w.abs().amax(dim=1) / top).clamp_(min=1e-12)
    q = (w * scale.reciprocal()[:, None]).round_().clamp_(-top, top).to(torch.int8)
    return q, scale


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


def quantize_weight(
    weight, scheme: str, prefill: bool, engine: str | None, weight_bits: int = 8
) -> dict:
    """The tensors of one QuantizedLinear, made CHUNK_ROWS rows at a time (the fp32 copy of a
    151,936-row head would take 1.2 GB at once): "packed" (FBGEMM int8 of ``weight_bits``, a
    list of pieces) or, without an engine, "q8" / "s8" (int8, bf16 scales); and "q4" / "p4"
    for int4."""
    import torch

    parts: dict[str, list] = {"q8": [], "s8": [], "q4": [], "p4": []}
    group = group_size(weight.shape[1]) if scheme == "int4" else None
    top = 2 ** (weight_bits - 1) - 1
    for start in range(0, weight.shape[0], CHUNK_ROWS):
        w = weight[start : start + CHUNK_ROWS].float()
        if scheme == "int8" or prefill:
            q8, s8 = _int8_rows(w, top)
            parts["q8"].append(q8)
            parts["s8"].append(s8)
        if group is not None:
            q4, p4 = _int4_rows(w, group)
            parts["q4"].append(q4)
            parts["p4"].append(p4)
    out = {key: torch.cat(values) for key, values in parts.items() if key != "p4" and values}
    if parts["p4"]:
        out["p4"] = torch.cat(parts["p4"], dim=1).to(torch.bfloat16).contiguous()
    if "q8" in out and engine is not None:
        out["packed"] = _prepack(out.pop("q8"), out.pop("s8"), engine)
    elif "s8" in out:
        out["s8"] = out["s8"].to(torch.bfloat16)
    return out


def _module_class():
    """The QuantizedLinear class (made once, on first use: torch is imported lazily)."""
    return _module_classes()[0]


@functools.cache
def _module_classes():
    import torch

    # looked up once, whatever the engine (a layer has a packed form only where one runs;
    # a torch without the quantized ops has none: only the fallback runs)
    linear_dynamic = getattr(torch.ops.quantized, "linear_dynamic", None)
    int4_mm = torch._weight_int4pack_mm_for_cpu

    class QuantizedLinear(torch.nn.Module):
        """A linear layer with int8 or int4 weights; see the module docstring."""

        def __init__(self, linear, scheme: str, float_dtype, prefill: bool, *,
                     engine: str | None = None, reduce_range: bool = True,
                     weight_bits: int = 8) -> None:  # fmt: skip
            super().__init__()
            weight = linear.weight.detach()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            self.scheme = scheme
            self.float_dtype = float_dtype  # the float GEMM's and the output's type
            self.group = group_size(self.in_features) if scheme == "int4" else None
            self.reduce_range = reduce_range
            self.weight_bits = weight_bits  # < 8 only for FBGEMM (``quantize_model``)
            tensors = quantize_weight(weight, scheme, prefill, engine, self.weight_bits)
            # FBGEMM's packed weights are opaque objects, not tensors: held as an attribute
            self.packed = tensors.get("packed")
            plain = self.packed is not None and len(self.packed) == 1 and linear.bias is None
            self.single = self.packed[0] if plain and scheme == "int8" else None
            for key in ("q8", "s8", "q4", "p4"):
                self.register_buffer(key, tensors.get(key))
            bias = linear.bias
            self.register_buffer("bias", None if bias is None else bias.detach().to(float_dtype))
            self.parts = 0  # > 0: this many FusedPart layers read its output (``shared``)
            self._memo: tuple | None = None

        def shared(self, x):
            """This layer's output for a FusedPart: computed at the first part's call and kept
            until every part has read it. The parts of one fused layer get the very same input
            tensor (``x is`` the kept one: holding it means its id cannot be reused); a call
            with another input computes afresh."""
            memo = self._memo
            if memo is None or memo[0] is not x:
                memo = (x, self(x), 0)
            memo = (memo[0], memo[1], memo[2] + 1)
            self._memo = None if memo[2] == self.parts else memo
            return memo[1]

        def nbytes(self) -> int:
            """Bytes held: the buffers, and the packed int8 form by FBGEMM's layout."""
            held = sum(b.numel() * b.element_size() for b in self.buffers())
            if self.packed is not None:
                held += int8_bytes(self.out_features, self.in_features)
            return held

        def forward(self, x):
            shape = x.shape
            x2 = x.reshape(-1, shape[-1])
            rows = x2.shape[0]
            if rows == 1 and self.single is not None:
                # a decoding step's common case, kept short: ~25 us of Python and no-op
                # conversions a call is ~5 ms a token over the 113 layers of Qwen3-VL-2B (197 unfused)
                y = linear_dynamic(x2.float(), self.single, self.reduce_range)
                return y.to(x.dtype).view(*shape[:-1], self.out_features)
            if rows == 1 and self.q4 is not None and self.bias is None:
                y = int4_mm(x2.to(torch.bfloat16), self.q4, self.group, self.p4)
                return y.to(x.dtype).view(*shape[:-1], self.out_features)
            no_int8 = self.packed is None and self.q8 is None  # the int4 head: no prefill form
            if self.q4 is not None and (rows <= DECODE_ROWS or no_int8):
                xb = x2.to(torch.bfloat16)  # the packed kernels' fast type on every x86 CPU
                y = torch._weight_int4pack_mm_for_cpu(xb, self.q4, self.group, self.p4)
            elif self.packed is not None:
                y = self._dynamic(x2)
            elif rows <= DECODE_ROWS and self.q8 is not None:
                y = torch._weight_int8pack_mm(x2.to(torch.bfloat16), self.q8, self.s8)
            else:
                y = torch.nn.functional.linear(
                    x2.to(self.float_dtype), self.q8.to(self.float_dtype)
                )
                y = y * self.s8.to(self.float_dtype)
            y = y.to(self.float_dtype)
            if self.bias is not None:
                y = y + self.bias
            return y.reshape(*shape[:-1], self.out_features).to(x.dtype)

        def _dynamic(self, x2):
            """FBGEMM's int8 product, the activations quantized per token (see the module
            docstring): rows scaled to a largest magnitude of 1, then scaled back."""
            xf = x2.float()
            peak = None
            if xf.shape[0] > 1:
                peak = xf.abs().amax(dim=-1, keepdim=True).clamp_(min=1e-30)
                xf = xf / peak
            pieces = [
                torch.ops.quantized.linear_dynamic(xf, piece, self.reduce_range)
                for piece in self.packed
            ]
            y = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=-1)
            return y if peak is None else y * peak

        def extra_repr(self) -> str:
            group = f", group={self.group}" if self.group else ""
            if self.packed is not None:
                bits = 7 if self.reduce_range else 8
                other = f"{self.weight_bits}-bit weights x {bits}-bit activations (FBGEMM)"
            else:
                other = "int8 GEMM" if self.q8 is not None else "none"
            return (
                f"in={self.in_features}, out={self.out_features}, {self.scheme}{group}, "
                f"int8 form: {other}"
            )

    class FusedPart(torch.nn.Module):
        """One of the layers a fused QuantizedLinear computes at once: its columns of that
        product. The fused layer is its parent's attribute, not this one's child."""

        def __init__(self, fused, start: int, stop: int) -> None:
            super().__init__()
            object.__setattr__(self, "fused", fused)  # not a submodule: counted once
            self.start, self.stop = start, stop
            self.in_features, self.out_features = fused.in_features, stop - start

        def forward(self, x):
            return self.fused.shared(x)[..., self.start : self.stop]

        def extra_repr(self) -> str:
            return f"columns {self.start}:{self.stop} of a fused {self.fused.scheme} layer"

    return QuantizedLinear, FusedPart


def quantizable(name: str, module) -> bool:
    """The language model's linear layers and the output head; never the vision tower."""
    import torch

    if type(module) is not torch.nn.Linear or ".visual." in f".{name}." or "visual" in name:
        return False
    if module.in_features % 32 or module.out_features % 2:
        return False
    return True


class _Stacked:
    """Layers that read one input, as one layer with their rows stacked (what QuantizedLinear
    reads of an nn.Linear): the float copy lives only while it is quantized."""

    def __init__(self, layers) -> None:
        import torch

        self.weight = torch.cat([layer.weight.detach() for layer in layers])
        biases = [layer.bias for layer in layers]
        self.bias = None if biases[0] is None else torch.cat([b.detach() for b in biases])
        self.in_features = layers[0].in_features
        self.out_features = self.weight.shape[0]


def fused_groups(model, quantizable_names: set[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """For each layer computed as part of a fused one (``FUSED``): the fused layer's name and
    its members. A group fuses only when every member is quantized, they read inputs of one
    width, and all or none have a bias."""
    groups = {}
    for parent_name, parent in model.named_modules():
        prefix = f"{parent_name}." if parent_name else ""
        for fused_name, members in FUSED.items():
            if hasattr(parent, fused_name):
                continue  # a name of the model's own
            if not all(f"{prefix}{m}" in quantizable_names for m in members):
                continue
            layers = [getattr(parent, m) for m in members]
            if (
                len({x.in_features for x in layers}) != 1
                or len({x.bias is None for x in layers}) != 1
            ):
                continue
            groups.update({f"{prefix}{m}": (fused_name, members) for m in members})
    return groups


def _install_parts(parent, fused_name: str, members, layers, quantized) -> None:
    """The fused layer as ``parent.<fused_name>``, each member replaced by its FusedPart."""
    part_cls = _module_classes()[1]
    parent.add_module(fused_name, quantized)
    quantized.parts = len(members)
    start = 0
    for member, layer in zip(members, layers, strict=True):
        setattr(parent, member, part_cls(quantized, start, start + layer.out_features))
        start += layer.out_features


def quantize_model(
    model,
    scheme: str,
    float_dtype,
    cpu_flags: frozenset[str] | None = None,
    *,
    fuse: bool | None = None,
) -> dict:
    """Replace the quantizable linear layers of ``model`` in place (one at a time, so the float
    weights are freed as their quantized copies are made), sibling layers that read one input
    as one (``FUSED``; ``fuse=False``, or ``FUSE`` by default: each alone). The head keeps
    no prefill copy: generate() computes logits for one row at a time. ``cpu_flags`` (this
    machine's, by default) decide the weights' bits. Returns counts for the log."""
    import torch

    from captioner import hardware

    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}")
    cls = _module_class()
    engine = dynamic_engine() if USE_FBGEMM else None
    flags = hardware.detect().cpu_flags if cpu_flags is None else cpu_flags
    seven_bits = ACTIVATION_BITS == 7  # the benchmark's variant only: see ACTIVATION_BITS
    weight_bits = WEIGHT_BITS or (7 if sums_in_16_bits(flags) and not seven_bits else 8)
    weight_bits = weight_bits if engine else 8  # the fallback kernel sums in 32 bits
    lm_head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    targets = [
        (name, module) for name, module in model.named_modules() if quantizable(name, module)
    ]
    counts = {"layers": 0, "fused": 0, "weights": 0, "bytes": 0, "engine": engine or "none",
              "activation_bits": (7 if seven_bits else 8) if engine else 16,
              "weight_bits": weight_bits}  # fmt: skip
    fuse = FUSE if fuse is None else fuse
    fused = fused_groups(model, {name for name, _ in targets}) if fuse else {}
    with torch.no_grad():
        for name, module in targets:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            layers = [module]
            if name in fused:
                fused_name, members = fused[name]
                if child != members[0]:
                    continue  # quantized with the group's first layer
                layers = [getattr(parent, member) for member in members]
                module = _Stacked(layers)
            prefill = scheme == "int4" and module is not lm_head
            quantized = cls(module, scheme, float_dtype, prefill, engine=engine,
                            reduce_range=seven_bits, weight_bits=weight_bits)  # fmt: skip
            if name in fused:
                _install_parts(parent, fused_name, members, layers, quantized)
            else:
                setattr(parent, child, quantized)
            counts["layers"] += len(layers)
            counts["fused"] += len(layers) if name in fused else 0
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
