"""captioner/video/worker.py: one reused process; a timeout or a crash replaces it."""

from __future__ import annotations

import os
from pathlib import Path

import faulty_readers
import pytest

from captioner import errors, video
from captioner.video import VideoLimits
from captioner.video.worker import WORKER, WorkerDied, WorkerTimeout


def test_worker_is_reused(cfr_path: Path, vfr_path: Path) -> None:
    video.load_clip(cfr_path)
    pid = WORKER.pid
    video.load_clip(vfr_path)
    video.probe(cfr_path)
    assert WORKER.pid == pid


def test_timeout_kills_the_worker_and_the_next_call_works(uhd_path: Path, cfr_path: Path) -> None:
    video.load_clip(cfr_path)  # a warm worker: the limit below measures decoding, not start-up
    pid = WORKER.pid
    with pytest.raises(errors.DecodeTimeout) as late:
        video.load_clip(uhd_path, limits=VideoLimits(decode_timeout_s=0.02), backend="pyav")
    assert "(0.02초)" in late.value.ko and "(0.02 s)" in late.value.en  # the limit set
    clip = video.load_clip(uhd_path, backend="pyav")  # a fresh worker takes over
    assert clip.frames.shape[1:] == (320, 576, 3)
    assert WORKER.pid != pid


def test_a_job_that_overruns_is_stopped(cfr_path: Path) -> None:
    video.probe(cfr_path)
    pid = WORKER.pid
    with pytest.raises(WorkerTimeout):
        WORKER.call(faulty_readers.hang, (), 0.5)
    assert WORKER.pid is None and video.probe(cfr_path).frame_count == 48
    assert WORKER.pid != pid


def test_worker_crash_is_reported_and_the_next_call_works(cfr_path: Path) -> None:
    video.load_clip(cfr_path)
    with pytest.raises(WorkerDied):
        WORKER.call(os._exit, (3,), 30.0)  # what a decoder segfault looks like
    video.clear_cache()
    assert video.load_clip(cfr_path).frames.shape[0] == 4


def test_typed_errors_cross_the_process_boundary(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50, encoding="utf-8")
    with pytest.raises(errors.NotAVideo) as caught:
        video.probe(text)  # raised in the worker, rebuilt here with both messages
    assert caught.value.ko and caught.value.en and caught.value.code == "not_a_video"
