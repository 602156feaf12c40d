"""``python -m captioner bench --backend openai --base-url URL --model M``: our client against
bare ``openai`` calls on the same server and the same clips (a measurement, not a test).

- throughput: clips per minute of ``batch.run_batch(concurrency=N)`` (decode, encode, request,
  record) against N bare concurrent ``client.chat.completions.create`` streams sending the
  very same request bodies (clips encoded once beforehand), for each N, rounds interleaved,
  medians reported;
- overhead: one request at a time, our ``RemoteBackend.stream`` on an already decoded clip
  against a bare call with the same body (median per request);
- Stop: from ``stop.set()`` to our stream returning, and to the first token of the next
  request (the slot is free when that token comes as fast as on an idle server).
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def _clips(video: str, count: int, folder: Path) -> list[Path]:
    """``count`` distinct files of the same footage (the run log treats equal bytes as one
    video, which would make batch skip them): the clip with a few bytes appended."""
    data = Path(video).read_bytes()
    paths = []
    for i in range(count):
        path = folder / f"clip{i}.mp4"
        path.write_bytes(data + bytes(i + 1))  # trailing bytes after the moov: still the clip
        paths.append(path)
    return paths


def _prepared(settings, model: str, paths: list[Path], max_new_tokens: int):
    """(backend, request bodies) exactly as our client builds them, clips encoded once."""
    from captioner import engine, prompts, video
    from captioner.backends import remote
    from captioner.generation import Options, Request

    backend = remote.backend_for(settings, model)
    options = Options(max_new_tokens=max_new_tokens, seed=0)
    chosen = engine.select(engine.DescribeRequest(video=str(paths[0]), model=model), settings)
    spec = engine.sampling_spec(chosen, engine.DescribeRequest())
    text = prompts.resolve_prompt("detail", None)[0]
    bodies, requests, keep = [], [], []
    for path in paths:
        clip = video.load_clip(str(path), spec, settings.limits)
        request = Request(text, clip, options=options)
        prepared = backend._prepare(request)
        keep.append(prepared.delivery)  # the files stay until the measurement ends
        bodies.append({"messages": prepared.messages, "extra": prepared.extra})
        requests.append(request)
    return backend, bodies, requests, keep


def _bare(client, model: str, body: dict) -> float:
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=model, messages=copy.deepcopy(body["messages"]), stream=True,
        extra_body=body["extra"],
    )  # fmt: skip
    for _ in stream:
        pass
    return time.perf_counter() - started


def report(settings, model: str, video: str, *, levels=(1, 4, 8), clips: int = 8,
           rounds: int = 3, max_new_tokens: int = 64) -> dict:  # fmt: skip
    from captioner import batch, runlog
    from captioner.backends import dialects
    from captioner.generation import Options

    folder = Path(tempfile.mkdtemp(prefix="captioner-bench-"))
    paths = _clips(video, clips, folder)
    backend, bodies, requests, keep = _prepared(settings, model, paths, max_new_tokens)
    deployment = backend.deployment
    url = deployment.urls[0]
    client = deployment.client(url)
    served = dialects.served_id(deployment.dialect(url), model)
    _bare(client, served, bodies[0])  # warm the server (model load, first-call costs)

    throughput: dict[int, dict[str, list[float]]] = {n: {"ours": [], "bare": []} for n in levels}
    for round_ in range(rounds):
        for n in levels:
            started = time.perf_counter()
            with ThreadPoolExecutor(n) as pool:
                list(pool.map(lambda b: _bare(client, served, b), bodies))
            throughput[n]["bare"].append(60 * clips / (time.perf_counter() - started))
            with runlog.RunLog(folder / f"runs-{round_}-{n}.sqlite3") as log:
                started = time.perf_counter()
                summary = batch.run_batch(
                    [str(p) for p in paths], ["detail"], (), [model], None, log=log,
                    settings=settings, concurrency=n,
                    options=Options(max_new_tokens=max_new_tokens, seed=0),
                )  # fmt: skip
                elapsed = time.perf_counter() - started
            assert summary.done == clips, summary.text()
            throughput[n]["ours"].append(60 * clips / elapsed)

    ours, bare = [], []
    for request, body in zip(requests * 2, bodies * 2, strict=True):  # interleaved, one at a time
        started = time.perf_counter()
        events = list(backend.stream(request))
        assert events[-1].kind == "done", events[-1]
        ours.append(time.perf_counter() - started)
        bare.append(_bare(client, served, body))

    stop_figures = _stop(backend, requests[0], client, served, bodies[0])
    for delivery in keep:
        if delivery is not None:
            delivery.close()
    med = statistics.median
    return {
        "server": deployment.info(url).to_dict(),
        "model": model,
        "clips": clips,
        "rounds": rounds,
        "max_new_tokens": max_new_tokens,
        "clips_per_minute": {
            n: {
                "ours": round(med(v["ours"]), 2),
                "bare": round(med(v["bare"]), 2),
                "ratio": round(med(v["ours"]) / med(v["bare"]), 3),
            }
            for n, v in throughput.items()
        },  # fmt: skip
        "per_request_s": {
            "ours": round(med(ours), 3),
            "bare": round(med(bare), 3),
            "overhead": round(med(ours) / med(bare) - 1, 4),
        },  # fmt: skip
        "stop": stop_figures,
    }


def _stop(backend, request, client, served: str, body: dict) -> dict:
    from dataclasses import replace

    from captioner.generation import Options

    long = replace(request, options=Options(max_new_tokens=4000, seed=0))
    stop = threading.Event()
    stopped_at = None
    for event in backend.stream(long, stop):
        if event.kind == "text" and stopped_at is None:
            stop.set()
            stopped_at = time.perf_counter()
    returned = time.perf_counter() - stopped_at
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=served, messages=copy.deepcopy(body["messages"]), stream=True,
        extra_body=body["extra"],
    )  # fmt: skip
    first = None
    for chunk in stream:
        if chunk.choices and (chunk.choices[0].delta.content or ""):
            first = time.perf_counter()
            break
    stream.close()
    idle = _ttft(client, served, body)
    return {
        "stop_to_stream_closed_s": round(returned, 3),
        "next_request_ttft_s": round((first or time.perf_counter()) - started, 3),
        "idle_ttft_s": round(idle, 3),
    }


def _ttft(client, served: str, body: dict) -> float:
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model=served, messages=copy.deepcopy(body["messages"]), stream=True,
        extra_body=body["extra"],
    )  # fmt: skip
    for chunk in stream:
        if chunk.choices and (chunk.choices[0].delta.content or ""):
            break
    stream.close()
    return time.perf_counter() - started
