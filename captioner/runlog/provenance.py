"""What the log keeps of a request and of an error: the request as JSON without local paths,
the prompt as the model sees it, the configuration key that batch resume compares.

The whole ``DescribeRequest`` is stored (``dataclasses.asdict``), so options added to it later
are kept without a schema change, and :func:`config_key` covers them too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any

from captioner.errors import CaptionerError


def to_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def request_dict(request: Any) -> dict:
    if dataclasses.is_dataclass(request) and not isinstance(request, type):
        return dataclasses.asdict(request)
    if isinstance(request, dict):
        return dict(request)
    return {}


def stored_request(request: Any) -> dict:
    """The request as stored: the video's file name only, never a local path."""
    values = request_dict(request)
    video = getattr(request, "video", None)
    if video is not None:
        values["video"] = os.path.basename(str(video))
    return values


def file_sha256(path: str | None) -> str | None:
    """Content hash of the video, or None when it cannot be read (the engine reports why).

    Goes through video.py's memo, so the engine does not hash the same upload again."""
    if not path or not os.path.isfile(path):
        return None
    from captioner import video

    try:
        return video.file_sha256(path)
    except CaptionerError:
        return None


def prompt_and_preset(request: Any) -> tuple[str | None, str | None]:
    """(prompt text, preset key) as the engine will use them; as given when the engine will
    refuse them (an unknown preset, an empty prompt): the log keeps what was asked."""
    from captioner import prompts

    prompt = getattr(request, "prompt", None)
    preset = getattr(request, "preset", None)
    try:
        return prompts.resolve_prompt(preset, prompt)
    except CaptionerError:
        return prompt, preset


def default_system(request: Any) -> str | None:
    """The system prompt the engine will send: the request's, else the Korean default."""
    system = getattr(request, "system", None)
    if system is not None:
        return system
    from captioner import prompts

    if getattr(request, "video", None) is not None:
        return prompts.SYSTEM_PROMPT
    return prompts.TEXT_SYSTEM_PROMPT


def config_key(request: Any, video_sha256: str | None = None) -> str:
    """What makes two runs "the same configuration": the whole request (every option,
    including ones added later) with the video's path replaced by its content hash, and the
    prompt as the text the model sees. Batch resume skips a combination whose key already
    has a "done" run."""
    values = request_dict(request)
    video = values.pop("video", None)
    if video is not None:
        sha = video_sha256 or file_sha256(str(video))
        values["video"] = f"sha256:{sha}" if sha else f"name:{os.path.basename(str(video))}"
    values["prompt"], values["preset"] = prompt_and_preset(request)
    if "long" in values and values["long"] is None:
        # added with long videos: "decide by the length" keeps the keys runs had before it
        del values["long"]
    blob = json.dumps(values, ensure_ascii=False, default=str, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def error_fields(error: Any) -> dict:
    """The error columns for a CaptionerError, a generation Error event, any exception, or a
    ``{"code", "ko", "en", "detail"}`` dict."""
    error = getattr(error, "error", error)  # a generation.Error event or the error itself
    if isinstance(error, CaptionerError):
        return {
            "error_code": error.code,
            "error_ko": error.ko,
            "error_en": error.en,
            "error_detail": error.detail,
        }
    if isinstance(error, BaseException):
        return {
            "error_code": "internal",
            "error_ko": "내부 오류가 발생했습니다.",
            "error_en": "Internal error.",
            "error_detail": f"{type(error).__name__}: {str(error)[:500]}",
        }
    if isinstance(error, dict):
        return {f"error_{k}": error.get(k) for k in ("code", "ko", "en", "detail")}
    return {"error_code": "error", "error_ko": str(error), "error_en": str(error)}
