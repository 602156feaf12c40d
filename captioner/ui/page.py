"""The Gradio page: layout and wiring only. The one module that imports gradio (inside
``build``), so the rest of ``captioner`` imports without it.

Every decision (model, precision, frames, prompts, decoding, streaming) lives in
``captioner/``; the tab logic is ``ui/caption.py`` and ``ui/review.py``, the texts are
``ui/texts.py`` and the request's inputs ``ui/form.py``. Building the page loads no model and
never touches CUDA; the model loads on the first request, with progress shown.

No ``from __future__ import annotations`` here, on purpose: gradio finds the parameters it
fills in itself (``gr.Request``, ``gr.SelectData``) by their annotations, which must be real
objects, and ``gr`` is imported inside ``build``.
"""

import os
import time
from typing import Any

from captioner import prompts, runlog
from captioner.errors import CaptionerError
from captioner.settings import Settings
from captioner.ui import access, caption, form, longrun, texts
from captioner.ui import review as review_tab
from captioner.ui.texts import t

DELETE_UPLOADS = (1800, 3600)  # every 30 min, delete uploads older than an hour


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
    """The page as a ``gr.Blocks`` (not launched)."""
    import gradio as gr

    lang = texts.DEFAULT_LANGUAGE
    labels = Labels(gr)
    stops = caption.StopSwitches()
    profile0 = settings.profile
    model0 = caption.default_model(settings, profile0)
    defaults = caption.sampling_defaults(model0)
    minutes = int(settings.limits.max_duration_s // 60)
    mb = int(settings.limits.max_file_bytes / 2**20)

    with gr.Blocks(title="Qwen3 한국어 비디오 캡셔너", delete_cache=DELETE_UPLOADS) as demo:
        with gr.Row():
            labels.add(gr.Markdown(t("title", lang)), value="title")
            language = labels.add(
                gr.Radio([label for label, _ in texts.LANGUAGES], value=texts.LANGUAGES[0][0],
                         label=t("language", lang), scale=0, min_width=220, elem_id="language"),
                label="language",
            )  # fmt: skip
        labels.add(gr.Markdown(t("intro", lang)), value="intro")
        active = gr.Markdown(
            caption.active_line(settings, profile0, model0, lang), elem_id="active"
        )
        with gr.Tabs() as tabs:
            with labels.add(gr.Tab(t("tab_caption", lang), id="caption"), label="tab_caption"):
                inputs, outputs = _caption_tab(gr, labels, settings, lang, profile0, model0,
                                               defaults, mb, minutes)  # fmt: skip
        # --- caption events ---------------------------------------------------------------
        comps = {**inputs, "language": language}
        fn = _describe_handler(gr, settings, stops)
        describe = outputs["generate"].click(
            fn,
            [comps[name] for name in form.NAMES],
            outputs=[outputs["status"], outputs["answer"], outputs["thinking"],
                     outputs["metrics"], outputs["last_run"]],
            api_name="describe",
            show_progress_on=[outputs["status"]],  # the answer stays readable while it streams
            concurrency_limit=1,
            concurrency_id="gpu",
        )  # fmt: skip

        def stop_request(request: gr.Request):
            stops.stop(_session(request))

        outputs["stop"].click(stop_request, None, None, api_name="stop", queue=False)

        def make_subtitles(run, language_value, status_value):
            files, vtt, problem = caption.timeline_subtitles(run, texts.lang_of(language_value))
            if problem:
                return gr.update(), gr.update(value=None, visible=False), f"{status_value}\n\n⚠️ {problem}"  # fmt: skip
            if not files:
                return gr.update(), gr.update(value=None, visible=False), gr.update()
            return gr.update(subtitles=vtt), gr.update(value=files, visible=True), gr.update()

        describe.then(
            make_subtitles,
            [outputs["last_run"], language, outputs["status"]],
            [inputs["video"], outputs["subtitles"], outputs["status"]],
            api_name=False,
        )

        def on_profile(profile_value, language_value):
            lang_ = texts.lang_of(language_value)
            value = caption.default_model(settings, profile_value)
            return (
                gr.update(choices=caption.model_choices(settings, profile_value, lang_), value=value),
                caption.preview(settings, profile_value, value, lang_),
                caption.active_line(settings, profile_value, value, lang_),
            )  # fmt: skip

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

        examples = outputs["examples"]

        def use_example(index, language_value):
            clip, _, prompt = caption.examples(texts.lang_of(language_value))[index]
            key = caption.preset_key(caption.examples("ko")[index][1])
            return clip, key, prompt

        examples.click(use_example, [examples, language],
                       [inputs["video"], inputs["preset"], inputs["prompt"]], api_name=False)  # fmt: skip

        def on_video(path, profile_value, model_value, frames_value, language_value):
            shown, value, info = longrun.switch(settings, path, profile_value, model_value,
                                                frames_value, texts.lang_of(language_value))  # fmt: skip
            return gr.update(visible=shown, value=value, info=info or None)

        inputs["video"].change(on_video, [inputs["video"], profile, model, inputs["max_frames"],
                                          language], inputs["long"], api_name=False)  # fmt: skip

        with tabs:
            _review_tab(gr, labels, settings, lang, inputs, language, stops)

        def on_language(language_value, profile_value, model_value):
            lang_ = texts.lang_of(language_value)
            return [
                *labels.updates(lang_),
                caption.preview(settings, profile_value, model_value, lang_),
                caption.active_line(settings, profile_value, model_value, lang_),
            ]

        language.change(on_language, [language, profile, model],
                        [*labels.components(), outputs["plan"], active], api_name=False)  # fmt: skip
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=1)
    return demo


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


def _caption_tab(gr, labels, settings, lang, profile0, model0, defaults, mb, minutes):
    """The caption tab's components: (inputs by form field name, outputs by name)."""
    L = labels.add
    inputs: dict[str, Any] = {}
    out: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=5):
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
        with gr.Column(scale=6):
            out["status"] = gr.Markdown(t("status_idle", lang), elem_id="status")
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
        gr.Dataset(components=[gr.Video(visible=False), gr.Textbox(visible=False),
                               gr.Textbox(visible=False)],
                   samples=caption.examples(lang), label=t("examples", lang), type="index",
                   headers=[t("video", lang), t("preset", lang), t("prompt", lang)],
                   elem_id="examples"),
        label="examples", samples=caption.examples,
        headers=lambda lg: [t("video", lg), t("preset", lg), t("prompt", lg)],
    )  # fmt: skip
    return inputs, out


def _number(gr, name: str, value, lang: str):
    f = form.BY_NAME[name]
    return gr.Number(value, label=t(name, lang), minimum=f.low, maximum=f.high,
                     precision=0 if f.integer else None)  # fmt: skip


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
            try:
                filled = form.Form.from_values(values)
            except CaptionerError as exc:
                lang = texts.lang_of(values.get("language"))
                yield caption.error_markdown(exc, lang), "", "", "", run
                return
            run = {"preset": filled.preset, "video": filled.video, "prompt": filled.prompt}
            who = access.for_request(settings, request, *_oauth(settings, request))
            name = os.path.basename(filled.video) if filled.video else None  # as uploaded

            def recorder(events, req):
                return review_tab.recorded(events, req, settings, run_log, who, video_name=name)

            report = lambda fraction, message: progress(fraction, desc=message)  # noqa: E731
            for state in caption.stream(filled, settings, stop, report, recorder):
                event = state.event
                if getattr(event, "kind", None) == "prepared" and event.clip is not None:
                    run["duration"] = event.clip.info.duration_s
                elif getattr(event, "kind", None) == "long_plan":  # subtitles from the timeline
                    run.update(duration=event.info.duration_s, long=True)
                if state.done:
                    run["answer"] = state.answer if not state.error else ""
                yield state.status, state.answer, state.thinking, state.metrics, run
        finally:
            stops.finish(session, stop)

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


def _review_tab(gr, labels, settings: Settings, lang: str, inputs: dict, language, stops) -> None:
    """The review tab: the run log as a table, a run's video and output, ratings, exports,
    and comparisons (two configurations on one video, or two recorded runs; optionally blind)."""
    L = labels.add
    models = caption.model_choices(settings, "auto", lang)
    preset_filter = lambda lg: [(t("all", lg), "all"), *caption.preset_choices(lg)]  # noqa: E731
    rating_filter = lambda lg: [(t("any", lg), 0), 1, 2, 3, 4, 5]  # noqa: E731
    with L(gr.Tab(t("tab_review", lang), id="review"), label="tab_review"):
        with gr.Row():
            f_model = L(gr.Textbox(label=t("filter_model", lang), scale=2), label="filter_model")
            f_preset = L(gr.Dropdown(preset_filter(lang), value="all", label=t("filter_preset", lang)),
                         label="filter_preset", choices=preset_filter)  # fmt: skip
            f_video = L(gr.Textbox(label=t("filter_video", lang)), label="filter_video")
            f_since = L(gr.Textbox(label=t("filter_since", lang)), label="filter_since")
            f_rating = L(gr.Dropdown(rating_filter(lang), value=0, label=t("filter_rating", lang)),
                         label="filter_rating", choices=rating_filter)  # fmt: skip
            refresh = L(gr.Button(t("refresh", lang), elem_id="review_refresh", scale=0),
                        value="refresh")  # fmt: skip
        table = L(gr.Dataframe(headers=review_tab.headers(lang), interactive=False, wrap=True,
                               elem_id="runs_table"), headers=review_tab.headers)  # fmt: skip
        message = gr.Markdown(elem_id="review_msg")
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    run_id = L(gr.Number(label=t("run_id", lang), precision=0, elem_id="run_id"),
                               label="run_id")  # fmt: skip
                    open_btn = L(gr.Button(t("open", lang), elem_id="open_run", scale=0),
                                 value="open")  # fmt: skip
                run_video = L(gr.Video(label=t("run_video", lang), interactive=False),
                              label="run_video")  # fmt: skip
                run_detail = gr.Markdown(elem_id="run_detail")
            with gr.Column():
                score = L(gr.Radio([1, 2, 3, 4, 5], label=t("score", lang), elem_id="score"),
                          label="score")  # fmt: skip
                tags = L(gr.Textbox(label=t("tags", lang)), label="tags")
                note = L(gr.Textbox(label=t("note", lang), lines=2), label="note")
                reviewer = gr.Markdown(elem_id="reviewer")  # who rates: the login, not a text box
                rate_btn = L(gr.Button(t("save_rating", lang), variant="primary", elem_id="rate"),
                             value="save_rating")  # fmt: skip
                with gr.Row():
                    export_format = L(gr.Radio(list(runlog.EXPORT_FORMATS), value="csv",
                                               label=t("export_format", lang)), label="export_format")  # fmt: skip
                    export_btn = L(gr.Button(t("export", lang), elem_id="export", scale=0),
                                   value="export")  # fmt: skip
                export_file = L(gr.File(label=t("exported_file", lang), elem_id="export_file"),
                                label="exported_file")  # fmt: skip
        with L(gr.Accordion(t("compare", lang), open=False), label="compare"):
            blind = L(gr.Checkbox(True, label=t("blind", lang)), label="blind")
            with gr.Row():
                configs = []
                for side in ("A", "B"):
                    with gr.Column():
                        configs += [
                            L(gr.Dropdown(models, value=models[0][1] if models else None,
                                          label=t("side_model", lang, side=side)),
                              label=lambda lg, s=side: t("side_model", lg, side=s)),
                            L(gr.Dropdown(caption.preset_choices(lang), value="detail",
                                          label=t("side_preset", lang, side=side)),
                              label=lambda lg, s=side: t("side_preset", lg, side=s),
                              choices=caption.preset_choices),
                            L(gr.Textbox(label=t("side_prompt", lang, side=side)),
                              label=lambda lg, s=side: t("side_prompt", lg, side=s)),
                            L(gr.Dropdown(list(review_tab.PRECISIONS), value="auto",
                                          label=t("side_precision", lang, side=side)),
                              label=lambda lg, s=side: t("side_precision", lg, side=s)),
                            L(gr.Textbox(label=t("side_adapter", lang, side=side)),
                              label=lambda lg, s=side: t("side_adapter", lg, side=s)),
                        ]  # fmt: skip
            compare_btn = L(gr.Button(t("run_both", lang), variant="primary"), value="run_both")
            with gr.Row():
                left_id = L(gr.Number(label=t("left_run", lang), precision=0), label="left_run")
                right_id = L(gr.Number(label=t("right_run", lang), precision=0), label="right_run")
                load_btn = L(gr.Button(t("load_two", lang), scale=0), value="load_two")
            compare_status = gr.Markdown()
            pair = gr.State((None, None))
            with gr.Row():
                left_md = gr.Markdown(elem_id="left_output")
                right_md = gr.Markdown(elem_id="right_output")
            with gr.Row():
                left_score = L(gr.Radio([1, 2, 3, 4, 5], label=t("side_score", lang, side="1")),
                               label=lambda lg: t("side_score", lg, side="1"))  # fmt: skip
                right_score = L(gr.Radio([1, 2, 3, 4, 5], label=t("side_score", lang, side="2")),
                                label=lambda lg: t("side_score", lg, side="2"))  # fmt: skip
            rate_pair = L(gr.Button(t("rate_both", lang)), value="rate_both")

    filters = [f_model, f_preset, f_video, f_since, f_rating]

    def run_log() -> runlog.RunLog:
        log = runlog.shared_log(settings.db_path)
        if log is None:
            raise CaptionerError(t("log_off", "ko"), t("log_off", "en"))
        return log

    def who(request) -> runlog.Access:
        return access.for_request(settings, request, *_oauth(settings, request))

    def problem(exc: CaptionerError, language_value) -> str:
        return caption.error_markdown(exc, texts.lang_of(language_value))

    def list_runs(model, preset, video_name, since, min_rating, language_value,
                  request: gr.Request):  # fmt: skip
        lang_ = texts.lang_of(language_value)
        try:
            runs = review_tab.query(run_log(), who(request), model, preset, video_name, since,
                                    min_rating)  # fmt: skip
        except CaptionerError as exc:
            return gr.update(), problem(exc, language_value)
        return review_tab.table(runs, lang_), t("runs_found", lang_, n=len(runs))

    def pick_row(frame, evt: gr.SelectData):
        return int(frame.iloc[evt.index[0], 0])

    def open_run(run_value, language_value, request: gr.Request):
        try:
            path, detail = review_tab.open_run(run_log(), settings, who(request), run_value,
                                               texts.lang_of(language_value))  # fmt: skip
        except CaptionerError as exc:
            return None, "", problem(exc, language_value)
        return path, detail, ""

    # gradio fills in gr.Request only as a positional parameter: it comes before *values
    def save_rating(run_value, score_value, tags_value, note_value, language_value,
                    request: gr.Request, *filter_values):  # fmt: skip
        lang_ = texts.lang_of(language_value)
        try:
            done = review_tab.rate(run_log(), who(request), run_value, score_value, tags_value,
                                   note_value, lang_)  # fmt: skip
            _, detail = review_tab.open_run(run_log(), settings, who(request), run_value, lang_)
        except CaptionerError as exc:
            return gr.update(), problem(exc, language_value), gr.update()
        rows, _ = list_runs(*filter_values, language_value, request)
        return rows, done, detail

    def export_runs(fmt, language_value, request: gr.Request, *filter_values):
        keys = ("model", "preset", "video", "since", "min_rating")
        try:
            path = review_tab.export(run_log(), who(request), fmt,
                                     dict(zip(keys, filter_values, strict=True)))  # fmt: skip
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
            for state in review_tab.compare_configs(base, a, b, settings, stop,
                                                    runlog.shared_log(settings.db_path),
                                                    bool(blind_value), int(time.time()),
                                                    who(request)):  # fmt: skip
                yield state.left, state.right, state.status, state.run_ids
        finally:
            stops.finish(session, stop)

    def load_two(left_value, right_value, blind_value, language_value, request: gr.Request):
        try:
            left, right, _, ids = review_tab.load_pair(
                run_log(), settings, who(request), left_value, right_value, bool(blind_value),
                texts.lang_of(language_value), int(time.time()),
            )  # fmt: skip
        except CaptionerError as exc:
            return gr.update(), gr.update(), problem(exc, language_value), (None, None)
        return left, right, "", ids

    def rate_both(ids, left_value, right_value, blind_value, language_value,
                  request: gr.Request):  # fmt: skip
        lang_ = texts.lang_of(language_value)
        try:
            for run_value, score_value in zip(ids, (left_value, right_value), strict=True):
                review_tab.rate(run_log(), who(request), run_value, score_value, "", "", lang_)
            revealed = review_tab.reveal_if_rated(run_log(), who(request), ids, lang_)
        except CaptionerError as exc:
            return gr.update(), gr.update(), problem(exc, language_value)
        if revealed is None:
            return gr.update(), gr.update(), ""
        return revealed[0], revealed[1], t("revealed", lang_) if blind_value else "✅"

    def whoami(language_value, request: gr.Request):
        current = who(request)
        return t("signed_in", texts.lang_of(language_value), name=current.rater or "-",
                 scope=t("scope_all" if current.sees_all else "scope_mine",
                         texts.lang_of(language_value)))  # fmt: skip

    refresh.click(list_runs, [*filters, language], [table, message], api_name=False)
    refresh.click(whoami, [language], [reviewer], api_name=False)
    table.select(pick_row, table, run_id, api_name=False)
    open_btn.click(open_run, [run_id, language], [run_video, run_detail, message], api_name=False)
    rate_btn.click(save_rating, [run_id, score, tags, note, language, *filters],
                   [table, message, run_detail], api_name="rate")  # fmt: skip
    export_btn.click(export_runs, [export_format, language, *filters], [export_file, message],
                     api_name="export")  # fmt: skip
    compare_btn.click(run_both,
                      [inputs["video"], language, blind, *(inputs[k] for k in _COMPARE_BASE), *configs],
                      [left_md, right_md, compare_status, pair], api_name=False,
                      concurrency_limit=1, concurrency_id="gpu")  # fmt: skip
    load_btn.click(load_two, [left_id, right_id, blind, language],
                   [left_md, right_md, compare_status, pair], api_name=False)  # fmt: skip
    rate_pair.click(rate_both, [pair, left_score, right_score, blind, language],
                    [left_md, right_md, compare_status], api_name=False)  # fmt: skip


# the caption form's fields a comparison shares between its two sides
_COMPARE_BASE = ("fps", "max_frames", "max_pixels", *form.SAMPLING, "seed")
