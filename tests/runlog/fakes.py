"""Engine events without a model, for run log tests: queued up front, like llm's fake model."""

from __future__ import annotations

from types import SimpleNamespace

from captioner import engine, runlog
from captioner.generation import Done, Metrics, Text, Thinking

XSS = "<script>alert(1)</script>"
ACCESS = runlog.Access.cli("tester")  # sees every run, rates as "tester"


def metrics(finish: str = "eos", new_tokens: int = 3) -> Metrics:
    return Metrics(
        prompt_tokens=10,
        video_tokens=4,
        frames=4,
        new_tokens=new_tokens,
        preprocess_s=0.01,
        ttft_s=0.1,
        total_s=0.2,
        tokens_per_s=20.0,
        peak_memory_bytes=1,
        peak_memory_kind="process peak RSS",
        finish_reason=finish,
    )


def fake_prepared(
    video_name: str = "clip.mp4", sha: str = "ab" * 32, duration: float = 5.0
) -> engine.Prepared:
    info = SimpleNamespace(
        sha256=sha, duration_s=duration, width=320, height=240, avg_fps=25.0, path=video_name
    )
    clip = SimpleNamespace(
        info=info,
        indices=(0, 25, 50, 75),
        timestamps=(0.0, 1.0, 2.0, 3.0),
        frames=SimpleNamespace(shape=(4, 224, 288, 3)),
    )
    selection = SimpleNamespace(  # the engine.Selection attributes the log reads
        model="fake/model",
        precision="bf16",
        device="cpu",
        profile="cpu",
        hardware=SimpleNamespace(describe=lambda: "CPU test"),
    )
    backend = SimpleNamespace(model_id="fake/model", device="cpu", revision="abc123", adapter=None)
    return engine.Prepared(selection, clip, backend)


def fake_events(
    answer: str = "토끼가 잔다.",
    thinking: str = "",
    finish: str = "eos",
    prepared: bool = True,
    clip: tuple[str, str] = ("clip.mp4", "ab" * 32),
) -> list:
    """Status, Prepared (a decoded ``clip``: file name and hash), text, Done."""
    events = [engine.Status("plan", "p")] + ([fake_prepared(*clip)] if prepared else [])
    if thinking:
        events.append(Thinking(thinking))
    events += [Text(ch) for ch in answer]
    events.append(Done(answer, thinking, metrics(finish), {"temperature": 0.7, "top_p": 0.8}))
    return events


def request(**kwargs) -> engine.DescribeRequest:
    return engine.DescribeRequest(**{"video": "clip.mp4", "model": "fake/model", **kwargs})


def recorded(
    run_log: runlog.RunLog,
    req=None,
    source: str = "web",
    access: runlog.Access = ACCESS,
    **event_kwargs,
) -> int:
    """Record one fake run owned by ``access``; returns its id."""
    ids: list[int] = []
    for _ in runlog.record(
        iter(fake_events(**event_kwargs)),
        req or request(),
        log=run_log,
        source=source,
        on_start=ids.append,
        access=access,
    ):
        pass
    return ids[0]
