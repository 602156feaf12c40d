"""Errors a user can cause, each with a short Korean and English message.

Everything in ``captioner/`` raises these for bad input (a broken video, a model that
does not fit, a text-only model given a video...). The CLI prints ``str(error)`` and
exits 2; the web page shows the same two lines. Anything else is a bug and exits 1.
"""

from __future__ import annotations


class CaptionerError(Exception):
    """Base class: a user-facing error with a Korean and an English message."""

    code = "error"

    def __init__(self, ko: str, en: str, *, detail: str | None = None) -> None:
        self.ko = ko
        self.en = en
        self.detail = detail  # technical detail for logs, never needed to understand the error
        super().__init__(f"{ko} / {en}")

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "ko": self.ko, "en": self.en, "detail": self.detail}


# --- video input -------------------------------------------------------------------------
class VideoError(CaptionerError):
    code = "video"


class VideoNotFound(VideoError):
    code = "video_not_found"


class EmptyVideo(VideoError):
    code = "video_empty"


class NotAVideo(VideoError):
    code = "not_a_video"


class NoVideoStream(VideoError):
    code = "no_video_stream"


class CorruptVideo(VideoError):
    code = "video_corrupt"


class VideoTooLong(VideoError):
    code = "video_too_long"


class VideoTooLarge(VideoError):
    code = "video_too_large"


class DecodeTimeout(VideoError):
    code = "decode_timeout"


# --- models and hardware -----------------------------------------------------------------
class ModelError(CaptionerError):
    code = "model"


class UnknownModel(ModelError):
    code = "unknown_model"


class ModelLoadError(ModelError):
    code = "model_load"


class ModelDoesNotFit(ModelError):
    code = "model_does_not_fit"


class UnsupportedInput(ModelError):
    """E.g. a text-only Qwen3 given a video: refused, never silently dropped."""

    code = "unsupported_input"


def text_only_model(label: str | None = None) -> UnsupportedInput:
    """A text-only Qwen3 was given a video: refused, never silently dropped."""
    ko_name = f"{label} 은(는)" if label else "선택한 모델은"
    en_name = label or "The selected model"
    return UnsupportedInput(
        f"{ko_name} 텍스트 전용 Qwen3 라서 영상을 볼 수 없습니다. Qwen3-VL 모델을 선택하세요.",
        f"{en_name} is a text-only Qwen3 and cannot see videos. Pick a Qwen3-VL model.",
    )


# --- an inference server (the OpenAI-compatible backend) ------------------------------------
class ServerError(CaptionerError):
    """The inference server refused or failed a request (not a bug in this app)."""

    code = "server"


class ServerUnavailable(ServerError):
    code = "server_unavailable"


class ServerBusy(ServerError):
    """429 / 503 still after the retries."""

    code = "server_busy"


class ServerAuthError(ServerError):
    code = "server_auth"


class ModelNotServed(ServerError):
    code = "model_not_served"


class ContextTooLong(ServerError):
    code = "context_too_long"


class InvalidRequest(CaptionerError):
    """A bad option (negative frames, unknown preset, bad --simulate-gpu string...)."""

    code = "invalid_request"

    @classmethod
    def unwritable(cls, path, exc: OSError) -> InvalidRequest:
        """A path the user named (an output folder, a subtitle file) that cannot be written:
        a file in the way, a folder it may not write, a full disk."""
        reason = exc.strerror or str(exc)
        return cls(f"{path} 에 쓸 수 없습니다: {reason}", f"Cannot write to {path}: {reason}")


class OutOfMemory(CaptionerError):
    code = "out_of_memory"


class InternalError(CaptionerError):
    """Not the user's doing (a bug, the machine): shown without a traceback, exit code 1."""

    code = "internal"

    @classmethod
    def wrap(cls, exc: BaseException) -> InternalError:
        return cls(
            "내부 오류가 발생했습니다. 로그를 확인하세요.",
            "Internal error. See the log.",
            detail=f"{type(exc).__name__}: {str(exc)[:300]}",
        )


class MissingDependency(CaptionerError):
    code = "missing_dependency"

    def __init__(self, package: str, purpose: str) -> None:
        super().__init__(
            f"{purpose}에 '{package}' 패키지가 필요합니다. `pip install {package}` 로 설치하세요.",
            f"'{package}' is needed for {purpose}. Install it with `pip install {package}`.",
        )
        self.package = package
