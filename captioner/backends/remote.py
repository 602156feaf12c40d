"""The OpenAI-compatible backend: the same events as the local one, from a server (vLLM,
SGLang, ``transformers serve``) over ``/v1/chat/completions`` with streaming.

``deployment(settings)`` holds what every request to one set of ``--base-url`` replicas
shares: their ``ServerInfo`` (kind, models), the ``Replicas`` that spreads requests, one
``openai.OpenAI`` client per replica (the official client: its SSE parsing, typed errors and
``Stream.close()``; its own retries are off, ours below know what may be retried), and the
tokenizers the Korean bias is computed from. ``RemoteBackend(deployment, model)`` is a
``generation.Backend``:

- the request: our messages (Korean system prompt, the video first) with the clip as a small
  MP4 of exactly our frames (``transport``), the chat template applied by the server, Qwen's
  recommended sampling with the request's values on top, sent where each server takes it
  (``dialects``), and the Korean Han mask as ``logit_bias`` where the server honours it;
- the stream: read in a worker thread, so Stop (or a closed browser tab) closes the HTTP
  stream at once, whatever the server is doing; closing it is how a server learns to abort
  the request and free its slot. Pieces of broken UTF-8 (U+FFFD) never reach the answer;
  reasoning arrives in ``reasoning_content`` / ``reasoning`` or between ``<think>`` tags in
  the content, and is split off either way;
- errors: a server that does not answer, a model it does not serve, a prompt past its
  context, a 429/503 after retries with backoff, a refused key: typed, in Korean and English;
- metrics: time to first token and tokens/s measured here, prompt and completion tokens from
  the server's ``usage``, video tokens from the clip's size (what Qwen3-VL's processor makes
  of it, since the server does not report them).
"""

from __future__ import annotations

import logging
import queue
import random
import resource
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import captioner.backends.dialects as dialects
import captioner.backends.servers as servers
import captioner.backends.transport as transport
from captioner import catalog, korean, prompts
from captioner.errors import (
    CaptionerError,
    ContextTooLong,
    InternalError,
    InvalidRequest,
    ModelNotServed,
    ServerAuthError,
    ServerBusy,
    ServerError,
    ServerUnavailable,
)
from captioner.generation import Done, Error, Event, Metrics, Options, Request, Text, Thinking

log = logging.getLogger(__name__)

BIAS = -100.0  # the strongest logit_bias OpenAI defines; a float: transformers serve wants one
RETRYABLE = (429, 502, 503, 504)
BACKOFF_S = (0.5, 8.0)  # first wait, longest wait (doubling, with jitter)
POLL_S = 0.05  # how often a waiting consumer looks at the stop switch


# --- one deployment -------------------------------------------------------------------------
@dataclass
class Deployment:
    """The replicas behind the settings' base URLs, and what requests to them share."""

    urls: tuple[str, ...]
    api_key: str | None = field(default=None, repr=False)
    kind: str = "auto"
    video_transport: str = "auto"
    media_dir: Path | None = None
    media_url: str | None = None
    timeout_s: float = 600.0
    max_retries: int = 4
    hub_cache: str | None = None
    http_transport: object = None  # tests: an httpx transport replaying recorded streams
    replicas: servers.Replicas = field(init=False)
    _infos: dict[str, servers.ServerInfo] = field(init=False, default_factory=dict)
    _clients: dict[str, object] = field(init=False, default_factory=dict)
    _tokenizers: dict[str, object] = field(init=False, default_factory=dict)
    # the ~28k-entry logit_bias per (model, Han setting), built once: rebuilding it cost ~20 ms
    # a request here, a third of the client's own per-request work (bench --backend openai)
    bias_bodies: dict[tuple[str, bool], dict[str, float]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.replicas = servers.Replicas(self.urls)

    def info(self, url: str, refresh: bool = False) -> servers.ServerInfo:
        with self._lock:
            known = self._infos.get(url)
        if known is not None and known.answers and not refresh:
            return known
        found = servers.probe(url, self.api_key, self.kind, transport=self.http_transport)
        with self._lock:
            self._infos[url] = found
        return found

    def infos(self, refresh: bool = False) -> list[servers.ServerInfo]:
        return [self.info(url, refresh) for url in self.urls]

    def dialect(self, url: str) -> dialects.Dialect:
        return self.info(url).dialect

    def model_ids(self) -> list[str]:
        """The models the replicas list, in order, each once (transformers serve lists its
        cache instead: its ids are kept, as ``dialects.served_id`` names them)."""
        seen: list[str] = []
        for info in self.infos():
            for model in info.models:
                name = dialects.served_id(info.dialect, model.id)
                if name not in seen:
                    seen.append(name)
        return seen

    def client(self, url: str):
        with self._lock:
            found = self._clients.get(url)
            if found is None:
                found = self._clients[url] = _client(url, self.api_key, self.timeout_s,
                                                     self.http_transport)  # fmt: skip
            return found

    def tokenizer(self, model: str):
        """The model's tokenizer for the Korean bias (a local folder, or the Hub's files);
        None when it cannot be had (the bias is then off, and the page says so)."""
        with self._lock:
            if model in self._tokenizers:
                return self._tokenizers[model]
        found = None
        try:
            from transformers import AutoTokenizer

            found = AutoTokenizer.from_pretrained(model, cache_dir=self.hub_cache)
        except Exception as exc:  # noqa: BLE001 - no tokenizer: no bias, said in the record
            log.info("no tokenizer for %s (%s): Korean bias off", model, type(exc).__name__)
        with self._lock:
            self._tokenizers[model] = found
        return found


def _client(url: str, api_key: str | None, timeout_s: float, http_transport):
    try:
        import httpx
        import openai
    except ImportError:  # pragma: no cover - requirements.txt installs it
        from captioner.errors import MissingDependency

        raise MissingDependency(
            "openai", "OpenAI 호환 서버 / an OpenAI-compatible server"
        ) from None
    http_client = httpx.Client(
        transport=http_transport, timeout=httpx.Timeout(timeout_s, connect=10.0)
    )
    # max_retries=0: ours retry only what may be retried, and only before the first chunk
    return openai.OpenAI(base_url=url, api_key=api_key or "EMPTY", max_retries=0,
                         http_client=http_client)  # fmt: skip


_DEPLOYMENTS: dict[tuple, Deployment] = {}
_DEPLOYMENTS_LOCK = threading.Lock()


def deployment(settings) -> Deployment:
    """The deployment of these settings (one per distinct configuration, per process)."""
    key = (settings.base_urls, settings.api_key, settings.server_kind, settings.video_transport,
           settings.media_dir, settings.media_url, settings.request_timeout_s,
           settings.max_retries, settings.hub_cache)  # fmt: skip
    with _DEPLOYMENTS_LOCK:
        found = _DEPLOYMENTS.get(key)
        if found is None:
            found = _DEPLOYMENTS[key] = Deployment(
                settings.base_urls, settings.api_key, settings.server_kind,
                settings.video_transport, settings.media_dir, settings.media_url,
                settings.request_timeout_s, settings.max_retries, settings.hub_cache,
            )  # fmt: skip
        return found


# --- the backend ----------------------------------------------------------------------------
class RemoteBackend:
    """A ``generation.Backend`` answering from the deployment's servers."""

    revision = None
    adapter = None

    def __init__(self, deployment: Deployment, model: str) -> None:
        self.deployment = deployment
        self.model_id = model
        first = deployment.info(deployment.urls[0])
        hosts = ", ".join(servers.ServerInfo(u, True, first.dialect).host for u in deployment.urls)
        self.device = f"{first.dialect.label} @ {hosts}"
        self.sees_video = _sees_video(model)

    # what describe --json reports as the times the model saw
    def frame_times(self, clip) -> tuple[float, ...]:
        rate = transport.fitted_rate(clip.timestamps)
        return tuple(i / float(rate) for i in range(len(clip.timestamps)))

    def sampling(self, options: Options) -> dict:
        from captioner.generation import merged_sampling

        return merged_sampling(self.model_id, options)

    def stream(self, request: Request, stop: threading.Event | None = None) -> Iterator[Event]:
        stop = stop or threading.Event()
        started = time.perf_counter()
        try:
            prepared = self._prepare(request)
        except CaptionerError as exc:
            yield Error(exc, user_error=True)
            return
        except Exception as exc:  # noqa: BLE001 - an event, never a traceback
            log.exception("preparing the request failed")
            yield Error(InternalError.wrap(exc), user_error=False)
            return
        try:
            yield from self._run(request, prepared, stop, started)
        finally:
            if prepared.delivery is not None:
                prepared.delivery.close()

    # --- the request ------------------------------------------------------------------------
    def _prepare(self, request: Request) -> _Prepared:
        deployment = self.deployment
        url = deployment.urls[0]
        dialect = deployment.dialect(url)
        sampling = self.sampling(request.options)
        if request.options.seed is not None:
            sampling["seed"] = request.options.seed
        fields, dropped = dialects.sampling_fields(dialect, sampling)
        messages = prompts.build_messages(
            request.prompt,
            with_video=request.clip is not None,
            accepts_video=self.sees_video,
            system=request.system,
            style=request.style,
            length=request.length,
        )
        thinking = _thinking_style(self.model_id)
        extra: dict = dict(fields)
        template = prompts.template_kwargs(thinking, request.options.think)
        encoded = delivery = None
        if request.clip is not None:
            encoded = transport.encode(request.clip, audio_track=dialect.audio_track)
            delivery = self._deliver(encoded, dialect, url)
            for part in messages[-1]["content"]:
                if part.get("type") == "video":
                    part.clear()
                    part.update(type="video_url", video_url={"url": delivery.url})
            for key, value in dialects.video_options(dialect).items():
                extra[key] = {**extra.get(key, {}), **value}
        if template:
            extra["chat_template_kwargs"] = {**extra.get("chat_template_kwargs", {}), **template}
        bias = self._bias_body(dialect, request.options.allow_hanja)
        if bias:
            extra["logit_bias"] = bias  # shared between requests: read, never changed
        if dialect.usage_option:
            extra["stream_options"] = {"include_usage": True}
        record = {**{k: v for k, v in sampling.items() if k != "seed"}}
        record["server"] = dialect.name
        record["not_supported_by_server"] = dropped
        record["korean_bias_tokens"] = len(bias)
        record["korean_guarantee"] = bool(bias) or request.options.allow_hanja
        if encoded is not None and delivery is not None:
            record["video"] = {
                "transport": delivery.kind,
                "bytes": delivery.bytes_sent,
                "frames": encoded.frames,
                "frame_rate": round(float(encoded.rate), 6),
                "max_time_error_s": round(encoded.max_error_s, 4),
            }
        return _Prepared(messages, extra, record, encoded, delivery,
                         _expects_thinking(thinking, request.options.think))  # fmt: skip

    def _deliver(self, encoded, dialect: dialects.Dialect, url: str):
        deployment = self.deployment
        kind = deployment.video_transport
        if kind == "auto":
            kind = dialect.transport
            if kind == "path" and not (deployment.media_dir or transport.is_local(url)):
                kind = "url"
        if kind == "data" and not dialect.data_urls:
            raise InvalidRequest(
                f"{dialect.label} 는 data: URL 로 영상을 받지 않습니다. path 나 url 전송을 쓰세요.",
                f"{dialect.label} does not take data: URLs; use the path or url transport.",
            )
        return transport.deliver(encoded, kind, media_dir=deployment.media_dir,
                                 media_url=deployment.media_url,
                                 file_scheme=dialect.name != "transformers")  # fmt: skip

    def _bias_body(self, dialect: dialects.Dialect, allow_hanja: bool) -> dict[str, float]:
        if not dialect.logit_bias:
            return {}
        key = (self.model_id, allow_hanja)
        body = self.deployment.bias_bodies.get(key)
        if body is None:
            ids = self._bias(dialect, allow_hanja)
            if not ids:
                return {}  # no tokenizer (yet): nothing to keep
            body = self.deployment.bias_bodies[key] = {str(i): BIAS for i in ids}
        return body

    def _bias(self, dialect: dialects.Dialect, allow_hanja: bool) -> list[int]:
        if not dialect.logit_bias:
            return []
        tokenizer = self.deployment.tokenizer(self.model_id)
        if tokenizer is None:
            return []
        # with Han allowed only kana stays blocked, which the bias still does
        return korean.bias_token_ids(tokenizer, allow_hanja=allow_hanja)

    # --- the stream -------------------------------------------------------------------------
    def _run(self, request: Request, prepared: _Prepared, stop, started: float):
        preprocess_s = time.perf_counter() - started
        sink: queue.Queue = queue.Queue()
        holder = _Holder()
        reader = threading.Thread(
            target=self._read, args=(prepared, sink, holder, stop), daemon=True
        )
        reader.start()
        pieces = _Pieces(prepared.thinking)
        first = last = None
        chunks = 0
        usage = None
        finish = None
        failure: CaptionerError | None = None
        completed = False
        try:
            while True:
                try:
                    kind, payload, stamp = sink.get(timeout=POLL_S)
                except queue.Empty:
                    if stop.is_set():
                        holder.close()  # the server sees the connection go and aborts
                    continue
                if kind == "end":
                    break
                if kind == "error":
                    failure = payload
                    continue
                delta_text, delta_reasoning, chunk_finish, chunk_usage = payload
                usage = chunk_usage or usage
                finish = chunk_finish or finish
                if delta_text or delta_reasoning:
                    chunks += 1
                    first = first or stamp
                    last = stamp
                if stop.is_set():
                    holder.close()
                yield from pieces.feed(delta_reasoning, thinking=True)
                yield from pieces.feed(delta_text)
            completed = True
        finally:
            if not completed:  # the consumer went away (a closed tab): abort the request too
                stop.set()
                holder.close()
            reader.join(timeout=5)
        yield from pieces.finish()
        stopped = stop.is_set() and finish is None
        if failure is not None and not stopped:
            yield Error(failure, user_error=not isinstance(failure, InternalError))
            return
        total = time.perf_counter() - started
        new_tokens = int(getattr(usage, "completion_tokens", 0) or 0) or chunks
        max_tokens = int(prepared.record["max_new_tokens"])
        reason = "stopped" if stopped else ("length" if finish == "length" else "eos")
        metrics = Metrics(
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            video_tokens=_video_tokens(prepared.encoded) if self.sees_video else 0,
            frames=prepared.encoded.frames if prepared.encoded is not None else 0,
            new_tokens=min(new_tokens, max_tokens),
            preprocess_s=preprocess_s,
            ttft_s=(first - started) if first else total,
            total_s=total,
            tokens_per_s=(new_tokens - 1) / (last - first)
            if first and last and last > first
            else 0.0,
            peak_memory_bytes=int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024,
            peak_memory_kind="client process peak RSS (the server's is its own)",
            finish_reason=reason,
        )
        answer = pieces.answer()
        yield Done(answer, pieces.reasoning(), metrics, prepared.record,
                   korean=korean.check(answer, allow_hanja=request.options.allow_hanja))  # fmt: skip

    def _read(self, prepared: _Prepared, sink: queue.Queue, holder: _Holder, stop) -> None:
        """The worker: send the request (retrying what may be retried), then hand each chunk
        to the consumer until the stream ends, fails or is closed."""
        try:
            for attempt in range(self.deployment.max_retries + 1):
                if stop.is_set():
                    return
                with self.deployment.replicas.acquire() as url:
                    try:
                        self._stream_from(url, prepared, sink, holder, stop)
                        return
                    except _Retry as retry:
                        if attempt >= self.deployment.max_retries:
                            sink.put(("error", retry.error, time.perf_counter()))
                            return
                        if retry.rest:
                            self.deployment.replicas.rest(url)
                        delay = retry.after
                        if delay is None:
                            delay = min(BACKOFF_S[1], BACKOFF_S[0] * 2**attempt)
                        if stop.wait(delay * (1 + 0.25 * random.random())):
                            return
        except CaptionerError as exc:
            sink.put(("error", exc, time.perf_counter()))
        except Exception as exc:  # noqa: BLE001 - handed to the consumer as an event
            if not stop.is_set():
                log.exception("reading the stream failed")
                sink.put(("error", InternalError.wrap(exc), time.perf_counter()))
        finally:
            sink.put(("end", None, time.perf_counter()))

    def _stream_from(self, url: str, prepared: _Prepared, sink, holder, stop) -> None:
        import openai

        client = self.deployment.client(url)
        dialect = self.deployment.dialect(url)
        model = dialects.served_id(dialect, self.model_id)
        try:
            stream = client.chat.completions.create(
                model=model, messages=prepared.messages, stream=True, extra_body=prepared.extra
            )
        except openai.APIConnectionError as exc:
            raise _Retry(_unavailable(url, exc), rest=True) from None
        except openai.APIStatusError as exc:
            raise _status_error(exc, url, model, self.deployment) from None
        holder.set(stream)
        if stop.is_set():
            holder.close()
            return
        try:
            for chunk in stream:
                sink.put(("chunk", _delta(chunk), time.perf_counter()))
        except openai.APIError as exc:  # an error inside the stream (the server's own words)
            if not stop.is_set() and not holder.closed:
                raise ServerError(
                    "서버가 생성 도중 오류를 보냈습니다.",
                    "The server reported an error while generating.",
                    detail=str(exc)[:300],
                ) from None
        except Exception:  # noqa: BLE001 - a closed stream ends the read, as Stop wants
            if not holder.closed:
                raise


@dataclass
class _Prepared:
    messages: list[dict]
    extra: dict
    record: dict  # what Done.sampling reports: the values sent, and what the server lacks
    encoded: transport.Encoded | None
    delivery: transport.Delivery | None
    thinking: bool  # the answer starts inside a <think> block


class _Holder:
    """The open stream, closable from the consumer's thread."""

    def __init__(self) -> None:
        self.stream = None
        self.closed = False
        self.lock = threading.Lock()

    def set(self, stream) -> None:
        with self.lock:
            self.stream = stream
            if self.closed:
                stream.close()

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            stream = self.stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a half-read stream may complain
                pass


class _Retry(Exception):
    def __init__(self, error: CaptionerError, after: float | None = None, rest: bool = False):
        super().__init__(error.en)
        self.error, self.after, self.rest = error, after, rest


def _delta(chunk) -> tuple:
    """(content, reasoning, finish_reason, usage) of one chunk."""
    usage = getattr(chunk, "usage", None)
    if not chunk.choices:
        return ("", "", None, usage)
    choice = chunk.choices[0]
    delta = choice.delta
    extra = getattr(delta, "model_extra", None) or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
    return (delta.content or "", reasoning, choice.finish_reason, usage)


# --- errors -----------------------------------------------------------------------------------
def _unavailable(url: str, exc) -> ServerUnavailable:
    return ServerUnavailable(
        f"추론 서버에 연결할 수 없습니다: {url}",
        f"Cannot reach the inference server: {url}",
        detail=f"{type(exc).__name__}: {exc}"[:300],
    )


def _status_error(exc, url: str, model: str, deployment: Deployment) -> Exception:
    """The typed error for a refused request, or a _Retry for what may pass on a retry."""
    status = exc.status_code
    text = _message(exc)
    lowered = text.lower()
    if status in RETRYABLE:
        after = _retry_after(exc)
        busy = ServerBusy(
            f"추론 서버가 바쁩니다 ({status}). 잠시 후 다시 시도하세요.",
            f"The inference server is busy ({status}). Try again in a moment.",
            detail=text[:300],
        )
        return _Retry(busy, after=after, rest=status != 429)
    if status in (401, 403):
        return ServerAuthError(
            "추론 서버가 API 키를 거부했습니다 (--api-key-env 가 가리키는 변수를 확인하세요).",
            "The inference server refused the API key (check the variable --api-key-env names).",
            detail=text[:300],
        )
    if any(s in lowered for s in ("context length", "maximum context", "too long",
                                  "max_model_len", "longer than", "exceeds")):  # fmt: skip
        return ContextTooLong(
            "요청이 서버 모델의 문맥 길이를 넘습니다. 프레임 수나 해상도, 최대 토큰 수를 줄이세요.",
            "The request exceeds the served model's context length. Use fewer frames, fewer "
            "pixels per frame or fewer new tokens.",
            detail=text[:300],
        )
    if status == 404 or (status == 400 and "model" in lowered):
        served = ", ".join(deployment.model_ids()[:8]) or "-"
        return ModelNotServed(
            f"서버가 '{model}' 모델을 제공하지 않습니다. 제공 모델: {served}",
            f"The server does not serve '{model}'. Served: {served}",
            detail=text[:300],
        )
    if 400 <= status < 500:
        return InvalidRequest(
            f"서버가 요청을 거부했습니다 ({status}).",
            f"The server refused the request ({status}).",
            detail=text[:300],
        )
    return ServerError(
        f"추론 서버 오류 ({status}).", f"Inference server error ({status}).", detail=text[:300]
    )


def _message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or inner)
        return str(body.get("detail") or inner)
    return str(getattr(exc, "message", "") or exc)


def _retry_after(exc) -> float | None:
    response = getattr(exc, "response", None)
    raw = response.headers.get("retry-after") if response is not None else None
    try:
        return min(BACKOFF_S[1] * 4, max(0.0, float(raw))) if raw else None
    except ValueError:
        return None


# --- text -------------------------------------------------------------------------------------
class _Pieces:
    """Streamed pieces to Text/Thinking events: U+FFFD dropped (a server that split a
    character sends nothing we could show), and ``<think>...</think>`` in the content split
    off, including a tag cut across two chunks."""

    TAGS = ("<think>", "</think>")

    def __init__(self, thinking: bool) -> None:
        self.thinking = thinking
        self.pending = ""  # a possible tag's beginning, held until the next piece
        self.parts: dict[bool, list[str]] = {False: [], True: []}

    def feed(self, text: str, thinking: bool = False) -> list[Event]:
        text = (text or "").replace("\ufffd", "")
        if not text:
            return []
        if thinking:  # the server split it off already
            return self._emit(text, True)
        text, self.pending = self.pending + text, ""
        events: list[Event] = []
        while text:
            tag_at, tag = min(((text.find(t), t) for t in self.TAGS if t in text),
                              default=(-1, ""))  # fmt: skip
            if tag_at < 0:
                keep = _partial_tag(text, self.TAGS)
                if keep:
                    text, self.pending = text[:-keep], text[-keep:]
                events += self._emit(text, self.thinking)
                break
            events += self._emit(text[:tag_at], self.thinking)
            self.thinking = tag == "<think>"
            text = text[tag_at + len(tag) :]
        return events

    def finish(self) -> list[Event]:
        rest, self.pending = self.pending, ""
        return self._emit(rest, self.thinking)

    def _emit(self, text: str, thinking: bool) -> list[Event]:
        parts = self.parts[thinking]
        if not parts:  # templates put newlines right after <think> / </think>
            text = text.lstrip()
        if not text:
            return []
        parts.append(text)
        return [Thinking(text) if thinking else Text(text)]

    def answer(self) -> str:
        return "".join(self.parts[False])

    def reasoning(self) -> str:
        return "".join(self.parts[True])


def _partial_tag(text: str, tags: tuple[str, ...]) -> int:
    """How many characters at the end of ``text`` may begin a tag."""
    for size in range(min(len(text), max(len(t) for t in tags) - 1), 0, -1):
        if any(t.startswith(text[-size:]) for t in tags):
            return size
    return 0


# --- facts about the model ---------------------------------------------------------------------
def _sees_video(model: str) -> bool:
    from captioner.loader import sees_video

    known = sees_video(model)
    return True if known is None else known  # a served id outside the catalog: assume Qwen3-VL


def _thinking_style(model: str) -> str:
    spec = catalog.find(model)
    if spec is not None:
        return spec.thinking
    template = Path(model).expanduser() / "chat_template.jinja"
    if template.is_file():
        from captioner.loader import thinking_style

        return thinking_style(template.read_text(encoding="utf-8"), model)
    return "never"


def _expects_thinking(style: str, think: bool | None) -> bool:
    return style == "always" or (style == "hybrid" and bool(think))


def _video_tokens(encoded: transport.Encoded | None) -> int:
    """Qwen3-VL's count for a clip at a size that is a multiple of 32: one token per 32x32
    pixels per pair of frames (16-pixel patches, 2x2 merged, 2 frames per temporal patch)."""
    if encoded is None:
        return 0
    height, width = encoded.size
    return ((encoded.frames + 1) // 2) * (height // 32) * (width // 32)


def backend_for(settings, model: str | None) -> RemoteBackend:
    """The backend for ``model`` (None: the first model the servers list)."""
    found = deployment(settings)
    chosen = model or default_model(settings)
    return RemoteBackend(found, chosen)


def default_model(settings) -> str:
    """The operator's first model, else the first one the servers list."""
    if settings.models:
        return settings.models[0]
    listed = deployment(settings).model_ids()
    if listed:
        return listed[0]
    raise ModelNotServed(
        "서버가 제공하는 모델을 알 수 없습니다. --model 로 모델 이름을 알려 주세요.",
        "The servers list no models. Name the model with --model.",
    )
