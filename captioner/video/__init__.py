"""The video pipeline: a user's file in, a :class:`Clip` for Qwen3-VL out.

``load_clip(path, spec, limits)`` turns an upload into a few RGB frames already at the
resolution the model will see, the frames' real presentation times, and the metadata that
transformers' ``Qwen3VLProcessor`` needs to write correct ``<t seconds>`` markers. Every
failure a user can cause is a typed error with a Korean and an English message.

One concern per module, in the order a file meets them:

    files.py       exists, not empty, not too large; first bytes; the content hash
    containers.py  the allow-list: MP4/MOV, Matroska/WebM, AVI only, and FFmpeg kept to them
    probing.py     VideoInfo and FrameIndex: every frame's time and the keyframes, no decoding
    sampling.py    which frames and at what size (pure arithmetic: SamplingSpec)
    decode.py      the readers: decord, and PyAV seeking per frame; decord's time budget
    worker.py      the process probing and decoding run in, killed when a job overruns
    cache.py       decoded clips kept in memory, bounded in bytes
    clip.py        the order of the steps above, the retry on PyAV: load_clip, probe, Clip;
                   open_source and load_span for a long video decoded range by range
    readers.py     which readers are installed (PyAV required) and the order to try them
    messages.py    the bilingual text of every video error

Nothing here reads the environment: callers pass ``VideoLimits`` and call
``set_cache_limit`` from their settings.
"""

from __future__ import annotations

from captioner.video.cache import set_cache_limit
from captioner.video.clip import (
    Clip,
    Source,
    VideoLimits,
    clear_cache,
    load_clip,
    load_span,
    open_source,
    probe,
)
from captioner.video.containers import VIDEO_EXTENSIONS
from captioner.video.files import file_sha256, remember_sha256
from captioner.video.probing import VideoInfo
from captioner.video.readers import BACKENDS
from captioner.video.sampling import SamplingSpec, sample_indices, sample_span, target_size

__all__ = [
    "BACKENDS",
    "VIDEO_EXTENSIONS",
    "Clip",
    "SamplingSpec",
    "Source",
    "VideoInfo",
    "VideoLimits",
    "clear_cache",
    "file_sha256",
    "load_clip",
    "load_span",
    "open_source",
    "probe",
    "remember_sha256",
    "sample_indices",
    "sample_span",
    "set_cache_limit",
    "target_size",
]
