"""The servers behind ``--base-url``: what each one is, serves and answers, and which replica
takes the next request.

``probe(url)`` asks a server once (``GET /v1/models``, ``GET /health``) and returns a
``ServerInfo``: its kind (``dialects.detect``), the models it lists with ``max_model_len``
where it reports it, and whether it answered; ``doctor`` prints it and the page's model list
comes from it. ``Replicas`` spreads requests: the replica with the fewest requests in flight
takes the next one (ties go round), and a replica that did not answer sits out a few seconds.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import captioner.backends.dialects as dialects

PROBE_TIMEOUT_S = 5.0
SIT_OUT_S = 5.0  # a replica that refused a connection is skipped this long


@dataclass(frozen=True)
class ServedModel:
    id: str
    max_model_len: int | None = None


@dataclass(frozen=True)
class ServerInfo:
    url: str
    answers: bool
    dialect: dialects.Dialect
    models: tuple[ServedModel, ...] = ()
    problem: str | None = None  # why it did not answer, or why its model list is empty

    @property
    def host(self) -> str:
        parsed = urlparse(self.url)
        return parsed.netloc or self.url

    def to_dict(self) -> dict:
        return {
            "url": self.url,
            "answers": self.answers,
            "kind": self.dialect.name,
            "models": [{"id": m.id, "max_model_len": m.max_model_len} for m in self.models],
            "problem": self.problem,
        }


def root_of(base_url: str) -> str:
    """http://host:port/v1 -> http://host:port (where /health lives)."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def probe(url: str, api_key: str | None = None, kind: str = "auto",
          timeout_s: float = PROBE_TIMEOUT_S, transport=None) -> ServerInfo:  # fmt: skip
    """Ask one server what it is and serves; never raises."""
    import httpx

    # a fresh connection each: transformers serve resets one whose request raised
    headers = {"Connection": "close"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    models_body: dict | None = None
    health: object = None
    problems: list[str] = []
    answered = False
    with httpx.Client(timeout=timeout_s, headers=headers, transport=transport) as client:
        for path, is_models in ((f"{root_of(url)}/health", False), (f"{url}/models", True)):
            try:
                reply = client.get(path)
            except httpx.HTTPError as exc:
                problems.append(f"{path}: {type(exc).__name__}: {exc}"[:200])
                continue
            answered = True
            try:
                body = reply.json() if reply.content else None
            except ValueError:
                body = None
            if is_models and reply.status_code == 200 and isinstance(body, dict):
                models_body = body
            elif is_models:
                problems.append(f"/v1/models answered {reply.status_code}")
            else:
                health = body if body is not None else reply.status_code
    problem = "; ".join(problems) or None
    if not answered:
        return ServerInfo(url, False, dialects.get(kind if kind != "auto" else "openai"),
                          problem=problem)  # fmt: skip
    dialect = dialects.get(kind) if kind != "auto" else dialects.detect(models_body, health)
    models = tuple(
        ServedModel(str(entry.get("id")), _int(entry.get("max_model_len")))
        for entry in (models_body or {}).get("data") or []
        if entry.get("id")
    )
    if not dialect.lists_served_models:
        problem = problem or "this server lists its cache, not what it serves"
    return ServerInfo(url, True, dialect, models, problem)


def _int(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class _Replica:
    url: str
    in_flight: int = 0
    served: int = 0
    resting_until: float = 0.0


@dataclass
class Replicas:
    """The replicas of one deployment, and which one takes the next request."""

    urls: tuple[str, ...]
    _replicas: list[_Replica] = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _turn: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._replicas = [_Replica(url) for url in self.urls]

    @contextmanager
    def acquire(self):
        """The least busy replica that is not resting (all resting: the least busy one)."""
        with self._lock:
            now = time.monotonic()
            awake = [r for r in self._replicas if r.resting_until <= now] or self._replicas
            self._turn += 1
            order = awake[self._turn % len(awake) :] + awake[: self._turn % len(awake)]
            chosen = min(order, key=lambda r: r.in_flight)
            chosen.in_flight += 1
            chosen.served += 1
        try:
            yield chosen.url
        finally:
            with self._lock:
                chosen.in_flight -= 1

    def rest(self, url: str) -> None:
        with self._lock:
            for replica in self._replicas:
                if replica.url == url:
                    replica.resting_until = time.monotonic() + SIT_OUT_S

    def served(self) -> dict[str, int]:
        """Requests each replica took (batch reports it)."""
        with self._lock:
            return {r.url: r.served for r in self._replicas}
