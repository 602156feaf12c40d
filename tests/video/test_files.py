"""captioner/video/files.py: checks from the file system, and the content hash read once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from captioner import errors, video
from captioner.video import files


def test_hashing_is_streamed_and_correct(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    data = os.urandom(3 * 2**20 + 17)  # more than one 1 MiB chunk, not a multiple of it
    path.write_bytes(data)
    assert video.file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_hash_is_remembered_per_file_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"first")
    first = video.file_sha256(path)
    reads: list[str] = []
    real_open = open

    def counting_open(file, *args, **kwargs):
        reads.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    assert video.file_sha256(path) == first and reads == []  # the same version: not read again
    path.write_bytes(b"second, longer")  # a new version (size and mtime change)
    assert video.file_sha256(path) == hashlib.sha256(b"second, longer").hexdigest()
    assert reads == [str(path)]


def test_remembered_hash_of_a_copy_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, copy = tmp_path / "src.bin", tmp_path / "copy.bin"
    src.write_bytes(b"same bytes")
    copy.write_bytes(b"same bytes")
    sha = video.file_sha256(src)
    video.remember_sha256(copy, sha)
    monkeypatch.setattr("builtins.open", lambda *a, **k: pytest.fail("read again"))
    assert video.file_sha256(copy) == sha


def test_clear_cache_forgets_hashes(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x")
    video.remember_sha256(path, "not the real hash")
    assert video.file_sha256(path) == "not the real hash"
    video.clear_cache()
    assert video.file_sha256(path) == hashlib.sha256(b"x").hexdigest()


def test_file_checks(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 3000)
    with pytest.raises(errors.VideoNotFound):
        files.check_file(str(tmp_path / "nope.mp4"), 10**9)
    with pytest.raises(errors.VideoNotFound):
        files.check_file(str(tmp_path), 10**9)  # a folder
    with pytest.raises(errors.EmptyVideo):
        files.check_file(str(empty), 10**9)
    with pytest.raises(errors.VideoTooLarge):
        files.check_file(str(big), 2999)
    big.write_bytes(b"\0" * 3 * 1024**2)
    with pytest.raises(errors.VideoTooLarge) as caught:  # a limit under 1 MB is not "0 MB"
        files.check_file(str(big), 1024**2 // 2)
    assert "(limit 0.5 MB)" in caught.value.en and "(최대 0.5 MB)" in caught.value.ko
    big.write_bytes(b"\0" * 3000)
    with pytest.raises(errors.VideoNotFound) as caught:
        files.check_file("https://example.com/clip.mp4", 10**9)
    assert "https://example.com/clip.mp4" in caught.value.en and "URL" in caught.value.en
    assert files.check_file(str(big), 3000).st_size == 3000
    with pytest.raises(errors.VideoNotFound):
        video.file_sha256(tmp_path / "nope.mp4")


def test_a_file_that_vanishes_before_hashing_is_a_typed_error(tmp_path: Path) -> None:
    path = tmp_path / "upload.mp4"
    path.write_bytes(b"data")
    st = path.stat()
    path.unlink()  # an upload removed between the checks and the read
    with pytest.raises(errors.VideoNotFound) as caught:
        files.sha256_of(str(path), st)
    assert "읽을 수 없습니다" in caught.value.ko and str(tmp_path) not in str(caught.value)
