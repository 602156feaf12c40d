"""One call from a request to a streamed Korean description: what the CLI, the page and
batch runs share.

``select(request, settings)`` decides, before anything loads, what this request will run:
the profile's decision (``profiles.decide``: hardware, device, float type, models, frame
budget) with the request's own choices on top (another model, precision, frames), and the
memory plan, refusing what does not fit. ``describe(request, settings)`` then decodes the
video, loads the model (cached) and streams the generation events of ``generation.py``,
preceded by ``Status`` and ``Prepared`` events. Every user-caused problem arrives as an
``Error`` event with Korean and English text.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from captioner import catalog, errors, generation, loader, memory, profiles, prompts, video
from captioner import precision as precision_
from captioner.errors import CaptionerError, InternalError, InvalidRequest
from captioner.generation import Error, Options, Request
from captioner.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DescribeRequest:
    video: str | None = None  # path of the video; None for a text-only prompt
    prompt: str | None = None  # free text; wins over the preset
    preset: str | None = None  # prompts.PRESETS key
    system: str | None = None  # None: the Korean default
    model: str | None = None  # catalog id, other Hub id or local folder; None: the profile's
    profile: str | None = None  # None: the settings' profile ("auto": detected)
    precision: str | None = None  # a precision.NAMES entry; None: the profile's
    adapter: str | None = None  # LoRA adapter
    revision: str | None = None
    fps: float = 2.0
    max_frames: int | None = None  # None: the profile's budget
    max_pixels: int | None = None  # per frame; None: the profile's
    options: Options = field(default_factory=Options)  # options.allow_hanja: Han allowed
    style: str = prompts.DEFAULT_STYLE  # "hamnida" 합니다체 | "haeyo" 해요체 (or the Korean label)
    length: str = prompts.DEFAULT_LENGTH  # "short" 짧게 | "normal" 보통 | "long" 자세히
    # long videos in windows (captioner/longvideo): None decides by the video's length
    long: bool | None = None


@dataclass(frozen=True)
class Selection:
    """What one request will load and run, decided before loading anything."""

    decision: profiles.Decision
    model: str
    spec: catalog.ModelSpec | None
    precision: str
    compute_dtype: str
    max_frames: int
    max_pixels: int
    plan: memory.Plan | None  # None: a checkpoint outside the catalog (nothing to plan from)
    reason: str
    reason_ko: str

    @property
    def hardware(self):
        return self.decision.hardware

    @property
    def profile(self) -> str:
        return self.decision.profile.name

    @property
    def device(self) -> str:
        return self.decision.runtime.device

    def model_request(
        self, request: DescribeRequest, cache_dir: str | None = None
    ) -> loader.ModelRequest:
        rt = self.decision.runtime
        return loader.ModelRequest(
            model=self.model,
            precision=self.precision,
            compute_dtype=self.compute_dtype,
            device=rt.device,
            device_map=rt.device_map,
            attn_implementation=rt.attn_implementation,
            revision=request.revision,
            adapter=request.adapter,
            cache_dir=cache_dir,
            threads=rt.threads,
        )

    def to_dict(self) -> dict:
        return {
            "hardware": self.hardware.describe(),
            "profile": self.profile,
            "model": self.model,
            "precision": self.precision,
            "compute_dtype": self.compute_dtype,
            "device": self.device,
            "max_frames": self.max_frames,
            "max_pixels": self.max_pixels,
            "reason": self.reason,
            "reason_ko": self.reason_ko,
            "plan": dataclasses.asdict(self.plan) if self.plan else None,
        }


@dataclass(frozen=True)
class Status:
    stage: str  # "plan" | "decode" | "load" | "generate"
    message: str
    kind: str = "status"


@dataclass(frozen=True)
class Prepared:
    selection: Selection
    clip: video.Clip | None
    backend: generation.Backend  # where the answer will come from (model, device, revision)
    kind: str = "prepared"


def select(request: DescribeRequest, settings: Settings) -> Selection:
    """The profile's decision with this request's choices on top; refuses what cannot run."""
    prompts.style(request.style)  # typed errors before anything is detected or loaded
    prompts.length(request.length)
    decision = settings.decide(request.profile)
    if settings.backend == "openai":
        return _select_served(request, settings, decision)
    wants_video = request.video is not None
    default = decision.default(wants_video)
    model = request.model or default.model
    spec = catalog.find(model)
    if wants_video and loader.sees_video(model) is False:
        raise errors.text_only_model(spec.label if spec else model)
    sees_video = spec.supports_video if spec is not None else wants_video
    precision = request.precision or decision.default(sees_video).precision
    precision_.require_device(precision, decision.runtime.device)
    max_frames, max_pixels = _frame_budget(request, decision)
    reason, reason_ko = decision.reason, decision.reason_ko
    plan = None
    if spec is not None:
        plan = default.plan
        frames = max_frames if wants_video else 0
        departs = (model, precision) != (default.model, default.precision) or (
            wants_video and (frames, max_pixels) != (plan.frames, plan.workload.frame_pixels)
        )
        if departs or not plan.fits:  # plan what the request asks for, once
            new_tokens = request.options.max_new_tokens or spec.sampling.max_new_tokens
            tokens = min(new_tokens, profiles.PLAN_NEW_TOKENS)
            plan = profiles.plan_model(decision, spec, precision, frames, max_pixels, tokens)
        memory.require_fit(plan)
        if model != default.model:
            reason += f"; model {spec.label} requested by the user"
            reason_ko += f"; 사용자가 {spec.label} 선택"
    return Selection(
        decision=decision,
        model=model,
        spec=spec,
        precision=precision,
        compute_dtype=decision.runtime.compute_dtype(precision),
        max_frames=max_frames,
        max_pixels=max_pixels,
        plan=plan,
        reason=reason,
        reason_ko=reason_ko,
    )


def _select_served(
    request: DescribeRequest, settings: Settings, decision: profiles.Decision
) -> Selection:
    """With a server backend: the server's model, the profile's frame budget (set
    CAPTIONER_PROFILE to the server's GPU), no memory plan here: the server holds the model."""
    from captioner.backends import remote

    model = request.model or remote.default_model(settings)
    spec = catalog.find(model)
    if request.video is not None and loader.sees_video(model) is False:
        raise errors.text_only_model(spec.label if spec else model)
    max_frames, max_pixels = _frame_budget(request, decision)
    servers = ", ".join(settings.base_urls)
    return Selection(
        decision=decision,
        model=model,
        spec=spec,
        precision="server",
        compute_dtype="server",
        max_frames=max_frames,
        max_pixels=max_pixels,
        plan=None,
        reason=f"served by {servers}; frame budget of profile {decision.profile.name}",
        reason_ko=f"서버 {servers} 가 생성; 프레임 예산은 {decision.profile.name} 프로필",
    )


def _frame_budget(request: DescribeRequest, decision: profiles.Decision) -> tuple[int, int]:
    """(frames, pixels per frame): the request's, else (None or 0, as on the page) the
    decision's; at least one frame of 32x32 pixels, at a positive fps."""
    max_frames = request.max_frames or decision.max_frames
    max_pixels = request.max_pixels or decision.max_pixels
    if max_frames < 1 or max_pixels < 32 * 32 or not request.fps > 0:
        raise InvalidRequest(
            "프레임 수는 1 이상, 프레임당 픽셀은 1024(32×32) 이상, fps 는 양수여야 합니다.",
            "Frames must be at least 1, pixels per frame at least 1024 (32x32), fps positive.",
        )
    return max_frames, max_pixels


def sampling_spec(selection: Selection, request: DescribeRequest) -> video.SamplingSpec:
    return video.SamplingSpec(
        fps=request.fps, max_frames=selection.max_frames, max_pixels=selection.max_pixels
    )


def open_backend(
    chosen: Selection,
    request: DescribeRequest,
    settings: Settings,
    progress: loader.Progress | None = None,
) -> generation.Backend:
    """The backend that will answer: a server (``--backend openai``, ``backends/remote.py``),
    or the selected model loaded here (cached)."""
    if settings.backend == "openai":
        from captioner.backends import remote

        return remote.backend_for(settings, chosen.model)
    loaded = loader.load(chosen.model_request(request, settings.hub_cache), progress)
    return generation.TransformersBackend(loaded)


def describe(
    request: DescribeRequest,
    settings: Settings,
    *,
    progress: loader.Progress | None = None,
    stop: threading.Event | None = None,
) -> Iterator:
    """Events for one request: Status..., Prepared, then generation's Text/Thinking/Done/Error."""
    try:
        yield Status("plan", "모델과 프레임 예산 결정 / choosing model and frame budget")
        chosen = select(request, settings)
        text, _ = prompts.resolve_prompt(request.preset, request.prompt)
        clip = None
        if request.video is not None:
            yield Status("decode", "영상 디코딩 / decoding video")
            spec = sampling_spec(chosen, request)
            clip = video.load_clip(request.video, spec, settings.limits)
        yield Status("load", f"모델 준비 / preparing {chosen.model} ({chosen.precision})")
        backend = open_backend(chosen, request, settings, progress)
    except CaptionerError as exc:
        yield Error(exc, user_error=True)
        return
    except Exception as exc:  # noqa: BLE001 - an event, never a traceback in the page
        log.exception("preparing the request failed")
        yield Error(InternalError.wrap(exc), user_error=False)
        return
    yield Prepared(chosen, clip, backend)
    yield Status("generate", "생성 중 / generating")
    generation_request = Request(
        text,
        clip,
        request.system,
        request.options,
        style=prompts.style(request.style).key,
        length=prompts.length(request.length).key,
    )
    yield from backend.stream(generation_request, stop)
