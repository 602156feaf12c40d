"""One real ``transformers serve`` for the backend tests (session-wide: it takes ~10 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def serve_url(tmp_path_factory):
    from inference import transformers_serve

    with transformers_serve(tmp_path_factory.mktemp("serve-home")) as url:
        yield url


@pytest.fixture(scope="session")
def served(serve_url, tiny_vl, tiny_text):
    """Settings pointing at the server, with both tiny checkpoints listed."""
    from captioner.settings import from_environment

    return from_environment(
        backend="openai", base_url=[serve_url], models=[tiny_vl, tiny_text], db="off"
    )
