"""The OpenAI-compatible client against recorded vLLM-style streams, replayed through the
openai client's own HTTP transport (httpx.MockTransport): vLLM's dialect without a GPU.

The recordings follow vLLM's wire format: ``data: {chunk}`` lines, reasoning in
``reasoning_content`` (``--reasoning-parser qwen3``; ``reasoning`` in newer releases), usage in
a last chunk with no choices (``stream_options.include_usage``), ``data: [DONE]``; Hangul is
split across chunks, and one chunk carries a U+FFFD piece, as some servers send."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from captioner import video
from captioner.backends import remote
from captioner.errors import ContextTooLong, ModelNotServed, ServerBusy, ServerUnavailable
from captioner.generation import Options, Request

MODEL = "Qwen/Qwen3-VL-8B-Instruct"
URL = "http://vllm.test:8000/v1"


def chunk(content=None, reasoning=None, finish=None, key="reasoning_content") -> bytes:
    delta = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta[key] = reasoning
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


def usage(prompt=600, completion=9) -> bytes:
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                     "total_tokens": prompt + completion}}  # fmt: skip
    return f"data: {json.dumps(body)}\n\n".encode()


DONE = b"data: [DONE]\n\n"
VLLM_THINKING = [
    chunk(content="", key="role"),
    chunk(reasoning="토끼"),
    chunk(reasoning="를 본다."),
    chunk(content="\n\n안녕"),
    chunk(content="하"),
    chunk(content="\ufffd"),  # a broken piece: never shown
    chunk(content="세요. 토끼가 "),
    chunk(content="뛰어요."),
    chunk(content="", finish="stop"),
    usage(),
    DONE,
]
THINK_IN_CONTENT = [
    chunk(content="<thi"),
    chunk(content="nk>\n생각 중"),
    chunk(content="</th"),
    chunk(content="ink>\n\n답변입니다"),
    chunk(content="", finish="length"),
    usage(completion=5),
    DONE,
]


class Server:
    """A recorded vLLM: /health, /v1/models, and /v1/chat/completions replaying ``streams``
    (one per request; an int is an error status)."""

    def __init__(self, *streams, model=MODEL, delay=0.0):
        self.streams = list(streams)
        self.bodies: list[dict] = []
        self.model = model
        self.delay = delay

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/health":
            return httpx.Response(200)
        if path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [
                {"id": self.model, "object": "model", "owned_by": "vllm", "max_model_len": 32768}]})  # fmt: skip
        self.bodies.append(json.loads(request.content))
        reply = self.streams.pop(0)
        if isinstance(reply, tuple):
            status, message = reply
            return httpx.Response(status, json={"object": "error", "message": message,
                                                "type": "BadRequestError", "code": status},
                                  headers={"retry-after": "0"})  # fmt: skip
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              stream=_Body(reply, self.delay))  # fmt: skip


class _Body(httpx.SyncByteStream):
    def __init__(self, parts, delay):
        self.parts, self.delay, self.closed = parts, delay, False

    def __iter__(self):
        for part in self.parts:
            if self.closed:
                return
            time.sleep(self.delay)
            yield part

    def close(self):
        self.closed = True


def backend(server, model=MODEL, retries=2):
    found = remote.Deployment(
        (URL,), max_retries=retries, http_transport=httpx.MockTransport(server)
    )
    return remote.RemoteBackend(found, model)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from media import make_video

    path = make_video(tmp_path_factory.mktemp("rec") / "clip.mp4", n_frames=48, fps=24)
    return video.load_clip(path, video.SamplingSpec(fps=2.0, max_frames=4, max_pixels=128 * 96))


def test_reasoning_content_usage_and_split_hangul(clip):
    server = Server(VLLM_THINKING)
    events = list(backend(server).stream(Request("설명해 주세요", clip)))
    done = events[-1]
    assert done.kind == "done"
    assert done.thinking == "토끼를 본다."
    assert done.answer == "안녕하세요. 토끼가 뛰어요."
    streamed = "".join(e.text for e in events if e.kind == "text")
    assert streamed == done.answer and "\ufffd" not in streamed
    m = done.metrics
    assert (m.prompt_tokens, m.new_tokens, m.finish_reason) == (600, 9, "eos")
    assert m.frames == 4 and m.video_tokens == 2 * (96 // 32) * (128 // 32)
    assert m.ttft_s > 0 and done.korean.hangul_share == 1.0
    assert done.sampling["server"] == "vllm" and done.sampling["video"]["transport"] == "data"


def test_vllm_request_carries_qwen_sampling_and_keeps_our_frames(clip):
    server = Server(VLLM_THINKING)
    list(backend(server).stream(Request("설명", clip, options=Options(seed=7))))
    body = server.bodies[0]
    assert body["model"] == MODEL and body["stream"] is True
    # Qwen3-VL Instruct's recommended values, presence penalty included
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.7, 0.8, 20)
    assert body["presence_penalty"] == 1.5 and body["seed"] == 7
    assert body["stream_options"] == {"include_usage": True}
    assert body["mm_processor_kwargs"] == {"do_sample_frames": False, "do_resize": False}
    parts = body["messages"][-1]["content"]
    assert parts[0]["type"] == "video_url"
    assert parts[0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert parts[1]["type"] == "text" and body["messages"][0]["role"] == "system"


def test_korean_bias_sent_when_the_tokenizer_is_at_hand(clip, tiny_vl):
    server = Server(VLLM_THINKING, model=tiny_vl)
    done = list(backend(server, model=tiny_vl).stream(Request("설명", clip)))[-1]
    bias = server.bodies[0]["logit_bias"]
    assert len(bias) > 20000 and set(bias.values()) == {-100.0}
    assert done.sampling["korean_guarantee"] is True
    assert done.sampling["korean_bias_tokens"] == len(bias)


def test_no_tokenizer_means_no_guarantee_and_the_record_says_so(clip):
    server = Server(VLLM_THINKING)  # MODEL's tokenizer is on the Hub, which tests never reach
    done = list(backend(server).stream(Request("설명", clip)))[-1]
    assert "logit_bias" not in server.bodies[0]
    assert done.sampling["korean_guarantee"] is False


def test_think_tags_in_content_split_across_chunks():
    events = list(backend(Server(THINK_IN_CONTENT)).stream(Request("질문", None)))
    done = events[-1]
    assert done.thinking == "생각 중" and done.answer == "답변입니다"
    assert done.metrics.finish_reason == "length"
    assert all("<" not in e.text for e in events if e.kind in ("text", "thinking"))


def test_newer_vllm_reasoning_field():
    stream = [chunk(reasoning="추론", key="reasoning"), chunk(content="답"), usage(10, 2), DONE]
    done = list(backend(Server(stream)).stream(Request("질문", None)))[-1]
    assert (done.thinking, done.answer) == ("추론", "답")


def test_429_is_retried_then_succeeds():
    server = Server((429, "rate limited"), (503, "overloaded"), VLLM_THINKING)
    done = list(backend(server, retries=3).stream(Request("질문", None)))[-1]
    assert done.kind == "done" and len(server.bodies) == 3


def test_busy_after_the_retries_is_a_typed_error():
    server = Server(*[(503, "overloaded")] * 3)
    events = list(backend(server, retries=2).stream(Request("질문", None)))
    assert events[-1].kind == "error" and isinstance(events[-1].error, ServerBusy)
    assert events[-1].error.ko and events[-1].error.en and len(server.bodies) == 3


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (
            400,
            "This model's maximum context length is 32768 tokens. However, you requested "
            "40000 tokens (39000 in the messages, 1000 in the completion).",
            ContextTooLong,
        ),  # fmt: skip
        (404, "The model `Qwen/Qwen3-VL-2B-Instruct` does not exist.", ModelNotServed),
    ],
)
def test_refusals_become_bilingual_typed_errors(status, message, error):
    events = list(backend(Server((status, message))).stream(Request("질문", None)))
    assert isinstance(events[-1].error, error) and events[-1].user_error


def test_server_down_is_a_typed_error():
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    found = remote.Deployment((URL,), max_retries=1, http_transport=httpx.MockTransport(refuse))
    events = list(remote.RemoteBackend(found, MODEL).stream(Request("질문", None)))
    assert isinstance(events[-1].error, ServerUnavailable)
    assert URL in events[-1].error.ko


def test_stop_closes_the_stream_at_once():
    slow = [chunk(content="가")] * 200 + [usage(), DONE]
    server = Server(slow, delay=0.05)
    stop = threading.Event()
    events, stopped_at = [], None
    for event in backend(server).stream(Request("질문", None), stop):
        events.append(event)
        if event.kind == "text" and stopped_at is None:
            stop.set()
            stopped_at = time.perf_counter()
    assert time.perf_counter() - stopped_at < 5.0
    assert events[-1].kind == "done" and events[-1].metrics.finish_reason == "stopped"
    assert len(events) < 50
