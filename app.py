"""Qwen3 한국어 비디오 캡셔너: the Gradio page (locally, or as a Hugging Face Space).

Layout and wiring only: every decision (model, precision, frames, prompts, decoding,
streaming) lives in ``captioner/`` (see ``captioner/webui.py``). Creating the page loads no
model and never touches CUDA; the model loads on the first request, with progress shown.

    python app.py                      # http://127.0.0.1:7860
    python app.py --help               # host, port, share, profile, model, limits
"""

import argparse
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from captioner import hardware, prompts, reviewui, runlog, webui
from captioner.errors import CaptionerError
from captioner.runlog import paths as runlog_paths

ROOT = Path(__file__).resolve().parent
_STOPS: dict[str, threading.Event] = {}  # session -> the stop switch of its running request


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Qwen3 한국어 비디오 캡셔너 — web demo")
    parser.add_argument(
        "--host",
        default=env("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="0.0.0.0 to serve the network",
    )
    parser.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="a temporary public gradio.live link")
    parser.add_argument(
        "--profile", default=env("CAPTIONER_PROFILE", "auto"), help="default GPU profile"
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[m for m in env("CAPTIONER_MODEL", "").split(",") if m],
        help="extra model (Hub id or local folder) listed first and selected; repeatable",
    )
    parser.add_argument(
        "--max-file-mb", type=int, default=int(env("CAPTIONER_MAX_FILE_MB", "1024"))
    )
    parser.add_argument(
        "--max-duration-s", type=float, default=float(env("CAPTIONER_MAX_DURATION_S", "1200"))
    )
    parser.add_argument("--queue-size", type=int, default=int(env("CAPTIONER_QUEUE_SIZE", "16")))
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> None:
    """Environment for the process: limits, uploads in our own temp dir, caches on /data."""
    os.environ["CAPTIONER_MAX_FILE_MB"] = str(args.max_file_mb)
    os.environ["CAPTIONER_MAX_DURATION_S"] = str(args.max_duration_s)
    os.environ.setdefault("GRADIO_TEMP_DIR", str(Path(tempfile.gettempdir()) / "captioner-uploads"))
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # keep the server log readable
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    data = webui.persistent_storage()
    if data is not None:  # a Space with persistent storage: keep downloads and the run log
        os.environ.setdefault("HF_HOME", str(data / "huggingface"))
        os.environ.setdefault("CAPTIONER_DB", str(data / "captioner" / "runs.sqlite3"))
    if args.profile and args.profile != "auto":
        os.environ["CAPTIONER_PROFILE"] = args.profile


def _gpu(fn):
    """On ZeroGPU run ``fn`` under spaces.GPU with a duration sized to the request; else as is."""
    try:
        import spaces
    except ImportError:
        return fn

    def duration(*args, **kwargs):
        # positional order of `generate`: video, preset, prompt, system, profile, model, fps,
        # max_frames, max_pixels, max_new_tokens, ...
        return webui.gpu_seconds(int(args[7] or 0), int(args[9] or 1024))

    return spaces.GPU(duration=duration)(fn)


def _hardware() -> hardware.Hardware:
    """The machine to plan for. On ZeroGPU there is no GPU until a request holds one (and
    CUDA must not be touched at start-up), so plan for the slice it lends."""
    if os.environ.get("SPACES_ZERO_GPU"):
        return hardware.simulate(
            os.environ.get("CAPTIONER_ZEROGPU", "NVIDIA H200 (ZeroGPU slice):69.5:9.0")
        )
    return hardware.detect()


def build(args: argparse.Namespace):
    import gradio as gr

    hw = _hardware()
    extra = tuple(args.model)
    lang = "ko"
    profile0 = args.profile or "auto"
    model0 = webui.default_model(profile0, hw, extra)
    defaults = webui.sampling_defaults(model0)
    T = webui.t

    with gr.Blocks(title="Qwen3 한국어 비디오 캡셔너", delete_cache=(1800, 3600)) as demo:
        with gr.Row():
            title = gr.Markdown(T("title", lang))
            language = gr.Radio(
                ["한국어", "English"],
                value="한국어",
                label=T("language", lang),
                scale=0,
                min_width=220,
                elem_id="language",
            )
        intro = gr.Markdown(T("intro", lang))
        active = gr.Markdown(webui.active_line(profile0, model0, lang, hw), elem_id="active")
        with gr.Tabs() as tabs:
            with gr.Tab("캡션 · Caption", id="caption"):
                with gr.Row():
                    with gr.Column(scale=5):
                        video = gr.Video(
                            label=T("video", lang), sources=["upload"], elem_id="video"
                        )
                        video_info = gr.Markdown(
                            T(
                                "video_info",
                                lang,
                                mb=args.max_file_mb,
                                minutes=int(args.max_duration_s // 60),
                            )
                        )
                        preset = gr.Dropdown(
                            webui.preset_choices(lang),
                            value="detail",
                            label=T("preset", lang),
                            elem_id="preset",
                        )
                        prompt = gr.Textbox(
                            label=T("prompt", lang),
                            placeholder=T("prompt_placeholder", lang),
                            lines=2,
                            elem_id="prompt",
                        )
                        with gr.Row():
                            profile = gr.Dropdown(
                                webui.profile_choices(hw, lang),
                                value=profile0,
                                label=T("profile", lang),
                                elem_id="profile",
                            )
                            model = gr.Dropdown(
                                webui.model_choices(profile0, hw, lang, extra),
                                value=model0,
                                label=T("model", lang),
                                elem_id="model",
                            )
                        plan = gr.Markdown(
                            webui.preview(profile0, model0, lang, hw),
                            label=T("plan", lang),
                            elem_id="plan",
                        )
                        think = gr.Checkbox(
                            False, label=T("think", lang), visible=webui.thinking_available(model0)
                        )
                        with gr.Row():
                            style = gr.Radio(
                                webui.style_choices(lang),
                                value=prompts.DEFAULT_STYLE,
                                label=T("style", lang),
                                elem_id="style",
                            )
                            length = gr.Radio(
                                webui.length_choices(lang),
                                value=prompts.DEFAULT_LENGTH,
                                label=T("length", lang),
                                elem_id="length",
                            )
                            allow_hanja = gr.Checkbox(
                                False, label=T("allow_hanja", lang), elem_id="allow_hanja"
                            )
                        with gr.Accordion(T("advanced", lang), open=False) as advanced:
                            system = gr.Textbox(
                                label=T("system", lang),
                                value="",
                                placeholder=prompts.SYSTEM_PROMPT,
                                lines=3,
                            )
                            with gr.Row():
                                fps = gr.Number(2.0, label=T("fps", lang), minimum=0.1, maximum=10)
                                max_frames = gr.Number(
                                    0,
                                    label=T("max_frames", lang),
                                    minimum=0,
                                    maximum=768,
                                    precision=0,
                                )
                                max_pixels = gr.Number(
                                    0, label=T("max_pixels", lang), minimum=0, precision=0
                                )
                            sliders = {}
                            for row in (webui.SAMPLING_CONTROLS[:3], webui.SAMPLING_CONTROLS[3:]):
                                with gr.Row():
                                    for key, low, high, step in row:
                                        sliders[key] = gr.Slider(
                                            low, high, defaults[key], step=step, label=T(key, lang)
                                        )
                            seed = gr.Number(-1, label=T("seed", lang), precision=0)
                        with gr.Row():
                            generate_btn = gr.Button(
                                T("generate", lang), variant="primary", elem_id="generate"
                            )
                            stop_btn = gr.Button(T("stop", lang), variant="stop", elem_id="stop")
                    with gr.Column(scale=6):
                        status = gr.Markdown(
                            T("status_idle", lang), label="status", elem_id="status"
                        )
                        answer = gr.Markdown(
                            label=T("answer", lang),
                            elem_id="answer",
                            buttons=["copy"],
                            min_height=200,
                        )
                        with gr.Accordion(T("thinking", lang), open=False) as thinking_box:
                            thinking = gr.Markdown(label="thinking", elem_id="thinking")
                        metrics = gr.Markdown(label="metrics", elem_id="metrics")
                        subtitle_files = gr.File(
                            label=T("subtitles", lang),
                            file_count="multiple",
                            visible=False,
                            elem_id="subtitle_files",
                        )
                        last_run = gr.State({})
                gr.Examples(
                    webui.examples(), inputs=[video, preset, prompt], label=T("examples", lang)
                )

        sampling = list(sliders.values())  # in webui.SAMPLING_CONTROLS order
        inputs = [
            video,
            preset,
            prompt,
            system,
            profile,
            model,
            fps,
            max_frames,
            max_pixels,
            *sampling,
            seed,
            think,
            language,
            style,
            length,
            allow_hanja,
        ]

        @_gpu
        def generate(
            video,
            preset,
            prompt,
            system,
            profile,
            model,
            fps,
            max_frames,
            max_pixels,
            max_new_tokens,
            temperature,
            top_p,
            top_k,
            repetition_penalty,
            presence_penalty,
            seed,
            think,
            language,
            style="hamnida",
            length="normal",
            allow_hanja=False,
            request: gr.Request = None,
            progress=gr.Progress(),  # noqa: B008 - gradio's documented way to inject it
        ):
            stop = threading.Event()
            key = getattr(request, "session_hash", None) or "api"
            _STOPS[key] = stop
            form = webui.Form(
                video=video, preset=preset, prompt=prompt or "", system=system or "", profile=profile,
                model=model, fps=fps or 2.0, max_frames=max_frames or 0, max_pixels=max_pixels or 0,
                max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
                repetition_penalty=repetition_penalty, presence_penalty=presence_penalty,
                seed=-1 if seed is None else seed, think=think, lang="en" if language == "English" else "ko",
                extra={"style": style or "hamnida", "length": length or "normal", "allow_hanja": bool(allow_hanja)},
            )  # fmt: skip
            log = runlog_paths.default_log()
            library = runlog_paths.default_library()  # keeps the upload once it decoded

            def recorder(events, req):
                if log is not None:
                    events = library.keeping(events)
                return runlog.record(events, req, log=log, source="web", access=_owner(request))

            report = lambda fraction, message: progress(fraction, desc=message)  # noqa: E731
            run = {"preset": preset, "video": form.video, "prompt": prompt}
            try:
                for state in webui.run(form, stop, report, events_filter=recorder):
                    if (
                        getattr(state.event, "kind", None) == "prepared"
                        and state.event.clip is not None
                    ):
                        run["duration"] = state.event.clip.info.duration_s
                    if state.done:
                        run["answer"] = state.answer if not state.error else ""
                    yield state.status, state.answer, state.thinking, state.metrics, run
            finally:
                _STOPS.pop(key, None)
                _prune(library, log)

        def stop_request(request: gr.Request):
            switch = _STOPS.get(getattr(request, "session_hash", None) or "api")
            if switch is not None:
                switch.set()

        describe_event = generate_btn.click(
            generate,
            inputs,
            [status, answer, thinking, metrics, last_run],
            api_name="describe",
            show_progress_on=[status],  # the answer stays readable while it streams
            concurrency_limit=1,
            concurrency_id="gpu",
        )
        stop_btn.click(stop_request, None, None, api_name="stop", queue=False)

        def make_subtitles(run, language_value, status_value):
            lang_ = "en" if language_value == "English" else "ko"
            files, vtt, problem = webui.timeline_subtitles(run, lang_)
            if problem:
                return (
                    gr.update(),
                    gr.update(value=None, visible=False),
                    f"{status_value}\n\n⚠️ {problem}",
                )
            if not files:
                return gr.update(), gr.update(value=None, visible=False), gr.update()
            return gr.update(subtitles=vtt), gr.update(value=files, visible=True), gr.update()

        describe_event.then(
            make_subtitles,
            [last_run, language, status],
            [video, subtitle_files, status],
            api_name=False,
        )
        with tabs:
            _review_tab(
                gr, hw, extra, video, [fps, max_frames, max_pixels, *sampling, seed], language
            )

        def on_profile(profile_value, language_value):
            lang_ = "en" if language_value == "English" else "ko"
            choices = webui.model_choices(profile_value, hw, lang_, extra)
            value = webui.default_model(profile_value, hw, extra)
            return (
                gr.update(choices=choices, value=value),
                webui.preview(profile_value, value, lang_, hw),
                webui.active_line(profile_value, value, lang_, hw),
            )

        def on_model(profile_value, model_value, language_value):
            lang_ = "en" if language_value == "English" else "ko"
            d = webui.sampling_defaults(model_value)
            return (
                webui.preview(profile_value, model_value, lang_, hw),
                gr.update(visible=webui.thinking_available(model_value), value=False),
                *(d[key] for key, *_ in webui.SAMPLING_CONTROLS),
                webui.active_line(profile_value, model_value, lang_, hw),
            )  # fmt: skip

        profile.change(on_profile, [profile, language], [model, plan, active], api_name=False)
        model.change(
            on_model, [profile, model, language], [plan, think, *sampling, active], api_name=False
        )

        def on_language(
            language_value, profile_value, model_value, preset_value, style_value, length_value
        ):
            lang_ = "en" if language_value == "English" else "ko"
            L = lambda key: webui.t(key, lang_)  # noqa: E731
            return [
                L("title"), L("intro"), gr.update(label=L("language")), gr.update(label=L("video")),
                webui.t("video_info", lang_, mb=args.max_file_mb, minutes=int(args.max_duration_s // 60)),
                gr.update(label=L("preset"), choices=webui.preset_choices(lang_), value=preset_value),
                gr.update(label=L("prompt"), placeholder=L("prompt_placeholder")),
                gr.update(label=L("profile"), choices=webui.profile_choices(hw, lang_), value=profile_value),
                gr.update(label=L("model"), choices=webui.model_choices(profile_value, hw, lang_, extra), value=model_value),
                webui.preview(profile_value, model_value, lang_, hw), gr.update(label=L("think")),
                gr.update(label=L("advanced")), gr.update(label=L("system")), gr.update(label=L("fps")),
                gr.update(label=L("max_frames")), gr.update(label=L("max_pixels")),
                *(gr.update(label=L(key)) for key, *_ in webui.SAMPLING_CONTROLS), gr.update(label=L("seed")),
                gr.update(value=L("generate")), gr.update(value=L("stop")), gr.update(label=L("answer")),
                gr.update(label=L("thinking")),
                gr.update(label=L("style"), choices=webui.style_choices(lang_), value=style_value),
                gr.update(label=L("length"), choices=webui.length_choices(lang_), value=length_value),
                gr.update(label=L("allow_hanja")), gr.update(label=L("subtitles")),
                webui.active_line(profile_value, model_value, lang_, hw),
            ]  # fmt: skip

        language.change(
            on_language,
            [language, profile, model, preset, style, length],
            [title, intro, language, video, video_info, preset, prompt, profile, model, plan, think,
             advanced, system, fps, max_frames, max_pixels, *sampling, seed, generate_btn, stop_btn, answer, thinking_box, style, length,
             allow_hanja, subtitle_files, active],
            api_name=False,
        )  # fmt: skip
    demo.queue(max_size=args.queue_size, default_concurrency_limit=1)
    return demo


def _prune(library: runlog.Library, log: runlog.RunLog | None) -> None:
    """Keep the video library within its size and age budget; never fails a request."""
    if log is None:
        return
    try:
        library.prune(log)
    except Exception as exc:  # noqa: BLE001
        logging.getLogger(__name__).warning("video library: pruning failed: %s", exc)


def _owner(request) -> runlog.Access:
    """Runs started from the page belong to the browser session."""
    return runlog.Access.visitor(getattr(request, "session_hash", None) or "api")


def _review_access(reviewer_name: str | None = None) -> runlog.Access:
    """TRANSITIONAL (issue 9, the lead's page work): until the page has logins and modes, the
    review tab sees every run and a rating carries the typed name, as before. Replace with
    runlog.Access.reviewer(login) for authenticated reviewers and _owner(request) for
    public visitors."""
    return runlog.Access(owner=None, rater=(reviewer_name or "").strip(), sees_all=True)


def _log() -> runlog.RunLog:
    log = runlog_paths.default_log()
    if log is None:
        raise CaptionerError(
            "실행 기록이 꺼져 있습니다 (CAPTIONER_DB=off).",
            "The run log is off (CAPTIONER_DB=off).",
        )
    return log


def _message(exc: CaptionerError) -> str:
    return f"⚠️ **{exc.ko}**\n\n{exc.en}"


def _review_tab(gr, hw, extra, video, base_inputs, language) -> None:
    """리뷰 tab: the run log as a table, a run's video and output, ratings, exports, and
    comparisons (two configurations on one video, or two recorded runs; optionally blind)."""
    models = webui.model_choices("auto", hw, "ko", extra)
    precisions = ["auto", "bf16", "fp16", "fp32", "nf4"]
    with gr.Tab("리뷰 · Review", id="review"):
        with gr.Row():
            f_model = gr.Textbox(label="모델 · model", scale=2)
            f_preset = gr.Dropdown(
                [("전체 · all", "all"), *webui.preset_choices("ko")],
                value="all",
                label="프리셋 · preset",
            )
            f_video = gr.Textbox(label="영상 · video")
            f_since = gr.Textbox(label="부터 · since (YYYY-MM-DD)")
            f_rating = gr.Dropdown(
                [("전체 · any", 0), 1, 2, 3, 4, 5], value=0, label="최소 평점 · min rating"
            )
            refresh = gr.Button("새로고침 · Refresh", elem_id="review_refresh", scale=0)
        table = gr.Dataframe(
            headers=reviewui.HEADERS["ko"], interactive=False, wrap=True, elem_id="runs_table"
        )
        message = gr.Markdown(elem_id="review_msg")
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    run_id = gr.Number(label="실행 ID · run id", precision=0, elem_id="run_id")
                    open_btn = gr.Button("열기 · Open", elem_id="open_run", scale=0)
                run_video = gr.Video(label="영상 · video", interactive=False)
                run_detail = gr.Markdown(elem_id="run_detail")
            with gr.Column():
                score = gr.Radio([1, 2, 3, 4, 5], label="평점 · score", elem_id="score")
                tags = gr.Textbox(label="태그 · tags (쉼표로 구분 · comma-separated)")
                note = gr.Textbox(label="메모 · note", lines=2)
                reviewer = gr.Textbox(label="평가자 · reviewer", elem_id="reviewer")
                rate_btn = gr.Button("평가 저장 · Save rating", variant="primary", elem_id="rate")
                with gr.Row():
                    export_format = gr.Radio(
                        ["csv", "jsonl", "html"], value="csv", label="형식 · format"
                    )
                    export_btn = gr.Button("내보내기 · Export", elem_id="export", scale=0)
                export_file = gr.File(label="내보낸 파일 · exported file", elem_id="export_file")
        with gr.Accordion("비교 · Compare", open=False):
            blind = gr.Checkbox(
                True, label="블라인드: 둘 다 평가할 때까지 설정을 숨김 · blind until both are rated"
            )
            with gr.Row():
                configs = []
                for side in ("A", "B"):
                    with gr.Column():
                        configs += [
                            gr.Dropdown(
                                models,
                                value=models[0][1] if models else None,
                                label=f"{side} 모델 · model",
                                allow_custom_value=True,
                            ),
                            gr.Dropdown(
                                webui.preset_choices("ko"),
                                value="detail",
                                label=f"{side} 프리셋 · preset",
                            ),
                            gr.Textbox(
                                label=f"{side} 프롬프트 · prompt (비우면 프리셋 · empty = preset)"
                            ),
                            gr.Dropdown(
                                precisions, value="auto", label=f"{side} 정밀도 · precision"
                            ),
                            gr.Textbox(label=f"{side} LoRA 어댑터 · adapter (선택 · optional)"),
                        ]
            compare_btn = gr.Button(
                "위 영상으로 두 설정 실행 · Run both on the uploaded video", variant="primary"
            )
            with gr.Row():
                left_id = gr.Number(label="왼쪽 실행 ID · left run", precision=0)
                right_id = gr.Number(label="오른쪽 실행 ID · right run", precision=0)
                load_btn = gr.Button("두 실행 불러오기 · Load two runs", scale=0)
            compare_status = gr.Markdown()
            pair = gr.State((None, None))
            with gr.Row():
                left_md = gr.Markdown(label="1", elem_id="left_output")
                right_md = gr.Markdown(label="2", elem_id="right_output")
            with gr.Row():
                left_score = gr.Radio([1, 2, 3, 4, 5], label="1 평점 · score")
                right_score = gr.Radio([1, 2, 3, 4, 5], label="2 평점 · score")
            rate_pair = gr.Button("둘 다 평가 · Rate both")

    filters = [f_model, f_preset, f_video, f_since, f_rating]

    def lang_of(value):
        return "en" if value == "English" else "ko"

    def list_runs(model, preset, video_name, since, min_rating, language_value):
        try:
            runs = reviewui.query(
                _log(), _review_access(), model, preset, video_name, since, min_rating
            )
        except CaptionerError as exc:
            return gr.update(), _message(exc)
        return reviewui.table(runs, lang_of(language_value)), f"{len(runs)}"

    def pick_row(frame, evt: gr.SelectData):
        return int(frame.iloc[evt.index[0], 0])

    def open_run(run_value, language_value):
        try:
            path, detail = reviewui.open_run(
                _log(),
                run_value,
                lang_of(language_value),
                runlog_paths.default_library(),
                _review_access(),
            )
        except (CaptionerError, TypeError, ValueError) as exc:
            return None, "", _message(exc) if isinstance(exc, CaptionerError) else f"⚠️ {exc}"
        return path, detail, ""

    def save_rating(
        run_value,
        score_value,
        tags_value,
        note_value,
        reviewer_value,
        language_value,
        *filter_values,
    ):
        try:
            done = reviewui.rate(
                _log(),
                run_value,
                score_value,
                tags_value,
                note_value,
                lang_of(language_value),
                _review_access(reviewer_value),
            )
        except CaptionerError as exc:
            return gr.update(), _message(exc), gr.update()
        rows, _ = list_runs(*filter_values, language_value)
        _, detail = reviewui.open_run(
            _log(),
            run_value,
            lang_of(language_value),
            runlog_paths.default_library(),
            _review_access(),
        )
        return rows, done, detail

    def export_runs(fmt, *filter_values):
        keys = ("model", "preset", "video", "since", "min_rating")
        try:
            return str(
                reviewui.export(
                    _log(), fmt, dict(zip(keys, filter_values, strict=True)), _review_access()
                )
            ), ""
        except CaptionerError as exc:
            return None, _message(exc)

    def run_both(video_value, fps, max_frames, max_pixels, max_new_tokens, temperature, top_p, top_k,
                 repetition_penalty, presence_penalty, seed, language_value, blind_value,
                 request: gr.Request, *config_values):  # fmt: skip
        # gradio injects a Request only into positional parameters: before *config_values
        base = webui.Form(
            video=video_value, fps=fps or 2.0, max_frames=max_frames or 0,
            max_pixels=max_pixels or 0, max_new_tokens=max_new_tokens, temperature=temperature,
            top_p=top_p, top_k=top_k, repetition_penalty=repetition_penalty,
            presence_penalty=presence_penalty, seed=-1 if seed is None else seed, lang=lang_of(language_value),
        )  # fmt: skip
        a = reviewui.Config(*config_values[:5])
        b = reviewui.Config(*config_values[5:])
        seed_value = int(time.time())
        for state in reviewui.compare_configs(
            base,
            a,
            b,
            threading.Event(),
            runlog_paths.default_log(),
            bool(blind_value),
            seed_value,
            _owner(request),
            runlog_paths.default_library(),
        ):
            yield state.left, state.right, state.status, state.run_ids

    def load_two(left_value, right_value, blind_value, language_value):
        try:
            left, right, path, ids = reviewui.load_pair(
                _log(),
                left_value,
                right_value,
                bool(blind_value),
                lang_of(language_value),
                runlog_paths.default_library(),
                _review_access(),
                int(time.time()),
            )
        except (CaptionerError, TypeError, ValueError) as exc:
            text = _message(exc) if isinstance(exc, CaptionerError) else f"⚠️ {exc}"
            return gr.update(), gr.update(), text, (None, None)
        return left, right, "", ids

    def rate_both(ids, left_value, right_value, reviewer_value, blind_value, language_value):
        lang_ = lang_of(language_value)
        try:
            for run_value, score_value in zip(ids, (left_value, right_value), strict=True):
                reviewui.rate(
                    _log(), run_value, score_value, "", "", lang_, _review_access(reviewer_value)
                )
        except CaptionerError as exc:
            return gr.update(), gr.update(), _message(exc)
        revealed = reviewui.reveal_if_rated(_log(), ids, _review_access(reviewer_value), lang_)
        if revealed is None:
            return gr.update(), gr.update(), ""
        return revealed[0], revealed[1], "✅ 공개됨 · revealed" if blind_value else "✅"

    refresh.click(list_runs, [*filters, language], [table, message], api_name=False)
    table.select(pick_row, table, run_id, api_name=False)
    open_btn.click(open_run, [run_id, language], [run_video, run_detail, message], api_name=False)
    rate_btn.click(
        save_rating,
        [run_id, score, tags, note, reviewer, language, *filters],
        [table, message, run_detail],
        api_name="rate",
    )
    export_btn.click(
        export_runs, [export_format, *filters], [export_file, message], api_name="export"
    )
    compare_btn.click(
        run_both,
        [video, *base_inputs, language, blind, *configs],
        [left_md, right_md, compare_status, pair],
        api_name=False,
        concurrency_limit=1,
        concurrency_id="gpu",
    )
    load_btn.click(
        load_two,
        [left_id, right_id, blind, language],
        [left_md, right_md, compare_status, pair],
        api_name=False,
    )
    rate_pair.click(
        rate_both,
        [pair, left_score, right_score, reviewer, blind, language],
        [left_md, right_md, compare_status],
        api_name=False,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure(args)
    log = runlog_paths.default_log()
    if log is not None:  # runs a killed server left "running"; videos over the budget
        runlog.recover_interrupted(log)
        _prune(runlog_paths.default_library(), log)
    demo = build(args)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=f"{args.max_file_mb}mb",
        allowed_paths=[str(ROOT / "assets")],
        show_error=False,
    )


if __name__ == "__main__":
    main()
