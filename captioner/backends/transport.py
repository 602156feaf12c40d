"""How a clip travels to an inference server, keeping our guarantees: the frames the user
chose, at the planned size, with their real times.

Servers sample frames themselves and stamp frame ``i`` with ``i / fps`` of the file they
read (Qwen3-VL's processor writes ``<t seconds>`` from that). So we never send the user's
file: ``encode(clip)`` writes a small MP4 of exactly the sampled frames, already decoded at the
planned size (multiples of 32, so the server's resize is a no-op), at the constant frame rate
whose ``i / rate`` best fits the frames' real presentation times (least squares). The server is told to take every frame as it is (``dialects.video_options``).
For uniformly sampled constant-frame-rate video the fit is off by at most half a source
frame (0.02 s at 25 fps); ``Encoded.max_error_s`` says how far it is for this clip, and
``Encoded.times`` are the times the model sees, which ``describe --json`` reports.

Bytes: a 25-minute 720p upload of hundreds of MB becomes a clip of tens of KB (the README's
measurement section has the figures). How the clip reaches the server (``Delivery``):

- ``data``: base64 in the request (vLLM, SGLang, OpenAI-style servers);
- ``path``: a file in a folder the server reads at the same path (transformers serve on this
  machine, or a volume both containers mount; vLLM needs ``--allowed-local-media-path``);
- ``url``: served by this app's own small clip server under an unguessable name for the
  duration of the request (a transformers serve on another machine).
"""

from __future__ import annotations

import base64
import http.server
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from captioner.errors import InvalidRequest

AUDIO_RATE = 16000  # the silent track transformers serve insists on reading
CRF = "20"  # visually lossless for the model at these sizes; the clip stays small


@dataclass(frozen=True)
class Encoded:
    data: bytes  # the MP4
    rate: Fraction  # frames per second the server reads from it
    times: tuple[float, ...]  # i / rate: the time the server gives frame i
    real_times: tuple[float, ...]  # the frames' real presentation times in the user's video
    size: tuple[int, int]  # (height, width)

    @property
    def frames(self) -> int:
        return len(self.times)

    @property
    def max_error_s(self) -> float:
        return max(
            (abs(a - b) for a, b in zip(self.times, self.real_times, strict=True)), default=0.0
        )


def fitted_rate(times: tuple[float, ...] | list[float]) -> Fraction:
    """The constant rate r minimising sum((i / r - t_i)^2). Times count from the video's first
    frame, which uniform sampling always takes, so the fit goes through the origin."""
    t = np.asarray(times, dtype=float)
    i = np.arange(len(t), dtype=float)
    slope = float((i * t).sum() / (i * i).sum()) if len(t) > 1 else 0.0
    rate = 1.0 / slope if slope > 0 else 1.0
    return Fraction(rate).limit_denominator(10_000)


def encode(clip, audio_track: bool = False) -> Encoded:
    """A small H.264 MP4 of ``clip``'s frames at the fitted rate (with a silent mono AAC
    track when the server reads audio from every video)."""
    import io

    import av

    frames = np.ascontiguousarray(clip.frames)
    count, height, width = frames.shape[:3]
    rate = fitted_rate(clip.timestamps)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream(_codec(), rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if stream.codec_context.name == "libx264":
            stream.options = {"crf": CRF, "preset": "veryfast"}
        sound = None
        if audio_track:
            sound = container.add_stream("aac", rate=AUDIO_RATE)
            sound.layout = "mono"
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            container.mux(stream.encode(picture))
        container.mux(stream.encode())
        if sound is not None:
            _silence(container, sound, count / float(rate))
    times = tuple(i / float(rate) for i in range(count))
    real = tuple(float(t) for t in clip.timestamps)
    return Encoded(buffer.getvalue(), rate, times, real, (height, width))


def _codec() -> str:
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _silence(container, stream, seconds: float) -> None:
    import av

    size = stream.codec_context.frame_size or 1024
    total = max(size, int(seconds * AUDIO_RATE))
    for start in range(0, total, size):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, size), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts = AUDIO_RATE, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


# --- delivery ---------------------------------------------------------------------------------
@dataclass
class Delivery:
    """One clip on its way: the ``video_url`` to send, and what to clean up afterwards."""

    url: str
    kind: str  # "data" | "path" | "url"
    bytes_sent: int  # what crosses to the server for the video (base64 counts as sent)
    _cleanup: object = None

    def close(self) -> None:
        if callable(self._cleanup):
            self._cleanup()
            self._cleanup = None


def deliver(encoded: Encoded, kind: str, *, media_dir: Path | None = None,
            media_url: str | None = None, file_scheme: bool = False) -> Delivery:  # fmt: skip
    """Put the clip where the server will read it."""
    if kind == "data":
        text = "data:video/mp4;base64," + base64.b64encode(encoded.data).decode("ascii")
        return Delivery(text, "data", len(text))
    if kind == "path":
        folder = Path(media_dir or Path(tempfile.gettempdir()) / "captioner-clips")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{secrets.token_hex(16)}.mp4"
        path.write_bytes(encoded.data)
        url = path.resolve().as_uri() if file_scheme else str(path.resolve())
        return Delivery(url, "path", len(encoded.data), lambda: path.unlink(missing_ok=True))
    if kind == "url":
        if not media_url:
            raise InvalidRequest(
                "url 전송에는 서버가 이 앱에 접속할 주소가 필요합니다 (CAPTIONER_MEDIA_URL).",
                "The url transport needs the address the server reaches this app at "
                "(CAPTIONER_MEDIA_URL).",
            )
        name = CLIPS.put(encoded.data, media_url)
        return Delivery(f"{media_url}/clips/{name}", "url", len(encoded.data),
                        lambda: CLIPS.drop(name))  # fmt: skip
    raise InvalidRequest(f"알 수 없는 영상 전송 방식: {kind}", f"Unknown video transport: {kind}")


def is_local(base_url: str) -> bool:
    host = (urlparse(base_url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


class ClipServer:
    """Clips held in memory and served over HTTP under unguessable names while a request
    needs them. Listens on all interfaces at the port of ``media_url`` (started on first use)."""

    def __init__(self) -> None:
        self.clips: dict[str, bytes] = {}
        self.lock = threading.Lock()
        self.server: http.server.ThreadingHTTPServer | None = None

    def put(self, data: bytes, media_url: str) -> str:
        self._start(media_url)
        name = f"{secrets.token_urlsafe(24)}.mp4"
        with self.lock:
            self.clips[name] = data
        return name

    def drop(self, name: str) -> None:
        with self.lock:
            self.clips.pop(name, None)

    def get(self, name: str) -> bytes | None:
        with self.lock:
            return self.clips.get(name)

    def _start(self, media_url: str) -> None:
        with self.lock:
            if self.server is not None:
                return
            port = urlparse(media_url).port or 80
            clips = self

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                    data = (
                        clips.get(os.path.basename(self.path))
                        if self.path.startswith("/clips/")
                        else None
                    )
                    if data is None:
                        self.send_error(404)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "video/mp4")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

                def log_message(self, *args) -> None:  # no request lines on stderr
                    pass

            self.server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
            time.sleep(0)  # let the thread start listening before the URL is handed out


CLIPS = ClipServer()
