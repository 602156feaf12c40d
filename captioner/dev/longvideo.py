"""Measurements of long-video captioning for the README (``python -m captioner ...``):

    make-long-clip OUT.mp4 --minutes 25      a 720p clip of distinct scenes from Big Buck Bunny
    make-random-vl FOLDER                    a random-weight, real-size Qwen3-VL-2B checkpoint
    measure-long VIDEO --model M --mode single|long   one run: frames, coverage, time, memory

The clip: scenes of 12-75 s, each Big Buck Bunny's 132 frames played back and forth through
a transform of its own (tints, flips, crops, negative, grey), so neighbouring scenes look
unlike each other and shot changes sit at known times (written next to the clip as JSON).
Big Buck Bunny (c) Blender Foundation, CC-BY 3.0. Don't commit the clips: they are made.

The checkpoint: the architecture of the catalog entry built on the meta device, ``to_empty``,
every parameter drawn from N(0, 0.02), saved in bf16 (4.26 GB for Qwen3-VL-2B), with the
tiny checkpoints' processor and Qwen's real tokenizer. It writes nonsense at the real cost.

``measure-long`` runs in its own process per measurement so that peak memory (this
process's and the decode worker's) belongs to that one run.
"""

from __future__ import annotations

import json
import math
import resource
import time
from pathlib import Path

import numpy as np

from captioner import engine, hardware, longvideo, video
from captioner.generation import Options

ASSET_CLIP = Path(__file__).resolve().parent.parent.parent / "assets" / "bigbuckbunny.mp4"


# --- the clip -----------------------------------------------------------------------------------
def _transforms():
    """Per-scene looks: each a function of an RGB uint8 frame (H, W, 3)."""
    tints = [(1.0, 0.55, 0.55), (0.55, 1.0, 0.6), (0.55, 0.7, 1.0), (1.0, 0.95, 0.4),
             (0.45, 1.0, 1.0), (1.0, 0.5, 1.0)]  # fmt: skip

    def tint(t):
        scale = np.array(t, dtype=np.float32)
        return lambda f: (f * scale).astype(np.uint8)

    def crop(y, x):
        def cut(f):
            h, w = f.shape[:2]
            part = f[y * h // 2 : (y + 1) * h // 2, x * w // 2 : (x + 1) * w // 2]
            return np.repeat(np.repeat(part, 2, axis=0), 2, axis=1)

        return cut

    looks = [lambda f: f, lambda f: f[:, ::-1], lambda f: f[::-1], lambda f: 255 - f,
             lambda f: np.repeat(f.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2),
             crop(0, 0), crop(1, 1), crop(0, 1), crop(1, 0)]  # fmt: skip
    return [tint(t) for t in tints] + looks


def make_long_clip(
    out: str | Path,
    minutes: float,
    *,
    fps: int = 25,
    seed: int = 0,
    scene_s: tuple[float, float] = (12.0, 75.0),
) -> dict:
    """Write ``minutes`` of 1280x720 H.264 at ``fps``; returns (and writes as JSON next to the
    clip) the scene cuts in seconds."""
    import av

    out = Path(out)
    with av.open(str(ASSET_CLIP)) as src:
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    cycle = frames + frames[-2:0:-1]  # back and forth: no jump inside a scene
    looks = _transforms()
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * fps)
    cuts: list[float] = []
    scene_looks: list[int] = []
    t = 0
    while t < total:
        cuts.append(t / fps)
        choices = [k for k in range(len(looks)) if not scene_looks or k != scene_looks[-1]]
        scene_looks.append(int(rng.choice(choices)))
        t += int(rng.uniform(*scene_s) * fps)
    with av.open(str(out), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "26"}
        scene = -1
        for i in range(total):
            while scene + 1 < len(cuts) and i >= round(cuts[scene + 1] * fps):
                scene, start = scene + 1, i
            picture = looks[scene_looks[scene]](cycle[(i - start + scene * 17) % len(cycle)])
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    facts = {"minutes": minutes, "fps": fps, "cuts_s": cuts[1:], "scenes": len(cuts),
             "bytes": out.stat().st_size}  # fmt: skip
    out.with_suffix(".cuts.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")
    return facts


# --- the checkpoint -----------------------------------------------------------------------------
def write_random_vl(folder: str | Path, model_id: str = "Qwen/Qwen3-VL-2B-Instruct") -> Path:
    """A random-weight checkpoint of ``model_id``'s real architecture in ``folder``, loadable
    by path (``dev/realsize.py`` builds it: buffers kept, weights tied, Qwen's tokenizer)."""
    import captioner.dev.realsize as realsize

    folder = Path(folder)
    realsize.save(realsize.random_model(model_id), model_id, folder)
    return folder


# --- one measurement ----------------------------------------------------------------------------
def _minutes_seen(times: list[float], duration_s: float) -> float:
    minutes = max(1, math.ceil(duration_s / 60 - 1e-9))
    return len({min(int(t // 60), minutes - 1) for t in times}) / minutes


def measure(
    path: str,
    model: str,
    settings,
    mode: str,
    max_new_tokens: int = 64,
) -> dict:
    """One run of ``path`` in one pass ("single", today's behaviour) or in windows ("long")."""
    import dataclasses

    if mode == "single":  # one pass over a video longer than one pass may take, on purpose
        limits = dataclasses.replace(settings.limits, max_duration_s=settings.long_max_duration_s)
        settings = dataclasses.replace(settings, limits=limits)
    request = engine.DescribeRequest(
        video=str(path),
        model=model,
        preset="timeline",
        long=mode == "long",
        options=Options(max_new_tokens=max_new_tokens, seed=0),
    )
    started = time.perf_counter()
    events, prepared_at = [], started
    for event in longvideo.describe(request, settings):
        events.append(event)
        if event.kind == "prepared":  # the model is loaded: what follows is the run itself
            prepared_at = time.perf_counter()
    ended = time.perf_counter()
    wall = ended - started
    done = events[-1]
    if done.kind != "done":
        raise RuntimeError(f"the run failed: {done.error.en}")
    info = video.open_source(path, longvideo.long_limits(settings)).info
    windows = [e.result for e in events if e.kind in ("window_done", "window_failed")]
    if windows:
        times = [t for w in windows if w.status == "done" for t in w.frame_times]
    else:
        times = list(next(e for e in events if e.kind == "prepared").clip.timestamps)
    check = longvideo.check_text(done.answer, info.duration_s)
    _close_worker()
    chosen = engine.select(request, settings)
    plan = settings.decide().video.plan
    return {
        "mode": mode,
        "video": Path(path).name,
        "duration_s": round(info.duration_s, 2),
        "size": f"{info.width}x{info.height}",
        "model": model,
        "profile": chosen.profile,
        "max_new_tokens": max_new_tokens,
        "frames_seen": len(times),
        "windows": len(windows) or None,
        "windows_failed": sum(1 for w in windows if w.status == "error"),
        "cut_boundaries": sum(1 for w in windows if w.cut_score is not None),
        "seconds_between_frames": round(info.duration_s / max(len(times), 1), 1),
        "minutes_with_a_frame": round(_minutes_seen(times, info.duration_s), 4),
        "timeline": check.to_dict(),
        "check_ko": check.summary("ko"),
        "wall_s": round(wall, 1),
        "after_load_s": round(ended - prepared_at, 1),
        "new_tokens": done.metrics.new_tokens,
        "peak_rss_main_gib": round(_rss_self() / 2**30, 2),
        "peak_rss_worker_gib": round(_rss_children() / 2**30, 2),
        "profile_plan_gib": round(plan.total_bytes / 2**30, 2) if plan else None,
        "profile_plan_model": plan.model_id if plan else None,
        "answer_head": done.answer[:300],
        "cpu": hardware.detect().cpu_name,
    }


def _close_worker() -> None:
    from captioner.video.worker import WORKER

    WORKER.close()  # waited for: its peak memory joins RUSAGE_CHILDREN


def _rss_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss_children() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
