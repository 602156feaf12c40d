"""The clip a server receives: exactly our frames, at our size, at a rate whose i / rate are
the frames' real presentation times (PyAV's pts, within 0.1 s), delivered as data, path or
URL."""

from __future__ import annotations

import urllib.error
import urllib.request
from fractions import Fraction

import av
import pytest

from captioner import video
from captioner.backends import transport


def _pts(path, indices):
    with av.open(str(path)) as container:
        times = [float(f.time) for f in container.decode(video=0)]
    return [times[i] - times[0] for i in indices]


def _read(data: bytes):
    import io

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return frames, stream.average_rate, [s.type for s in container.streams]


@pytest.fixture(scope="module")
def cfr(tmp_path_factory):
    from media import make_video

    path = make_video(tmp_path_factory.mktemp("t") / "cfr.mp4", n_frames=150, fps=30)
    spec = video.SamplingSpec(fps=2.0, max_frames=8, max_pixels=160 * 128)
    return path, video.load_clip(path, spec)


def test_the_clip_holds_our_frames_at_their_real_times(cfr):
    from media import which_frame

    path, clip = cfr
    encoded = transport.encode(clip)
    frames, rate, kinds = _read(encoded.data)
    assert kinds == ["video"] and len(frames) == len(clip.indices)
    assert (
        frames[0].shape == clip.frames.shape[1:]
    )  # the planned size: the server's resize is a no-op
    assert [which_frame(f, 150) for f in frames] == list(clip.indices)
    assert Fraction(rate) == encoded.rate
    real = _pts(path, clip.indices)
    assert encoded.times == pytest.approx(real, abs=0.1)
    source_frames = encoded.max_error_s * 30  # the 30 fps source's frames
    assert source_frames <= 0.5 + 1e-9  # each timestamp within half a source frame


def test_a_silent_audio_track_for_servers_that_read_one(cfr):
    _, clip = cfr
    _, _, kinds = _read(transport.encode(clip, audio_track=True).data)
    assert kinds == ["video", "audio"]


def test_fitted_rate_is_exact_for_uniform_times():
    assert transport.fitted_rate([0.0, 0.5, 1.0, 1.5]) == 2
    assert transport.fitted_rate([0.0]) == 1


def test_irregular_times_report_their_error(tmp_path):
    from media import VFR_TIMES, make_vfr_video

    path = make_vfr_video(tmp_path / "vfr.mp4", VFR_TIMES)
    clip = video.load_clip(path, video.SamplingSpec(fps=2.0, max_frames=8, max_pixels=128 * 96))
    encoded = transport.encode(clip)
    errors = [abs(a - b) for a, b in zip(encoded.times, clip.timestamps, strict=True)]
    assert encoded.max_error_s == pytest.approx(max(errors))


def test_deliveries(cfr, tmp_path):
    _, clip = cfr
    encoded = transport.encode(clip)
    data = transport.deliver(encoded, "data")
    assert data.url.startswith("data:video/mp4;base64,") and data.bytes_sent == len(data.url)
    path = transport.deliver(encoded, "path", media_dir=tmp_path)
    assert open(path.url, "rb").read() == encoded.data
    path.close()
    assert list(tmp_path.iterdir()) == []
    from appserver import free_port

    served = transport.deliver(encoded, "url", media_url=f"http://127.0.0.1:{free_port()}")
    with urllib.request.urlopen(served.url, timeout=5) as reply:
        assert reply.read() == encoded.data
    served.close()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(served.url, timeout=5)
