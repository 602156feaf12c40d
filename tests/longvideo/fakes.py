"""A deterministic stand-in for a model, for the window machinery's tests: it implements the
``generation.Backend`` protocol, and its captions say what a good model would, so the tests
can check text, times and order (tiny random checkpoints write nonsense).

For a window it writes one timeline line per pair of frames, at the frames' own times (the
whole-video times the clip carries) and naming the scene the frames show (by colour, see
``media.make_scenes_video``). For the merge pass (no clip) it writes a summary line, then
every window line it was given, in order, with the first one repeated (a duplicate the
merge must drop).
"""

from __future__ import annotations

import re
import threading
import time

import media

from captioner.errors import CaptionerError, OutOfMemory
from captioner.generation import Done, Error, Metrics, Text
from captioner.subtitles import clock_text

LINE = re.compile(r"^\d{2}:\d{2}-\d{2}:\d{2} .+$", re.MULTILINE)


def metrics(frames: int, new_tokens: int, finish: str) -> Metrics:
    return Metrics(
        prompt_tokens=100,
        video_tokens=10 * frames,
        frames=frames,
        new_tokens=new_tokens,
        preprocess_s=0.0,
        ttft_s=0.01,
        total_s=0.02,
        tokens_per_s=100.0,
        peak_memory_bytes=1,
        peak_memory_kind="process peak RSS",
        finish_reason=finish,
    )


def window_start(prompt: str) -> float:
    """Where the window starts, as the window prompt tells the model ("MM:SS부터"); 0 for a
    one-pass prompt."""
    found = re.search(r"(\d+):(\d+)부터", prompt)
    return int(found.group(1)) * 60 + int(found.group(2)) if found else 0.0


class FakeBackend:
    model_id = "fake/long"
    device = "cpu"
    revision = None
    adapter = None

    def __init__(
        self,
        *,
        fail_windows: tuple[int, ...] = (),
        delay_s: float = 0.0,
        on_window=None,
        relative: bool = False,
        merge_error: CaptionerError | None = None,
    ) -> None:
        self.fail_windows = fail_windows  # 0-based counts of window calls that fail
        self.delay_s = delay_s  # per streamed piece: a slow model, for Stop
        self.on_window = on_window  # called with each clip before captioning it
        self.relative = relative  # write times from the window's start (a confused model)
        self.merge_error = merge_error
        self.window_calls = 0
        self.merge_prompts: list[str] = []
        self.window_prompts: list[str] = []
        self.clips: list = []  # (indices, timestamps, processor metadata) of each window
        self.lock = threading.Lock()

    def caption(self, clip, window_start: float) -> str:
        times = clip.timestamps
        shift = window_start if self.relative else 0.0
        lines = []
        for k in range(0, len(times) - 1, 2):
            scene = media.which_scene(clip.frames[k])
            start, end = times[k] - shift, times[k + 1] - shift
            lines.append(f"{clock_text(start)}-{clock_text(end)} 장면 {scene}")
        return "\n".join(lines)

    def stream(self, request, stop=None):
        stop = stop or threading.Event()
        clip = request.clip
        if clip is None:
            self.merge_prompts.append(request.prompt)
            if self.merge_error is not None:
                yield Error(self.merge_error, user_error=True)
                return
            lines = LINE.findall(request.prompt)
            text = "요약: 여러 장면이 차례로 나옵니다.\n\n" + "\n".join(lines[:1] + lines)
            frames = 0
        else:
            call = self.window_calls
            self.window_calls += 1
            self.window_prompts.append(request.prompt)
            meta = clip.processor_metadata()
            self.clips.append((clip.indices, clip.timestamps, meta))
            if self.on_window is not None:
                self.on_window(clip)
            if call in self.fail_windows:
                yield Error(OutOfMemory("메모리 부족 (가짜)", "out of memory (fake)"), True)
                return
            text = self.caption(clip, window_start(request.prompt))
            frames = len(clip.indices)
        pieces = text.split(" ")
        sent: list[str] = []
        for i, piece in enumerate(pieces):
            if stop.is_set():
                answer = "".join(sent)
                yield Done(answer, "", metrics(frames, len(sent), "stopped"), {"seed": 0})
                return
            chunk = piece if i == 0 else " " + piece
            sent.append(chunk)
            yield Text(chunk)
            if self.delay_s:
                time.sleep(self.delay_s)
        yield Done("".join(sent), "", metrics(frames, len(sent), "eos"), {"seed": 0})
