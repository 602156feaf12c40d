"""What differs between OpenAI-compatible servers, in one table: how the video travels, which
sampling fields each accepts and where, and how the server is recognised.

All of them speak ``POST /v1/chat/completions`` with SSE streaming; they differ in the details
that decide whether our guarantees hold (checked against transformers 5.23's ``transformers
serve`` here, and vLLM's and SGLang's documented APIs):

- **vLLM** takes ``video_url`` as a ``data:video/mp4;base64`` URL, an http(s) URL or a
  ``file://`` path under ``--allowed-local-media-path``; processor options go in
  ``mm_processor_kwargs``; ``top_k``, ``repetition_penalty``, ``presence_penalty`` and
  ``logit_bias`` are request fields; usage comes in the last chunk only when
  ``stream_options.include_usage`` asks for it; with ``--reasoning-parser qwen3`` the
  reasoning arrives in ``reasoning_content`` (``reasoning`` in newer releases).
- **SGLang** takes the same fields (``top_k``, ``repetition_penalty`` as extras) and data URLs.
- **transformers serve** (5.23) reads ``video_url`` as a local path or an http(s) URL, never a
  data URL; it validates the body against OpenAI's schema, so ``top_k`` and
  ``repetition_penalty`` must travel inside ``generation_config`` (a JSON string; the model's
  own config fills what it leaves out); it ignores ``presence_penalty`` and ``stream_options``
  (and always sends usage in the last chunk); ``logit_bias`` becomes ``sequence_bias``;
  ``chat_template_kwargs`` that are not template variables reach the processor, which is how
  ``num_frames: null`` (it adds 32, which Qwen3-VL refuses next to its default fps),
  ``do_sample_frames: false`` and ``do_resize: false`` get there; and it treats Qwen3-VL as an
  audio+video model, reading an audio track from every video (a clip without one fails), so
  our clips carry a silent one. Its ``/v1/models`` lists the Hugging Face cache, not what it
  serves, and ``/health`` answers ``{"status": "ok"}``.
- **openai** (anything else): only the standard fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Qwen's frames are already sampled and sized by captioner.video: the server must take every
# frame of the clip we send, at its size (the processor would otherwise sample again).
_KEEP_OUR_FRAMES = {"do_sample_frames": False, "do_resize": False}


@dataclass(frozen=True)
class Dialect:
    name: str  # "vllm" | "sglang" | "transformers" | "openai"
    label: str
    transport: str  # the default video transport: "data" | "path" (a local server) | "url"
    data_urls: bool  # accepts data:video/mp4;base64,...
    extra_sampling: tuple[str, ...]  # non-OpenAI sampling fields sent as request fields
    config_sampling: tuple[str, ...]  # ...or inside a generation_config JSON string
    presence_penalty: bool
    logit_bias: bool  # honoured (OpenAI itself caps it at 300 entries: too few for Han)
    usage_option: bool  # usage in the stream only with stream_options.include_usage
    video_options: (
        str | None
    )  # where processor options go: "mm_processor_kwargs" | "chat_template_kwargs"
    audio_track: bool  # every video needs an audio stream
    lists_served_models: bool  # /v1/models names what the server serves


DIALECTS: tuple[Dialect, ...] = (
    Dialect("vllm", "vLLM", "data", True, ("top_k", "repetition_penalty"), (), True, True,
            True, "mm_processor_kwargs", False, True),
    Dialect("sglang", "SGLang", "data", True, ("top_k", "repetition_penalty"), (), True, True,
            True, None, False, True),
    Dialect("transformers", "transformers serve", "path", False, (),
            ("top_k", "repetition_penalty"), False, True, False, "chat_template_kwargs", True,
            False),
    Dialect("openai", "OpenAI-compatible", "data", True, (), (), True, False, True, None, False,
            True),
)  # fmt: skip
BY_NAME = {d.name: d for d in DIALECTS}


def get(name: str) -> Dialect:
    return BY_NAME[name]


def detect(models: dict | None, health: object) -> Dialect:
    """The server's kind from its ``/v1/models`` answer and its ``/health`` body: vLLM and
    SGLang sign their model entries (``owned_by``); transformers serve answers health with
    ``{"status": "ok"}``; anything else gets only the standard fields."""
    for entry in (models or {}).get("data") or []:
        owner = str(entry.get("owned_by", "")).lower()
        if owner in BY_NAME and owner != "openai":
            return BY_NAME[owner]
    if isinstance(health, dict) and health.get("status") == "ok":
        return BY_NAME["transformers"]
    return BY_NAME["openai"]


def sampling_fields(dialect: Dialect, sampling: dict) -> tuple[dict, list[str]]:
    """(request fields, names the server cannot take) for our sampling values."""
    body: dict = {"max_tokens": int(sampling["max_new_tokens"])}
    if sampling.get("do_sample", True):
        body["temperature"] = float(sampling["temperature"])
        body["top_p"] = float(sampling["top_p"])
    else:
        body["temperature"] = 0.0  # greedy, as every one of these servers reads it
    dropped: list[str] = []
    config: dict = {}
    for key in ("top_k", "repetition_penalty"):
        value = sampling.get(key)
        if value is None or (key == "top_k" and not sampling.get("do_sample", True)):
            continue
        if key in dialect.extra_sampling:
            body[key] = value
        elif key in dialect.config_sampling:
            config[key] = value
        elif not (key == "repetition_penalty" and float(value) == 1.0):
            dropped.append(key)
    if config:
        config["do_sample"] = bool(sampling.get("do_sample", True))
        body["generation_config"] = json.dumps(config)
    if sampling.get("presence_penalty"):
        if dialect.presence_penalty:
            body["presence_penalty"] = float(sampling["presence_penalty"])
        else:
            dropped.append("presence_penalty")
    if sampling.get("seed") is not None:
        body["seed"] = int(sampling["seed"])
    return body, dropped


def video_options(dialect: Dialect) -> dict:
    """Request fields that make the server take our clip's frames as they are."""
    if dialect.video_options == "chat_template_kwargs":
        return {"chat_template_kwargs": {"num_frames": None, **_KEEP_OUR_FRAMES}}
    if dialect.video_options == "mm_processor_kwargs":
        return {"mm_processor_kwargs": dict(_KEEP_OUR_FRAMES)}
    return {}


def served_id(dialect: Dialect, model: str) -> str:
    """The name to request a model by: transformers serve lists ``path@main`` but pins a
    forced model by its plain name."""
    if dialect.name == "transformers" and model.endswith("@main"):
        return model[: -len("@main")]
    return model
