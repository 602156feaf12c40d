"""What the web page shows and does, without gradio: texts, choices, previews, the run loop.

``app.py`` only lays out components and wires them to these functions, so everything here
is importable and testable without a browser. Nothing in ``captioner/`` imports gradio.

- ``TEXTS``: every label of the page in Korean and English (Korean first).
- ``profile_choices`` / ``model_choices``: the GPU-profile and model selectors; models are
  the catalog entries that fit the chosen profile, marked 🎬 (video) or 📝 (text only).
- ``preview``: before anything loads, what will be loaded, in which precision, how much
  memory it needs, and why.
- ``run``: one request from the page's form to a stream of ``UiState`` snapshots.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from captioner import catalog, engine, hardware, profiles, prompts, video
from captioner.errors import CaptionerError
from captioner.generation import Options

LANGS = ("ko", "en")
ASSETS = Path(__file__).resolve().parent.parent / "assets"

# key: (Korean, English). Data, not logic: the page looks labels up here.
TEXTS: dict[str, tuple[str, str]] = {
    "title": ("# 🎬 Qwen3 한국어 비디오 캡셔너", "# 🎬 Qwen3 Korean Video Captioner"),
    "intro": (
        "영상을 올리고 프롬프트를 고르면 **Qwen3-VL** 이 한국어 설명을 실시간으로 써 줍니다. "
        "하드웨어에 맞는 모델과 정밀도를 자동으로 고르고 그 이유를 보여 줍니다.",
        "Upload a video, pick a prompt, and **Qwen3-VL** streams a Korean description. "
        "The model and precision are chosen for your hardware, with the reason shown.",
    ),
    "language": ("언어 / Language", "Language / 언어"),
    "video": ("영상", "Video"),
    "video_info": (
        "mp4 · webm · mov · mkv · avi, 최대 {mb} MB, {minutes}분 이하",
        "mp4 · webm · mov · mkv · avi, up to {mb} MB and {minutes} min",
    ),
    "preset": ("프롬프트 프리셋", "Prompt preset"),
    "prompt": (
        "직접 쓰는 프롬프트 (비우면 프리셋 사용)",
        "Your own prompt (empty: use the preset)",
    ),
    "prompt_placeholder": (
        "예: 영상 속 인물의 감정 변화를 설명해 주세요.",
        "e.g. 영상 속 인물의 감정 변화를 설명해 주세요.",
    ),
    "profile": ("GPU 프로필", "GPU profile"),
    "model": ("모델", "Model"),
    "plan": ("불러올 모델", "What will be loaded"),
    "think": ("생각 모드 (하이브리드 Qwen3 전용)", "Thinking (hybrid Qwen3 models only)"),
    "advanced": ("고급 설정", "Advanced settings"),
    "style": ("말투", "Speech style"),
    "length": ("길이", "Length"),
    "allow_hanja": ("한자 허용 (한자 병기)", "Allow Hanja (한자 병기)"),
    "subtitles": ("자막 파일 (SRT · WebVTT)", "Subtitles (SRT · WebVTT)"),
    "system": ("시스템 프롬프트", "System prompt"),
    "fps": ("초당 프레임 (fps)", "Frames per second (fps)"),
    "max_frames": ("최대 프레임 수 (0 = 프로필 기본값)", "Max frames (0 = profile default)"),
    "max_pixels": ("프레임당 픽셀 (0 = 프로필 기본값)", "Pixels per frame (0 = profile default)"),
    "max_new_tokens": ("최대 생성 토큰", "Max new tokens"),
    "temperature": ("temperature", "temperature"),
    "top_p": ("top-p", "top-p"),
    "top_k": ("top-k", "top-k"),
    "repetition_penalty": ("반복 페널티 (repetition penalty)", "Repetition penalty"),
    "presence_penalty": ("등장 페널티 (presence penalty)", "Presence penalty"),
    "seed": ("시드 (-1 = 무작위)", "Seed (-1 = random)"),
    "generate": ("생성", "Generate"),
    "stop": ("중지", "Stop"),
    "answer": ("설명", "Description"),
    "thinking": ("생각 과정", "Reasoning"),
    "metrics": ("측정값", "Metrics"),
    "examples": (
        "예시 (Big Buck Bunny, © Blender Foundation, CC-BY 3.0)",
        "Examples (Big Buck Bunny, © Blender Foundation, CC-BY 3.0)",
    ),
    "auto": ("자동 (감지됨: {hw})", "Auto (detected: {hw})"),
    "status_idle": ("대기 중", "Idle"),
    "status_plan": ("모델과 프레임 예산 결정 중…", "Choosing model and frame budget…"),
    "status_decode": ("영상 디코딩 중…", "Decoding the video…"),
    "status_load": ("모델 준비 중…", "Preparing the model…"),
    "status_generate": ("생성 중…", "Generating…"),
    "status_done": ("완료", "Done"),
    "status_stopped": ("중지됨", "Stopped"),
    "status_error": ("오류", "Error"),
    "no_video": (
        "영상을 올려 주세요 (또는 텍스트 모델을 고르세요).",
        "Upload a video (or pick a text model).",
    ),
    "video_model": ("🎬 영상", "🎬 video"),
    "text_model": ("📝 텍스트 전용", "📝 text only"),
    "local_model": ("📁 로컬", "📁 local"),
    "recommended": ("추천", "recommended"),
    "plan_local": (
        "로컬/외부 체크포인트: 카탈로그에 없어 메모리 계획 없이 불러옵니다.",
        "Local or non-catalog checkpoint: loaded without a memory plan.",
    ),
    "metrics_line": (
        "첫 토큰 {ttft:.2f}s · {tokens} 토큰 · {tps:.1f} tok/s · 프레임 {frames}개 ({video_tokens} 비디오 토큰) · 메모리 {mem:.2f} GiB",
        "first token {ttft:.2f}s · {tokens} tokens · {tps:.1f} tok/s · {frames} frames ({video_tokens} video tokens) · memory {mem:.2f} GiB",
    ),
}


# The sampling sliders of the advanced section: (key in TEXTS and in Form, low, high, step).
# Their order is the order of the page's inputs and of the /describe API parameters.
SAMPLING_CONTROLS: tuple[tuple[str, float, float, float], ...] = (
    ("max_new_tokens", 1, 8192, 1),
    ("temperature", 0.05, 2.0, 0.05),
    ("top_p", 0.05, 1.0, 0.05),
    ("top_k", 0, 200, 1),
    ("repetition_penalty", 0.8, 2.0, 0.05),
    ("presence_penalty", 0.0, 2.0, 0.1),
)


def t(key: str, lang: str, **values) -> str:
    text = TEXTS[key][0 if lang == "ko" else 1]
    return text.format(**values) if values else text


# --- selectors -------------------------------------------------------------------------------
def profile_choices(hw: hardware.Hardware, lang: str) -> list[tuple[str, str]]:
    """ "Auto (detected: …)" first, then the profiles a user can preview or force here."""
    choices = [(t("auto", lang, hw=hw.describe().split(" / ")[0]), "auto")]
    for profile in profiles.PROFILES:
        if profile.kind == "cuda" and profile.min_memory_gb <= 0:
            continue  # the planner's profile for unknown GPUs: reached through Auto only
        if profile.kind in ("cpu", "mps") and profile.kind != hw.kind:
            continue  # nothing to preview: these profiles size themselves from this machine
        label = profile.label_ko if lang == "ko" else profile.label_en
        choices.append((f"{profile.name} · {label}", profile.name))
    return choices


def _override(profile: str | None) -> str:
    return "" if profile in (None, "", "auto") else profile


def model_choices(
    profile: str | None, hw: hardware.Hardware, lang: str, extra: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """Catalog models that fit the profile (the recommended ones first), plus local folders."""
    choice = profiles.pick(hw, override=_override(profile))
    recommended = (choice.video_model, choice.text_model)
    fitting = []
    for spec in catalog.CATALOG:
        request = engine.DescribeRequest(
            video="x.mp4" if spec.supports_video else None,
            model=spec.id,
            profile=_override(profile),
        )
        try:
            engine.setup(request, hw)
        except CaptionerError:
            continue
        kind = t("video_model" if spec.supports_video else "text_model", lang)
        star = f" · ⭐ {t('recommended', lang)}" if spec.id in recommended else ""
        fitting.append((spec.id not in recommended, f"{spec.id} ({kind}){star}", spec.id))
    fitting.sort(key=lambda item: item[0])  # stable: recommended first, then catalog order
    local = [(f"{path} ({t('local_model', lang)})", path) for path in extra]
    return local + [(label, value) for _, label, value in fitting]


def default_model(profile: str | None, hw: hardware.Hardware, extra: tuple[str, ...] = ()) -> str:
    if extra:
        return extra[0]
    return profiles.pick(hw, override=_override(profile)).video_model


def preview(
    profile: str | None, model: str | None, lang: str, hw: hardware.Hardware, video: bool = True
) -> str:
    """Markdown: the model, precision, memory and reason, decided before anything loads."""
    try:
        spec = catalog.find(model) if model else None
        wants_video = video if spec is None else spec.supports_video
        chosen = engine.setup(
            engine.DescribeRequest(
                video="x.mp4" if wants_video else None, model=model, profile=_override(profile)
            ),
            hw,
        )
    except CaptionerError as exc:
        return f"⚠️ {exc.ko if lang == 'ko' else exc.en}"
    precision = chosen.precision.upper()
    if chosen.precision == "nf4":
        precision = f"NF4 4-bit ({chosen.compute_dtype})"
    lines = [f"**{chosen.model}** · {precision} · {chosen.device} · {chosen.choice.profile.name}"]
    if chosen.plan is not None:
        plan = chosen.plan
        gib = 2**30
        memory = (
            f"가중치 {plan.weight_bytes / gib:.1f} GB, 합계 {plan.total_bytes / gib:.1f} / {plan.available_bytes / gib:.1f} GB"
            if lang == "ko"
            else f"weights {plan.weight_bytes / gib:.1f} GB, total {plan.total_bytes / gib:.1f} of {plan.available_bytes / gib:.1f} GB"
        )
        frames = (
            f"프레임 ≤ {chosen.max_frames}" if lang == "ko" else f"frames ≤ {chosen.max_frames}"
        )
        lines.append(f"{memory} · {frames}")
    else:
        lines.append(t("plan_local", lang))
    lines.append(chosen.reason_ko if lang == "ko" else chosen.reason)
    return "\n\n".join(lines)


def active_line(profile: str | None, model: str | None, lang: str, hw: hardware.Hardware) -> str:
    """The header's one line: which model, precision and profile the next request will use."""
    head = "사용 중" if lang == "ko" else "Active"
    first = preview(profile, model, lang, hw).split("\n\n")[0]
    return f"{head}: {first}"


def sampling_defaults(model: str | None) -> dict:
    """Qwen's recommended sampling for ``model``: the catalog's, or the folder's generation_config."""
    spec = catalog.find(model) if model else None
    if spec is not None:
        s = spec.sampling
        return {
            "temperature": s.temperature,
            "top_p": s.top_p,
            "top_k": s.top_k,
            "repetition_penalty": s.repetition_penalty,
            "presence_penalty": s.presence_penalty or 0.0,
            "max_new_tokens": min(s.max_new_tokens, 1024),
        }
    values = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.0}
    config = Path(model or "") / "generation_config.json"
    if config.is_file():
        data = json.loads(config.read_text(encoding="utf-8"))
        values.update({k: data[k] for k in values if data.get(k) is not None})
    return {**values, "presence_penalty": 0.0, "max_new_tokens": 1024}


def thinking_available(model: str | None) -> bool:
    spec = catalog.find(model) if model else None
    return spec is not None and spec.thinking == "hybrid"


# --- the run loop -------------------------------------------------------------------------------
@dataclass
class Form:
    """Everything the page sends for one request."""

    video: str | None
    preset: str | None = None
    prompt: str = ""
    system: str = ""
    profile: str = "auto"
    model: str | None = None
    fps: float = 2.0
    max_frames: int = 0
    max_pixels: int = 0
    max_new_tokens: int = 1024
    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 20
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    seed: int = -1
    think: bool = False
    lang: str = "ko"
    extra: dict = field(default_factory=dict)  # e.g. style / length / allow_hanja when supported

    def request(self) -> engine.DescribeRequest:
        option_fields = {f.name for f in dataclasses.fields(Options)}
        options = Options(
            max_new_tokens=int(self.max_new_tokens),
            temperature=float(self.temperature),
            top_p=float(self.top_p),
            top_k=int(self.top_k),
            repetition_penalty=float(self.repetition_penalty),
            presence_penalty=float(self.presence_penalty) or None,
            seed=None if int(self.seed) < 0 else int(self.seed),
            think=bool(self.think),
            **{k: v for k, v in self.extra.items() if k in option_fields},
        )
        request_fields = {f.name for f in dataclasses.fields(engine.DescribeRequest)}
        return engine.DescribeRequest(
            video=self.video or None,
            prompt=self.prompt.strip() or None,
            preset=self.preset or None,
            system=self.system if self.system.strip() else None,
            model=self.model or None,
            profile=_override(self.profile) or None,
            fps=float(self.fps),
            max_frames=int(self.max_frames) or None,
            max_pixels=int(self.max_pixels) or None,
            options=options,
            **{
                k: v
                for k, v in self.extra.items()
                if k in request_fields and k not in option_fields
            },
        )


@dataclass
class UiState:
    status: str
    answer: str = ""
    thinking: str = ""
    metrics: str = ""
    done: bool = False
    error: bool = False
    event: object = None  # the engine event behind this snapshot (for logging)


def error_markdown(error: CaptionerError) -> str:
    return f"⚠️ **{error.ko}**\n\n{error.en}"


def metrics_markdown(metrics, lang: str) -> str:
    return t(
        "metrics_line",
        lang,
        ttft=metrics.ttft_s,
        tokens=metrics.new_tokens,
        tps=metrics.tokens_per_s,
        frames=metrics.frames,
        video_tokens=metrics.video_tokens,
        mem=metrics.peak_memory_bytes / 2**30,
    )


def run(
    form: Form,
    stop: threading.Event,
    progress: Callable[[float | None, str], None] | None = None,
    events_filter: Callable[[Iterator, engine.DescribeRequest], Iterator] | None = None,
    limits: video.VideoLimits | None = None,
) -> Iterator[UiState]:
    """Stream one request as UI snapshots. Errors become a message; the page keeps working.

    ``events_filter`` wraps the engine's event stream (e.g. the run log's recorder);
    ``limits`` bound the upload (None: the defaults)."""
    lang = form.lang
    state = UiState(status=t("status_plan", lang))
    yield state
    try:
        request = form.request()
    except (TypeError, ValueError) as exc:
        yield UiState(status=f"⚠️ {exc}", error=True, done=True)
        return
    if request.video is None and _needs_video(request.model):
        yield UiState(status=t("no_video", lang), error=True, done=True)
        return
    events = engine.describe(request, progress=progress, stop=stop, limits=limits)
    if events_filter is not None:
        events = events_filter(events, request)
    answer: list[str] = []
    thinking: list[str] = []
    for event in events:
        kind = event.kind
        if kind == "status":
            state = UiState(
                status=t(f"status_{event.stage}", lang), answer="".join(answer), event=event
            )
        elif kind == "prepared":
            state = UiState(status=t("status_generate", lang), event=event)
        elif kind == "text":
            answer.append(event.text)
            state = UiState(
                t("status_generate", lang), "".join(answer), "".join(thinking), event=event
            )
        elif kind == "thinking":
            thinking.append(event.text)
            state = UiState(
                t("status_generate", lang), "".join(answer), "".join(thinking), event=event
            )
        elif kind == "done":
            stopped = event.metrics.finish_reason == "stopped"
            metrics = metrics_markdown(event.metrics, lang)
            warning = _korean_warning(event, lang)
            if warning:
                metrics += f"\n\n⚠️ {warning}"
            status = t("status_stopped" if stopped else "status_done", lang)
            state = UiState(status, event.answer, event.thinking, metrics, done=True, event=event)
        elif kind == "error":
            partial = "".join(answer)
            state = UiState(
                error_markdown(event.error),
                partial,
                "".join(thinking),
                done=True,
                error=True,
                event=event,
            )
        yield state


def _needs_video(model: str | None) -> bool:
    """On this page a video model without a video is a forgotten upload, not a text question."""
    if model is None:
        return True  # the profile's default is a Qwen3-VL model
    spec = catalog.find(model)
    if spec is not None:
        return spec.supports_video
    config = Path(model) / "config.json"
    return config.is_file() and "vision_config" in json.loads(config.read_text(encoding="utf-8"))


def _korean_warning(done, lang: str) -> str | None:
    check = getattr(done, "korean", None)
    if check is None:
        return None
    return getattr(check, "warning_ko" if lang == "ko" else "warning_en", None)


# --- serving helpers ---------------------------------------------------------------------------------
def examples() -> list[list]:
    """Examples from the clips in assets/ with Korean prompts (preset key, free prompt)."""
    clip = ASSETS / "bigbuckbunny.mp4"
    if not clip.exists():
        return []
    return [
        [str(clip), "detail", ""],
        [str(clip), "timeline", ""],
        [str(clip), "people", ""],
        [str(clip), "summary", "토끼가 무엇을 하는지 한 문장으로 알려 주세요."],
    ]


def style_choices(lang: str) -> list[tuple[str, str]]:
    return [(c.label_ko if lang == "ko" else c.label_en, c.key) for c in prompts.STYLES]


def length_choices(lang: str) -> list[tuple[str, str]]:
    return [(c.label_ko if lang == "ko" else c.label_en, c.key) for c in prompts.LENGTHS]


def timeline_subtitles(run: dict, lang: str) -> tuple[list[str], str | None, str | None]:
    """(files, vtt for the player, problem) for a finished timeline run; nothing otherwise."""
    from captioner import reviewui

    if (
        not run
        or run.get("preset") != "timeline"
        or (run.get("prompt") or "").strip()
        or not run.get("answer")
    ):
        return [], None, None
    stem = Path(run.get("video") or "video").stem[:40] or "video"
    try:
        vtt, srt = reviewui.subtitle_files(run["answer"], run.get("duration"), stem)
    except CaptionerError as exc:
        return [], None, exc.ko if lang == "ko" else exc.en
    return [str(srt), str(vtt)], str(vtt), None


def preset_choices(lang: str) -> list[tuple[str, str]]:
    return [(p.label_ko if lang == "ko" else p.label_en, p.key) for p in prompts.PRESETS]


def gpu_seconds(max_frames: int, max_new_tokens: int) -> int:
    """ZeroGPU duration estimate for one request: loading/prefill plus decoding, with margin.

    Prefill grows with frames (~0.4 s per frame for an 8B model at 200k px on an H200 slice),
    decoding with tokens (~25 tok/s); capped at ZeroGPU's 300 s per call."""
    frames = max_frames or 32
    estimate = 30 + 0.4 * frames + int(max_new_tokens or 1024) / 25
    return int(min(300, max(60, estimate * 1.2)))


def persistent_storage() -> Path | None:
    """A Space's persistent storage (/data) when present and writable."""
    data = Path(os.environ.get("CAPTIONER_DATA_DIR", "/data"))
    return data if data.is_dir() and os.access(data, os.W_OK) else None
