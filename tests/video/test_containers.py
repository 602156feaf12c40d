"""captioner/video/containers.py, played as an outside visitor: files a malicious or careless
visitor would upload instead of a video. Each is refused with the bilingual "not a video we
accept" error before any decoder (decord or PyAV) decodes anything, whatever the reader asked
for: the first lock (the file's first bytes) refuses it before the worker sees it, and the
second (FFmpeg's format whitelist) would refuse it anyway."""

from __future__ import annotations

import shutil
from pathlib import Path

import media
import pytest

from captioner import errors, video
from captioner.video import containers, decode, probing, worker


def _gif(path: Path) -> Path:
    from PIL import Image

    frames = [Image.fromarray(media.frame_pattern(i, 64, 48)) for i in range(6)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def _hostile(root: Path, real: Path) -> dict[str, Path]:
    """What a visitor could upload; ``real`` is a video elsewhere on the server's disk."""
    root.mkdir(exist_ok=True)
    playlist = root / "stream.m3u8"
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n{real}\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    concat = root / "list.ffconcat"
    concat.write_text(f"ffconcat version 1.0\nfile '{real}'\n", encoding="utf-8")
    # the same playlist under a video's name: the extension must not matter
    disguised = root / "stream.mp4"
    shutil.copy(playlist, disguised)
    text = root / "notes.txt"
    text.write_text("이것은 영상이 아닙니다 / this is not a video\n" * 40, encoding="utf-8")
    png = media.make_png(root / "picture.png")
    avif = root / "still.mp4"  # an ISO BMFF file whose brand says "still image"
    avif.write_bytes(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64)
    return {
        "m3u8 naming a local video": playlist,
        "m3u8 renamed .mp4": disguised,
        "ffconcat naming a local video": concat,
        "text": text,
        "gif": _gif(root / "anim.gif"),
        "png renamed .mp4": png.rename(root / "picture.mp4"),
        "avif still image": avif,
        "wav audio": media.make_audio_only(root / "tone.wav"),
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    elsewhere = tmp_path_factory.mktemp("server-files")
    real = media.make_video(elsewhere / "private.mp4", n_frames=48)
    return _hostile(tmp_path_factory.mktemp("uploads"), real)


def _worker_jobs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    real_call = worker.WORKER.call

    def spy(job, args, timeout_s):
        sent.append(job.__name__)
        return real_call(job, args, timeout_s)

    monkeypatch.setattr(worker.WORKER, "call", spy)
    return sent


@pytest.mark.parametrize("backend", ["auto", "decord", "pyav"])
def test_hostile_uploads_are_refused_before_any_decoder(
    hostile: dict[str, Path], backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _worker_jobs(monkeypatch)
    for name, path in hostile.items():
        with pytest.raises(errors.NotAVideo) as caught:
            video.load_clip(path, backend=backend)
        err = caught.value
        assert type(err) is errors.NotAVideo, name
        assert "MP4/MOV" in err.ko and "Matroska/WebM" in err.ko and "AVI" in err.ko, name
        assert "not a video file we accept" in err.en and "MP4/MOV" in err.en, name
        assert str(path.parent) not in str(err), name  # no server paths in the message
        with pytest.raises(errors.NotAVideo):
            video.probe(path)
    assert sent == []  # refused by the first lock: no probe, no decode, not even the worker


def test_the_second_lock_refuses_them_too(hostile: dict[str, Path]) -> None:
    """Were the first-bytes check gone, PyAV's whitelisted open refuses the same files: the
    HLS and concat demuxers never run, so the video they name is never opened."""
    for path in hostile.values():
        with pytest.raises(errors.NotAVideo):
            probing.probe_job(str(path), 1e9)
        with pytest.raises(errors.NotAVideo):
            decode.decode_pyav(str(path), [0], 32, 32)  # PyAV's reader opens the same way


def test_accepted_containers_are_read(tmp_path: Path, bbb: Path) -> None:
    for name in ("a.mp4", "a.mov", "a.mkv", "a.webm", "a.avi"):
        codec = "libvpx" if name.endswith(".webm") else None  # WebM holds VP8/VP9/AV1 only
        path = media.make_video(tmp_path / name, n_frames=24, fps=12, codec=codec)
        clip = video.load_clip(path)
        assert containers.is_accepted(clip.info.container), name
        assert [media.which_frame(f, 24) for f in clip.frames] == list(clip.indices), name
    assert video.load_clip(bbb).info.container == "mov,mp4,m4a,3gp,3g2,mj2"


def test_a_name_that_looks_like_an_ffmpeg_url_is_just_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative "concat:a|b" would be FFmpeg's concat protocol (reading a and b); the file
    of that name is what gets read, by both readers."""
    monkeypatch.chdir(tmp_path)
    media.make_video(tmp_path / "a.mp4", n_frames=12, fps=12)
    media.make_video(tmp_path / "b.mp4", n_frames=12, fps=12)
    media.make_video(tmp_path / "concat:a.mp4|b.mp4", n_frames=48, fps=24)
    for backend in ("decord", "pyav"):
        clip = video.load_clip("concat:a.mp4|b.mp4", backend=backend)
        assert clip.info.frame_count == 48 and clip.frames.shape[0] == 4, backend
        assert [media.which_frame(f, 48) for f in clip.frames] == list(clip.indices)


@pytest.mark.parametrize(
    "head,accepted",
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", True),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", True),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", True),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81", True),
        (b"RIFF\x00\x10\x00\x00AVI LIST", True),
        (b"RIFF\x00\x10\x00\x00WAVEfmt ", False),
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00", False),
        (b"#EXTM3U\n#EXT-X-V", False),
        (b"ffconcat version", False),
        (b"GIF89a\x40\x00\x30\x00\xf0\x00", False),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d", False),
        (b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00", False),
        (b"\x47" + b"\x00" * 15, False),
        (b"", False),
    ],
)
def test_first_bytes(head: bytes, accepted: bool) -> None:
    assert containers.accepted_head(head) is accepted


def test_extensions_follow_the_accepted_containers() -> None:
    assert set(video.VIDEO_EXTENSIONS) == {".mp4", ".mov", ".mkv", ".webm", ".avi"}
