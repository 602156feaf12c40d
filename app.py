"""Qwen3 한국어 비디오 캡셔너: the web page (locally, or as a Hugging Face Space).

Wiring only: read the flags, build the settings (flags over the environment), launch the
page from ``captioner/ui/``. Creating the page loads no model and never touches CUDA.

    python app.py                      # http://127.0.0.1:7860
    python app.py --help               # host, port, share, profile, model, limits
"""

import argparse

from captioner import settings as settings_
from captioner import ui


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Qwen3 한국어 비디오 캡셔너 — web demo")
    parser.add_argument("--host", help="0.0.0.0 to serve the network (GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, help="default 7860 (GRADIO_SERVER_PORT)")
    parser.add_argument("--share", action="store_true", help="a temporary public gradio.live link")
    parser.add_argument("--profile", help="default GPU profile (CAPTIONER_PROFILE)")
    parser.add_argument("--model", dest="models", action="append", default=[],
                        help="extra model (Hub id or folder) listed first; repeatable (CAPTIONER_MODEL)")  # fmt: skip
    parser.add_argument("--max-file-mb", type=float, help="largest upload (CAPTIONER_MAX_FILE_MB)")
    parser.add_argument("--max-duration-s", type=float, help="longest video (CAPTIONER_MAX_DURATION_S)")  # fmt: skip
    parser.add_argument("--queue-size", type=int, help="requests that may wait (CAPTIONER_QUEUE_SIZE)")  # fmt: skip
    parser.add_argument("--adapter", dest="adapters", action="append", default=[],
                        help="LoRA adapter the compare tab may load; repeatable (CAPTIONER_ADAPTERS)")  # fmt: skip
    parser.add_argument("--review", dest="review_mode", choices=("auto", "public", "private", "local"),
                        help="who sees which runs (CAPTIONER_REVIEW; README: Security and privacy)")  # fmt: skip
    parser.add_argument("--review-password", help="private review: log in with any name and this")
    parser.add_argument("--backend", choices=("local", "openai"), help="local model or an OpenAI-compatible server (CAPTIONER_BACKEND)")  # fmt: skip
    parser.add_argument("--base-url", action="append", help="the server; repeat for replicas (CAPTIONER_BASE_URL)")  # fmt: skip
    parser.add_argument("--api-key-env", help="variable holding the server's API key (CAPTIONER_API_KEY_ENV)")  # fmt: skip
    parser.add_argument("--server-kind", choices=("auto", "vllm", "sglang", "transformers", "openai"), help="the server's dialect (CAPTIONER_SERVER_KIND)")  # fmt: skip
    parser.add_argument("--video-transport", choices=("auto", "data", "path", "url"), help="how clips reach the server (CAPTIONER_VIDEO_TRANSPORT)")  # fmt: skip
    parser.add_argument("--media-dir", help="folder the server reads clips from (CAPTIONER_MEDIA_DIR)")  # fmt: skip
    parser.add_argument("--media-url", help="address the server reaches this app's clips at (CAPTIONER_MEDIA_URL)")  # fmt: skip
    parser.add_argument("--concurrency", type=int, help="requests in flight with a server backend (CAPTIONER_CONCURRENCY, 8)")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    ui.launch(settings_.from_environment(**vars(parse_args(argv))))


if __name__ == "__main__":
    main()
