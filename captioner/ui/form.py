"""The caption form: every input of one request, defined once.

``FIELDS`` is the one definition of what the page sends for a request. The page builds its
inputs from it in this order, the ``/describe`` API takes its parameters from it (keyword
names = field names; positional calls keep this order), ``Form.from_values`` reads a
request back by name, and the ZeroGPU duration reads named fields. Numeric fields carry
their range: the page's sliders use it and the server refuses values outside it (a client
can send anything, whatever the sliders allow).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from captioner import catalog, prompts
from captioner.engine import DescribeRequest
from captioner.errors import InvalidRequest
from captioner.generation import Options
from captioner.ui.texts import lang_of

MAX_PIXELS_CEILING = 1920 * 1080  # a full-HD frame: more only costs memory, not detail


@dataclass(frozen=True)
class Field:
    name: str  # the API keyword and the Form attribute
    default: Any
    doc: str  # one line for the README's API section
    low: float | None = None  # numeric range, checked on the server
    high: float | None = None
    step: float | None = None
    integer: bool = False


FIELDS: tuple[Field, ...] = (
    Field("video", None, "the video (gradio_client.handle_file(path)); None for a text model"),
    Field("preset", prompts.DEFAULT_PRESET, "preset key: " + ", ".join(p.key for p in prompts.PRESETS)),
    Field("prompt", "", "your own prompt; empty: the preset's"),
    Field("system", "", "system prompt; empty: the Korean default"),
    Field("profile", "auto", "GPU profile name or auto"),
    Field("model", None, "model id or folder the page lists; None: the profile's"),
    Field("fps", 2.0, "frames sampled per second", 0.1, 10, 0.1),
    Field("max_frames", 0, "frame cap; 0: the profile's budget", 0, 768, 2, integer=True),
    Field("max_pixels", 0, "pixels per frame; 0: the profile's", 0, MAX_PIXELS_CEILING, 1024,
          integer=True),
    Field("max_new_tokens", catalog.DEFAULT_MAX_NEW_TOKENS, "answer length cap", 1, 8192, 1,
          integer=True),
    Field("temperature", 0.7, "sampling temperature", 0.05, 2.0, 0.05),
    Field("top_p", 0.8, "nucleus sampling", 0.05, 1.0, 0.05),
    Field("top_k", 20, "top-k sampling (0: off)", 0, 200, 1, integer=True),
    Field("repetition_penalty", 1.0, "repetition penalty", 0.8, 2.0, 0.05),
    Field("presence_penalty", 0.0, "presence penalty (Qwen3-VL: 1.5)", 0.0, 2.0, 0.1),
    Field("seed", -1, "random seed; -1: random", -1, 2**31 - 1, 1, integer=True),
    Field("think", False, "thinking on (hybrid Qwen3 text models)"),
    Field("language", "한국어", "page language for messages: 한국어 or English"),
    Field("style", prompts.DEFAULT_STYLE, "hamnida (합니다체) or haeyo (해요체)"),
    Field("length", prompts.DEFAULT_LENGTH, "short, normal or long"),
    Field("allow_hanja", False, "allow Chinese characters in the answer"),
    Field("long", None, "long video in windows: None = when one pass sees too few frames"),
)  # fmt: skip
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
BY_NAME = {f.name: f for f in FIELDS}
SAMPLING = ("max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty",
            "presence_penalty")  # fmt: skip


@dataclass
class Form:
    """One request as the page sends it (attribute names = ``FIELDS`` names)."""

    video: str | None = None
    preset: str | None = prompts.DEFAULT_PRESET
    prompt: str = ""
    system: str = ""
    profile: str = "auto"
    model: str | None = None
    fps: float = 2.0
    max_frames: int = 0
    max_pixels: int = 0
    max_new_tokens: int = catalog.DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    seed: int = -1
    think: bool = False
    language: str = "한국어"
    style: str = prompts.DEFAULT_STYLE
    length: str = prompts.DEFAULT_LENGTH
    allow_hanja: bool = False
    long: bool | None = None  # the "긴 영상" switch; None: decided by the video's length
    precision: str | None = None  # not on the caption form: set by the review tab's compare
    adapter: str | None = None

    @property
    def lang(self) -> str:
        return lang_of(self.language)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Form:
        """A form from what a client sent: None (a cleared box) means the default; numbers
        outside their range are a bilingual InvalidRequest, never an internal error."""
        form = cls()
        for name, value in values.items():
            if name not in BY_NAME:
                continue
            field = BY_NAME[name]
            if value is None or (
                isinstance(value, str) and field.low is not None and not value.strip()
            ):
                value = field.default
            if field.low is not None:
                value = _number(field, value)
            setattr(form, name, value)
        return form

    def request(self) -> DescribeRequest:
        options = Options(
            max_new_tokens=int(self.max_new_tokens),
            temperature=float(self.temperature),
            top_p=float(self.top_p),
            top_k=int(self.top_k),
            repetition_penalty=float(self.repetition_penalty),
            presence_penalty=float(self.presence_penalty) or None,
            seed=None if int(self.seed) < 0 else int(self.seed),
            think=bool(self.think),
            allow_hanja=bool(self.allow_hanja),
        )
        return DescribeRequest(
            video=self.video or None,
            prompt=(self.prompt or "").strip() or None,
            preset=self.preset or None,
            system=self.system if (self.system or "").strip() else None,
            model=self.model or None,
            profile=self.profile or None,
            precision=self.precision if self.precision not in (None, "", "auto") else None,
            adapter=self.adapter or None,
            fps=float(self.fps),
            max_frames=int(self.max_frames) or None,
            max_pixels=int(self.max_pixels) or None,
            options=options,
            style=self.style or prompts.DEFAULT_STYLE,
            length=self.length or prompts.DEFAULT_LENGTH,
            long=None if self.long is None else bool(self.long),
        )

    def replace(self, **changes: Any) -> Form:
        return dataclasses.replace(self, **changes)


def _number(field: Field, value: Any) -> float | int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    low, high = field.low, field.high
    if not math.isfinite(number) or not (low <= number <= high):  # type: ignore[operator]
        shown = f"{int(low)}..{int(high)}" if field.integer else f"{low:g}..{high:g}"
        raise InvalidRequest(
            f"'{field.name}' 값이 허용 범위({shown})를 벗어났습니다: {value}",
            f"'{field.name}' is out of range ({shown}): {value}",
        )
    return int(number) if field.integer else number


def gpu_seconds(values: dict[str, Any]) -> int:
    """ZeroGPU duration estimate for one request, from the form's named fields: loading and
    prefill grow with frames (~0.4 s per frame for an 8B model at 200k px on an H200 slice),
    decoding with tokens (~25 tok/s); with margin, capped at ZeroGPU's 300 s per call."""
    frames = _whole(values.get("max_frames")) or 32  # a value the form will refuse: default
    tokens = _whole(values.get("max_new_tokens")) or catalog.DEFAULT_MAX_NEW_TOKENS
    estimate = 30 + 0.4 * frames + tokens / 25
    return int(min(300, max(60, estimate * 1.2)))


def _whole(value: Any) -> int:
    """A positive whole number from a client's value, or 0 for anything else."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(min(number, 1e6)) if math.isfinite(number) and number > 0 else 0
