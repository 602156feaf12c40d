"""The Gradio page: layout and wiring only. The one module that imports gradio (inside
``build``), so the rest of ``captioner`` imports without it.

Every decision (model, precision, frames, prompts, decoding, streaming, who may see what)
lives in ``captioner/``; the tab logic is ``ui/caption.py`` and ``ui/review.py``, the texts
``ui/texts.py``, the request's inputs ``ui/form.py``, the access model ``ui/access.py``.
Building the page loads no model and never touches CUDA; the model loads on the first
request, with progress shown.

No ``from __future__ import annotations`` here, on purpose: gradio finds the parameters it
fills in itself (``gr.Request``, ``gr.SelectData``) by their annotations, which must be real
objects, and ``gr`` is imported inside ``build``. Gradio fills in ``gr.Request`` only as a
positional parameter, so in handlers with ``*values`` it comes before them.
"""

import os
import time
from pathlib import Path
from typing import Any

import captioner.ui.access as access
import captioner.ui.caption as caption
import captioner.ui.chart as chart
import captioner.ui.form as form
import captioner.ui.frames as frames
import captioner.ui.longrun as longrun
import captioner.ui.review as review_tab
import captioner.ui.texts as texts
from captioner import precision, prompts, runlog
from captioner.errors import CaptionerError
from captioner.settings import Settings
from captioner.ui.texts import t

DELETE_UPLOADS = (1800, 3600)  # every 30 min, delete uploads older than an hour
HEAD = f"<script>\n{(Path(__file__).with_name('timeline.js')).read_text(encoding='utf-8')}</script>"
# One column on small screens (a phone is ~390 px wide): gradio's rows wrap their columns
# by min-width, which is not enough for the caption tab's two wide columns.
CSS = """
#captioner-main, #captioner-header { flex-wrap: wrap; }
@media (max-width: 720px) {
  #captioner-main > .column { min-width: 100% !important; flex: 1 1 100% !important; }
  .captioner-chart { font-size: 11px; }
}
a.ts { text-decoration: underline dotted; cursor: pointer; }
"""


class Labels:
    """Components whose texts follow the language switch, with what to update on each.

    ``add(component, label="key", value=..., choices=callable, ...)``: a string is a key of
    ``texts.TEXTS``; a callable gets the language. ``updates(lang)`` returns one update per
    component in the order they were added, so the switch's outputs are ``components()``."""

    def __init__(self, gr) -> None:
        self.gr = gr
        self.items: list[tuple[Any, dict[str, Any]]] = []

    def add(self, component, **props):
        self.items.append((component, props))
        return component

    def components(self) -> list:
        return [component for component, _ in self.items]

    def updates(self, lang: str) -> list:
        out = []
        for _, props in self.items:
            values = {name: v(lang) if callable(v) else t(v, lang) for name, v in props.items()}
            out.append(self.gr.update(**values))
        return out


def build(settings: Settings):
    """The page as a ``gr.Blocks`` (not launched; ``ui.launch`` adds ``HEAD`` and ``CSS``)."""
    import gradio as gr

    lang = texts.DEFAULT_LANGUAGE
    labels = Labels(gr)
    stops = caption.StopSwitches()
    profile0 = settings.profile
    model0 = caption.default_model(settings, profile0)

    with gr.Blocks(title="Qwen3 한국어 비디오 캡셔너", delete_cache=DELETE_UPLOADS) as demo:
        with gr.Row(elem_id="captioner-header"):
            labels.add(gr.Markdown(t("title", lang), min_width=260), value="title")
            language = labels.add(
                gr.Radio([label for label, _ in texts.LANGUAGES], value=texts.LANGUAGES[0][0],
                         label=t("language", lang), scale=0, min_width=220, elem_id="language"),
                label="language",
            )  # fmt: skip
        labels.add(gr.Markdown(t("intro", lang)), value="intro")
        active = gr.Markdown(
            caption.active_line(settings, profile0, model0, lang), elem_id="active"
        )
        with gr.Tabs():
            with labels.add(gr.Tab(t("tab_caption", lang), id="caption"), label="tab_caption"):
                inputs, outputs = _caption_tab(gr, labels, settings, lang, profile0, model0)
            with labels.add(gr.Tab(t("tab_review", lang), id="review"), label="tab_review"):
                review_parts = _review_tab(gr, labels, settings, lang)
        one_job = _one_job_per_session(gr, demo)
        _caption_events(gr, demo, settings, stops, inputs, outputs, language, active, one_job)
        _review_events(gr, settings, stops, review_parts, inputs, language, one_job)
        extra = [outputs["plan"], active, outputs["status"], outputs["metrics"]]

        def on_language(language_value, profile_value, model_value, run):
            lang_ = texts.lang_of(language_value)
            shown = (run or {}).get("texts") or {}
            return [
                *labels.updates(lang_),
                caption.preview(settings, profile_value, model_value, lang_),
                caption.active_line(settings, profile_value, model_value, lang_),
                shown.get("status", {}).get(lang_, t("status_idle", lang_)),
                shown.get("metrics", {}).get(lang_, ""),
            ]

        language.change(on_language,
                        [language, inputs["profile"], inputs["model"], outputs["last_run"]],
                        [*labels.components(), *extra], api_name=False)  # fmt: skip
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=1)
    return demo


def _generation_slots(settings: Settings) -> dict:
    """How many generations run at once: one for a model loaded here (they share it), or
    ``settings.concurrency`` for a server, which batches them itself; the queue size still
    bounds how many wait."""
    limit = settings.concurrency if settings.backend == "openai" else 1
    return {"concurrency_limit": limit, "concurrency_id": "gpu"}


def _session(request) -> str:
    return getattr(request, "session_hash", None) or "api"


def _oauth(settings: Settings, request) -> tuple:
    """(profile, membership check) from a Space's OAuth login, kept in the request's session
    by gradio; nothing where no review organisation is configured."""
    if not settings.review_org:
        return None, None
    session = getattr(getattr(request, "request", None), "session", None) or {}
    info = session.get("oauth_info") if hasattr(session, "get") else None
    if not info:
        return None, None
    profile = info.get("userinfo") or {}

    class Profile:
        username = profile.get("preferred_username")

    return Profile(), lambda _: access.org_member(settings, info.get("access_token"))


def _who(settings: Settings, request) -> runlog.Access:
    return access.for_request(settings, request, *_oauth(settings, request))


def _one_job_per_session(gr, demo):
    """A validator for the generating events: a browser session may have one request running
    or waiting, so one client cannot fill the whole queue. It runs when a request is pushed
    onto gradio's queue, before it waits, and looks at that queue's own bookkeeping."""

    def validate(request: gr.Request, *values):
        if not _generating(demo, getattr(request, "session_hash", None)):
            return [gr.validate(True, "") for _ in values]
        message = f"{t('busy', 'ko')} / {t('busy', 'en')}"
        return [gr.validate(False, message)] + [gr.validate(True, "") for _ in values[1:]]

    return validate


def _generating(demo, session: str | None) -> bool:
    """Whether gradio's queue holds a generating request (running or waiting) of this
    browser session: its own bookkeeping, kept from the moment a request joins."""
    if not session:
        return False
    queue = demo._queue
    ids = queue.pending_event_ids_session.get(session, set())
    events = [queue.event_ids_to_events.get(i) for i in list(ids)]
    return any(e is not None and getattr(e.fn, "concurrency_id", None) == "gpu" for e in events)


# --- the caption tab ---------------------------------------------------------------------------
def _caption_tab(gr, labels, settings, lang, profile0, model0):
    """The caption tab's components: (inputs by form field name, outputs by name)."""
    L = labels.add
    inputs: dict[str, Any] = {}
    out: dict[str, Any] = {}
    defaults = caption.sampling_defaults(model0)
    minutes = int(settings.limits.max_duration_s // 60)
    mb = int(settings.limits.max_file_bytes / 2**20)
    with gr.Row(elem_id="captioner-main"):
        with gr.Column(scale=5, min_width=320):
            inputs["video"] = L(gr.Video(label=t("video", lang), sources=["upload"], elem_id="video"),
                                label="video")  # fmt: skip
            L(gr.Markdown(t("video_info", lang, mb=mb, minutes=minutes)),
              value=lambda lg: t("video_info", lg, mb=mb, minutes=minutes))  # fmt: skip
            # shown by on_video when the upload is long (ui/longrun.py)
            inputs["long"] = L(gr.Checkbox(False, label=t("long", lang), visible=False,
                                           elem_id="long"), label="long")  # fmt: skip
            inputs["preset"] = L(
                gr.Dropdown(caption.preset_choices(lang), value=prompts.DEFAULT_PRESET,
                            label=t("preset", lang), elem_id="preset"),
                label="preset", choices=caption.preset_choices,
            )  # fmt: skip
            inputs["prompt"] = L(
                gr.Textbox("", label=t("prompt", lang), placeholder=t("prompt_placeholder", lang),
                           lines=2, elem_id="prompt"),
                label="prompt", placeholder="prompt_placeholder",
            )  # fmt: skip
            with gr.Row():
                inputs["profile"] = L(
                    gr.Dropdown(caption.profile_choices(settings, lang), value=profile0,
                                label=t("profile", lang), elem_id="profile"),
                    label="profile", choices=lambda lg: caption.profile_choices(settings, lg),
                )  # fmt: skip
                inputs["model"] = L(
                    gr.Dropdown(caption.model_choices(settings, profile0, lang), value=model0,
                                label=t("model", lang), elem_id="model"),
                    label="model",
                )  # fmt: skip
            out["plan"] = gr.Markdown(caption.preview(settings, profile0, model0, lang),
                                      elem_id="plan")  # fmt: skip
            inputs["think"] = L(gr.Checkbox(False, label=t("think", lang),
                                            visible=caption.thinking_available(model0)),
                                label="think")  # fmt: skip
            with gr.Row():
                inputs["style"] = L(
                    gr.Radio(caption.style_choices(lang), value=prompts.DEFAULT_STYLE,
                             label=t("style", lang), elem_id="style"),
                    label="style", choices=caption.style_choices,
                )  # fmt: skip
                inputs["length"] = L(
                    gr.Radio(caption.length_choices(lang), value=prompts.DEFAULT_LENGTH,
                             label=t("length", lang), elem_id="length"),
                    label="length", choices=caption.length_choices,
                )  # fmt: skip
                inputs["allow_hanja"] = L(gr.Checkbox(False, label=t("allow_hanja", lang),
                                                      elem_id="allow_hanja"), label="allow_hanja")  # fmt: skip
            with L(gr.Accordion(t("advanced", lang), open=False), label="advanced"):
                inputs["system"] = L(gr.Textbox(label=t("system", lang), value="",
                                                placeholder=prompts.SYSTEM_PROMPT, lines=3),
                                     label="system")  # fmt: skip
                with gr.Row():
                    for name in ("fps", "max_frames", "max_pixels"):
                        inputs[name] = L(_number(gr, name, form.BY_NAME[name].default, lang),
                                         label=name)  # fmt: skip
                for row in (form.SAMPLING[:3], form.SAMPLING[3:]):
                    with gr.Row():
                        for name in row:
                            f = form.BY_NAME[name]
                            inputs[name] = L(gr.Slider(f.low, f.high, defaults[name], step=f.step,
                                                       label=t(name, lang)), label=name)  # fmt: skip
                inputs["seed"] = L(_number(gr, "seed", -1, lang), label="seed")
            with gr.Row():
                out["generate"] = L(gr.Button(t("generate", lang), variant="primary",
                                              elem_id="generate"), value="generate")  # fmt: skip
                out["stop"] = L(gr.Button(t("stop", lang), variant="stop", elem_id="stop"),
                                value="stop")  # fmt: skip
        with gr.Column(scale=6, min_width=320):
            out["status"] = gr.Markdown(t("status_idle", lang), elem_id="status")
            out["frames"] = L(gr.Gallery(label=t("frames_seen", lang), columns=8, height=180,
                                         object_fit="contain", allow_preview=True, visible=False,
                                         elem_id="frames"), label="frames_seen")  # fmt: skip
            out["answer"] = L(gr.Markdown(label=t("answer", lang), elem_id="answer",
                                          buttons=["copy"], min_height=200), label="answer")  # fmt: skip
            with L(gr.Accordion(t("thinking", lang), open=False), label="thinking"):
                out["thinking"] = gr.Markdown(elem_id="thinking")
            out["metrics"] = gr.Markdown(elem_id="metrics")
            out["subtitles"] = L(gr.File(label=t("subtitles", lang), file_count="multiple",
                                         visible=False, elem_id="subtitle_files"),
                                 label="subtitles")  # fmt: skip
            out["last_run"] = gr.State({})
    out["examples"] = L(
        gr.Dataset(components=[gr.Textbox(visible=False), gr.Textbox(visible=False),
                               gr.Textbox(visible=False)],
                   samples=caption.example_rows(lang), label=t("examples", lang), type="index",
                   headers=[t("video", lang), t("preset", lang), t("prompt", lang)],
                   elem_id="examples"),
        label="examples", samples=caption.example_rows,
        headers=lambda lg: [t("video", lg), t("preset", lg), t("prompt", lg)],
    )  # fmt: skip
    return inputs, out


def _number(gr, name: str, value, lang: str):
    f = form.BY_NAME[name]
    return gr.Number(value, label=t(name, lang), minimum=f.low, maximum=f.high,
                     precision=0 if f.integer else None)  # fmt: skip


def _checked_by_the_form(component):
    """Hand the value of this input to the form (``form.py``) when gradio would refuse it.

    Gradio checks a number's range and a choice's membership itself, and on a generating
    event it does so when the request joins the queue (our validator makes it preprocess
    there): a value it refuses fails the whole request with an English-only "Error", a bare
    HTTP 400 that gradio_client's job loop waits on forever. The form checks the same things
    and says what is wrong in the request's language, in the status the page and the API
    both show. Only plain values come through this way: a file input keeps gradio's checks
    (its path must be one gradio handed out)."""
    check = component.preprocess

    def preprocess(payload):
        try:
            return check(payload)
        except Exception:  # noqa: BLE001 - gr.Error, or a payload of the wrong type
            return payload

    component.preprocess = preprocess
    return component


def _caption_events(gr, demo, settings, stops, inputs, outputs, language, active, one_job) -> None:
    comps = {**inputs, "language": language}
    for name, component in comps.items():
        if name != "video":
            _checked_by_the_form(component)
    describe = outputs["generate"].click(
        _describe_handler(gr, settings, stops),
        [comps[name] for name in form.NAMES],
        outputs=[outputs["status"], outputs["answer"], outputs["thinking"], outputs["metrics"],
                 outputs["last_run"]],
        api_name="describe",
        show_progress_on=[outputs["status"]],  # the answer stays readable while it streams
        validator=one_job,
        **_generation_slots(settings),
    )  # fmt: skip

    def stop_request(request: gr.Request):
        # a request still waiting in the queue has no switch yet: it gets one already set
        session = _session(request)
        stops.stop(session, waiting=_generating(demo, getattr(request, "session_hash", None)))

    outputs["stop"].click(stop_request, None, None, api_name="stop", queue=False)

    def show_frames(run):
        strip = (run or {}).get("frames")
        return gr.update(value=strip, visible=True) if strip else gr.update(visible=False)

    # the strip appears when decoding is done, before the first token (the run state changes)
    outputs["last_run"].change(show_frames, outputs["last_run"], outputs["frames"],
                               api_name=False, queue=False)  # fmt: skip

    def make_subtitles(run, language_value, status_value):
        files, vtt, problem = caption.timeline_subtitles(run, texts.lang_of(language_value))
        if problem:
            return gr.update(), gr.update(value=None, visible=False), f"{status_value}\n\n⚠️ {problem}"  # fmt: skip
        if not files:
            return gr.update(), gr.update(value=None, visible=False), gr.update()
        return gr.update(subtitles=vtt), gr.update(value=files, visible=True), gr.update()

    describe.then(make_subtitles, [outputs["last_run"], language, outputs["status"]],
                  [inputs["video"], outputs["subtitles"], outputs["status"]], api_name=False)  # fmt: skip

    def on_profile(profile_value, language_value):
        lang_ = texts.lang_of(language_value)
        value = caption.default_model(settings, profile_value)
        return (
            gr.update(choices=caption.model_choices(settings, profile_value, lang_), value=value),
            caption.preview(settings, profile_value, value, lang_),
            caption.active_line(settings, profile_value, value, lang_),
        )

    def on_model(profile_value, model_value, language_value):
        lang_ = texts.lang_of(language_value)
        d = caption.sampling_defaults(model_value)
        return (
            caption.preview(settings, profile_value, model_value, lang_),
            gr.update(visible=caption.thinking_available(model_value), value=False),
            *(d[key] for key in form.SAMPLING),
            caption.active_line(settings, profile_value, model_value, lang_),
        )

    profile, model = inputs["profile"], inputs["model"]
    profile.change(on_profile, [profile, language], [model, outputs["plan"], active],
                   api_name=False)  # fmt: skip
    model.change(on_model, [profile, model, language],
                 [outputs["plan"], inputs["think"], *(inputs[k] for k in form.SAMPLING), active],
                 api_name=False)  # fmt: skip

    def use_example(index):
        clip, key, prompt = caption.examples()[index]
        return clip, key, prompt

    outputs["examples"].click(use_example, [outputs["examples"]],
                              [inputs["video"], inputs["preset"], inputs["prompt"]], api_name=False)  # fmt: skip

    def on_video(path, profile_value, model_value, frames_value, language_value, status_value):
        lang_ = texts.lang_of(language_value)
        found = longrun.switch(settings, path, profile_value, model_value, frames_value, lang_)
        if found.problem is not None:  # said now, in the page's language
            status = caption.error_markdown(found.problem, lang_)
        elif (status_value or "").startswith("⚠️"):  # cleared, or a good file after a bad one
            status = t("status_idle", lang_)
        else:
            status = gr.update()  # a run's last status stays
        return gr.update(visible=found.visible, value=found.value, info=found.info or None), status

    inputs["video"].change(on_video, [inputs["video"], profile, model, inputs["max_frames"],
                                      language, outputs["status"]],
                           [inputs["long"], outputs["status"]], api_name=False)  # fmt: skip


def _describe_handler(gr, settings: Settings, stops: caption.StopSwitches):
    """The /describe endpoint: the form's fields (positional in ``form.NAMES`` order, or by
    name, each with its default), streamed snapshots out. Its signature is built from
    ``form.FIELDS``, which is where gradio reads the API's parameter names and defaults. On a
    ZeroGPU Space it runs under ``spaces.GPU`` with a duration read from the named fields."""
    signature = _form_signature(gr)

    def describe(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        request, progress = values.pop("request"), values.pop("progress")
        session = _session(request)
        stop = stops.start(session)
        run_log = runlog.shared_log(settings.db_path)
        run: dict = {}
        try:
            if stop.is_set():  # Stop was pressed while the request waited in the queue
                yield t("status_stopped", texts.lang_of(values.get("language"))), "", "", "", run
                return
            try:
                filled = form.Form.from_values(values)
            except CaptionerError as exc:
                lang = texts.lang_of(values.get("language"))
                yield caption.error_markdown(exc, lang), "", "", "", run
                return
            run = {"preset": filled.preset, "video": filled.video, "prompt": filled.prompt}
            who = _who(settings, request)
            name = os.path.basename(filled.video) if filled.video else None  # as uploaded
            run["video_name"] = name

            def recorder(events, req):
                return review_tab.recorded(events, req, settings, run_log, who, video_name=name)

            report = lambda fraction, message: progress(fraction, desc=message)  # noqa: E731
            for state in caption.stream(filled, settings, stop, report, recorder):
                event = state.event
                if getattr(event, "kind", None) == "prepared" and event.clip is not None:
                    run = {**run, "duration": event.clip.info.duration_s,
                           "frames": frames.strip_for_clip(event.clip)}  # fmt: skip
                elif getattr(event, "kind", None) == "long_plan":  # subtitles from the timeline
                    run = {**run, "duration": event.info.duration_s, "long": True}
                if state.done:
                    # the answer as recorded (a stopped long run shows more than that)
                    answer = getattr(event, "answer", state.answer)
                    run = {**run, "answer": answer if not state.error else "",
                           "texts": state.texts or caption.final_texts(event)}  # fmt: skip
                yield (state.status, caption.safe_markdown(state.answer),
                       caption.safe_markdown(state.thinking), state.metrics, run)  # fmt: skip
        finally:
            stops.finish(session, stop)
            review_tab.prune(settings, run_log)

    describe.__signature__ = signature
    describe.__annotations__ = {"request": gr.Request}  # how gradio finds what to inject
    return _on_zero_gpu(describe, signature)


def _form_signature(gr):
    import inspect

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    fields = [inspect.Parameter(f.name, kind, default=f.default) for f in form.FIELDS]
    injected = [
        inspect.Parameter("request", kind, default=None, annotation=gr.Request),
        inspect.Parameter("progress", kind, default=gr.Progress()),
    ]
    return inspect.Signature(fields + injected)


def _on_zero_gpu(fn, signature):
    """On ZeroGPU run ``fn`` under spaces.GPU with a duration sized to the request (spaces
    calls it with the handler's own arguments); else ``fn`` as is."""
    try:
        import spaces
    except ImportError:
        return fn

    def duration(*args, **kwargs) -> int:
        return form.gpu_seconds(signature.bind(*args, **kwargs).arguments)

    return spaces.GPU(duration=duration)(fn)


# --- the review tab ----------------------------------------------------------------------------
def _review_tab(gr, labels, settings: Settings, lang: str) -> dict:
    """The review tab: the run log as a table (scoped to who asks), a summary chart, a run's
    video, frames and output, ratings, exports, and comparisons (optionally blind)."""
    L = labels.add
    c: dict[str, Any] = {}
    models = caption.model_choices(settings, "auto", lang)
    preset_filter = lambda lg: [(t("all", lg), "all"), *caption.preset_choices(lg)]  # noqa: E731
    rating_filter = lambda lg: [(t("any", lg), 0), 1, 2, 3, 4, 5]  # noqa: E731
    with gr.Row():
        c["reviewer"] = gr.Markdown(elem_id="reviewer")  # who rates: the login, not a text box
        if settings.review_org:  # a Space's reviewers sign in with Hugging Face (hf_oauth)
            gr.LoginButton(scale=0)
    with gr.Row():
        c["f_model"] = L(gr.Textbox(label=t("filter_model", lang), scale=2), label="filter_model")
        c["f_preset"] = L(gr.Dropdown(preset_filter(lang), value="all", label=t("filter_preset", lang)),
                          label="filter_preset", choices=preset_filter)  # fmt: skip
        c["f_video"] = L(gr.Textbox(label=t("filter_video", lang)), label="filter_video")
        c["f_since"] = L(gr.Textbox(label=t("filter_since", lang)), label="filter_since")
        c["f_rating"] = L(gr.Dropdown(rating_filter(lang), value=0, label=t("filter_rating", lang)),
                          label="filter_rating", choices=rating_filter)  # fmt: skip
        c["refresh"] = L(gr.Button(t("refresh", lang), elem_id="review_refresh", scale=0),
                         value="refresh")  # fmt: skip
    c["table"] = L(gr.Dataframe(headers=review_tab.headers(lang), interactive=False, wrap=True,
                                elem_id="runs_table"), headers=review_tab.headers)  # fmt: skip
    c["message"] = gr.Markdown(elem_id="review_msg")
    with L(gr.Accordion(t("summary", lang), open=True), label="summary"):
        by_choices = lambda lg: [(t("by_model", lg), "model"), (t("by_preset", lg), "preset")]  # noqa: E731
        c["by"] = L(gr.Radio(by_choices(lang), value="model", label=t("summary_by", lang),
                             elem_id="summary_by"), label="summary_by", choices=by_choices)  # fmt: skip
        c["chart"] = gr.HTML(elem_id="rating_chart")
    with gr.Row():
        with gr.Column(min_width=320):
            with gr.Row():
                c["run_id"] = L(gr.Number(label=t("run_id", lang), precision=0, elem_id="run_id"),
                                label="run_id")  # fmt: skip
                c["open"] = L(gr.Button(t("open", lang), elem_id="open_run", scale=0), value="open")
            c["run_video"] = L(gr.Video(label=t("run_video", lang), interactive=False,
                                        elem_id="run_video"), label="run_video")  # fmt: skip
            c["run_frames"] = L(gr.Gallery(label=t("frames_seen", lang), columns=8, height=180,
                                           object_fit="contain", visible=False,
                                           elem_id="run_frames"), label="frames_seen")  # fmt: skip
            c["run_detail"] = gr.Markdown(elem_id="run_detail")
        with gr.Column(min_width=320):
            c["score"] = L(gr.Radio([1, 2, 3, 4, 5], label=t("score", lang), elem_id="score"),
                           label="score")  # fmt: skip
            c["tags"] = L(gr.Textbox(label=t("tags", lang)), label="tags")
            c["note"] = L(gr.Textbox(label=t("note", lang), lines=2), label="note")
            c["rate"] = L(gr.Button(t("save_rating", lang), variant="primary", elem_id="rate"),
                          value="save_rating")  # fmt: skip
            with gr.Row():
                c["format"] = L(gr.Radio(list(runlog.EXPORT_FORMATS), value="csv",
                                         label=t("export_format", lang)), label="export_format")  # fmt: skip
                c["export"] = L(gr.Button(t("export", lang), elem_id="export", scale=0),
                                value="export")  # fmt: skip
            c["export_file"] = L(gr.File(label=t("exported_file", lang), elem_id="export_file"),
                                 label="exported_file")  # fmt: skip
            c["library"] = gr.Markdown(elem_id="library_usage")
    with L(gr.Accordion(t("compare", lang), open=False), label="compare"):
        c["blind"] = L(gr.Checkbox(True, label=t("blind", lang)), label="blind")
        adapters = [("-", ""), *((a, a) for a in settings.adapters)]
        with gr.Row():
            c["configs"] = []
            for side in ("A", "B"):
                with gr.Column():
                    c["configs"] += [
                        L(gr.Dropdown(models, value=models[0][1] if models else None,
                                      label=t("side_model", lang, side=side)),
                          label=lambda lg, s=side: t("side_model", lg, side=s)),
                        L(gr.Dropdown(caption.preset_choices(lang), value="detail",
                                      label=t("side_preset", lang, side=side)),
                          label=lambda lg, s=side: t("side_preset", lg, side=s),
                          choices=caption.preset_choices),
                        L(gr.Textbox(label=t("side_prompt", lang, side=side)),
                          label=lambda lg, s=side: t("side_prompt", lg, side=s)),
                        L(gr.Dropdown(["auto", *precision.NAMES], value="auto",
                                      label=t("side_precision", lang, side=side)),
                          label=lambda lg, s=side: t("side_precision", lg, side=s)),
                        L(gr.Dropdown(adapters, value="", label=t("side_adapter", lang, side=side)),
                          label=lambda lg, s=side: t("side_adapter", lg, side=s)),
                    ]  # fmt: skip
        c["run_both"] = L(gr.Button(t("run_both", lang), variant="primary", elem_id="run_both"),
                          value="run_both")  # fmt: skip
        with gr.Row():
            c["left_id"] = L(gr.Number(label=t("left_run", lang), precision=0), label="left_run")
            c["right_id"] = L(gr.Number(label=t("right_run", lang), precision=0), label="right_run")
            c["load_two"] = L(gr.Button(t("load_two", lang), scale=0, elem_id="load_two"),
                              value="load_two")  # fmt: skip
        c["compare_status"] = gr.Markdown()
        c["pair"] = gr.State((None, None))
        with gr.Row():
            c["left_md"] = gr.Markdown(elem_id="left_output")
            c["right_md"] = gr.Markdown(elem_id="right_output")
        with gr.Row():
            c["left_score"] = L(gr.Radio([1, 2, 3, 4, 5], label=t("side_score", lang, side="1")),
                                label=lambda lg: t("side_score", lg, side="1"))  # fmt: skip
            c["right_score"] = L(gr.Radio([1, 2, 3, 4, 5], label=t("side_score", lang, side="2")),
                                 label=lambda lg: t("side_score", lg, side="2"))  # fmt: skip
        c["rate_both"] = L(gr.Button(t("rate_both", lang), elem_id="rate_both"), value="rate_both")
    return c


# the caption form's fields a comparison shares between its two sides
_COMPARE_BASE = ("fps", "max_frames", "max_pixels", *form.SAMPLING, "seed")


def _review_events(gr, settings: Settings, stops, c: dict, inputs: dict, language, one_job) -> None:
    filters = [c["f_model"], c["f_preset"], c["f_video"], c["f_since"], c["f_rating"]]
    filter_keys = ("model", "preset", "video", "since", "min_rating")

    def run_log() -> runlog.RunLog:
        log = runlog.shared_log(settings.db_path)
        if log is None:
            raise CaptionerError(t("log_off", "ko"), t("log_off", "en"))
        return log

    def problem(exc: CaptionerError, language_value) -> str:
        return caption.error_markdown(exc, texts.lang_of(language_value))

    def list_runs(language_value, request: gr.Request, *filter_values):
        lang_ = texts.lang_of(language_value)
        try:
            runs = review_tab.query(run_log(), _who(settings, request), *filter_values)
        except CaptionerError as exc:
            return gr.update(), problem(exc, language_value)
        return review_tab.table(runs, lang_), t("runs_found", lang_, n=len(runs))

    def summary(language_value, by_value, request: gr.Request, *filter_values):
        lang_ = texts.lang_of(language_value)
        try:
            rows = review_tab.rating_summary(run_log(), _who(settings, request), by_value or "model",
                                             **dict(zip(filter_keys, filter_values, strict=True)))  # fmt: skip
        except CaptionerError as exc:
            return problem(exc, language_value)
        return chart.rating_chart(rows, lang_, by_value or "model")

    def header(language_value, request: gr.Request):
        lang_ = texts.lang_of(language_value)
        current = _who(settings, request)
        scope = t("scope_all" if current.sees_all else "scope_mine", lang_)
        return (t("signed_in", lang_, name=current.rater or "-", scope=scope),
                review_tab.library_line(settings, lang_))  # fmt: skip

    def pick_row(frame, evt: gr.SelectData):
        return int(frame.iloc[evt.index[0], 0])

    def open_run(run_value, language_value, request: gr.Request):
        lang_ = texts.lang_of(language_value)
        try:
            run = review_tab.get_run(run_log(), _who(settings, request), run_value)
        except CaptionerError as exc:
            return None, gr.update(visible=False), "", problem(exc, language_value)
        path = review_tab.find_video(settings, run)
        strip = frames.strip_for_run(path, run, settings.limits)
        return (path, gr.update(value=strip, visible=bool(strip)),
                review_tab.run_markdown(run, lang_), "")  # fmt: skip

    def save_rating(run_value, score_value, tags_value, note_value, language_value,
                    request: gr.Request, *filter_values):  # fmt: skip
        lang_ = texts.lang_of(language_value)
        who = _who(settings, request)
        try:
            done = review_tab.rate(run_log(), who, run_value, score_value, tags_value, note_value,
                                   lang_)  # fmt: skip
            detail = review_tab.run_markdown(review_tab.get_run(run_log(), who, run_value), lang_)
        except CaptionerError as exc:
            return gr.update(), problem(exc, language_value), gr.update()
        rows, _ = list_runs(language_value, request, *filter_values)
        return rows, done, detail

    def export_runs(fmt, language_value, request: gr.Request, *filter_values):
        try:
            path = review_tab.export(run_log(), _who(settings, request), fmt,
                                     dict(zip(filter_keys, filter_values, strict=True)))  # fmt: skip
        except CaptionerError as exc:
            return None, problem(exc, language_value)
        return str(path), ""

    def run_both(video_value, language_value, blind_value, request: gr.Request, *values):
        base_values = dict(zip(_COMPARE_BASE, values[: len(_COMPARE_BASE)], strict=True))
        try:
            base = form.Form.from_values({**base_values, "language": language_value})
        except CaptionerError as exc:
            yield "", "", problem(exc, language_value), (None, None)
            return
        base.video = video_value
        rest = values[len(_COMPARE_BASE) :]
        a, b = review_tab.Config(*rest[:5]), review_tab.Config(*rest[5:])
        session = _session(request)
        stop = stops.start(session)
        try:
            if stop.is_set():  # Stop was pressed while the request waited in the queue
                yield "", "", t("status_stopped", texts.lang_of(language_value)), (None, None)
                return
            for state in review_tab.compare_configs(base, a, b, settings, stop,
                                                    runlog.shared_log(settings.db_path),
                                                    bool(blind_value), int(time.time()),
                                                    _who(settings, request)):  # fmt: skip
                yield (caption.safe_markdown(state.left), caption.safe_markdown(state.right),
                       state.status, state.run_ids)  # fmt: skip
        finally:
            stops.finish(session, stop)

    def load_two(left_value, right_value, blind_value, language_value, request: gr.Request):
        try:
            left, right, _, ids = review_tab.load_pair(
                run_log(), settings, _who(settings, request), left_value, right_value,
                bool(blind_value), texts.lang_of(language_value), int(time.time()),
            )  # fmt: skip
        except CaptionerError as exc:
            return gr.update(), gr.update(), problem(exc, language_value), (None, None)
        return left, right, "", ids

    def rate_both(ids, left_value, right_value, blind_value, language_value,
                  request: gr.Request):  # fmt: skip
        lang_ = texts.lang_of(language_value)
        who = _who(settings, request)
        try:
            for run_value, score_value in zip(ids, (left_value, right_value), strict=True):
                review_tab.rate(run_log(), who, run_value, score_value, "", "", lang_)
            revealed = review_tab.reveal_if_rated(run_log(), who, ids, lang_)
        except CaptionerError as exc:
            return gr.update(), gr.update(), problem(exc, language_value)
        if revealed is None:
            return gr.update(), gr.update(), ""
        return revealed[0], revealed[1], t("revealed", lang_) if blind_value else "✅"

    hidden = {"api_name": False, "api_visibility": "private"}  # hidden AND scoped by Access
    refresh = c["refresh"].click(
        list_runs, [language, *filters], [c["table"], c["message"]], **hidden
    )
    refresh.then(summary, [language, c["by"], *filters], [c["chart"]], **hidden)
    refresh.then(header, [language], [c["reviewer"], c["library"]], **hidden)
    c["by"].change(summary, [language, c["by"], *filters], [c["chart"]], **hidden)

    def reopen(run_value, language_value, request: gr.Request):
        if run_value in (None, "", 0):
            return gr.update()
        try:
            run = review_tab.get_run(run_log(), _who(settings, request), run_value)
        except CaptionerError:
            return gr.update()
        return review_tab.run_markdown(run, texts.lang_of(language_value))

    # what the tab shows was rendered in one language: render it again in the other
    language.change(list_runs, [language, *filters], [c["table"], c["message"]], **hidden)
    language.change(summary, [language, c["by"], *filters], [c["chart"]], **hidden)
    language.change(header, [language], [c["reviewer"], c["library"]], **hidden)
    language.change(reopen, [c["run_id"], language], [c["run_detail"]], **hidden)
    c["table"].select(pick_row, c["table"], c["run_id"], **hidden)
    c["open"].click(open_run, [c["run_id"], language],
                    [c["run_video"], c["run_frames"], c["run_detail"], c["message"]], **hidden)  # fmt: skip
    for component in (c["run_id"], c["score"], c["format"], *filters):  # public: rate, export
        _checked_by_the_form(component)
    c["rate"].click(save_rating, [c["run_id"], c["score"], c["tags"], c["note"], language, *filters],
                    [c["table"], c["message"], c["run_detail"]], api_name="rate")  # fmt: skip
    c["export"].click(export_runs, [c["format"], language, *filters], [c["export_file"], c["message"]],
                      api_name="export")  # fmt: skip
    c["run_both"].click(run_both,
                        [inputs["video"], language, c["blind"], *(inputs[k] for k in _COMPARE_BASE),
                         *c["configs"]],
                        [c["left_md"], c["right_md"], c["compare_status"], c["pair"]],
                        validator=one_job, **_generation_slots(settings), **hidden)  # fmt: skip
    c["load_two"].click(load_two, [c["left_id"], c["right_id"], c["blind"], language],
                        [c["left_md"], c["right_md"], c["compare_status"], c["pair"]], **hidden)  # fmt: skip
    c["rate_both"].click(rate_both, [c["pair"], c["left_score"], c["right_score"], c["blind"], language],
                         [c["left_md"], c["right_md"], c["compare_status"]], **hidden)  # fmt: skip
