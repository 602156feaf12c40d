"""The records the run log hands out: a recorded run and its ratings. Frozen: a record is a
snapshot of the database at read time; changes go through :class:`captioner.runlog.RunLog`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Rating:
    id: int
    run_id: int
    score: int
    tags: list[str]
    note: str
    reviewer: str
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Run:
    """One recorded generation. JSON columns come back decoded (dicts and lists)."""

    id: int
    created_at: str
    finished_at: str | None
    updated_at: str | None
    source: str
    status: str
    video_sha256: str | None
    video_name: str | None  # the file name the user gave; set once the file decoded as a video
    video_duration_s: float | None
    video_width: int | None
    video_height: int | None
    video_fps: float | None
    frames: int | None
    fps_requested: float | None
    max_frames: int | None
    frame_indices: list[int] | None
    frame_times: list[float] | None
    frame_width: int | None
    frame_height: int | None
    model: str | None
    model_revision: str | None
    adapter: str | None
    profile: str | None
    precision: str | None
    device: str | None
    hardware: str | None
    prompt: str | None
    preset: str | None
    system_prompt: str | None
    options: dict | None
    seed: int | None
    sampling: dict | None
    answer: str
    thinking: str
    metrics: dict | None
    error_code: str | None
    error_ko: str | None
    error_en: str | None
    error_detail: str | None
    app_version: str | None
    request: dict | None
    config_key: str | None
    owner: str | None  # who recorded it (see access.py); None for runs from schema v2
    video_pruned_at: str | None  # when the library's copy was removed to stay in budget
    windows: int | None = None  # a long video's planned windows (see WindowRecord); None: one pass
    ratings: tuple[Rating, ...] = ()

    @property
    def rating_avg(self) -> float | None:
        if not self.ratings:
            return None
        return sum(r.score for r in self.ratings) / len(self.ratings)

    @property
    def rating_count(self) -> int:
        return len(self.ratings)

    @property
    def error(self) -> dict | None:
        if self.error_code is None and self.error_en is None:
            return None
        return {
            "code": self.error_code,
            "ko": self.error_ko,
            "en": self.error_en,
            "detail": self.error_detail,
        }

    @property
    def video_size(self) -> str | None:
        if self.video_width and self.video_height:
            return f"{self.video_width}x{self.video_height}"
        return None

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["rating_avg"] = self.rating_avg
        values["rating_count"] = self.rating_count
        return values


@dataclass(frozen=True)
class WindowRecord:
    """One window of a long run (schema v4): its range, caption, frames and timing."""

    run_id: int
    index: int
    start_s: float
    end_s: float
    cut_score: float | None  # the shot-change score its start was moved to; None: no cut
    status: str  # "done" | "error" | "stopped"
    answer: str
    thinking: str
    frame_indices: list[int] | None
    frame_times: list[float] | None
    frame_size: tuple[int, int] | None  # (height, width)
    metrics: dict | None
    decode_s: float | None
    generate_s: float | None
    error: dict | None
    updated_at: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Columns stored as JSON text and decoded on read.
JSON_COLUMNS = ("frame_indices", "frame_times", "options", "sampling", "metrics", "request")
RUN_COLUMNS = tuple(f.name for f in dataclasses.fields(Run) if f.name != "ratings")
