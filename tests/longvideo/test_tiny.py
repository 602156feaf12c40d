"""The real pipeline on the tiny Qwen3-VL checkpoint: the processor's own "<t seconds>"
markers in each window's prompt are whole-video presentation times (PyAV's pts, within
0.1 s) for constant and variable frame rate, and a long run ends with a usable timeline
even though a tiny random model writes nonsense (each window then is one line)."""

from __future__ import annotations

import re

import pytest
from longvideo.conftest import pyav_times

from captioner import engine, longvideo
from captioner.generation import Options

MARKER = re.compile(r"<(\d+\.\d) seconds>")


class Spy:
    """The real backend, noting the prompt text the processor rendered for each window."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_id, self.device = inner.model_id, inner.device
        self.revision, self.adapter = inner.revision, inner.adapter
        self.seen: list[tuple[tuple[int, ...], list[float]]] = []

    def stream(self, request, stop=None):
        if request.clip is not None:
            _, ids, _ = self.inner.prepare(request)
            text = self.inner.loaded.tokenizer.decode(ids)
            self.seen.append((request.clip.indices, [float(t) for t in MARKER.findall(text)]))
        yield from self.inner.stream(request, stop)


@pytest.mark.parametrize("which", ["scenes_path", "vfr_scenes_path"])
def test_the_processor_writes_whole_video_times(which, request, tiny_vl, long_settings,
                                                monkeypatch):  # fmt: skip
    path = request.getfixturevalue(which)
    real_open = engine.open_backend
    spies: list[Spy] = []

    def open_backend(*args, **kwargs):
        spies.append(Spy(real_open(*args, **kwargs)))
        return spies[-1]

    monkeypatch.setattr(engine, "open_backend", open_backend)
    describe = engine.DescribeRequest(video=str(path), model=tiny_vl,
                                      options=Options(max_new_tokens=3, seed=0))  # fmt: skip
    events = list(longvideo.describe(describe, long_settings))
    assert events[-1].kind == "done", events[-1]
    real = pyav_times(path)
    seen = spies[0].seen
    windows = [e.result for e in events if e.kind == "window_done"]
    assert len(windows) == len(seen) >= 6
    for (indices, stamps), window in zip(seen, windows, strict=True):
        pairs = [(real[a] + real[b]) / 2 for a, b in zip(indices[::2], indices[1::2], strict=True)]
        assert len(stamps) == len(pairs) == 4
        assert max(abs(a - b) for a, b in zip(stamps, pairs, strict=True)) < 0.1
        assert window.start_s - 0.1 <= stamps[0] and stamps[-1] <= window.end_s + 0.1
    merged = next(e for e in events if e.kind == "merged")
    assert merged.check.ok and merged.check.coverage == 1.0  # one line per window at least
    assert events[-1].metrics.frames == 8 * len(windows)
