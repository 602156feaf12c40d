"""The server backend's settings: read once from the environment (the key from the variable
the settings name), flags on top, never the key in a repr; dialect detection."""

from __future__ import annotations

import pytest

from captioner.backends import dialects
from captioner.errors import InvalidRequest
from captioner.settings import from_environment


def test_environment_for_a_space():
    env = {"CAPTIONER_BASE_URL": "http://a:8000, https://b.example/v1/", "MY_KEY": "sk-secret",
           "CAPTIONER_API_KEY_ENV": "MY_KEY", "CAPTIONER_VIDEO_TRANSPORT": "url",
           "CAPTIONER_MEDIA_URL": "http://app:7861/"}  # fmt: skip
    s = from_environment(env)
    assert s.backend == "openai" and s.base_urls == ("http://a:8000/v1", "https://b.example/v1")
    assert s.api_key == "sk-secret" and "sk-secret" not in repr(s)
    assert (s.video_transport, s.media_url) == ("url", "http://app:7861")


def test_flags_over_the_environment():
    s = from_environment({"CAPTIONER_BASE_URL": "http://a:1"}, base_url=["http://b:2"],
                         api_key_env="OTHER", backend="openai")  # fmt: skip
    assert s.base_urls == ("http://b:2/v1",) and (s.api_key_env, s.api_key) == ("OTHER", None)
    assert from_environment({}).backend == "local"
    assert (
        from_environment({"CAPTIONER_BASE_URL": "http://a:1"}, backend="local").backend == "local"
    )


@pytest.mark.parametrize(
    "env",
    [{"CAPTIONER_BACKEND": "openai"}, {"CAPTIONER_BASE_URL": "gpu1:8000"},
     {"CAPTIONER_BASE_URL": "http://a:1", "CAPTIONER_SERVER_KIND": "tgi"},
     {"CAPTIONER_MAX_RETRIES": "-1"}],
)  # fmt: skip
def test_bad_backend_settings_are_bilingual_errors(env):
    with pytest.raises(InvalidRequest) as raised:
        from_environment(env)
    assert raised.value.ko and raised.value.en


def test_dialect_detection_and_fields():
    assert dialects.detect({"data": [{"id": "m", "owned_by": "vllm"}]}, None).name == "vllm"
    assert dialects.detect({"data": [{"id": "m", "owned_by": "sglang"}]}, None).name == "sglang"
    assert dialects.detect(None, {"status": "ok"}).name == "transformers"
    assert dialects.detect({"data": []}, 200).name == "openai"
    sampling = {"max_new_tokens": 64, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
                "repetition_penalty": 1.0, "presence_penalty": 1.5, "do_sample": True}  # fmt: skip
    body, dropped = dialects.sampling_fields(dialects.get("transformers"), sampling)
    assert "top_k" not in body and '"top_k": 20' in body["generation_config"]
    assert dropped == ["presence_penalty"]
    body, dropped = dialects.sampling_fields(dialects.get("vllm"), sampling)
    assert (body["top_k"], body["presence_penalty"], dropped) == (20, 1.5, [])
