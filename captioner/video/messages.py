"""Every error a user can cause with a video, worded once, in Korean and English.

The other modules of this package raise what these functions build, so a reader who wants
to change what a visitor reads about a bad upload edits this file and nothing else. The
``detail`` of each error is for logs: it may name FFmpeg's complaint, never a server path.
"""

from __future__ import annotations

import captioner.video.containers as containers
from captioner.errors import (
    CorruptVideo,
    DecodeTimeout,
    EmptyVideo,
    InvalidRequest,
    MissingDependency,
    NotAVideo,
    NoVideoStream,
    VideoNotFound,
    VideoTooLarge,
    VideoTooLong,
)

MIB = 1024 * 1024


def _span(seconds: float) -> tuple[str, str]:
    """A duration for people: seconds under a minute, minutes above."""
    if seconds < 60:
        return f"{seconds:.1f}초", f"{seconds:.1f} s"
    return f"{seconds / 60:.1f}분", f"{seconds / 60:.1f} min"


def not_found(name: str, detail: str | None = None) -> VideoNotFound:
    return VideoNotFound(
        f"영상 파일을 찾을 수 없습니다: {name}", f"Video file not found: {name}", detail=detail
    )


def a_url(url: str) -> VideoNotFound:
    return VideoNotFound(
        f"주소(URL)는 받지 않습니다. 영상을 내려받아 파일 경로를 주세요: {url}",
        f"A URL is not a video file here: download it and give the file's path: {url}",
    )


def not_a_file(name: str) -> VideoNotFound:
    return VideoNotFound(
        f"영상 파일이 아닙니다 (폴더 등): {name}",
        f"Not a video file (a folder or device): {name}",
    )


def unreadable(name: str, detail: str) -> VideoNotFound:
    return VideoNotFound(
        f"영상 파일을 읽을 수 없습니다: {name}",
        f"Cannot read the video file: {name}",
        detail=detail,
    )


def empty() -> EmptyVideo:
    return EmptyVideo("영상 파일이 비어 있습니다 (0 바이트).", "The video file is empty (0 bytes).")


def too_large(size_bytes: int, limit_bytes: int) -> VideoTooLarge:
    size_mb, limit_mb = size_bytes / MIB, limit_bytes / MIB
    limit = f"{limit_mb:,.0f}" if limit_mb >= 10 else f"{limit_mb:.2g}"  # 0.5 MB, not "0 MB"
    return VideoTooLarge(
        f"영상 파일이 너무 큽니다: {size_mb:,.1f} MB (최대 {limit} MB).",
        f"The video file is too large: {size_mb:,.1f} MB (limit {limit} MB).",
    )


def too_long(duration_s: float, limit_s: float) -> VideoTooLong:
    (got_ko, got_en), (max_ko, max_en) = _span(duration_s), _span(limit_s)
    return VideoTooLong(
        f"영상이 너무 깁니다: {got_ko} (최대 {max_ko}).",
        f"The video is too long: {got_en} (limit {max_en}).",
    )


def corrupt(detail: str) -> CorruptVideo:
    return CorruptVideo(
        "영상 파일이 손상되었거나 끝까지 저장되지 않아 읽을 수 없습니다.",
        "The video file is damaged or incomplete and cannot be read.",
        detail=detail,
    )


def not_a_video(detail: str) -> NotAVideo:
    """Anything outside the accepted containers: text, images, playlists, other formats."""
    return NotAVideo(
        f"지원하는 영상 파일이 아닙니다. {containers.LABELS} 형식의 동영상만 받습니다.",
        f"This is not a video file we accept. Accepted formats: {containers.LABELS}.",
        detail=detail,
    )


def no_video_stream(detail: str) -> NoVideoStream:
    return NoVideoStream(
        "파일에 영상 트랙이 없습니다 (오디오만 있음).",
        "The file has no video track (audio only).",
        detail=detail,
    )


def decode_timeout(limit_s: float) -> DecodeTimeout:
    return DecodeTimeout(
        f"영상 처리가 제한 시간({limit_s:g}초) 안에 끝나지 않았습니다.",
        f"Video decoding did not finish within the time limit ({limit_s:g} s).",
    )


def missing(package: str) -> MissingDependency:
    return MissingDependency(package, "영상 읽기 (video decoding)")


def unknown_backend(backend: str, choices: tuple[str, ...]) -> InvalidRequest:
    names = ", ".join(choices)
    return InvalidRequest(
        f"알 수 없는 영상 백엔드입니다: {backend} (가능: {names})",
        f"Unknown video backend: {backend} (choose from {names})",
    )


def bad_sampling(problems: str) -> InvalidRequest:
    return InvalidRequest(
        f"프레임 샘플링 설정이 올바르지 않습니다: {problems}",
        f"Invalid frame sampling settings: {problems}",
    )


def bad_cache_limit(value: object) -> InvalidRequest:
    return InvalidRequest(
        f"클립 캐시 크기는 0 이상의 바이트 수여야 합니다 (현재 {value!r}).",
        f"The clip cache size must be a number of bytes, 0 or more (got {value!r}).",
    )
