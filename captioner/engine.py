"""One call from a request to a streamed Korean description: what the CLI, the page and
batch runs share.

``setup(request)`` decides, before anything loads, what will run and why: the hardware,
the profile, the model, its precision, the frame budget and the memory plan.
``describe(request)`` then decodes the video, loads the model (cached) and streams the
generation events of ``generation.py``, preceded by ``Status`` and ``Prepared`` events.
Every user-caused problem arrives as an ``Error`` event with Korean and English text.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from captioner import catalog, generation, hardware, loader, memory, profiles, prompts, video
from captioner.errors import CaptionerError, InternalError, InvalidRequest, UnsupportedInput
from captioner.generation import Error, Options, Request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DescribeRequest:
    video: str | None = None  # path of the video; None for a text-only prompt
    prompt: str | None = None  # free text; wins over the preset
    preset: str | None = None  # prompts.PRESETS key
    system: str | None = None  # None: the Korean default
    model: str | None = None  # catalog id, other Hub id or local folder; None: the profile's
    profile: str | None = None  # None / "auto": detected (or $CAPTIONER_PROFILE)
    precision: str | None = None  # bf16 | fp16 | fp32 | nf4; None: the profile's
    adapter: str | None = None  # LoRA adapter
    revision: str | None = None
    fps: float = 2.0
    max_frames: int | None = None  # None: the profile's budget
    max_pixels: int | None = None  # per frame; None: the profile's
    options: Options = field(default_factory=Options)  # options.allow_hanja: Han allowed
    style: str = prompts.DEFAULT_STYLE  # "hamnida" 합니다체 | "haeyo" 해요체 (or the Korean label)
    length: str = prompts.DEFAULT_LENGTH  # "short" 짧게 | "normal" 보통 | "long" 자세히


@dataclass(frozen=True)
class Setup:
    """What will be loaded and run, decided before loading anything."""

    hardware: hardware.Hardware
    choice: profiles.Choice
    model: str
    spec: catalog.ModelSpec | None
    precision: str
    compute_dtype: str
    device: str
    max_frames: int
    max_pixels: int
    reason: str
    reason_ko: str
    plan: memory.Plan | None

    def model_request(self, request: DescribeRequest) -> loader.ModelRequest:
        return loader.ModelRequest(
            model=self.model,
            precision=self.precision,
            compute_dtype=self.compute_dtype,
            device=self.device,
            attn_implementation=self.choice.attn_implementation,
            revision=request.revision,
            adapter=request.adapter,
        )

    def to_dict(self) -> dict:
        plan = self.plan
        return {
            "hardware": self.hardware.describe(),
            "profile": self.choice.profile.name,
            "model": self.model,
            "precision": self.precision,
            "compute_dtype": self.compute_dtype,
            "device": self.device,
            "max_frames": self.max_frames,
            "max_pixels": self.max_pixels,
            "reason": self.reason,
            "reason_ko": self.reason_ko,
            "plan": dataclasses.asdict(plan) if plan else None,
        }


@dataclass(frozen=True)
class Status:
    stage: str  # "plan" | "decode" | "load" | "generate"
    message: str
    kind: str = "status"


@dataclass(frozen=True)
class Prepared:
    setup: Setup
    clip: video.Clip | None
    loaded: loader.LoadedModel
    kind: str = "prepared"


def _device(kind: str) -> str:
    return {"cuda": "cuda", "mps": "mps"}.get(kind, "cpu")


def setup(request: DescribeRequest, hw: hardware.Hardware | None = None) -> Setup:
    """Decide model, precision and frame budget for ``request`` on ``hw`` (detected if None)."""
    prompts.style(request.style)  # typed errors before anything is detected or loaded
    prompts.length(request.length)
    hw = hw or hardware.detect()
    choice = profiles.pick(hw, override=request.profile)
    wants_video = request.video is not None
    model = request.model or (choice.video_model if wants_video else choice.text_model)
    spec = catalog.find(model)
    if wants_video and spec is not None and not spec.supports_video:
        raise UnsupportedInput(
            f"{spec.label} 은(는) 텍스트 전용 Qwen3 라서 영상을 볼 수 없습니다. Qwen3-VL 모델을 선택하세요.",
            f"{spec.label} is a text-only Qwen3 and cannot see videos. Pick a Qwen3-VL model.",
        )
    is_video_model = spec.supports_video if spec is not None else wants_video
    precision = request.precision or (choice.precision if is_video_model else choice.text_precision)
    kind = choice.profile.kind
    # The profile's device when this machine has one (a CPU always exists: the fallback for a
    # GPU too small for any model); else this machine's, e.g. "t4" previewed on a laptop.
    device = _device(kind if kind in (hw.kind, "cpu") else hw.kind)
    reason, reason_ko = choice.reason, choice.reason_ko
    if kind not in (hw.kind, "cpu"):
        reason += f"; this machine has no {choice.profile.kind} device → runs on {device}"
        reason_ko += f"; 이 컴퓨터에는 {choice.profile.kind} 장치가 없어 {device}에서 실행"
    compute_dtype = _compute_dtype(precision, choice)
    max_frames = request.max_frames or choice.max_frames
    max_pixels = request.max_pixels or choice.max_pixels
    if max_frames < 1 or max_pixels < 32 * 32 or request.fps <= 0:
        raise InvalidRequest(
            "프레임 수, 해상도, fps 는 양수여야 합니다.",
            "Frames, resolution and fps must be positive.",
        )
    plan = _plan(spec, precision, choice, max_frames if wants_video else 0, max_pixels, request)
    if spec is not None and model != (choice.video_model if wants_video else choice.text_model):
        reason += f"; model {spec.label} requested by the user"
        reason_ko += f"; 사용자가 {spec.label} 선택"
    return Setup(
        hardware=hw,
        choice=choice,
        model=model,
        spec=spec,
        precision=precision,
        compute_dtype=compute_dtype,
        device=device,
        max_frames=max_frames,
        max_pixels=max_pixels,
        reason=reason,
        reason_ko=reason_ko,
        plan=plan,
    )


def _compute_dtype(precision: str, choice: profiles.Choice) -> str:
    if precision == "nf4":
        return choice.compute_dtype if choice.compute_dtype != "float32" else "bfloat16"
    return loader.TORCH_DTYPES[precision]


def _plan(spec, precision, choice, frames, pixels, request) -> memory.Plan | None:
    """The memory plan for a catalog model, in the memory the profile was planned for (this
    machine, or what a forced profile assumes); refuses, naming what would fit."""
    if spec is None:
        return None  # a local or unknown checkpoint: nothing to plan from, load and see
    budget = choice.video_plan
    new_tokens = request.options.max_new_tokens or spec.sampling.max_new_tokens
    return memory.require_fit(
        spec,
        precision,
        budget.available_bytes,
        frames=frames,
        frame_pixels=pixels,
        max_new_tokens=min(new_tokens, profiles.PLAN_NEW_TOKENS),
        devices=budget.devices,
    )


def sampling_spec(setup_: Setup, request: DescribeRequest) -> video.SamplingSpec:
    return video.SamplingSpec(
        fps=request.fps, max_frames=setup_.max_frames, max_pixels=setup_.max_pixels
    )


def describe(
    request: DescribeRequest,
    *,
    hw: hardware.Hardware | None = None,
    progress: loader.Progress | None = None,
    stop: threading.Event | None = None,
    limits: video.VideoLimits | None = None,
) -> Iterator:
    """Events for one request: Status..., Prepared, then generation's Text/Thinking/Done/Error."""
    try:
        yield Status("plan", "모델과 프레임 예산 결정 / choosing model and frame budget")
        chosen = setup(request, hw)
        text, _ = prompts.resolve_prompt(request.preset, request.prompt)
        clip = None
        if request.video is not None:
            yield Status("decode", "영상 디코딩 / decoding video")
            clip = video.load_clip(request.video, sampling_spec(chosen, request), limits)
        yield Status("load", f"모델 준비 / preparing {chosen.model} ({chosen.precision})")
        loaded = loader.load(chosen.model_request(request), progress)
    except CaptionerError as exc:
        yield Error(exc, user_error=True)
        return
    except Exception as exc:  # noqa: BLE001 - an event, never a traceback in the page
        log.exception("preparing the request failed")
        yield Error(InternalError.wrap(exc), user_error=False)
        return
    yield Prepared(chosen, clip, loaded)
    yield Status("generate", "생성 중 / generating")
    generation_request = Request(
        text,
        clip,
        request.system,
        request.options,
        style=prompts.style(request.style).key,
        length=prompts.length(request.length).key,
    )
    yield from generation.stream(loaded, generation_request, stop)
