"""The uploaded file before any decoder sees it: it exists, is a file, is not empty and not
too large (all from the file system, nothing read); its first bytes; its content hash.

The hash is the key of the clip cache and of the run log. Hashing a 1 GB upload takes
seconds, and the page, the engine and the run log each need it, so it is remembered per
file version (path, size, mtime, inode): an upload is read for hashing once, whoever asks.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import captioner.video.messages as messages

_MEMO: OrderedDict[tuple[str, int, int, int], str] = OrderedDict()
_MEMO_MAX = 256  # versions remembered; each entry is a few hundred bytes
_LOCK = threading.Lock()


def check_file(path: str, max_bytes: int) -> os.stat_result:
    """Existence, kind, emptiness and size, from the file system alone."""
    name = Path(path).name
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError) as exc:
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", str(path)):  # http://, rtsp://, s3://...
            raise messages.a_url(str(path)) from None
        raise messages.not_found(name, detail=str(exc)) from None
    if not os.path.isfile(path):
        raise messages.not_a_file(name)
    if st.st_size == 0:
        raise messages.empty()
    if st.st_size > max_bytes:
        raise messages.too_large(st.st_size, max_bytes)
    return st


def read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of the file (fewer if it is shorter)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise messages.unreadable(Path(path).name, f"{type(exc).__name__}: {exc}") from None


def _memo_key(path: str, st: os.stat_result) -> tuple[str, int, int, int]:
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Content hash of a file, computed once per file version."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise messages.not_found(Path(path).name, detail=str(exc)) from None
    return sha256_of(path, st)


def remember_sha256(path: str | os.PathLike[str], sha256: str) -> None:
    """Record a hash already known (e.g. of a byte-for-byte copy) so it is not read again."""
    path = os.fspath(path)
    with _LOCK:
        _MEMO[_memo_key(path, os.stat(path))] = sha256


def sha256_of(path: str, st: os.stat_result) -> str:
    """SHA-256 of the file as ``st`` describes it, read in 1 MiB chunks, remembered."""
    key = _memo_key(path, st)
    with _LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(messages.MIB):
                digest.update(chunk)
    except OSError as exc:  # e.g. no permission, or the upload vanished meanwhile
        raise messages.unreadable(Path(path).name, f"{type(exc).__name__}: {exc}") from None
    value = digest.hexdigest()
    with _LOCK:
        _MEMO[key] = value
        while len(_MEMO) > _MEMO_MAX:
            _MEMO.popitem(last=False)
    return value


def forget_hashes() -> None:
    with _LOCK:
        _MEMO.clear()
