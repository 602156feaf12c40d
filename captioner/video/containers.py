"""Container formats: what the page and batch accept, and how to recognise a video container
from its first bytes.

The first bytes decide what a failure to open means: a file that starts like a video
container but does not open is a damaged video; anything else is not a video at all.
"""

from __future__ import annotations

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".avi")  # what the page and batch accept

_MAGIC = (
    (4, b"ftyp"),  # MP4 / MOV / 3GP
    (4, b"moov"),
    (4, b"mdat"),
    (4, b"free"),
    (4, b"wide"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"FLV"),
    (0, b"OggS"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x30\x26\xb2\x75"),  # ASF / WMV
    (0, b"GIF8"),
)


def looks_like_container(head: bytes) -> bool:
    """Whether the first bytes of a file belong to a video container."""
    if any(head[o : o + len(m)] == m for o, m in _MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return True
    return len(head) > 188 and head[0] == 0x47 and head[188] == 0x47  # MPEG-TS sync bytes
