"""Shared fixtures: tiny real checkpoints written once per session, isolated user paths.

The tiny checkpoints are real Qwen3-VL / Qwen3 architectures with random weights and
Qwen's real tokenizer (see captioner/tiny.py); tests load them by path through the real
loader, exactly as a Hub checkpoint is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# huggingface_hub reads this once, when it is first imported, which may be while test modules
# are collected (before any fixture runs): set here, every Hub lookup fails at once, offline
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True, scope="session")
def _isolated_paths(tmp_path_factory):
    # Nothing a test does may touch the user's caches, and nothing may reach the network.
    home = tmp_path_factory.mktemp("hf-home")
    os.environ["HF_HOME"] = str(home)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["CAPTIONER_DB"] = str(home / "runs.sqlite3")  # the run log, never ~/.cache
    os.environ["CAPTIONER_LIBRARY"] = str(home / "videos")
    os.environ["XDG_CACHE_HOME"] = str(home / "cache")  # the CPU measurement's cache
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    yield


@pytest.fixture(scope="session")
def settings(_isolated_paths, tiny_dir):
    """The settings every in-process test runs with: this machine, isolated paths, and the
    tiny checkpoints named as the operator's models (the page offers only those and the
    catalog)."""
    from captioner.settings import from_environment

    return from_environment(models=[str(tiny_dir / "vl"), str(tiny_dir / "text")])


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from captioner.dev import tiny

    folder = tmp_path_factory.mktemp("tiny")
    tiny.write_all(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_vl(tiny_dir) -> str:
    return str(tiny_dir / "vl")


@pytest.fixture(scope="session")
def tiny_text(tiny_dir) -> str:
    return str(tiny_dir / "text")


@pytest.fixture(scope="session")
def tiny_thinking_vl(tmp_path_factory) -> str:
    """A tiny Qwen3-VL whose template opens <think> like the -Thinking checkpoints."""
    from captioner.dev import tiny

    return str(tiny.write_tiny_vl(tmp_path_factory.mktemp("tiny-think") / "vl", thinking="always"))
