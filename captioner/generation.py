"""Streaming generation: a plain generator of events over a loaded model.

``TransformersBackend(loaded).stream(request, stop)`` renders the chat template, runs the
processor (frames + their real timestamps), starts ``model.generate`` in a worker thread
and yields events as tokens arrive:

    Text(text)        a piece of the answer (complete characters only)
    Thinking(text)    a piece of the reasoning inside <think>...</think>, never in the answer
    Done(...)         the whole answer, the reasoning, the metrics and the Korean check
    Error(error)      a CaptionerError (Korean + English) instead of a traceback

Korean output (``korean.py``): a logits processor keeps Han characters (unless
``Options.allow_hanja``), kana and broken UTF-8 out of the answer, and ``Done.korean``
reports the answer's script mix. Text streams per character (``textstream.py``); a
character cut off by the token limit is dropped, never shown as U+FFFD.

The worker's exceptions reach the caller (no silent hang); ``stop.set()`` ends generation
after the current decoding step, and the model's lock is released before the generator
returns, so the next request can start at once. ``Backend`` is the seam where a client of
an OpenAI-compatible server can later join the local transformers backend.
"""

from __future__ import annotations

import logging
import queue
import resource
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from captioner import catalog, compute, korean, prompts
from captioner.errors import CaptionerError, InternalError, InvalidRequest, OutOfMemory
from captioner.precision import GiB
from captioner.textstream import IncrementalDecoder, token_id

log = logging.getLogger(__name__)

# How the video processor is to treat a clip's frames: captioner.video sampled them (with their
# real times) and decoded them at the planned resolution, so it neither samples nor resizes.
# Its per-frame pixel cap is a resize rule, moot without resizing; saying False keeps
# transformers 5.23 from warning at every start that videos "cost far more tokens" uncapped.
PREPARED_FRAMES = {"do_sample_frames": False, "do_resize": False, "cap_pixels_per_frame": False}


# --- requests and events --------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """Sampling options; None means the model's recommended value."""

    max_new_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    do_sample: bool | None = None
    seed: int | None = None
    think: bool | None = None  # hybrid models only: enable_thinking
    allow_hanja: bool = False  # True: Han characters may appear (한자 병기); kana stays blocked


@dataclass(frozen=True)
class Request:
    prompt: str
    clip: Any = None  # captioner.video.Clip or None for a text-only request
    system: str | None = None  # None: the default Korean system prompt
    options: Options = field(default_factory=Options)
    style: str = prompts.DEFAULT_STYLE  # prompts.STYLES key: "hamnida" 합니다체 | "haeyo" 해요체
    length: str = prompts.DEFAULT_LENGTH  # prompts.LENGTHS key: "short" | "normal" | "long"


@dataclass(frozen=True)
class Text:
    text: str
    kind: str = "text"


@dataclass(frozen=True)
class Thinking:
    text: str
    kind: str = "thinking"


@dataclass(frozen=True)
class Metrics:
    prompt_tokens: int
    video_tokens: int
    frames: int
    new_tokens: int
    preprocess_s: float  # chat template + processor (frames -> patches)
    ttft_s: float  # request start -> first generated token
    total_s: float
    tokens_per_s: float  # decode rate after the first token
    peak_memory_bytes: int
    peak_memory_kind: str  # "cuda max allocated" | "process peak RSS"
    finish_reason: str  # "eos" | "length" | "stopped"
    threads: int = 0  # torch intra-op threads generate() ran with (0: not known)

    def line(self, lang: str = "ko") -> str:
        """One line for people (the CLI's stderr, the page's metrics), in Korean or English."""
        # a rate needs two tokens at least (the first one's time is ttft): "–" before that
        rate = f"{self.tokens_per_s:.1f}" if self.new_tokens >= 2 else "–"
        values = dict(ttft=self.ttft_s, tokens=self.new_tokens, tps=rate,
                      frames=self.frames, video_tokens=self.video_tokens,
                      mem=self.peak_memory_bytes / GiB)  # fmt: skip
        return _METRICS_LINE[0 if lang == "ko" else 1].format(**values)


_METRICS_LINE = (
    "첫 토큰 {ttft:.2f}s · {tokens} 토큰 · {tps} tok/s · 프레임 {frames}개 "
    "({video_tokens} 비디오 토큰) · 메모리 {mem:.2f} GiB",
    "first token {ttft:.2f}s · {tokens} tokens · {tps} tok/s · {frames} frames "
    "({video_tokens} video tokens) · memory {mem:.2f} GiB",
)


@dataclass(frozen=True)
class Done:
    answer: str
    thinking: str
    metrics: Metrics
    sampling: dict
    kind: str = "done"
    korean: korean.KoreanCheck | None = None  # script mix of the answer (Hangul share, warnings)


@dataclass(frozen=True)
class Error:
    error: CaptionerError
    user_error: bool  # True: caused by the input (exit 2); False: a bug or the machine (exit 1)
    kind: str = "error"


Event = Text | Thinking | Done | Error


class Backend(Protocol):
    """Where answers come from: a model loaded here, or a server. The engine, the page, the
    CLI, batch and the run log only see these attributes and the events ``stream`` yields."""

    model_id: str  # what the run log records as the model
    device: str  # "cuda" | "mps" | "cpu" here, or where the server is
    revision: str | None
    adapter: str | None

    def stream(self, request: Request, stop: threading.Event | None = None) -> Iterator[Event]: ...


# --- logits processors and stopping -------------------------------------------------------------
def _presence_penalty(prompt_len: int, penalty: float):
    """OpenAI-style presence penalty (Qwen recommends 1.5 for Qwen3-VL against loops):
    subtract ``penalty`` once from every token already present in the answer.

    Only the answer's token rows are touched (an indexed read and write, however often a
    token repeats), never the 151,936-wide row: 0.14 ms → a few µs per token."""
    import torch
    from transformers import LogitsProcessor

    class PresencePenalty(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor):
            generated = input_ids[:, prompt_len:]
            if generated.shape[1] == 0:
                return scores
            for row in range(scores.shape[0]):
                ids = generated[row]
                scores[row, ids] = scores[row, ids] - penalty  # repeats write the same value
            return scores

    return PresencePenalty()


def _sampler(temperature: float, top_k: int, top_p: float):
    """Temperature, top-k, top-p and the draw itself, as the last logits processor; generate()
    then runs greedy and takes the one token left.

    transformers' own path sorts all 151,936 scores for top-p and draws from all of them
    (``torch.multinomial`` makes an exponential random number per row): 15-16 ms per token
    on this 2-core CPU, a quarter of a decoding step of Qwen3-VL-2B in int4. The same
    distribution drawn from the top-k candidates costs ~0.3 ms. Same order as transformers
    (temperature, top-k, top-p keeping at least one token); draws from torch's global
    generator, which ``set_seed`` seeds."""
    import torch
    from transformers import LogitsProcessor

    class Sample(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor):
            indices, probs = sampling_distribution(scores, temperature, top_k, top_p)
            token = indices.gather(-1, torch.multinomial(probs, 1))
            return scores.fill_(float("-inf")).scatter_(-1, token, 0.0)  # generate's own copy

    return Sample()


def sampling_distribution(scores, temperature: float, top_k: int, top_p: float):
    """(candidate ids, their unnormalised probabilities) per row, as transformers' warpers
    leave them: scores / temperature, the top-k, then the smallest prefix whose mass reaches
    top-p (the most likely token always stays)."""
    import torch

    width = scores.shape[-1]
    k = min(top_k, width) if top_k and top_k > 0 else width
    values, indices = torch.topk(scores, k, dim=-1)  # dividing by temperature keeps the order
    probs = torch.softmax(values.float() / temperature, dim=-1)  # sorted, largest first
    if top_p < 1.0:
        before = torch.cumsum(probs, dim=-1) - probs  # the mass strictly above each
        probs = probs.masked_fill(before >= top_p, 0.0)
    return indices, probs


def _stop_on(event: threading.Event):
    import torch
    from transformers import StoppingCriteria

    class StopOnEvent(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full(
                (input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device
            )

    return StopOnEvent()


class _QueueStreamer:
    """transformers streamer protocol (put/end): hands generated ids to the consuming thread.

    Decoding happens in the consumer, so the generate thread does no extra work per token.
    Each hand-off wakes the consumer, which then takes the GIL from the generate thread and
    hands it back (on the 2-core build machine ~0.2 ms a token, measured on the tiny model
    at ~6 ms a token; the work itself is 0.01 ms). So ids go at once when ``HANDOFF_S`` has
    passed since the last hand-off, and otherwise wait for the next token: a model slower
    than that (any real one on a CPU, ~100 ms a token) still streams every token the moment
    it is made, and a faster one (the tiny test model, a GPU) at most one display frame
    later. Every token keeps its own time (the metrics' first and last token)."""

    HANDOFF_S = 0.015  # about one display frame at 60 Hz

    def __init__(self, sink: queue.Queue) -> None:
        self.sink = sink
        self.prompt_seen = False
        self.pending: list[int] = []
        self.pending_stamp = 0.0
        self.handed = float("-inf")

    def put(self, value) -> None:
        if not self.prompt_seen:  # generate() first puts the prompt
            self.prompt_seen = True
            return
        now = time.perf_counter()
        self.pending.extend(value.reshape(-1).tolist())
        self.pending_stamp = now
        if now - self.handed >= self.HANDOFF_S:
            self._hand_off()

    def _hand_off(self) -> None:
        self.sink.put(("ids", self.pending, self.pending_stamp))
        self.handed = self.pending_stamp
        self.pending = []

    def end(self) -> None:
        """The ids still held (also called when generate() fails: nothing is lost)."""
        if self.pending:
            self._hand_off()


# --- thinking split -------------------------------------------------------------------------
class _ThinkSplitter:
    """Routes token ids to the answer or the reasoning by the <think>/</think> token ids."""

    def __init__(self, tokenizer, prompt_ids: list[int]) -> None:
        self.start_id = token_id(tokenizer, "<think>")
        self.end_id = token_id(tokenizer, "</think>")
        self.thinking = self._starts_thinking(tokenizer, prompt_ids)
        self.answer = IncrementalDecoder(tokenizer)
        self.reasoning = IncrementalDecoder(tokenizer)
        self.answer_text: list[str] = []
        self.reasoning_text: list[str] = []

    def _starts_thinking(self, tokenizer, prompt_ids: list[int]) -> bool:
        # -Thinking templates open "<think>\n" in the prompt itself; hybrid ones with thinking
        # off close an empty block there. Look only at the assistant turn being generated.
        im_start = token_id(tokenizer, "<|im_start|>")
        turn = prompt_ids
        if im_start is not None and im_start in prompt_ids:
            turn = prompt_ids[len(prompt_ids) - 1 - prompt_ids[::-1].index(im_start) :]
        if self.start_id is None or self.start_id not in turn:
            return False
        last_open = len(turn) - 1 - turn[::-1].index(self.start_id)
        return self.end_id not in turn[last_open:]

    def feed(self, ids: list[int]) -> list[Event]:
        events: list[Event] = []
        for token in ids:
            if token == self.start_id:
                events += self._switch(thinking=True)
            elif token == self.end_id:
                events += self._switch(thinking=False)
            else:
                events += self._emit(self._decoder().push([token]))
        return events

    def finish(self) -> list[Event]:
        # A character cut off by the token limit or a stop would show as U+FFFD: drop it.
        return self._emit(self._decoder().flush(drop_incomplete=True))

    def _decoder(self) -> IncrementalDecoder:
        return self.reasoning if self.thinking else self.answer

    def _switch(self, thinking: bool) -> list[Event]:
        events = self._emit(self._decoder().flush())
        self.thinking = thinking
        return events

    def _emit(self, text: str) -> list[Event]:
        parts = self.reasoning_text if self.thinking else self.answer_text
        if not parts:  # templates put newlines right after <think> / </think>
            text = text.lstrip()
        if not text:
            return []
        parts.append(text)
        return [Thinking(text) if self.thinking else Text(text)]


# --- the backend --------------------------------------------------------------------------------
class TransformersBackend:
    """Generation with a locally loaded transformers model (``loader.LoadedModel``)."""

    def __init__(self, loaded) -> None:
        self.loaded = loaded
        self.model_id = loaded.model_id
        self.device = loaded.device
        self.revision = loaded.revision
        self.adapter = loaded.request.adapter

    def sampling(self, options: Options) -> dict:
        """generate() sampling arguments: the request's values over the model's recommended ones."""
        loaded = self.loaded
        # a real id's values come from the catalog, a folder's from its generation_config
        source = loaded.model_id if catalog.find(loaded.model_id) else loaded.path
        return merged_sampling(source, options)

    def prepare(self, request: Request) -> tuple[dict, list[int], int]:
        """Model inputs for the request, the prompt ids and the number of video tokens."""
        loaded = self.loaded
        with_video = request.clip is not None
        messages = prompts.build_messages(
            request.prompt,
            with_video=with_video,
            accepts_video=loaded.accepts_video,
            system=request.system,
            style=request.style,
            length=request.length,
        )
        text = prompts.render(loaded.processor, messages, loaded.thinking, request.options.think)
        if with_video:
            from transformers.video_utils import VideoMetadata

            clip = request.clip
            with warnings.catch_warnings():
                # cached frames are read-only on purpose; the processor only reads them
                warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
                inputs = loaded.processor(
                    text=[text],
                    videos=[clip.frames],
                    video_metadata=[VideoMetadata(**clip.processor_metadata())],
                    **PREPARED_FRAMES,
                    return_tensors="pt",
                )
        else:
            inputs = loaded.tokenizer([text], return_tensors="pt")
        prompt_ids = inputs["input_ids"][0].tolist()
        video_id = getattr(loaded.processor, "video_token_id", None)
        video_tokens = prompt_ids.count(video_id) if video_id is not None else 0
        inputs = {key: value for key, value in inputs.items() if key != "token_type_ids"}
        return inputs, prompt_ids, video_tokens

    def stream(self, request: Request, stop: threading.Event | None = None) -> Iterator[Event]:
        stop = stop or threading.Event()
        started = time.perf_counter()
        try:
            # on the compute thread, where generate() runs (the processor's and the mask's
            # torch operations would give this thread an OpenMP pool of its own: compute.py)
            inputs, prompt_ids, video_tokens, sampling = compute.call(self._prepare_all, request)
        except CaptionerError as exc:
            yield Error(exc, user_error=True)
            return
        except Exception as exc:  # noqa: BLE001 - reported as an event, never a traceback
            log.exception("preparing the request failed")
            yield Error(InternalError.wrap(exc), user_error=False)
            return
        preprocess_s = time.perf_counter() - started
        with self.loaded.lock:  # one generation per model at a time
            yield from self._generate(
                request, stop, started, preprocess_s, inputs, prompt_ids, video_tokens, sampling
            )

    def _prepare_all(self, request: Request) -> tuple[dict, list[int], int, dict]:
        inputs, prompt_ids, video_tokens = self.prepare(request)
        sampling = self.sampling(request.options)
        # the Korean mask's tables: built once per tokenizer (~0.3 s), counted as preprocessing
        korean.mask_stats(
            self.loaded.tokenizer,
            _vocab_rows(self.loaded.model),
            allow_hanja=request.options.allow_hanja,
        )
        return inputs, prompt_ids, video_tokens, sampling

    def _generate(
        self, request, stop, started, preprocess_s, inputs, prompt_ids, video_tokens, sampling
    ):
        import torch

        model = self.loaded.model
        device = getattr(model, "device", "cpu")
        sink: queue.Queue = queue.Queue()
        splitter = _ThinkSplitter(self.loaded.tokenizer, prompt_ids)

        def kwargs() -> dict:  # built by the worker: the masks are torch work too
            on_device = {
                key: value.to(device) if hasattr(value, "to") else value
                for key, value in inputs.items()
            }
            return self._generate_kwargs(
                on_device, prompt_ids, sampling, stop, sink, request.options, splitter.thinking
            )

        memory = _PeakMemory(device)
        threads = getattr(self.loaded.request, "threads", None)
        ran: dict = {}
        args = (kwargs, request.options.seed, sink, threads, ran)
        if compute.on_compute_thread():  # a caller on the compute thread cannot wait on it
            worker = threading.Thread(target=self._worker, args=args, daemon=True)
            worker.start()
            wait = worker.join
        else:
            wait = compute.submit(self._worker, *args).exception  # waits; the worker reports
        first = last = None
        new_tokens = 0
        failure: BaseException | None = None
        completed = False
        try:
            while True:
                kind, payload, stamp = sink.get()
                if kind == "end":
                    break
                if kind == "error":
                    failure = payload
                    continue
                first = first or stamp
                last = stamp
                new_tokens += len(payload)
                yield from splitter.feed(payload)
            completed = True
        finally:
            # Also runs when the consumer abandons the generator (a closed browser tab):
            # end generation after this step and wait, so the model is free for the next one.
            if not completed:
                stop.set()
            wait()
        yield from splitter.finish()
        if failure is not None:
            if isinstance(failure, torch.OutOfMemoryError):
                yield Error(
                    OutOfMemory(
                        "생성 중 메모리가 부족합니다. 프레임 수나 최대 토큰 수를 줄이세요.",
                        "Out of memory while generating. Use fewer frames or fewer new tokens.",
                    ),
                    user_error=True,
                )
            elif isinstance(failure, CaptionerError):
                yield Error(failure, user_error=True)
            else:
                yield Error(InternalError.wrap(failure), user_error=False)
            return
        total = time.perf_counter() - started
        stopped = stop.is_set() and new_tokens < sampling["max_new_tokens"]
        finish = (
            "stopped"
            if stopped
            else ("length" if new_tokens >= sampling["max_new_tokens"] else "eos")
        )
        decode_rate = (new_tokens - 1) / (last - first) if first and last and last > first else 0.0
        metrics = Metrics(
            prompt_tokens=len(prompt_ids),
            video_tokens=video_tokens,
            frames=len(request.clip.indices) if request.clip is not None else 0,
            new_tokens=new_tokens,
            preprocess_s=preprocess_s,
            ttft_s=(first - started) if first else total,
            total_s=total,
            tokens_per_s=decode_rate,
            peak_memory_bytes=memory.peak(),
            peak_memory_kind=memory.kind,
            finish_reason=finish,
            threads=ran.get("threads", 0),
        )
        answer = "".join(splitter.answer_text)
        yield Done(
            answer,
            "".join(splitter.reasoning_text),
            metrics,
            sampling,
            korean=korean.check(answer, allow_hanja=request.options.allow_hanja),
        )

    def _generate_kwargs(
        self, inputs, prompt_ids, sampling, stop, sink, options=None, thinking=False
    ) -> dict:
        from transformers import LogitsProcessorList, StoppingCriteriaList

        options = options or Options()
        # Korean is the output language: Han (unless allowed), kana and broken characters are
        # masked in the answer. It runs before temperature/top-k/top-p (generate() puts ours
        # first), so the top-k never consists of masked tokens.
        processors = LogitsProcessorList(
            [
                korean.logits_processor(
                    self.loaded.tokenizer,
                    _vocab_rows(self.loaded.model),
                    prompt_len=len(prompt_ids),
                    allow_hanja=options.allow_hanja,
                    thinking=thinking,
                )
            ]
        )
        if sampling.get("presence_penalty"):
            processors.append(_presence_penalty(len(prompt_ids), sampling["presence_penalty"]))
        args = {k: v for k, v in sampling.items() if k != "presence_penalty"}
        if args["do_sample"]:
            processors.append(_sampler(args["temperature"], args["top_k"], args["top_p"]))
        # sampling happens in our last processor; generate() keeps the one token left, and
        # gets its warpers' neutral values so the model's generation_config adds none
        args.update(do_sample=False, temperature=1.0, top_p=1.0, top_k=None)
        cache = self._new_cache()
        return {
            **inputs,
            **args,
            **({"past_key_values": cache} if cache is not None else {}),
            "logits_processor": processors,
            "stopping_criteria": StoppingCriteriaList([_stop_on(stop)]),
            "streamer": _QueueStreamer(sink),
            "pad_token_id": self.loaded.tokenizer.pad_token_id,
        }

    def _new_cache(self):
        """The KV cache for one generate() call: a CPU model with ``CPU_SDPA`` attention gets
        ``kvcache``'s, grown in place; others transformers' own (None)."""
        from captioner import kvcache
        from captioner.cpu_attention import CPU_SDPA

        request = getattr(self.loaded, "request", None)
        if kvcache.ENABLED and getattr(request, "attn_implementation", None) == CPU_SDPA:
            return kvcache.new_cache(self.loaded.model)
        return None

    def _worker(self, make_kwargs, seed: int | None, sink: queue.Queue, threads=None, ran=None):
        """generate() with the arguments ``make_kwargs()`` builds, here, in this thread."""
        import torch
        from transformers import set_seed

        kwargs: dict = {}
        try:
            kwargs = make_kwargs()
            # torch's thread count is per OS thread: set it here, in the thread that runs
            # generate(), or this thread runs with whatever it inherited (see profiles.runtime)
            if threads:
                torch.set_num_threads(threads)
            if ran is not None:
                ran["threads"] = torch.get_num_threads()
            if seed is not None:
                set_seed(seed)
            with torch.inference_mode():
                self.loaded.model.generate(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            sink.put(("error", exc, time.perf_counter()))
        finally:
            streamer = kwargs.get("streamer")
            if isinstance(streamer, _QueueStreamer):
                streamer.end()
            sink.put(("end", None, time.perf_counter()))


def _vocab_rows(model) -> int | None:
    """The model's embedding rows (vocab_size), which the scores' width follows."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return getattr(text, "vocab_size", None)


def merged_sampling(source, options: Options) -> dict:
    """The request's sampling values over the recommended ones of ``source`` (a catalog id or
    a model folder), checked: what every backend sends to its model."""
    recommended = catalog.recommended_sampling(source, options.think)
    values = {k: getattr(options, k) for k in recommended if getattr(options, k) is not None}
    merged = {**recommended, **values}
    if options.do_sample is not None:
        merged["do_sample"] = options.do_sample
    else:  # temperature 0 asks for greedy decoding, as OpenAI-compatible servers read it
        merged["do_sample"] = options.temperature != 0
    _validate(merged, options.seed)
    return merged


SEED_LIMIT = 2**32  # transformers.set_seed (NumPy's generator) takes 0 <= seed < 2**32


def _validate(sampling: dict, seed: int | None = None) -> None:
    # "not low <= x <= high" is also true of NaN, so NaN is refused with the rest
    def outside(key, low, high, low_open=False):
        value = float(sampling[key])
        return not (low < value <= high if low_open else low <= value <= high)

    problems = []
    if outside("max_new_tokens", 1, 32768):
        problems.append("1 <= max_new_tokens <= 32768")
    if sampling["do_sample"] and outside("temperature", 0, 5, low_open=True):
        problems.append("0 < temperature <= 5")
    if outside("top_p", 0, 1, low_open=True):
        problems.append("0 < top_p <= 1")
    if outside("top_k", 0, float("inf")):
        problems.append("0 <= top_k")
    if outside("repetition_penalty", 0, 10, low_open=True):
        problems.append("0 < repetition_penalty <= 10")
    if sampling.get("presence_penalty") is not None and outside("presence_penalty", -2, 2):
        problems.append("-2 <= presence_penalty <= 2")  # OpenAI's range, which servers enforce
    if seed is not None and not 0 <= int(seed) < SEED_LIMIT:
        problems.append(f"0 <= seed < {SEED_LIMIT}")
    if problems:
        joined = ", ".join(problems)
        raise InvalidRequest(
            f"생성 설정이 범위를 벗어났습니다: {joined}", f"Sampling options out of range: {joined}"
        )


class _PeakMemory:
    """Peak memory during one generation: CUDA's allocator peak, or the process's peak RSS."""

    def __init__(self, device) -> None:
        import torch

        self.cuda = str(device).startswith("cuda") and torch.cuda.is_available()
        self.kind = "cuda max allocated" if self.cuda else "process peak RSS"
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def peak(self) -> int:
        import torch

        if self.cuda:
            return int(torch.cuda.max_memory_allocated())
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def stream(loaded, request: Request, stop: threading.Event | None = None) -> Iterator[Event]:
    """Shortcut: stream ``request`` on ``loaded`` with the local transformers backend."""
    return TransformersBackend(loaded).stream(request, stop)
