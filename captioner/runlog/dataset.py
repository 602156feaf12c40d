"""The ``dataset`` export: JSON Lines that ``datasets.load_dataset("json", data_files=...)``
reads as is, one line per run.

    from datasets import load_dataset
    ds = load_dataset("json", data_files="captioner-runs.dataset.jsonl", split="train")

Every line has every field below, always with the same type or null, so the library infers
one schema (values that would vary in shape, like the request, are JSON text):

    id                 int      the run id in the log
    created_at         string   UTC, ISO-8601, e.g. "2025-06-01T09:30:00.123Z"
    finished_at        string   null while running
    source             string   "web" | "cli" | "batch"
    status             string   "done" | "stopped" | "error" | "interrupted" | "running"
    video_name         string   the file name the user gave; null for a text prompt or a file
                                that was not accepted as a video
    video_sha256       string   content hash of the file
    video_duration_s   float
    video_width        int
    video_height       int
    video_fps          float
    video_pruned       bool     the library's copy was removed to stay within its budget
    frames             int      frames the model saw
    frame_times        [float]  their timestamps in seconds ([] without a video)
    frame_indices      [int]    their indices in the video ([] without a video)
    model              string   model id or folder
    model_revision     string
    adapter            string   LoRA adapter, if any
    profile            string   hardware profile
    precision          string   bf16 | fp16 | fp32 | nf4
    device             string
    hardware           string
    preset             string   preset key; null for a free prompt
    prompt             string   the text the model was asked
    system_prompt      string
    seed               int
    options_json       string   generation options as JSON text
    sampling_json      string   the sampling actually used, as JSON text
    request_json       string   the whole request (file name only, no local path), JSON text
    answer             string
    thinking           string   "" when the model did not think aloud
    error_code         string   null when the run did not fail
    error_ko           string
    error_en           string
    prompt_tokens      int      from the run's metrics (null when it did not finish)
    video_tokens       int
    new_tokens         int
    ttft_s             float    time to the first token
    tokens_per_s       float
    total_s            float
    finish_reason      string   "eos" | "length" | "stopped" ...
    app_version        string
    rating_avg         float    mean over the ratings; null when unrated
    rating_count       int
    ratings            [{reviewer: string, score: int, tags: [string], note: string,
                         created_at: string, updated_at: string}]

Why the lines are not strictly in id order: the library reads a file in chunks (10 MB by
default) and fixes the schema from the first one; a field that is null (or an empty list) in
every line of the first chunk and set later fails to load ("Couldn't cast array of type
string to null"). So the few runs that first carry each field with a value come first, in id
order, and all the others follow in id order. Sort by ``id`` after loading if order matters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from captioner.runlog.records import Run

_METRICS = {  # field -> type, from generation.Metrics
    "prompt_tokens": int,
    "video_tokens": int,
    "new_tokens": int,
    "ttft_s": float,
    "tokens_per_s": float,
    "total_s": float,
    "finish_reason": str,
}


def _typed(value: Any, kind: type) -> Any:
    """Always the same JSON type for a field: 2 and 2.0 must not alternate (int vs float)."""
    if value is None:
        return None
    try:
        value = kind(value)
    except (TypeError, ValueError):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinity are not JSON
    return value


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def row(run: Run) -> dict[str, Any]:
    """One line of the dataset export (see the module docstring for the fields)."""
    metrics = run.metrics or {}
    values: dict[str, Any] = {
        "id": run.id,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "source": run.source,
        "status": run.status,
        "video_name": run.video_name,
        "video_sha256": run.video_sha256,
        "video_duration_s": _typed(run.video_duration_s, float),
        "video_width": _typed(run.video_width, int),
        "video_height": _typed(run.video_height, int),
        "video_fps": _typed(run.video_fps, float),
        "video_pruned": run.video_pruned_at is not None,
        "frames": _typed(run.frames, int),
        "frame_times": [float(t) for t in run.frame_times or ()],
        "frame_indices": [int(i) for i in run.frame_indices or ()],
        "model": run.model,
        "model_revision": run.model_revision,
        "adapter": run.adapter,
        "profile": run.profile,
        "precision": run.precision,
        "device": run.device,
        "hardware": run.hardware,
        "preset": run.preset,
        "prompt": run.prompt,
        "system_prompt": run.system_prompt,
        "seed": _typed(run.seed, int),
        "options_json": _json_text(run.options),
        "sampling_json": _json_text(run.sampling),
        "request_json": _json_text(run.request),
        "answer": run.answer,
        "thinking": run.thinking,
        "error_code": run.error_code,
        "error_ko": run.error_ko,
        "error_en": run.error_en,
        **{name: _typed(metrics.get(name), kind) for name, kind in _METRICS.items()},
        "app_version": run.app_version,
        "rating_avg": _typed(run.rating_avg, float),
        "rating_count": run.rating_count,
        "ratings": [
            {
                "reviewer": r.reviewer,
                "score": int(r.score),
                "tags": [str(t) for t in r.tags],
                "note": r.note,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
            }
            for r in run.ratings
        ],
    }
    return values


def _filled(value: Any, prefix: str = "") -> Iterator[str]:
    """The paths inside ``value`` that hold something (not null, not an empty list)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _filled(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        if value:
            yield prefix
            for item in value:
                yield from _filled(item, prefix + "[]")
    elif value is not None:
        yield prefix


def ordered(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with, first, the ones that first give each field a value (see the docstring)."""
    rows = list(rows)
    covered: set[str] = set()
    leaders: list[int] = []
    for index, values in enumerate(rows):
        paths = set(_filled(values))
        if not paths <= covered:
            covered |= paths
            leaders.append(index)
    lead = set(leaders)
    return [rows[i] for i in leaders] + [r for i, r in enumerate(rows) if i not in lead]


def to_dataset_jsonl(runs: Iterable[Run]) -> str:
    return "".join(
        json.dumps(values, ensure_ascii=False) + "\n" for values in ordered(row(r) for r in runs)
    )
