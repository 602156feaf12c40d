"""The container formats we accept, and opening a file so that FFmpeg reads that one file
with one of those demuxers and nothing else.

FFmpeg picks a demuxer by looking at the file, and several read more than the file: an HLS
playlist (.m3u8) or an ffconcat list names other files and FFmpeg opens them (any path on
the server, past the upload size limit); ``tty`` renders a text file as video; image2, the
``*_pipe`` image demuxers and gif turn pictures into "videos". So a file meets two locks
before any decoder sees it:

1. Its first bytes are those of an accepted container (``accepted_head``), checked in
   Python before anything opens it. decord opens files with its own FFmpeg and no
   whitelist (it reads an .m3u8 and the files it names), so this lock is what keeps a
   playlist away from decord.
2. PyAV opens it with ``format_whitelist`` (FFmpeg refuses any other demuxer before that
   demuxer reads a byte) and ``protocol_whitelist=file`` (no network, no ``concat:`` or
   ``subfile:`` URLs), by absolute path (a relative name like ``concat:a|b`` would be a URL).

Probing needs PyAV for the second lock, which is why PyAV is required and decord optional.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Container:
    label: str  # as the page and the error message name it
    demuxer: str  # FFmpeg's demuxer name, as PyAV's ``container.format.name`` reports it
    extensions: tuple[str, ...]


ACCEPTED = (
    Container("MP4/MOV", "mov,mp4,m4a,3gp,3g2,mj2", (".mp4", ".mov")),
    Container("Matroska/WebM", "matroska,webm", (".mkv", ".webm")),
    Container("AVI", "avi", (".avi",)),
)
VIDEO_EXTENSIONS = tuple(ext for c in ACCEPTED for ext in c.extensions)  # what batch picks up
LABELS = ", ".join(c.label for c in ACCEPTED)
HEAD_BYTES = 16

_OPEN_OPTIONS = {
    "format_whitelist": ",".join(c.demuxer for c in ACCEPTED),
    "protocol_whitelist": "file",
    "enable_drefs": "0",  # MOV data references to other files: off (FFmpeg's default, pinned)
}
# ISO BMFF / QuickTime files start with one of these boxes (ftyp in every modern MP4).
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
# ftyp brands of still images (HEIF, AVIF) that FFmpeg's mov demuxer also opens.
_IMAGE_BRANDS = (
    *(b"avif", b"avis"),  # AVIF image, AVIF image sequence
    *(b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"),  # HEIF (HEVC) images, sequences
    *(b"mif1", b"msf1"),  # generic HEIF image, image sequence
)
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska / WebM


def accepted_head(head: bytes) -> bool:
    """Whether a file starting with ``head`` (at least 12 bytes) is an accepted container."""
    if head[4:8] in _MP4_BOXES:
        return not (head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS)
    if head[:4] == _EBML:
        return True
    return head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX")


def is_accepted(demuxer: str) -> bool:
    return any(c.demuxer == demuxer for c in ACCEPTED)


def open_input(path: str) -> Any:
    """The file opened by PyAV with only the accepted demuxers and the file protocol allowed.
    Raises PyAV's errors (EINVAL when FFmpeg found a demuxer not on the list)."""
    import av

    return av.open(os.path.abspath(path), options=dict(_OPEN_OPTIONS))
