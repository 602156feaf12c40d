"""Qwen3 한국어 비디오 캡셔너: the Gradio page (locally, or as a Hugging Face Space).

Layout and wiring only: every decision (model, precision, frames, prompts, decoding,
streaming) lives in ``captioner/`` (see ``captioner/webui.py``). Creating the page loads no
model and never touches CUDA; the model loads on the first request, with progress shown.

    python app.py                      # http://127.0.0.1:7860
    python app.py --help               # host, port, share, profile, model, limits
"""

import argparse
import os
import tempfile
import threading
from pathlib import Path

from captioner import hardware, prompts, webui

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
        with gr.Row():
            with gr.Column(scale=5):
                video = gr.Video(label=T("video", lang), sources=["upload"], elem_id="video")
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
                    webui.preview(profile0, model0, lang, hw), label=T("plan", lang), elem_id="plan"
                )
                think = gr.Checkbox(
                    False, label=T("think", lang), visible=webui.thinking_available(model0)
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
                            0, label=T("max_frames", lang), minimum=0, maximum=768, precision=0
                        )
                        max_pixels = gr.Number(
                            0, label=T("max_pixels", lang), minimum=0, precision=0
                        )
                    with gr.Row():
                        max_new_tokens = gr.Slider(
                            1,
                            8192,
                            defaults["max_new_tokens"],
                            step=1,
                            label=T("max_new_tokens", lang),
                        )
                        temperature = gr.Slider(
                            0.05,
                            2.0,
                            defaults["temperature"],
                            step=0.05,
                            label=T("temperature", lang),
                        )
                        top_p = gr.Slider(
                            0.05, 1.0, defaults["top_p"], step=0.05, label=T("top_p", lang)
                        )
                    with gr.Row():
                        top_k = gr.Slider(0, 200, defaults["top_k"], step=1, label=T("top_k", lang))
                        repetition_penalty = gr.Slider(
                            0.8,
                            2.0,
                            defaults["repetition_penalty"],
                            step=0.05,
                            label=T("repetition_penalty", lang),
                        )
                        presence_penalty = gr.Slider(
                            0.0,
                            2.0,
                            defaults["presence_penalty"],
                            step=0.1,
                            label=T("presence_penalty", lang),
                        )
                        seed = gr.Number(-1, label=T("seed", lang), precision=0)
                with gr.Row():
                    generate_btn = gr.Button(
                        T("generate", lang), variant="primary", elem_id="generate"
                    )
                    stop_btn = gr.Button(T("stop", lang), variant="stop", elem_id="stop")
            with gr.Column(scale=6):
                status = gr.Markdown(T("status_idle", lang), label="status", elem_id="status")
                answer = gr.Markdown(
                    label=T("answer", lang), elem_id="answer", buttons=["copy"], min_height=200
                )
                with gr.Accordion(T("thinking", lang), open=False) as thinking_box:
                    thinking = gr.Markdown(label="thinking", elem_id="thinking")
                metrics = gr.Markdown(label="metrics", elem_id="metrics")
        gr.Examples(webui.examples(), inputs=[video, preset, prompt], label=T("examples", lang))

        sampling = [max_new_tokens, temperature, top_p, top_k, repetition_penalty, presence_penalty]
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
            request: gr.Request,
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
            )  # fmt: skip
            report = lambda fraction, message: progress(fraction, desc=message)  # noqa: E731
            try:
                for state in webui.run(form, stop, report):
                    yield state.status, state.answer, state.thinking, state.metrics
            finally:
                _STOPS.pop(key, None)

        def stop_request(request: gr.Request):
            switch = _STOPS.get(getattr(request, "session_hash", None) or "api")
            if switch is not None:
                switch.set()

        generate_btn.click(
            generate,
            inputs,
            [status, answer, thinking, metrics],
            api_name="describe",
            show_progress_on=[status],  # the answer stays readable while it streams
            concurrency_limit=1,
            concurrency_id="gpu",
        )
        stop_btn.click(stop_request, None, None, api_name="stop", queue=False)

        def on_profile(profile_value, language_value):
            lang_ = "en" if language_value == "English" else "ko"
            choices = webui.model_choices(profile_value, hw, lang_, extra)
            value = webui.default_model(profile_value, hw, extra)
            return gr.update(choices=choices, value=value), webui.preview(
                profile_value, value, lang_, hw
            )

        def on_model(profile_value, model_value, language_value):
            lang_ = "en" if language_value == "English" else "ko"
            d = webui.sampling_defaults(model_value)
            return (
                webui.preview(profile_value, model_value, lang_, hw),
                gr.update(visible=webui.thinking_available(model_value), value=False),
                d["max_new_tokens"], d["temperature"], d["top_p"], d["top_k"], d["repetition_penalty"], d["presence_penalty"],
            )  # fmt: skip

        profile.change(on_profile, [profile, language], [model, plan], api_name=False)
        model.change(on_model, [profile, model, language], [plan, think, *sampling], api_name=False)

        def on_language(language_value, profile_value, model_value, preset_value):
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
                gr.update(label=L("max_new_tokens")), gr.update(label=L("repetition_penalty")),
                gr.update(label=L("presence_penalty")), gr.update(label=L("seed")),
                gr.update(value=L("generate")), gr.update(value=L("stop")), gr.update(label=L("answer")),
                gr.update(label=L("thinking")),
            ]  # fmt: skip

        language.change(
            on_language,
            [language, profile, model, preset],
            [title, intro, language, video, video_info, preset, prompt, profile, model, plan, think,
             advanced, system, fps, max_frames, max_pixels, max_new_tokens, repetition_penalty,
             presence_penalty, seed, generate_btn, stop_btn, answer, thinking_box],
            api_name=False,
        )  # fmt: skip
    demo.queue(max_size=args.queue_size, default_concurrency_limit=1)
    return demo


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure(args)
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
