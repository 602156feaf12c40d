"""The web page (locally, or as a Hugging Face Space), built on gradio.

``build(settings)`` returns the page without launching it; ``launch(settings)`` serves it.
Only ``ui/page.py`` imports gradio, and only when a page is built: the texts (``texts``),
the request's inputs (``form``) and the tabs' logic (``caption``, ``review``) import without
it and are tested without a browser.
"""

from __future__ import annotations

from pathlib import Path

from captioner.settings import Settings

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"


def build(settings: Settings):
    from captioner.ui import page

    return page.build(settings)


def launch(settings: Settings) -> None:
    """Serve the page with the limits and paths in ``settings``."""
    from captioner import video

    video.set_cache_limit(settings.clip_cache_bytes)
    demo = build(settings)
    # served besides gradio's own uploads: the example clip and the review library
    allowed = [str(p) for p in (ASSETS, settings.library) if p is not None]
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        max_file_size=settings.limits.max_file_bytes,
        allowed_paths=allowed,
        show_error=False,
    )
