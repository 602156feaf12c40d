"""compose.yaml (app + vLLM) is valid YAML with the shape the README describes; no Docker
engine runs here, so its syntax and keys are what CI can check."""

from __future__ import annotations

from pathlib import Path

import yaml

from captioner.settings import from_environment

ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_has_the_app_and_vllm():
    spec = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    vllm, app = spec["services"]["vllm"], spec["services"]["app"]
    flags = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in vllm["command"]}
    assert flags["--reasoning-parser"] == "qwen3" and "--max-model-len" in flags
    assert '"num_frames":-1' in flags["--media-io-kwargs"]  # every frame of our clip
    assert "8000:8000" in vllm["ports"] and "7860:7860" in app["ports"]
    assert app["depends_on"]["vllm"]["condition"] == "service_healthy"
    # the app's environment is settings the app accepts, pointing at the vLLM service
    env = {k: str(v) for k, v in app["environment"].items()}
    settings = from_environment(env)
    assert settings.backend == "openai" and settings.base_urls == ("http://vllm:8000/v1",)
