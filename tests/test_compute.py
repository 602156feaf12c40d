"""The compute thread (``compute.py``): one long-lived thread runs the model's work; loading,
preparing and generate() go there, callers only wait and read."""

from __future__ import annotations

import contextvars
import threading

import pytest

from captioner import compute, generation, loader, video
from captioner.generation import Request

where = contextvars.ContextVar("where", default="unset")


def test_call_runs_on_one_long_lived_thread_and_returns_its_result():
    first = compute.call(threading.current_thread)
    second = compute.call(threading.current_thread)
    assert first is second and first is not threading.current_thread()
    assert first.name == "captioner-compute" and first.daemon
    assert compute.call(lambda a, b=0: a + b, 2, b=3) == 5


def test_an_exception_reaches_the_caller_and_the_thread_goes_on():
    def boom():
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        compute.call(boom)
    assert compute.call(lambda: "still here") == "still here"


def test_a_call_from_the_compute_thread_runs_at_once():
    # waiting on itself would never end: a nested call runs inline
    assert compute.call(lambda: compute.call(compute.on_compute_thread)) is True
    assert not compute.on_compute_thread()


def test_the_callers_context_goes_along():
    # Gradio's progress bar lives in a context variable of the request's thread
    where.set("caller")
    assert compute.call(where.get) == "caller"


def test_tasks_run_one_at_a_time_in_order():
    order: list[int] = []
    gate = threading.Event()
    blocked = compute.submit(gate.wait, 10)
    later = [compute.submit(order.append, i) for i in range(5)]
    assert not later[0].done()  # queued behind the running task
    gate.set()
    assert blocked.result(timeout=10) is True
    for future in later:
        future.result(timeout=10)
    assert order == [0, 1, 2, 3, 4]


@pytest.fixture(scope="module")
def vl(tiny_vl):
    loader.unload()
    return loader.load(loader.ModelRequest(tiny_vl, precision="fp32", device="cpu"))


def test_loading_preparing_and_generate_run_on_the_compute_thread(vl, monkeypatch, tmp_path):
    from media import make_video

    threads: dict[str, str] = {}
    backend = generation.TransformersBackend(vl)
    real_prepare, real_generate = backend.prepare, vl.model.generate

    def prepare(request):
        threads["prepare"] = threading.current_thread().name
        return real_prepare(request)

    def generate(**kwargs):
        threads["generate"] = threading.current_thread().name
        return real_generate(**kwargs)

    monkeypatch.setattr(backend, "prepare", prepare)
    monkeypatch.setattr(vl.model, "generate", generate)
    path = make_video(tmp_path / "clip.mp4", n_frames=24, fps=24)
    clip = video.load_clip(path, video.SamplingSpec(fps=2.0, max_frames=2, max_pixels=64 * 64))
    events = list(
        backend.stream(Request("설명", clip, options=generation.Options(max_new_tokens=3)))
    )
    assert events[-1].kind == "done"
    assert threads == {"prepare": "captioner-compute", "generate": "captioner-compute"}

    seen = []
    monkeypatch.setattr(
        loader,
        "_load_uncached",
        lambda request, progress: seen.append(threading.current_thread().name),
    )
    loader.unload()
    loader.load(loader.ModelRequest("elsewhere", precision="fp32", device="cpu"))
    assert seen == ["captioner-compute"]
    loader.unload()


def test_a_stream_started_on_the_compute_thread_still_generates(vl):
    # the fallback: generate() in a thread of its own, since the compute thread is busy here
    events = compute.call(
        lambda: list(
            generation.stream(vl, Request("설명", options=generation.Options(max_new_tokens=3)))
        )
    )
    assert events[-1].kind == "done" and events[-1].metrics.new_tokens == 3
