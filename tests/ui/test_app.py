"""The real page: `python app.py` on localhost with the tiny checkpoint, driven through
gradio_client (the same named endpoints a script would use)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BBB = ROOT / "assets" / "bigbuckbunny.mp4"


@pytest.fixture(scope="module")
def server(tiny_vl, tmp_path_factory):
    """`python app.py` as a user starts it, with the tiny checkpoint listed and selected."""
    from appserver import running_app

    with running_app(tiny_vl, tmp_path_factory.mktemp("uploads"), "--max-file-mb", "50") as (
        url,
        startup,
    ):
        yield {"url": url, "startup_s": startup, "model": tiny_vl}


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server["url"], verbose=False)


def _args(client_file, model, max_new_tokens=24, preset="detail"):
    # video, preset, prompt, system, profile, model, fps, max_frames, max_pixels, max_new_tokens,
    # temperature, top_p, top_k, repetition_penalty, presence_penalty, seed, think, language
    return [
        client_file,
        preset,
        "",
        "",
        "auto",
        model,
        2.0,
        0,
        0,
        max_new_tokens,
        0.7,
        0.8,
        20,
        1.0,
        0.0,
        0,
        False,
        "한국어",
    ]


def test_startup_loads_no_model(server):
    print(f"\nstart-up until the page answers: {server['startup_s']:.2f} s")
    assert server["startup_s"] < 60


def test_describe_streams_answer_and_metrics(client, server):
    from gradio_client import handle_file

    job = client.submit(*_args(handle_file(str(BBB)), server["model"]), api_name="/describe")
    updates = [update for update in job]
    status, answer, thinking, metrics = job.outputs()[-1]
    assert status == "완료" and answer and "첫 토큰" in metrics and "프레임" in metrics
    growing = [u[1] for u in updates if u[1]]
    assert len(growing) >= 2 and growing[0] != growing[-1]  # it streamed


def test_stop_mid_stream_frees_the_model(client, server):
    from gradio_client import handle_file

    job = client.submit(
        *_args(handle_file(str(BBB)), server["model"], max_new_tokens=4000), api_name="/describe"
    )
    stopped_at = None
    for update in job:
        if update[1] and stopped_at is None:
            client.predict(api_name="/stop")
            stopped_at = time.perf_counter()
    final = job.outputs()[-1]
    took = time.perf_counter() - stopped_at
    print(f"\nStop → final update: {took:.2f} s")
    assert took < 5
    assert final[0] == "중지됨" and "토큰" in final[3]
    again = client.predict(
        *_args(handle_file(str(BBB)), server["model"], max_new_tokens=4), api_name="/describe"
    )
    assert again[0] == "완료"  # the model is free for the next request


def test_stop_while_waiting_in_the_queue_stops_that_request(client, server):
    """Two visitors, one model: the second's request waits; its Stop (pressed while waiting)
    stops it when it starts, instead of letting it run once the first one ends."""
    from gradio_client import Client, handle_file
    from gradio_client.utils import Status

    other = Client(server["url"], verbose=False)  # another browser session
    first = client.submit(
        *_args(handle_file(str(BBB)), server["model"], max_new_tokens=4000), api_name="/describe"
    )
    deadline = time.monotonic() + 120
    while not any(update[1] for update in first.outputs()) and time.monotonic() < deadline:
        time.sleep(0.1)  # the first request is generating
    waiting = other.submit(
        *_args(handle_file(str(BBB)), server["model"], max_new_tokens=4000), api_name="/describe"
    )
    while waiting.status().code != Status.IN_QUEUE and time.monotonic() < deadline:
        time.sleep(0.1)
    assert waiting.status().code == Status.IN_QUEUE
    other.predict(api_name="/stop")
    client.predict(api_name="/stop")
    assert first.result(timeout=120)[0] == "중지됨"
    status, answer, _, metrics = waiting.result(timeout=120)
    assert (status, answer, metrics) == ("중지됨", "", "")


def test_bad_file_gets_the_message(client, server):
    from gradio_client import handle_file

    status, answer, _, _ = client.predict(
        *_args(handle_file(str(ROOT / "README.md")), server["model"]), api_name="/describe"
    )
    assert status.startswith("⚠️") and "영상 파일이 아닙니다" in status and "video" not in status
    english, _, _, _ = client.predict(  # by keyword, as the README documents; messages in English
        video=handle_file(str(ROOT / "README.md")), model=server["model"], language="English",
        api_name="/describe",
    )  # fmt: skip
    assert english.startswith("⚠️") and "not a video" in english and "영상" not in english
    ok = client.predict(
        *_args(handle_file(str(BBB)), server["model"], max_new_tokens=4), api_name="/describe"
    )
    assert ok[0] == "완료"  # the page keeps working


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"fps": 50}, "'fps' is out of range (0.1..10): 50"),
        ({"temperature": "abc"}, "'temperature' is out of range"),
        ({"seed": 2**70}, "'seed' is out of range (-1..2147483647)"),
        ({"style": "banmal"}, "banmal"),
        ({"preset": "nope"}, "nope"),
        ({"model": "/etc"}, "This page does not offer that model"),
    ],
)
def test_values_gradio_would_refuse_get_the_forms_message(client, server, values, said):
    """Gradio's own range and choice checks refused these at the queue's door: an English-only
    HTTP 400 (a bare "Error" on the page) that the README's job loop waited on forever. They
    reach the form now, whose message comes back like any other, in the request's language."""
    from gradio_client import handle_file

    fields = {"video": handle_file(str(BBB)), "model": server["model"], "max_new_tokens": 4,
              "language": "English", **values}  # fmt: skip
    job = client.submit(api_name="/describe", **fields)
    status = job.result(timeout=120)[0]  # (a refused join raised HTTPStatusError here)
    assert status.startswith("⚠️") and said in status, status


def test_an_uploaded_playlist_cannot_read_other_files(client, server, tmp_path):
    """An .m3u8 naming a video elsewhere on the server's disk is refused, not captioned."""
    from gradio_client import handle_file

    playlist = tmp_path / "stream.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXTINF:5.0,\n{BBB}\n#EXT-X-ENDLIST\n", encoding="utf-8")
    status, answer, _, metrics = client.predict(
        *_args(handle_file(str(playlist)), server["model"]), api_name="/describe"
    )
    assert status.startswith("⚠️") and "지원하는 영상 파일이 아닙니다" in status
    assert "MP4/MOV" in status and not answer and not metrics


def test_help_lists_the_options():
    result = subprocess.run(
        [sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for flag in (
        "--host",
        "--port",
        "--share",
        "--profile",
        "--model",
        "--max-file-mb",
        "--max-duration-s",
    ):
        assert flag in result.stdout


def test_space_yaml_matches_readme_front_matter():
    import yaml

    space = yaml.safe_load((ROOT / "Space.yaml").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.startswith("---\n")
    front = yaml.safe_load(readme.split("---\n")[1])
    assert front == space
    for key in (
        "sdk",
        "sdk_version",
        "app_file",
        "python_version",
        "suggested_hardware",
        "license",
    ):
        assert key in space
    import gradio

    assert space["sdk_version"] == gradio.__version__  # the version requirements.txt installs


def test_readme_has_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## 시작하기")[1].split("\n## ")[0]
    commands = [block.split("\n")[1] for block in setup.split("```bash")[1:]]
    assert len(commands) == 2
    assert commands[0].endswith("pip install -r requirements.txt && python app.py")
    assert "pytest" in commands[1]


def _page(tiny_vl):
    from captioner import settings as settings_
    from captioner import ui

    return ui.build(settings_.from_environment(models=[tiny_vl]))


def test_building_the_page_loads_no_model_and_never_touches_cuda(tiny_vl):
    import torch

    from captioner import loader

    loader.unload()
    assert _page(tiny_vl) is not None
    assert loader.current() is None
    assert not torch.cuda.is_initialized()


def test_the_describe_endpoint_takes_the_forms_fields_by_name(tiny_vl):
    from captioner.ui import form

    info = _page(tiny_vl).get_api_info()["named_endpoints"]["/describe"]
    assert [p["parameter_name"] for p in info["parameters"]] == list(form.NAMES)
    defaults = {p["parameter_name"]: p["parameter_default"] for p in info["parameters"]}
    assert defaults["preset"] == "detail" and defaults["max_new_tokens"] == 1024


def test_zerogpu_wraps_generation_with_a_duration_from_the_real_inputs(monkeypatch, tiny_vl):
    """The duration function gets exactly what gradio passes the handler (the page's own
    inputs, by name), so it cannot drift from the form."""
    import types

    from captioner.ui import form

    calls = {}

    def gpu(duration):
        def wrap(fn):
            calls["duration"], calls["fn"] = duration, fn
            return fn

        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    demo = _page(tiny_vl)
    (describe,) = [f for f in demo.fns.values() if f.api_name == "describe"]
    assert describe.fn is calls["fn"] and list(describe.input_parameter_names) == list(form.NAMES)
    values = {name: f.default for name, f in form.BY_NAME.items()}
    values.update(max_frames=64, max_new_tokens=2048)
    positional = [values[name] for name in form.NAMES]
    assert calls["duration"](*positional, None, None) == form.gpu_seconds(values)
    small = form.gpu_seconds({"max_frames": 8, "max_new_tokens": 64})
    assert calls["duration"](**values) > small


def test_app_py_is_wiring_only():
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) < 60
    assert "import gradio" not in source and "def build" not in source
