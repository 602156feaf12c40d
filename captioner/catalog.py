"""The table of real Qwen3 / Qwen3-VL checkpoints, as data.

Every id, dimension and sampling value here comes from /work/shared/reference/model-facts.md
(public copies of the checkpoints' config.json / generation_config.json and model cards).
Nothing is invented: where the reference marks a value "unconfirmed" the entry says so in
``note``. ``memory.py`` turns the architecture facts into exact parameter counts and bytes;
``hf_config`` turns them into transformers configs so tests can build the real architecture
on the meta device and check that arithmetic.

Usage::

    from captioner import catalog
    spec = catalog.get("Qwen/Qwen3-VL-8B-Instruct")
    spec.label, spec.supports_video, spec.sampling.temperature
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from captioner import errors

if TYPE_CHECKING:
    from transformers import PretrainedConfig


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float = 1.0
    presence_penalty: float | None = (
        None  # None: the card gives none (transformers has no such knob)
    )
    max_new_tokens: int = 16384  # the cards' output-length recommendation, not a UI default


@dataclass(frozen=True)
class TextArch:
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    num_experts: int = 0  # 0 = dense
    experts_per_token: int = 0
    moe_intermediate_size: int = 0


@dataclass(frozen=True)
class VisionArch:
    depth: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    patch_size: int
    spatial_merge_size: int
    temporal_patch_size: int
    out_hidden_size: int
    deepstack_indexes: tuple[int, ...]
    in_channels: int = 3
    num_position_embeddings: int = 2304


@dataclass(frozen=True)
class ModelSpec:
    id: str  # real Hub id
    family: str  # "qwen3-vl" | "qwen3"
    modality: str  # "video" (Qwen3-VL: video, image and text) | "text"
    thinking: str  # "hybrid" (enable_thinking switch, default on) | "always" | "never"
    text: TextArch
    vision: VisionArch | None
    context_length: int  # native context, tokens
    params: int | None  # exact total where a source publishes it; else memory.param_counts
    sampling: Sampling  # Qwen's recommendation for this entry's default mode
    thinking_sampling: Sampling | None
    rope_theta: float = 1_000_000.0
    note: str = ""

    @property
    def is_moe(self) -> bool:
        return self.text.num_experts > 0

    @property
    def supports_video(self) -> bool:
        return self.modality == "video"

    @property
    def label(self) -> str:
        return self.id.split("/", 1)[-1]


# --- sampling (reference §3a) --------------------------------------------------------------
# Qwen3-VL Instruct card, VL tasks; generation_config.json of VL-4B/8B carries 0.7/0.8/20/1.0.
VL_INSTRUCT = Sampling(0.7, 0.8, 20, 1.0, 1.5, 16384)
# Qwen3-VL Thinking: the reference has no Thinking row. These are the Qwen3-VL Thinking cards'
# "VL" hyperparameters (top_p 0.95, top_k 20, T 1.0, presence 0.0, out 40,960) as quoted by
# several public copies; the QwenLM/Qwen3-VL README's evaluation block gives T 0.6 instead.
# Unconfirmed against an official file.
VL_THINKING = Sampling(1.0, 0.95, 20, 1.0, 0.0, 40960)
# Qwen3 hybrid: non-thinking per the cards (assistant message up to 16,384 tokens)...
QWEN3_NON_THINKING = Sampling(0.7, 0.8, 20, 1.0, None, 16384)
# ...and thinking = generation_config.json defaults (0.6/0.95/20), output 32,768.
QWEN3_THINKING = Sampling(0.6, 0.95, 20, 1.0, None, 32768)
# Qwen3-2507 Instruct cards: 0.7/0.8/20, output 16,384; presence 0-2 left to the user.
INSTRUCT_2507 = Sampling(0.7, 0.8, 20, 1.0, None, 16384)

# --- architectures (reference §1 and §2) -----------------------------------------------------
VOCAB = 151936


def _text(hidden: int, layers: int, heads: int, kv: int, inter: int, tied: bool, **moe: int):
    return TextArch(hidden, layers, heads, kv, 128, inter, VOCAB, tied, **moe)


# Qwen3-VL vision towers: the small one (2B/4B) and the SigLIP-2-sized one (8B and up).
def _vision_small(out_hidden: int) -> VisionArch:
    return VisionArch(24, 1024, 4096, 16, 16, 2, 2, out_hidden, (5, 11, 17))


def _vision_large(out_hidden: int) -> VisionArch:
    return VisionArch(27, 1152, 4304, 16, 16, 2, 2, out_hidden, (8, 16, 24))


_MOE_30B = dict(num_experts=128, experts_per_token=8, moe_intermediate_size=768)
_MOE_235B = dict(num_experts=128, experts_per_token=8, moe_intermediate_size=1536)

VL_CONTEXT = 262144
QWEN3_CONTEXT = 32768  # cards: 32,768 native (131,072 with YaRN, which we do not enable)


def _vl(size: str, text: TextArch, vision: VisionArch, params: int | None, note: str = ""):
    """An Instruct entry and its -Thinking twin (same weights shape, always thinks)."""
    base = dict(family="qwen3-vl", modality="video", text=text, vision=vision)
    base |= dict(context_length=VL_CONTEXT, params=params, rope_theta=5_000_000.0)
    instruct = ModelSpec(
        id=f"Qwen/Qwen3-VL-{size}-Instruct",
        thinking="never",
        sampling=VL_INSTRUCT,
        thinking_sampling=None,
        note=note,
        **base,
    )
    thinking = ModelSpec(
        id=f"Qwen/Qwen3-VL-{size}-Thinking",
        thinking="always",
        sampling=VL_THINKING,
        thinking_sampling=VL_THINKING,
        # the Thinking twins' dims are not in the reference; they share the Instruct shapes.
        note=(note + " " if note else "") + "dims assumed equal to the Instruct twin",
        **base,
    )
    return instruct, thinking


def _qwen3(size: str, text: TextArch, params: int | None, note: str = "", *, instruct_2507=False):
    """A Qwen3 text checkpoint: the hybrid original, or its instruct-only 2507 release."""
    if instruct_2507:
        kind = dict(thinking="never", sampling=INSTRUCT_2507, thinking_sampling=None,
                    context_length=262144, rope_theta=5_000_000.0)  # fmt: skip
        model_id = f"Qwen/Qwen3-{size}-Instruct-2507"
    else:
        kind = dict(thinking="hybrid", sampling=QWEN3_NON_THINKING,
                    thinking_sampling=QWEN3_THINKING, context_length=QWEN3_CONTEXT)  # fmt: skip
        model_id = f"Qwen/Qwen3-{size}"
    return ModelSpec(
        id=model_id, family="qwen3", modality="text", text=text, vision=None, params=params,
        note=note, **kind,
    )  # fmt: skip


# Ordered: video models first (small to large), then text models (small to large).
CATALOG: tuple[ModelSpec, ...] = (
    *_vl(
        "2B",
        _text(2048, 28, 16, 8, 6144, True),
        _vision_small(2048),
        None,
        "depth and tying from torchtitan (reference S5); total computed",
    ),
    *_vl("4B", _text(2560, 36, 32, 8, 9728, True), _vision_small(2560), None),
    *_vl("8B", _text(4096, 36, 32, 8, 12288, False), _vision_large(4096), 8_767_123_696),
    *_vl(
        "32B",
        _text(5120, 64, 64, 8, 25600, False),
        _vision_large(5120),
        None,
        "dims from a third-party copy (no official config.json found)",
    ),
    *_vl(
        "30B-A3B",
        _text(2048, 48, 32, 4, 6144, False, **_MOE_30B),
        _vision_large(2048),
        31_070_754_032,
    ),
    *_vl(
        "235B-A22B",
        _text(4096, 94, 64, 4, 12288, False, **_MOE_235B),
        _vision_large(4096),
        235_670_022_896,
    ),
    _qwen3("0.6B", _text(1024, 28, 16, 8, 3072, True), 596_049_920),
    _qwen3("1.7B", _text(2048, 28, 16, 8, 6144, True), 1_720_574_976),
    _qwen3("4B", _text(2560, 36, 32, 8, 9728, True), 4_022_468_096),
    _qwen3("8B", _text(4096, 36, 32, 8, 12288, False), 8_190_735_360),
    _qwen3("14B", _text(5120, 40, 40, 8, 17408, False), 14_768_307_200),
    _qwen3("32B", _text(5120, 64, 64, 8, 25600, False), 32_762_123_264),
    _qwen3("30B-A3B", _text(2048, 48, 32, 4, 6144, False, **_MOE_30B), 30_532_122_624),
    _qwen3("235B-A22B", _text(4096, 94, 64, 4, 12288, False, **_MOE_235B), 235_093_634_560),
    _qwen3(
        "4B",
        _text(2560, 36, 32, 8, 9728, True),
        None,
        "dims from third-party copies equal to Qwen3-4B (reference S10); total unconfirmed",
        instruct_2507=True,
    ),
    _qwen3(
        "30B-A3B",
        _text(2048, 48, 32, 4, 6144, False, **_MOE_30B),
        None,
        "hidden/intermediate/moe_intermediate/tying unconfirmed: assumed equal to "
        "Qwen3-30B-A3B (the card gives the same 30.5B/3.3B/29.9B counts); rope_theta unknown",
        instruct_2507=True,
    ),
)

_BY_ID = {spec.id.lower(): spec for spec in CATALOG}


def find(model_id: str) -> ModelSpec | None:
    """The entry for a Hub id (case-insensitive), or None."""
    return _BY_ID.get(model_id.strip().lower())


def get(model_id: str) -> ModelSpec:
    """The entry for a Hub id; errors.UnknownModel naming the closest ids otherwise."""
    spec = find(model_id)
    if spec is not None:
        return spec
    ids = [s.id for s in CATALOG]
    close = difflib.get_close_matches(model_id, ids, n=3, cutoff=0.5)
    hint_ko = f" 비슷한 이름: {', '.join(close)}" if close else ""
    hint_en = f" Did you mean: {', '.join(close)}?" if close else ""
    raise errors.UnknownModel(
        f"알 수 없는 모델입니다: '{model_id}'.{hint_ko}",
        f"Unknown model '{model_id}'.{hint_en}",
        detail="known: " + ", ".join(ids),
    )


def video_models() -> tuple[ModelSpec, ...]:
    return tuple(s for s in CATALOG if s.supports_video)


def text_models() -> tuple[ModelSpec, ...]:
    return tuple(s for s in CATALOG if not s.supports_video)


DEFAULT_MAX_NEW_TOKENS = 1024  # an answer's default length (the cards' 16,384 is a ceiling)
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "repetition_penalty", "presence_penalty")


def recommended_sampling(model: str | None, think: bool | None = None) -> dict:
    """Qwen's recommended sampling for a checkpoint, with ``max_new_tokens``: the catalog's
    values for a real id (the thinking ones when it thinks), else the checkpoint folder's
    generation_config.json, else Qwen3-VL Instruct's (the commonest case)."""
    spec = find(model) if model else None
    if spec is not None:
        thinks = think if spec.thinking == "hybrid" else spec.thinking == "always"
        chosen = spec.thinking_sampling if thinks and spec.thinking_sampling else spec.sampling
        values = {key: getattr(chosen, key) for key in SAMPLING_KEYS}
    else:
        values = {key: getattr(VL_INSTRUCT, key) for key in SAMPLING_KEYS}
        values["presence_penalty"] = None  # not ours to guess for someone else's checkpoint
        values.update(_generation_config(model))
    return {**values, "max_new_tokens": DEFAULT_MAX_NEW_TOKENS}


def _generation_config(folder: str | None) -> dict:
    if not folder:
        return {}
    path = Path(folder).expanduser() / "generation_config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    keys = ("temperature", "top_p", "top_k", "repetition_penalty")
    return {key: data[key] for key in keys if isinstance(data, dict) and data.get(key) is not None}


def hf_config(spec: ModelSpec) -> PretrainedConfig:
    """A transformers config with this entry's architecture (for meta-device builds and tests).

    Only the shape-defining fields and token ids are set; the real checkpoint's config.json
    stays the authority when a model is loaded.
    """
    text = _text_kwargs(spec)
    if spec.vision is None:
        from transformers import Qwen3Config, Qwen3MoeConfig

        if spec.is_moe:
            return Qwen3MoeConfig(**text, **_moe_kwargs(spec))
        return Qwen3Config(**text)

    from transformers import Qwen3VLConfig, Qwen3VLMoeConfig

    text["rope_parameters"] = {
        "rope_type": "default",
        "rope_theta": spec.rope_theta,
        "mrope_section": [24, 20, 20],
        "mrope_interleaved": True,
    }
    vision = _vision_kwargs(spec.vision)
    tie = spec.text.tie_word_embeddings
    if spec.is_moe:
        text |= _moe_kwargs(spec)
        return Qwen3VLMoeConfig(text_config=text, vision_config=vision, tie_word_embeddings=tie)
    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=tie)


def _text_kwargs(spec: ModelSpec) -> dict:
    t = spec.text
    return dict(
        vocab_size=t.vocab_size,
        hidden_size=t.hidden_size,
        intermediate_size=t.intermediate_size,
        num_hidden_layers=t.num_layers,
        num_attention_heads=t.num_heads,
        num_key_value_heads=t.num_kv_heads,
        head_dim=t.head_dim,
        max_position_embeddings=spec.context_length,
        rope_parameters={"rope_type": "default", "rope_theta": spec.rope_theta},
        tie_word_embeddings=t.tie_word_embeddings,
        bos_token_id=151643,
        eos_token_id=151645,
    )


def _moe_kwargs(spec: ModelSpec) -> dict:
    t = spec.text
    return dict(
        num_experts=t.num_experts,
        num_experts_per_tok=t.experts_per_token,
        moe_intermediate_size=t.moe_intermediate_size,
        norm_topk_prob=True,
        decoder_sparse_step=1,
    )


def _vision_kwargs(v: VisionArch) -> dict:
    return dict(
        depth=v.depth,
        hidden_size=v.hidden_size,
        intermediate_size=v.intermediate_size,
        num_heads=v.num_heads,
        in_channels=v.in_channels,
        patch_size=v.patch_size,
        spatial_merge_size=v.spatial_merge_size,
        temporal_patch_size=v.temporal_patch_size,
        out_hidden_size=v.out_hidden_size,
        num_position_embeddings=v.num_position_embeddings,
        deepstack_visual_indexes=list(v.deepstack_indexes),
    )
