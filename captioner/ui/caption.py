"""The caption tab's logic, without gradio: selectors, the preview, defaults, the run loop.

- ``profile_choices`` / ``model_choices``: the GPU-profile and model selectors; models are
  the catalog entries that fit the chosen profile (marked 🎬 video or 📝 text only), plus
  the models the operator named with ``--model``.
- ``preview``: before anything loads, what will be loaded, in which precision, how much
  memory it needs, and why (the same ``engine.select`` a run uses, on the same settings).
- ``stream``: one request from the page's form to a stream of ``UiState`` snapshots; a long
  video's windows stream in as they finish (``ui/longrun.py``).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import captioner.ui.longrun as longrun
from captioner import catalog, engine, loader, longvideo, profiles, prompts, subtitles
from captioner.errors import CaptionerError, InvalidRequest
from captioner.precision import GiB
from captioner.settings import Settings
from captioner.ui.form import Form
from captioner.ui.texts import pick, t

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"


# --- selectors -------------------------------------------------------------------------------
def profile_choices(settings: Settings, lang: str) -> list[tuple[str, str]]:
    """ "Auto (detected: …)" first, then the profiles a user can preview or force here."""
    hw = settings.hardware
    detected = hw.describe().split(" / ")[0 if lang == "en" else 1]
    choices = [(t("auto", lang, hw=detected), "auto")]
    for profile in profiles.PROFILES:
        if profile.kind == "cuda" and profile.min_memory_gb <= 0:
            continue  # the planner's profile for unknown GPUs: reached through Auto only
        if profile.kind in ("cpu", "mps") and profile.kind != hw.kind:
            continue  # nothing to preview: these profiles size themselves from this machine
        label = pick(profile.label_ko, profile.label_en, lang)
        choices.append((f"{profile.name} · {label}", profile.name))
    return choices


def model_choices(settings: Settings, profile: str | None, lang: str) -> list[tuple[str, str]]:
    """The operator's models first, then the catalog models that fit the profile (the
    recommended ones first); with a server backend, the models the server lists. The page
    offers nothing else: a typed value is refused."""
    if settings.backend == "openai":
        return _served_choices(settings, lang)
    decision = settings.decide(profile)
    recommended = (decision.video.model, decision.text.model)
    fitting = []
    for spec in catalog.CATALOG:
        if not decision.fits_model(spec):
            continue
        kind = t("video_model" if spec.supports_video else "text_model", lang)
        star = f" · ⭐ {t('recommended', lang)}" if spec.id in recommended else ""
        fitting.append((spec.id not in recommended, f"{spec.id} ({kind}){star}", spec.id))
    fitting.sort(key=lambda item: item[0])  # stable: recommended first, then catalog order
    local = [(f"{path} ({t('local_model', lang)})", path) for path in settings.models]
    return local + [(label, value) for _, label, value in fitting]


def check_offered(settings: Settings, form: Form) -> None:
    """The page loads only what it offers: a catalog model that fits the profile or a model
    the operator named, and an adapter from the operator's list. Anything else is refused
    with one message, before any path is looked at (no hint whether it exists)."""
    model = form.model or None
    if model is not None and model not in {
        v for _, v in model_choices(settings, form.profile, "en")
    }:
        raise InvalidRequest(t("model_not_offered", "ko"), t("model_not_offered", "en"))
    if form.adapter and form.adapter not in settings.adapters:
        raise InvalidRequest(t("adapter_not_offered", "ko"), t("adapter_not_offered", "en"))


def _served_choices(settings: Settings, lang: str) -> list[tuple[str, str]]:
    from captioner.backends import remote

    listed = remote.deployment(settings).model_ids()
    names = list(settings.models) + [m for m in listed if m not in settings.models]
    return [(f"{name} ({t('served_model', lang)})", name) for name in names]


def default_model(settings: Settings, profile: str | None) -> str:
    if settings.backend == "openai":
        from captioner.backends import remote

        try:
            return remote.default_model(settings)
        except CaptionerError:
            return ""  # the preview says why
    return settings.models[0] if settings.models else settings.decide(profile).video.model


def preview(settings: Settings, profile: str | None, model: str | None, lang: str) -> str:
    """Markdown: the model, precision, memory and reason, decided before anything loads."""
    try:
        chosen = _select(settings, profile, model)
    except CaptionerError as exc:
        return f"⚠️ {pick(exc.ko, exc.en, lang)}"
    lines = [headline(chosen)]
    plan = chosen.plan
    if plan is not None:
        lines.append(t("plan_memory", lang, weights=plan.weight_bytes / GiB,
                       total=plan.total_bytes / GiB, available=plan.available_bytes / GiB,
                       frames=chosen.max_frames))  # fmt: skip
    elif settings.backend == "openai":
        lines.append(t("plan_remote", lang, servers=", ".join(settings.base_urls),
                       frames=chosen.max_frames))  # fmt: skip
    else:
        lines.append(t("plan_local", lang))
    lines.append(pick(chosen.reason_ko, chosen.reason, lang))
    return "\n\n".join(lines)


def active_line(settings: Settings, profile: str | None, model: str | None, lang: str) -> str:
    """The header's one line: which model, precision and profile the next request will use."""
    try:
        return f"{t('active', lang)}: {headline(_select(settings, profile, model))}"
    except CaptionerError as exc:
        return f"{t('active', lang)}: ⚠️ {pick(exc.ko, exc.en, lang)}"


def headline(chosen: engine.Selection) -> str:
    precision = chosen.precision.upper()
    if chosen.precision == "nf4":
        precision = f"NF4 4-bit ({chosen.compute_dtype})"
    return f"**{chosen.model}** · {precision} · {chosen.device} · {chosen.profile}"


def _select(settings: Settings, profile: str | None, model: str | None) -> engine.Selection:
    sees_video = loader.sees_video(model) if model else True
    request = engine.DescribeRequest(
        video="preview.mp4" if sees_video is not False else None, model=model, profile=profile
    )
    return engine.select(request, settings)


def sampling_defaults(model: str | None) -> dict:
    """Qwen's recommended sampling for ``model``, as the sliders show it."""
    values = catalog.recommended_sampling(model)
    return {**values, "presence_penalty": values["presence_penalty"] or 0.0}


def thinking_available(model: str | None) -> bool:
    spec = catalog.find(model) if model else None
    return spec is not None and spec.thinking == "hybrid"


def preset_choices(lang: str) -> list[tuple[str, str]]:
    return [(pick(p.label_ko, p.label_en, lang), p.key) for p in prompts.PRESETS]


def style_choices(lang: str) -> list[tuple[str, str]]:
    return [(pick(c.label_ko, c.label_en, lang), c.key) for c in prompts.STYLES]


def length_choices(lang: str) -> list[tuple[str, str]]:
    return [(pick(c.label_ko, c.label_en, lang), c.key) for c in prompts.LENGTHS]


EXAMPLE_PROMPTS = (("detail", ""), ("timeline", ""), ("people", ""),
                   ("summary", "토끼가 무엇을 하는지 한 문장으로 알려 주세요."))  # fmt: skip


def examples() -> list[tuple[str, str, str]]:
    """(clip path, preset key, free prompt) for the clips in assets/ (Korean prompts)."""
    clip = ASSETS / "bigbuckbunny.mp4"
    if not clip.exists():
        return []
    return [(str(clip), key, prompt) for key, prompt in EXAMPLE_PROMPTS]


def example_rows(lang: str) -> list[list[str]]:
    """The examples as the page lists them: file name, preset name in ``lang``, prompt."""
    names = {key: label for label, key in preset_choices(lang)}
    return [[Path(clip).name, names[key], prompt] for clip, key, prompt in examples()]


def preset_key(value: str | None) -> str | None:
    """A preset key from a key or a label in either language (examples show labels)."""
    for p in prompts.PRESETS:
        if value in (p.key, p.label_ko, p.label_en):
            return p.key
    return value


# --- the run loop -------------------------------------------------------------------------------
@dataclass
class UiState:
    status: str
    answer: str = ""
    thinking: str = ""
    metrics: str = ""
    done: bool = False
    error: bool = False
    event: object = None  # the engine event behind this snapshot
    texts: dict | None = None  # a finished run's status and metrics in both languages


def error_markdown(error: CaptionerError, lang: str) -> str:
    return f"⚠️ **{pick(error.ko, error.en, lang)}**"


def safe_markdown(text: str) -> str:
    """Model output for a Markdown component: formatting stays, HTML and images do not. An
    answer cannot make the visitor's browser load an outside image (a tracker) or carry tags
    gradio's sanitizer would otherwise let through; ``<12.3 seconds>`` shows as text."""
    return (
        (text or "")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("![", "!\\[")
    )


def final_texts(event, long: longrun.View | None = None) -> dict[str, dict[str, str]]:
    """The status and metrics lines of a finished run in both languages, so the page can show
    them again in whichever language the switch selects later (a long run's windows and
    timeline check included)."""
    texts: dict[str, dict[str, str]] = {"status": {}, "metrics": {}}
    for lang in ("ko", "en"):
        if getattr(event, "kind", None) == "done":
            stopped = event.metrics.finish_reason == "stopped"
            metrics = event.metrics.line(lang)
            check = event.korean
            if check is not None and check.warning_ko:
                metrics += f"\n\n⚠️ {pick(check.warning_ko, check.warning_en or '', lang)}"
            if event.sampling.get("korean_guarantee") is False:  # a server without the mask
                metrics += f"\n\nℹ️ {t('korean_bias_off', lang)}"
            if long is not None and (note := long.metrics_note(lang)):
                metrics += f"\n\n{note}"
            texts["status"][lang] = t("status_stopped" if stopped else "status_done", lang)
            texts["metrics"][lang] = metrics
        elif getattr(event, "kind", None) == "error":
            texts["status"][lang] = error_markdown(event.error, lang)
            texts["metrics"][lang] = ""
    return texts


def stream(
    form: Form,
    settings: Settings,
    stop: threading.Event,
    progress: Callable[[float | None, str], None] | None = None,
    recorder: Callable[[Iterator, engine.DescribeRequest], Iterator] | None = None,
) -> Iterator[UiState]:
    """Stream one request as UI snapshots. Errors become a message; the page keeps working.

    ``recorder`` wraps the engine's event stream (the run log)."""
    lang = form.lang
    yield UiState(status=t("status_plan", lang))
    try:
        check_offered(settings, form)
        request = form.request()
    except CaptionerError as exc:
        yield UiState(status=error_markdown(exc, lang), error=True, done=True)
        return
    if request.video is None and loader.sees_video(request.model or "") is not False:
        # on this page a video model without a video is a forgotten upload, not a question
        yield UiState(status=t("no_video", lang), error=True, done=True)
        return
    events = longvideo.describe(request, settings, progress=progress, stop=stop)
    if recorder is not None:
        events = recorder(events, request)  # resumes an unfinished long run (review.recorded)
    answer: list[str] = []
    thinking: list[str] = []
    long = longrun.View(lang, progress)
    for event in events:
        kind = event.kind
        text, reasoning = "".join(answer), "".join(thinking)
        if kind in longvideo.KINDS:
            status, shown = long.update(event)
            yield UiState(status, shown, reasoning, event=event)
        elif kind == "status":
            yield UiState(t(f"status_{event.stage}", lang), text, reasoning, event=event)
        elif kind == "prepared":
            yield UiState(t("status_generate", lang), event=event)
        elif kind in ("text", "thinking"):
            (answer if kind == "text" else thinking).append(event.text)
            yield UiState(t("status_generate", lang), "".join(answer), "".join(thinking),
                          event=event)  # fmt: skip
        elif kind == "done":
            shown = final_texts(event, long if long.active else None)
            answer_shown = event.answer
            if long.active and event.metrics.finish_reason == "stopped":
                # what streamed stays on the page (the stopped window's text too), then the
                # timeline of the finished windows; the run log keeps the timeline
                answer_shown = "\n\n".join(part for part in (long.answer(), event.answer) if part)
            yield UiState(shown["status"][lang], answer_shown, event.thinking,
                          shown["metrics"][lang], done=True, event=event, texts=shown)  # fmt: skip
        elif kind == "error":
            yield UiState(error_markdown(event.error, lang), text, reasoning, done=True,
                          error=True, event=event)  # fmt: skip


def timeline_subtitles(run: dict, lang: str) -> tuple[list[str], str | None, str | None]:
    """(files, vtt for the player, problem) for a finished timeline run or long-video run
    (whose answer always ends with the merged timeline); nothing otherwise."""
    timeline = run and run.get("preset") == "timeline" and not (run.get("prompt") or "").strip()
    if not run or not (timeline or run.get("long")) or not run.get("answer"):
        return [], None, None
    stem = Path(run.get("video_name") or run.get("video") or "video").stem[:40] or "video"
    try:
        vtt, srt = subtitle_files(run["answer"], run.get("duration"), stem)
    except CaptionerError as exc:
        return [], None, pick(exc.ko, exc.en, lang)
    return [str(srt), str(vtt)], str(vtt), None


def subtitle_files(
    answer: str, duration_s: float | None, stem: str, out_dir: str | None = None
) -> tuple[Path, Path]:
    """WebVTT (for the player) and SRT files from a timeline answer; SubtitleParseError if none."""
    cues = subtitles.parse(answer, duration_s)
    folder = Path(out_dir or tempfile.mkdtemp(prefix="captioner-subs-"))
    return subtitles.write(cues, folder / f"{stem}.vtt"), subtitles.write(
        cues, folder / f"{stem}.srt"
    )


class StopSwitches:
    """The stop switch of each browser session's request (Stop sets it). A Stop pressed while
    the request still waits in gradio's queue is kept for the session (``stop(session,
    waiting=True)``) and the request, when it starts, finds its switch already set."""

    def __init__(self) -> None:
        self._switches: dict[str, threading.Event] = {}
        self._stopped_waiting: set[str] = set()
        self._lock = threading.Lock()

    def start(self, session: str) -> threading.Event:
        switch = threading.Event()
        with self._lock:
            self._switches[session] = switch
            if session in self._stopped_waiting:
                self._stopped_waiting.discard(session)
                switch.set()
        return switch

    def stop(self, session: str, waiting: bool = False) -> bool:
        """Stop the session's running request; else, with ``waiting`` (it has one in the
        queue), the one that starts next. False when there was nothing to stop."""
        with self._lock:
            switch = self._switches.get(session)
            if switch is None:
                if waiting:
                    self._stopped_waiting.add(session)
                return waiting
        switch.set()
        return True

    def finish(self, session: str, switch: threading.Event) -> None:
        with self._lock:
            if self._switches.get(session) is switch:
                del self._switches[session]
