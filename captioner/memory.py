"""The memory planner: bytes a model needs, and how many video frames still fit beside it.

Everything is arithmetic on the architecture facts in ``catalog.py``; tests check the
parameter counts against the real transformers architectures built on the meta device.

What a run holds on the device (one request, batch 1):

- weights, in the chosen precision (``weight_bytes``);
- the KV cache for prompt + video tokens + new tokens (``kv_bytes_per_token``);
- the prefill peak: vision-encoder activations for every frame, then the language model's
  per-layer activations over the whole prompt (``activation_bytes``);
- a fixed reserve per device for the CUDA context, cuBLAS workspaces and allocator slack.

How bitsandbytes NF4 really quantizes in transformers 5.23 (read in
``integrations/bitsandbytes.replace_with_bnb_linear`` and ``quantizers/base.py``, and checked
by loading tiny Qwen3-MoE / Qwen3-VL / Qwen3-VL-MoE checkpoints with
``BitsAndBytesConfig(load_in_4bit=True)`` on this CPU):

- only modules whose type is exactly ``nn.Linear`` become ``Linear4bit``; their biases stay
  16-bit. Embeddings, RMS/LayerNorms, the vision Conv3d patch embedding and the learned
  position embedding stay 16-bit.
- ``lm_head`` is skipped (``get_keys_to_not_convert``: the output embedding, the last module
  and tied weights); with tied embeddings it is the embedding matrix itself.
- the vision tower is not skipped by default (Qwen3-VL declares no ``_keep_in_fp32_modules``
  and the default skip list holds only ``lm_head``), but our loader skips it on purpose:
  ``NF4_SKIP_MODULES`` keeps ``model.visual`` in 16 bit, because the ViT is small (0.4-0.6B)
  and 4-bit vision features hurt captions more than they save memory. ``weight_bytes``
  models exactly that (``quantize_vision=True`` gives the library default, for comparison).
- MoE experts are NOT quantized: in transformers 5.x ``Qwen3MoeExperts`` /
  ``Qwen3VLMoeTextExperts`` hold fused 3-D ``nn.Parameter`` tensors (``gate_up_proj``,
  ``down_proj``), not ``nn.Linear``, and the router is a bare ``nn.Parameter`` too. Both stay
  in the 16-bit load dtype, so NF4 barely shrinks 30B-A3B / 235B-A22B (only attention).
- per quantized weight (blocksize 64, double quantization, nested blocksize 256): ceil(n/2)
  packed bytes + ceil(n/64) uint8 absmax + 4·ceil(n/64/256) fp32 second-level absmax, plus a
  per-tensor 64-byte NF4 code, 1 KiB nested code and a 4-byte offset (measured with
  ``bitsandbytes.functional.quantize_4bit``): about 4.127 bits per weight.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from captioner import catalog, errors
from captioner import precision as precision_
from captioner.catalog import ModelSpec
from captioner.precision import GiB, gb

NF4_BLOCKSIZE = 64
NF4_NESTED_BLOCKSIZE = 256
NF4_TENSOR_OVERHEAD = 64 + 1024 + 4  # NF4 code (16 fp32), nested code (256 fp32), offset

# CUDA context (~0.3-0.5 GiB), cuBLAS/cuDNN workspaces and caching-allocator slack, per device.
DEVICE_RESERVE_BYTES = 1 * GiB
# A CPU process besides its model: Python, torch, transformers, the processor, decoded frames
# (what the measured peaks of README's Measurements leave beside weights, KV and activations:
# with 0.75 GiB the plan fell 2.6-7.1% short of three of the four 2B precisions' measured
# peaks; a plan that guards against running out of memory must not fall short on average).
CPU_PROCESS_BYTES = 1 * GiB
CHECKPOINT_BYTES = 2  # Qwen3 / Qwen3-VL safetensors store bf16
# Prefill peaks are estimated, not measured per kernel: keep a margin on them.
ACTIVATION_MARGIN = 1.25
DEFAULT_PROMPT_TOKENS = 512  # system prompt + Korean instructions + timestamps text


@dataclass(frozen=True)
class ParamCounts:
    total: int
    embedding: int  # input embeddings (the tied lm_head shares them)
    lm_head: int  # 0 when tied to the embeddings
    vision: int  # the whole vision tower, mergers included
    vision_linear: int  # its nn.Linear weights (4-bit under NF4)
    text_linear: int  # nn.Linear weights of the language model (4-bit under NF4)
    experts: int  # fused MoE expert weights (stay 16-bit under NF4 in transformers 5.x)
    norms_and_other: int  # LM norms, MoE routers
    linear_shapes: tuple[tuple[int, int], ...]  # (numel, how many) of every 4-bit tensor


@functools.cache
def param_counts(spec: ModelSpec) -> ParamCounts:
    """Exact parameter counts from the architecture facts (matches the meta-device model)."""
    t = spec.text
    h, q_dim, kv_dim = t.hidden_size, t.num_heads * t.head_dim, t.num_kv_heads * t.head_dim
    embedding = t.vocab_size * h
    lm_head = 0 if t.tie_word_embeddings else t.vocab_size * h
    shapes: list[tuple[int, int]] = [
        (h * q_dim, t.num_layers),  # q_proj
        (h * kv_dim, 2 * t.num_layers),  # k_proj, v_proj
        (q_dim * h, t.num_layers),  # o_proj
    ]
    experts = router = 0
    if spec.is_moe:
        experts = t.num_layers * t.num_experts * 3 * h * t.moe_intermediate_size
        router = t.num_layers * t.num_experts * h
    else:
        shapes.append((h * t.intermediate_size, 3 * t.num_layers))  # gate, up, down
    text_linear = sum(n * k for n, k in shapes)
    norms = t.num_layers * (2 * h + 2 * t.head_dim) + h  # 2 RMSNorms, q/k-norm; final norm
    vision, vision_linear, vision_shapes = _vision_counts(spec)
    total = embedding + lm_head + text_linear + experts + router + norms + vision
    return ParamCounts(
        total=total,
        embedding=embedding,
        lm_head=lm_head,
        vision=vision,
        vision_linear=vision_linear,
        text_linear=text_linear,
        experts=experts,
        norms_and_other=norms + router,
        linear_shapes=tuple(shapes + vision_shapes),
    )


def _vision_counts(spec: ModelSpec) -> tuple[int, int, list[tuple[int, int]]]:
    """(all vision params, Linear weights, Linear weight shapes) of a Qwen3-VL vision tower."""
    v = spec.vision
    if v is None:
        return 0, 0, []
    d, inter, merged = v.hidden_size, v.intermediate_size, v.hidden_size * v.spatial_merge_size**2
    mergers = 1 + len(v.deepstack_indexes)  # the final merger + one per deepstack layer
    shapes = [
        (d * 3 * d, v.depth),  # qkv
        (d * d, v.depth),  # proj
        (d * inter, 2 * v.depth),  # mlp fc1, fc2
        (merged * merged, mergers),  # merger fc1
        (merged * v.out_hidden_size, mergers),  # merger fc2
    ]
    linear = sum(n * k for n, k in shapes)
    block_other = 2 * 2 * d + 3 * d + d + inter + d  # 2 LayerNorms; qkv, proj, fc1, fc2 biases
    merger_other = merged + v.out_hidden_size  # fc1, fc2 biases
    other = (
        d * v.in_channels * v.temporal_patch_size * v.patch_size**2
        + d  # Conv3d patch embed
        + v.num_position_embeddings * d  # learned position grid
        + v.depth * block_other
        + mergers * merger_other
        + 2 * d  # final merger LayerNorm (before the 2x2 shuffle)
        + len(v.deepstack_indexes) * 2 * merged  # deepstack LayerNorms (after the shuffle)
    )
    return linear + other, linear, shapes


# Modules the loader keeps out of 4-bit (BitsAndBytesConfig.llm_int8_skip_modules).
NF4_SKIP_MODULES = ("lm_head", "model.visual")


def nf4_tensor_bytes(numel: int) -> int:
    """Bytes of one weight quantized by bitsandbytes NF4 with double quantization."""
    blocks = math.ceil(numel / NF4_BLOCKSIZE)
    nested = math.ceil(blocks / NF4_NESTED_BLOCKSIZE)
    return math.ceil(numel / 2) + blocks + 4 * nested + NF4_TENSOR_OVERHEAD


def weight_bytes(
    spec: ModelSpec, precision: str, *, quantize_vision: bool = False, float_precision: str = "bf16"
) -> int:
    """Bytes of the weights once loaded in ``precision`` (see the module docstring for NF4;
    ``cpu_quantized_bytes`` for the CPU's int8 / int4)."""
    counts = param_counts(spec)
    if precision_.get(precision).quantizer is None:
        return int(counts.total * precision_.get(precision).weight_bytes)
    if precision_.get(precision).quantizer == "torch-cpu":
        return cpu_quantized_bytes(spec, precision, float_precision)
    shapes = counts.linear_shapes if quantize_vision else _text_shapes(spec)
    quantized = sum(n * k for n, k in shapes)
    packed = sum(nf4_tensor_bytes(n) * k for n, k in shapes)
    return packed + (counts.total - quantized) * precision_.compute_bytes("nf4")


def text_linear_dims(spec: ModelSpec) -> tuple[tuple[int, int, int], ...]:
    """(out, in, how many) of the language model's linear layers (dense models)."""
    t = spec.text
    h, q, kv = t.hidden_size, t.num_heads * t.head_dim, t.num_kv_heads * t.head_dim
    layers = t.num_layers
    dims = [(q, h, layers), (kv, h, 2 * layers), (h, q, layers)]
    if spec.is_moe:
        return tuple(dims)  # fused experts are not nn.Linear: they stay in the float type
    return tuple(dims + [(t.intermediate_size, h, 2 * layers), (h, t.intermediate_size, layers)])


def cpu_quantized_bytes(spec: ModelSpec, precision: str, float_precision: str = "bf16") -> int:
    """Bytes of a model under ``quantize.py``'s int8 / int4: every linear layer of the language
    model quantized (int4 ones with their int8 prefill copy), a quantized head of
    vocab × hidden (tied or not: with tied embeddings the input embeddings stay as well),
    and everything else in the CPU's float type."""
    from captioner import quantize  # arithmetic only; torch is imported by its functions

    counts = param_counts(spec)
    h, vocab = spec.text.hidden_size, spec.text.vocab_size
    quantized = sum(
        n * quantize.layer_bytes(precision, out, inp, prefill=True)
        for out, inp, n in text_linear_dims(spec)
    )
    weights = sum(out * inp * n for out, inp, n in text_linear_dims(spec))
    head = quantize.layer_bytes(precision, vocab, h, prefill=False)
    rest = counts.total - weights - counts.lm_head  # vision, embeddings, norms, experts
    return quantized + head + rest * precision_.compute_bytes(precision, float_precision)


def decode_bytes_per_token(spec: ModelSpec, precision: str, float_precision: str = "bf16") -> int:
    """Weight bytes one decoded token reads: the language model's linear layers and the head
    (embedding rows read are negligible); the vision tower is not used while decoding."""
    from captioner import quantize

    dims = list(text_linear_dims(spec)) + [(spec.text.vocab_size, spec.text.hidden_size, 1)]
    if precision_.get(precision).quantizer == "torch-cpu":
        return sum(n * quantize.decode_bytes(precision, out, inp) for out, inp, n in dims)
    per = precision_.compute_bytes(precision, float_precision)
    if precision_.get(precision).quantizer == "bitsandbytes":
        text = sum(n * nf4_tensor_bytes(out * inp) for out, inp, n in dims[:-1])
        return text + dims[-1][0] * dims[-1][1] * per
    return sum(n * out * inp for out, inp, n in dims) * per


def _text_shapes(spec: ModelSpec) -> tuple[tuple[int, int], ...]:
    """The language model's 4-bit shapes (``linear_shapes`` lists them before the vision's)."""
    shapes = param_counts(spec).linear_shapes
    return shapes[: len(shapes) - len(_vision_counts(spec)[2])]


def kv_bytes_per_token(spec: ModelSpec, dtype_bytes: int = 2) -> int:
    """K and V for every layer: 2 · layers · kv_heads · head_dim · bytes."""
    t = spec.text
    return 2 * t.num_layers * t.num_kv_heads * t.head_dim * dtype_bytes


def _merge_factor(spec: ModelSpec) -> int:
    v = spec.vision
    assert v is not None
    return v.patch_size * v.spatial_merge_size


def vision_tokens_per_frame(spec: ModelSpec, height: int, width: int) -> float:
    """LLM tokens per frame: the processor rounds sides to multiples of patch·merge (32),
    merges 2x2 patches into one token and packs 2 frames into one temporal patch."""
    v = spec.vision
    if v is None:
        return 0.0
    factor = _merge_factor(spec)
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    tokens_per_group = (h // v.patch_size) * (w // v.patch_size) // v.spatial_merge_size**2
    return tokens_per_group / v.temporal_patch_size


def vision_tokens_for_pixels(spec: ModelSpec, frame_pixels: int) -> float:
    """The same for a per-frame pixel budget (any aspect ratio)."""
    v = spec.vision
    if v is None:
        return 0.0
    return frame_pixels / _merge_factor(spec) ** 2 / v.temporal_patch_size


def activation_bytes(
    spec: ModelSpec,
    precision: str,
    *,
    frames: int,
    frame_pixels: int,
    prompt_tokens: int,
    float_precision: str = "bf16",
) -> int:
    """Estimated prefill peak (inference mode, SDPA): the larger of the vision encoder's and
    the language model's working sets, plus the video embeddings handed between them."""
    cb = precision_.compute_bytes(precision, float_precision)
    t = spec.text
    video_tokens = frames * vision_tokens_for_pixels(spec, frame_pixels)
    seq = prompt_tokens + video_tokens
    # LM, one layer at a time: residual + norm + q/k/v/o + MLP (gate, up, act) per token.
    mlp = 3 * (
        t.experts_per_token * t.moe_intermediate_size if spec.is_moe else t.intermediate_size
    )
    per_token = cb * (4 * t.hidden_size + 2 * t.num_heads * t.head_dim + mlp) + 4 * t.num_experts
    lm = seq * per_token + seq * seq  # + a boolean causal mask, in case SDPA materializes one
    lm += 2 * 4 * t.vocab_size  # last-position logits (generate keeps only one)
    vision = handoff = 0
    v = spec.vision
    if v is not None and frames > 0:
        patches = frames * frame_pixels / v.patch_size**2  # temporal pairs x patches per pair x 2
        patches /= v.temporal_patch_size
        patch_pixels = v.in_channels * v.temporal_patch_size * v.patch_size**2
        chunk = frame_pixels / v.patch_size**2  # SDPA runs per temporal chunk
        vision = patches * (
            patch_pixels * (4 + cb) + cb * (6 * v.hidden_size + 2 * v.intermediate_size)
        )
        vision += v.num_heads * chunk * chunk * 4  # math-kernel attention scores for one chunk
        # merged tokens + deepstack features stay alive into the LM prefill
        handoff = video_tokens * (1 + len(v.deepstack_indexes)) * t.hidden_size * cb
    return int(ACTIVATION_MARGIN * (max(lm, vision) + handoff))


@dataclass(frozen=True)
class Workload:
    """What one request asks of the device besides the weights."""

    frames: int = 0
    frame_pixels: int = 0
    max_new_tokens: int = 1024
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    devices: int = 1  # GPUs the weights spread over (the memory given is their total)
    float_precision: str = "bf16"  # the device's float type (a CPU: bf16 or fp32)
    host: bool = False  # a CPU process: plan its peak RSS, loading included


@dataclass(frozen=True)
class Plan:
    model_id: str
    precision: str
    workload: Workload
    weight_bytes: int
    kv_bytes: int
    activation_bytes: int
    reserve_bytes: int
    total_bytes: int
    available_bytes: int
    fits: bool
    max_frames: int  # frames that fit with this workload (<= the cap asked for)
    video_tokens: int
    reason: str

    @property
    def frames(self) -> int:
        return self.workload.frames

    @property
    def devices(self) -> int:
        return self.workload.devices


def plan(
    spec: ModelSpec,
    precision: str,
    available_bytes: int,
    workload: Workload = Workload(),  # noqa: B008 - frozen, shared safely
    *,
    frame_cap: int | None = None,
) -> Plan:
    """Does ``spec`` in ``precision`` with this workload fit in ``available_bytes``, and how
    many frames (up to ``frame_cap``, default the workload's) would?"""
    precision_.get(precision)  # a typed error for an unknown name, before any arithmetic
    if not spec.supports_video:
        workload = dataclasses.replace(workload, frames=0)
    total, (w, kv, act, reserve, video_tokens) = _total(spec, precision, workload)
    fits = total <= available_bytes
    cap = workload.frames if frame_cap is None else frame_cap
    budget = frame_budget(spec, precision, available_bytes, workload, cap)
    verdict = "fits" if fits else "does not fit"
    reason = (
        f"{spec.label} {precision.upper()}: weights {gb(w)} + KV {gb(kv)} + activations "
        f"{gb(act)} + reserve {gb(reserve)} = {gb(total)} of {gb(available_bytes)} → {verdict}"
    )
    if workload.host:
        load = load_peak_bytes(spec, precision, workload.float_precision)
        reason = (
            f"{spec.label} {precision.upper()}: peak RSS = process {gb(reserve)} + the larger "
            f"of loading {gb(load)} and running (weights {gb(w)} + KV {gb(kv)} + activations "
            f"{gb(act)}) = {gb(total)} of {gb(available_bytes)} → {verdict}"
        )
    if spec.supports_video:
        reason += (
            f" ({workload.frames} frames, {video_tokens} video tokens; up to {budget} frames fit)"
        )
    return Plan(
        model_id=spec.id,
        precision=precision,
        workload=workload,
        weight_bytes=w,
        kv_bytes=kv,
        activation_bytes=act,
        reserve_bytes=reserve,
        total_bytes=total,
        available_bytes=available_bytes,
        fits=fits,
        max_frames=budget,
        video_tokens=video_tokens,
        reason=reason,
    )


def _total(spec: ModelSpec, precision: str, workload: Workload):
    floats = workload.float_precision
    w = weight_bytes(spec, precision, float_precision=floats)
    video_tokens = math.ceil(
        workload.frames * vision_tokens_for_pixels(spec, workload.frame_pixels)
    )
    tokens = workload.prompt_tokens + video_tokens + workload.max_new_tokens
    kv = kv_bytes_per_token(spec, precision_.compute_bytes(precision, floats)) * tokens
    act = activation_bytes(
        spec,
        precision,
        frames=workload.frames,
        frame_pixels=workload.frame_pixels,
        prompt_tokens=workload.prompt_tokens,
        float_precision=floats,
    )
    if workload.host:
        reserve = CPU_PROCESS_BYTES
        total = max(load_peak_bytes(spec, precision, floats), w + kv + act) + reserve
    else:
        reserve = DEVICE_RESERVE_BYTES * max(1, workload.devices)
        total = w + kv + act + reserve
    return total, (w, kv, act, reserve, video_tokens)


def load_peak_bytes(spec: ModelSpec, precision: str, float_precision: str = "bf16") -> int:
    """A CPU process's RSS at its peak while loading, without the process's own baseline.

    Measured with the app's loader on real-size random Qwen3-VL-2B (README, Measurements):
    transformers maps the bf16 safetensors file, and where the stored type is the wanted one
    (bf16 into bf16) its pages are the weights, read in as they are first used: the load adds
    nothing. Any other load reads the whole file while making new tensors, and the pages it
    read stay counted until loading ends: fp32 from a bf16 file holds both, 6 bytes per
    weight (12.6 GiB measured for 2B, where the old plan said 9.7); int8 / int4 hold the file
    and the quantized model until ``quantize.cast_floats`` lets go of the file (8.6 / 8.1 GiB
    measured, 4.9 / 4.4 GiB while generating). Under memory pressure the kernel drops the
    file's clean pages first, so this is the most the process holds, not what it needs."""
    stored = param_counts(spec).total * CHECKPOINT_BYTES
    weights = weight_bytes(spec, precision, float_precision=float_precision)
    kind = precision_.get(precision)
    if (
        kind.quantizer is None
        and precision_.compute_bytes(precision, float_precision) == CHECKPOINT_BYTES
    ):
        return weights
    return stored + weights


def frame_budget(
    spec: ModelSpec, precision: str, available_bytes: int, workload: Workload, cap: int
) -> int:
    """The most frames (even, <= cap, >= 0) that fit with this workload; 0 when not even 2 do."""
    if not spec.supports_video or cap < 2:
        return 0

    def fits(n: int) -> bool:
        total, _ = _total(spec, precision, dataclasses.replace(workload, frames=n))
        return total <= available_bytes

    lo, hi = 0, cap // 2  # search over pairs of frames: Qwen3-VL packs frames two by two
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(2 * mid):
            lo = mid
        else:
            hi = mid - 1
    return 2 * lo


def require_fit(result: Plan) -> Plan:
    """``result`` when it fits; else errors.ModelDoesNotFit naming the largest catalog model
    that would fit the same workload in the same memory."""
    if result.fits:
        return result
    spec = catalog.get(result.model_id)
    floats = result.precision if result.precision in precision_.FLOATS else "fp16"
    alt = largest_fitting(spec.supports_video, floats, result.available_bytes, result.workload)
    if alt is not None:
        alt_spec, alt_precision = alt
        alt_ko = f"대신 {alt_spec.label} ({precision_.label(alt_precision)})은(는) 들어갑니다."
        alt_en = f"{alt_spec.label} in {precision_.label(alt_precision)} fits."
    else:
        alt_ko = "카탈로그의 어떤 모델도 들어가지 않습니다. 프레임 수나 해상도를 줄여 보세요."
        alt_en = "No catalog model fits; try fewer frames or a lower resolution."
    need, have = gb(result.total_bytes), gb(result.available_bytes)
    name = precision_.label(result.precision)
    raise errors.ModelDoesNotFit(
        f"{spec.label} ({name})에는 약 {need}가 필요하지만 {have}만 쓸 수 있습니다. {alt_ko}",
        f"{spec.label} in {name} needs about {need} but only {have} is available. {alt_en}",
        detail=result.reason,
    )


def candidates(video: bool, float_precision: str) -> tuple[tuple[ModelSpec, str], ...]:
    """(model, precision) pairs from best to smallest: the default checkpoints (Qwen3-VL
    Instruct, or hybrid Qwen3) by size, each in the device's float precision (fp32 falls
    back to bf16, which halves the bytes) and then in NF4."""
    models = catalog.video_models() if video else catalog.text_models()
    models = [m for m in models if m.thinking != "always" and "2507" not in m.id]
    models.sort(key=lambda m: param_counts(m).total, reverse=True)
    order = ("fp32", "bf16", "nf4") if float_precision == "fp32" else (float_precision, "nf4")
    return tuple((m, p) for m in models for p in order)


def largest_fitting(
    video: bool,
    float_precision: str,
    available_bytes: int,
    workload: Workload = Workload(),  # noqa: B008 - frozen, shared safely
) -> tuple[ModelSpec, str] | None:
    """The first of ``candidates`` that fits this workload, or None."""
    for spec, prec in candidates(video, float_precision):
        if plan(spec, prec, available_bytes, workload).fits:
            return spec, prec
    return None
