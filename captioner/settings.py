"""Settings: every knob of the app, built once from command-line flags and the environment.

``from_environment(os.environ, profile=..., ...)`` is the one place that reads the process
environment; flags given on the command line override it. The result is passed explicitly
to whatever needs it (the engine, the page's previews and runs, batch, the run log), so a
preview and the run after it plan for the same hardware with the same limits. Nothing
writes to ``os.environ``.

Environment variables (flags override them; README lists them too):

    CAPTIONER_PROFILE          GPU profile name or "auto" (default)
    CAPTIONER_MODEL            extra models (comma-separated ids or folders), listed first
    CAPTIONER_ADAPTERS         LoRA adapters the page's compare tab offers (comma-separated)
    CAPTIONER_MAX_FILE_MB      largest upload (1024)
    CAPTIONER_MAX_DURATION_S   longest video (1200)
    CAPTIONER_DECODE_TIMEOUT_S decoding deadline per video (120)
    CAPTIONER_CLIP_CACHE_MB    decoded clips kept in memory (512)
    CAPTIONER_LONG_SECONDS_PER_FRAME  a video is long (captioned in windows) when one pass
                               would see fewer than one frame per this many seconds (10)
    CAPTIONER_LONG_MAX_DURATION_S     longest video captioned in windows (10800)
    CAPTIONER_LONG_PREFETCH    decode the next window while one generates: auto (on a GPU or
                               4+ CPU cores), on, off
    CAPTIONER_DB               run log file; "off" disables it
    CAPTIONER_LIBRARY          folder of the review library's videos (next to the run log)
    CAPTIONER_LIBRARY_MAX_GB   the library's size budget (20); oldest unrated videos go first
    CAPTIONER_LIBRARY_MAX_DAYS how long an unrated video is kept (30)
    CAPTIONER_DATA_DIR         persistent storage (default /data, used when writable)
    CAPTIONER_QUEUE_SIZE       requests waiting on the page (16)
    CAPTIONER_ZEROGPU          the GPU slice ZeroGPU lends, as a --simulate-gpu string
    CAPTIONER_REVIEWER         the reviewer name `review rate` records (default: the user)
    CAPTIONER_REVIEW           the page's access mode: auto (default), public, private, local
    CAPTIONER_REVIEWERS        private review logins, "name:password,name2:password2"
    CAPTIONER_REVIEW_PASSWORD  one password for private review (any login name)
    CAPTIONER_REVIEW_ORG       on a Space: Hugging Face organisation whose members review
    CAPTIONER_BACKEND          local (a model loaded here) or openai (an OpenAI-compatible server);
                               default: openai when CAPTIONER_BASE_URL is set, else local
    CAPTIONER_BASE_URL         the server's replicas, comma-separated (http://gpu1:8000/v1,...)
    CAPTIONER_API_KEY_ENV      the variable holding the server's API key (OPENAI_API_KEY)
    CAPTIONER_SERVER_KIND      auto (asked from the server), vllm, sglang, transformers, openai
    CAPTIONER_VIDEO_TRANSPORT  auto, data (base64 in the request), path (CAPTIONER_MEDIA_DIR,
                               a folder the server sees too) or url (CAPTIONER_MEDIA_URL)
    CAPTIONER_MEDIA_DIR        shared folder for the path transport
    CAPTIONER_MEDIA_URL        base URL at which the server reaches this app's clip server
    CAPTIONER_CONCURRENCY      requests in flight at once with a server backend (page: 8)
    CAPTIONER_REQUEST_TIMEOUT_S   one request to the server, connection to last token (600)
    CAPTIONER_MAX_RETRIES      retries of a 429/503/unreachable server before failing (4)
    SPACE_ID                   set by Hugging Face on Spaces
    GRADIO_SERVER_NAME / GRADIO_SERVER_PORT   host and port of the page
    SPACES_ZERO_GPU            set by Hugging Face on ZeroGPU Spaces
    HF_HOME, XDG_CACHE_HOME    where caches go (read, never written)
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from captioner import catalog, cpu, hardware, profiles
from captioner.errors import InvalidRequest
from captioner.video import VideoLimits

MiB = 2**20
OFF_VALUES = ("off", "none", "0", "false", "disabled")
ZEROGPU_SLICE = "NVIDIA H200 (ZeroGPU slice):69.5:9.0"  # half an H200, as ZeroGPU lends it


@dataclass(frozen=True)
class Settings:
    profile: str = "auto"  # a profiles.PROFILES name, or "auto": decided from the hardware
    models: tuple[str, ...] = ()  # extra models (ids or folders) the page lists first
    adapters: tuple[str, ...] = ()  # LoRA adapters the page may load (nothing else)
    limits: VideoLimits = field(default_factory=VideoLimits)
    clip_cache_bytes: int = 512 * MiB
    long_seconds_per_frame: float = 10.0  # windowed above this spacing (captioner/longvideo)
    long_max_duration_s: float = 3 * 3600.0  # windows make videos longer than limits allow
    long_prefetch: str = "auto"  # "auto" | "on" | "off": decode window k+1 during window k
    db_path: Path | None = None  # the run log; None: not recorded
    library_dir: Path | None = None  # review library videos; None: next to the run log
    library_max_bytes: int = 20 * 10**9  # sensible on a Space's 50 GB persistent disk
    library_max_age: dt.timedelta = dt.timedelta(days=30)
    cache_dir: Path = Path.home() / ".cache" / "captioner"  # our own small caches
    hub_cache: str | None = None  # Hugging Face cache; None: huggingface_hub's own default
    data_dir: Path | None = None  # persistent storage of a Space, when present
    simulate_gpu: str | None = None  # plan for this machine instead of detecting one
    zero_gpu: bool = False  # a ZeroGPU Space: no GPU until a request holds one
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    queue_size: int = 16
    reviewer: str | None = None  # `review rate` from the command line
    review_mode: str = "auto"  # ui/access.py: auto | public | private | local
    reviewers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (login, password)
    review_org: str | None = None  # a Space's reviewers: members of this organisation
    on_space: bool = False
    # --- where answers come from (captioner/backends/) ----------------------------------------
    backend: str = "local"  # "local": loaded here | "openai": an OpenAI-compatible server
    base_urls: tuple[str, ...] = ()  # the server's replicas, each ending in /v1
    api_key_env: str = "OPENAI_API_KEY"  # the variable the key was read from (never the key)
    api_key: str | None = field(default=None, repr=False)
    server_kind: str = "auto"  # auto | vllm | sglang | transformers | openai (backends/dialects)
    video_transport: str = "auto"  # auto | data | path | url (backends/transport)
    media_dir: Path | None = None  # path transport: a folder the server sees at the same path
    media_url: str | None = None  # url transport: how the server reaches our clip server
    concurrency: int = 8  # requests in flight at once with a server (the page's limit)
    request_timeout_s: float = 600.0
    max_retries: int = 4

    @functools.cached_property
    def hardware(self) -> hardware.Hardware:
        """The machine every plan is made for: simulated (doctor --simulate-gpu, or the slice
        ZeroGPU lends: CUDA must not be touched before a request holds it), else detected,
        with the CPU's bf16 speed confirmed once (``cpu.py``)."""
        if self.simulate_gpu:
            return hardware.simulate(self.simulate_gpu)
        cpu_model = catalog.get(profiles.get("cpu").video_model)
        return cpu.with_bf16_measurement(hardware.detect(), cpu_model, self.cache_dir)

    def decide(self, profile: str | None = None) -> profiles.Decision:
        """The decision for ``profile`` (default: this settings' profile) on this hardware."""
        return profiles.decide(self.hardware, profile if profile is not None else self.profile)

    @property
    def library(self) -> Path | None:
        if self.library_dir is not None:
            return self.library_dir
        return self.db_path.parent / "videos" if self.db_path is not None else None


def from_environment(env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
    """Settings from ``env`` (default: the process environment), then ``flags`` on top
    (a flag left at None keeps the environment's value or the default)."""
    env = os.environ if env is None else env
    data = _data_dir(env)
    cache_home = Path(env.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache")
    values: dict[str, Any] = {
        "profile": env.get("CAPTIONER_PROFILE", "").strip() or "auto",
        "models": _list(env.get("CAPTIONER_MODEL", "")),
        "adapters": _list(env.get("CAPTIONER_ADAPTERS", "")),
        "limits": VideoLimits(
            max_file_bytes=int(_number(env, "CAPTIONER_MAX_FILE_MB", 1024) * MiB),
            max_duration_s=_number(env, "CAPTIONER_MAX_DURATION_S", 1200),
            decode_timeout_s=_number(env, "CAPTIONER_DECODE_TIMEOUT_S", 120),
        ),
        "clip_cache_bytes": int(_number(env, "CAPTIONER_CLIP_CACHE_MB", 512) * MiB),
        "long_seconds_per_frame": _number(env, "CAPTIONER_LONG_SECONDS_PER_FRAME", 10),
        "long_max_duration_s": _number(env, "CAPTIONER_LONG_MAX_DURATION_S", 3 * 3600),
        "long_prefetch": env.get("CAPTIONER_LONG_PREFETCH", "").strip().lower() or "auto",
        "db_path": _db_path(env, data, cache_home),
        "library_dir": _path(env.get("CAPTIONER_LIBRARY")),
        "library_max_bytes": int(_number(env, "CAPTIONER_LIBRARY_MAX_GB", 20) * 10**9),
        "library_max_age": dt.timedelta(days=_number(env, "CAPTIONER_LIBRARY_MAX_DAYS", 30)),
        "cache_dir": cache_home / "captioner",
        # A Space with persistent storage keeps its downloads there, unless HF_HOME says
        # where they go; passed to huggingface_hub explicitly, not through the environment.
        "hub_cache": str(data / "huggingface" / "hub")
        if data is not None and not env.get("HF_HOME")
        else None,
        "data_dir": data,
        "zero_gpu": bool(env.get("SPACES_ZERO_GPU")),
        "host": env.get("GRADIO_SERVER_NAME", "").strip() or "127.0.0.1",
        "port": _count(env, "GRADIO_SERVER_PORT", 7860, low=1, high=65535),
        "queue_size": _count(env, "CAPTIONER_QUEUE_SIZE", 16, low=1),
        "reviewer": env.get("CAPTIONER_REVIEWER", "").strip() or None,
        "review_mode": env.get("CAPTIONER_REVIEW", "").strip().lower() or "auto",
        "reviewers": _reviewers(
            env.get("CAPTIONER_REVIEWERS", ""), env.get("CAPTIONER_REVIEW_PASSWORD", "")
        ),  # fmt: skip
        "review_org": env.get("CAPTIONER_REVIEW_ORG", "").strip() or None,
        "on_space": bool(env.get("SPACE_ID")),
        "base_urls": _urls(env.get("CAPTIONER_BASE_URL", "").split(",")),
        "server_kind": env.get("CAPTIONER_SERVER_KIND", "").strip().lower() or "auto",
        "video_transport": env.get("CAPTIONER_VIDEO_TRANSPORT", "").strip().lower() or "auto",
        "media_dir": _path(env.get("CAPTIONER_MEDIA_DIR")),
        "media_url": env.get("CAPTIONER_MEDIA_URL", "").strip().rstrip("/") or None,
        "concurrency": _count(env, "CAPTIONER_CONCURRENCY", 8, low=1),
        "request_timeout_s": _number(env, "CAPTIONER_REQUEST_TIMEOUT_S", 600),
        "max_retries": _count(env, "CAPTIONER_MAX_RETRIES", 4),
    }
    backend_env = env.get("CAPTIONER_BACKEND", "").strip().lower()
    if values["review_mode"] not in ("auto", "public", "private", "local"):
        raise InvalidRequest(
            "CAPTIONER_REVIEW 는 auto, public, private, local 중 하나입니다.",
            "CAPTIONER_REVIEW is one of auto, public, private, local.",
        )
    if values["long_prefetch"] not in ("auto", "on", "off"):
        raise InvalidRequest(
            "CAPTIONER_LONG_PREFETCH 는 auto, on, off 중 하나입니다.",
            "CAPTIONER_LONG_PREFETCH is one of auto, on, off.",
        )
    if values["zero_gpu"]:
        values["simulate_gpu"] = env.get("CAPTIONER_ZEROGPU", "").strip() or ZEROGPU_SLICE
    values.update(_flags(flags, values))
    backend = values.get("backend") if "backend" in flags and flags["backend"] else backend_env
    values["backend"] = backend or ("openai" if values["base_urls"] else "local")
    # the key is read from the variable the settings name, here, and never logged (repr=False)
    values["api_key_env"] = (
        flags.get("api_key_env") or env.get("CAPTIONER_API_KEY_ENV", "").strip() or "OPENAI_API_KEY"
    )
    values["api_key"] = env.get(values["api_key_env"], "").strip() or None
    _check_backend(values)
    return Settings(**values)


def _flags(flags: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Command-line values over the environment's; limits are given one by one."""
    known = {f.name for f in fields(Settings)}
    out: dict[str, Any] = {}
    limits = {}
    for name, value in flags.items():
        if value is None:
            continue
        if name in ("max_file_mb", "max_duration_s", "decode_timeout_s"):
            limits[name] = value
        elif name == "db":
            out["db_path"] = None if str(value).strip().lower() in OFF_VALUES else Path(value)
        elif name in ("models", "adapters"):
            out[name] = tuple(value) or values[name]
        elif name == "media_dir":
            out["media_dir"] = Path(value)
        elif name == "base_url":
            out["base_urls"] = _urls(value) or values["base_urls"]
        elif name == "review_password":
            out["reviewers"] = values["reviewers"] + (("*", str(value)),)
        elif name in known:
            out[name] = value
        else:
            raise TypeError(f"unknown setting {name!r}")
    if limits:
        base: VideoLimits = values["limits"]
        out["limits"] = VideoLimits(
            max_file_bytes=int(_positive("--max-file-mb", limits["max_file_mb"]) * MiB)
            if "max_file_mb" in limits
            else base.max_file_bytes,
            max_duration_s=_positive("--max-duration-s", limits["max_duration_s"])
            if "max_duration_s" in limits
            else base.max_duration_s,
            decode_timeout_s=_positive("--decode-timeout-s", limits["decode_timeout_s"])
            if "decode_timeout_s" in limits
            else base.decode_timeout_s,
        )
    return out


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _urls(items) -> tuple[str, ...]:
    """Base URLs as the OpenAI client wants them: no trailing slash, ending in /v1 (added to
    a bare http://host:port), each once."""
    out: list[str] = []
    for item in items:
        url = str(item).strip().rstrip("/")
        if not url:
            continue
        if not url.startswith(("http://", "https://")):
            raise InvalidRequest(
                f"서버 주소는 http:// 또는 https:// 로 시작해야 합니다: {url}",
                f"A server URL starts with http:// or https://: {url}",
            )
        if url.count("/") == 2:  # scheme://host[:port] only
            url += "/v1"
        if url not in out:
            out.append(url)
    return tuple(out)


def _check_backend(values: dict[str, Any]) -> None:
    choices = {
        "backend": ("local", "openai"),
        "server_kind": ("auto", "vllm", "sglang", "transformers", "openai"),
        "video_transport": ("auto", "data", "path", "url"),
    }
    for name, allowed in choices.items():
        if values[name] not in allowed:
            raise InvalidRequest(
                f"{name} 는 {', '.join(allowed)} 중 하나입니다: {values[name]}",
                f"{name} is one of {', '.join(allowed)}: {values[name]}",
            )
    if values["backend"] == "openai" and not values["base_urls"]:
        raise InvalidRequest(
            "OpenAI 호환 백엔드에는 서버 주소가 필요합니다 (--base-url 또는 CAPTIONER_BASE_URL).",
            "The openai backend needs a server URL (--base-url or CAPTIONER_BASE_URL).",
        )
    if values["max_retries"] < 0 or values["concurrency"] < 1:
        raise InvalidRequest(
            "재시도 횟수는 0 이상, 동시 요청 수는 1 이상이어야 합니다.",
            "Retries must be 0 or more and concurrency 1 or more.",
        )


def _reviewers(pairs: str, password: str) -> tuple[tuple[str, str], ...]:
    """Logins from "name:password,..." and one shared password (any login name, "*")."""
    found = []
    for item in pairs.split(","):
        name, sep, secret = item.strip().partition(":")
        if not sep or not name or not secret:
            if item.strip():
                raise InvalidRequest(
                    "CAPTIONER_REVIEWERS 형식은 '이름:비밀번호,이름:비밀번호' 입니다.",
                    "CAPTIONER_REVIEWERS takes 'name:password,name:password'.",
                )
            continue
        found.append((name, secret))
    if password.strip():
        found.append(("*", password.strip()))
    return tuple(found)


def _data_dir(env: Mapping[str, str]) -> Path | None:
    """A Space's persistent storage (/data) when present and writable."""
    data = Path(env.get("CAPTIONER_DATA_DIR", "").strip() or "/data")
    return data if data.is_dir() and os.access(data, os.W_OK | os.X_OK) else None


def _db_path(env: Mapping[str, str], data: Path | None, cache_home: Path) -> Path | None:
    raw = env.get("CAPTIONER_DB", "").strip()
    if raw.lower() in OFF_VALUES:
        return None
    if raw:
        return Path(raw).expanduser()
    base = data if data is not None else cache_home
    return base / "captioner" / "runs.sqlite3"


def _path(raw: str | None) -> Path | None:
    return Path(raw.strip()).expanduser() if raw and raw.strip() else None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest(
            f"환경 변수 {name}의 값 '{raw}'이(가) 숫자가 아닙니다.",
            f"Environment variable {name}='{raw}' is not a number.",
        ) from None
    return _positive(name, value)


def _count(
    env: Mapping[str, str], name: str, default: int, low: int = 0, high: int | None = None
) -> int:
    """A whole number in low..high (0 is meaningful for some: no retries); "0.5" is refused,
    not rounded down to a queue of none."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        shown = f"{low}..{high}" if high is not None else f">= {low}"
        raise InvalidRequest(
            f"환경 변수 {name}의 값 '{raw}'은(는) {shown} 범위의 정수여야 합니다.",
            f"Environment variable {name}='{raw}' must be a whole number {shown}.",
        )
    return int(raw)


def _positive(name: str, value: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise InvalidRequest(
            f"{name}은(는) 0보다 큰 유한한 수여야 합니다 (현재 {value}).",
            f"{name} must be a positive, finite number (got {value}).",
        )
    return float(value)
