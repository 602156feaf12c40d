"""Real-size random-weight checkpoints of catalog models, for measurements on this machine.

A checkpoint with the real architecture and random weights reads exactly the bytes per
token, runs exactly the kernels and holds exactly the memory of the real one; only its words
are nonsense. The Hub is not reachable from our machines, so the benchmark builds them:

    python -c "from captioner.dev import realsize; print(realsize.build('Qwen/Qwen3-VL-2B-Instruct'))"

The model is instantiated from ``catalog.hf_config`` with its parameters on the meta device
(no memory, no slow random init) and its buffers computed as usual (rotary frequencies),
materialised with empty storage, filled with N(0, 0.02), tied as the real checkpoint ties
them and saved in bf16 with Qwen's real tokenizer and a Qwen3-VL processor. For
Qwen3-VL-2B the ``model.safetensors`` is 4,255,140,312 bytes, the 4.26 GB of the real file.
Building one holds the whole model in memory once (4.3 GB for 2B, 8.9 GB for 4B in bf16):
run it under the heavy-job lock (``flock /tmp/captioner-heavy.lock ...``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DEFAULT_ROOT = Path("/tmp/captioner-realsize")
MARKER = "REALSIZE_CHECKPOINT.json"
STD = 0.02


def folder_for(model_id: str, root: Path = DEFAULT_ROOT) -> Path:
    return root / re.sub(r"[^A-Za-z0-9.-]+", "_", model_id)


def build(model_id: str, root: Path = DEFAULT_ROOT, seed: int = 0) -> Path:
    """The folder of a real-size random ``model_id`` checkpoint, built once (reused when its
    marker says it is complete)."""
    folder = folder_for(model_id, root)
    if (folder / MARKER).is_file():
        return folder
    model = random_model(model_id, seed)
    save(model, model_id, folder)
    return folder


def random_model(model_id: str, seed: int = 0, dtype: str = "bfloat16"):
    """The catalog model's architecture with N(0, 0.02) weights in ``dtype``, in memory."""
    import torch
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    from captioner import catalog

    spec = catalog.get(model_id)
    config = catalog.hf_config(spec)
    auto = AutoModelForImageTextToText if spec.supports_video else AutoModelForCausalLM
    with init_empty_weights(include_buffers=False):  # parameters on meta, buffers computed
        model = auto.from_config(config, dtype=getattr(torch, dtype))
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    model.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            buffer.copy_(buffers[name])
        for param in model.parameters():
            param.normal_(0.0, STD, generator=generator)
    model.tie_weights()
    return model.eval()


def save(model, model_id: str, folder: Path) -> None:
    import captioner.dev.tiny as tiny

    folder.mkdir(parents=True, exist_ok=True)
    spec_vision = hasattr(model.config, "vision_config")
    sampling = (
        {"temperature": 0.7, "top_p": 0.8, "top_k": 20}
        if spec_vision
        else {"temperature": 0.6, "top_p": 0.95, "top_k": 20}
    )
    model.generation_config = tiny.generation_config(**sampling)
    model.save_pretrained(folder)
    if spec_vision:
        tiny.vl_processor("never").save_pretrained(folder)
    else:
        tokenizer = tiny.build_tokenizer()
        tokenizer.chat_template = tiny.chat_template("hybrid")
        tokenizer.save_pretrained(folder)
    note = {
        "what": f"random-weight, real-size {model_id} (N(0, {STD}), bf16) by captioner.dev.realsize",
        "outputs": "nonsense tokens; for measurements only",
    }
    (folder / MARKER).write_text(json.dumps(note, indent=2), encoding="utf-8")


# --- activation outliers -------------------------------------------------------------------
# Trained language models carry a few hidden channels whose activations are tens of times
# larger than the rest (LLM.int8(), Dettmers et al. 2022: up to ~20x and beyond in the
# inputs of the linear layers); N(0, 0.02) weights make none. ``add_outliers`` gives them to a
# random model without changing what it computes: a few channels of each RMSNorm weight that
# feeds linear layers are multiplied by ``factor`` and the matching input columns of those
# layers divided by it; likewise a few channels of the MLP (``up_proj`` rows times, the
# ``down_proj`` columns divided). The float model's logits stay the same (up to rounding);
# what quantizes activations per token (``quantize``'s int8) now meets outlier channels.
OUTLIER_FACTOR = 32.0
OUTLIER_CHANNELS = 8
OUTLIER_MARKER = "OUTLIERS.json"


def add_outliers(model, factor: float = OUTLIER_FACTOR, count: int = OUTLIER_CHANNELS,
                 seed: int = 0) -> int:  # fmt: skip
    """Give every decoder layer ``count`` outlier channels at its two norms and its MLP (the
    same hidden channels in every layer, as in trained models); returns the layers changed."""
    import torch

    inner = model.model
    layers = (inner.language_model if hasattr(inner, "language_model") else inner).layers
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        hidden = layers[0].input_layernorm.weight.shape[0]
        channels = torch.randperm(hidden, generator=generator)[:count]
        for layer in layers:
            attn, mlp = layer.self_attn, layer.mlp
            for norm, consumers in (
                (layer.input_layernorm, (attn.q_proj, attn.k_proj, attn.v_proj)),
                (layer.post_attention_layernorm, (mlp.gate_proj, mlp.up_proj)),
            ):
                norm.weight[channels] *= factor
                for linear in consumers:
                    linear.weight[:, channels] /= factor
            inter = mlp.up_proj.weight.shape[0]
            inner_channels = torch.randperm(inter, generator=generator)[:count]
            mlp.up_proj.weight[inner_channels] *= factor
            mlp.down_proj.weight[:, inner_channels] /= factor
    return len(layers)


def with_outliers(source: Path) -> Path:
    """A copy of the checkpoint folder ``source`` (real-size or tiny) with ``add_outliers``
    applied, beside it, made once; every file but the weights copied as it is."""
    import shutil

    import torch
    from transformers import AutoModelForImageTextToText

    source = Path(source)
    folder = source.with_name(source.name + "-outliers")
    if (folder / OUTLIER_MARKER).is_file():
        return folder
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=torch.bfloat16)
    add_outliers(model)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    for path in source.iterdir():
        weights = path.name.endswith(".safetensors") or path.name.endswith(
            ".safetensors.index.json"
        )
        if path.is_file() and not weights and path.name != "config.json":
            shutil.copy2(path, folder / path.name)
    note = {"from": str(source), "outliers": f"{OUTLIER_CHANNELS} channels x{OUTLIER_FACTOR:g} "
            "per norm and MLP (realsize.add_outliers)"}  # fmt: skip
    (folder / OUTLIER_MARKER).write_text(json.dumps(note, indent=2), encoding="utf-8")
    return folder
