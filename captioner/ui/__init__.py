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
    """Serve the page with the limits, paths and access mode in ``settings``; at start, runs
    left "running" by a process that died are marked interrupted and the library is pruned."""
    from captioner import runlog, video
    from captioner.ui import access, page, review

    video.set_cache_limit(settings.clip_cache_bytes)
    log = runlog.shared_log(settings.db_path)
    if log is not None:
        runlog.recover_interrupted(log)
        review.prune(settings, log)
    demo = build(settings)
    # served besides gradio's own uploads: the example clip and the review library (its
    # files are named by their sha256: a link cannot be guessed, only handed out by a run)
    allowed = [str(p) for p in (ASSETS, settings.library) if p is not None]
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        max_file_size=settings.limits.max_file_bytes,
        allowed_paths=allowed,
        auth=access.check_login(settings),
        show_error=False,
        head=page.HEAD,
        css=page.CSS,
    )
