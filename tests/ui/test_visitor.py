"""The page played by an outside visitor (issue 9's findings), against `python app.py`.

Two visitors are two browser sessions. Besides gradio_client, a raw client speaks the page's
own HTTP protocol (join the queue with a ``fn_index``, read the event stream), so handlers
hidden from the API are tried too: hiding an endpoint is not access control, the scope each
handler applies on the server is."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BBB = ROOT / "assets" / "bigbuckbunny.mp4"


class Raw:
    """One browser session, speaking gradio's queue protocol by hand."""

    def __init__(self, url: str, session: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.session = session or uuid.uuid4().hex[:11]
        config = json.load(urllib.request.urlopen(f"{self.url}/config"))
        self.ids = {c["props"]["elem_id"]: c["id"] for c in config["components"]
                    if c.get("props", {}).get("elem_id")}  # fmt: skip
        self.deps = config["dependencies"]

    def fn_index(self, elem_id: str, event: str = "click") -> int:
        target = [self.ids[elem_id], event]
        return next(i for i, d in enumerate(self.deps) if target in d["targets"])

    def call(self, elem_id: str, data: list, event: str = "click") -> list:
        body = {"data": data, "fn_index": self.fn_index(elem_id, event),
                "session_hash": self.session, "event_data": None, "trigger_id": None}  # fmt: skip
        request = urllib.request.Request(f"{self.url}/gradio_api/queue/join",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        urllib.request.urlopen(request).read()
        url = f"{self.url}/gradio_api/queue/data?session_hash={self.session}"
        with urllib.request.urlopen(url, timeout=120) as stream:
            for line in stream:
                text = line.decode().strip()
                if text.startswith("data:"):
                    message = json.loads(text[5:])
                    if message.get("msg") == "process_completed":
                        assert message.get("success"), message
                        return message["output"]["data"]
        raise AssertionError("no result")


FILTERS = ["", "all", "", "", 0]  # model, preset, video, since, min rating


def _runs_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


@pytest.fixture(scope="module")
def public(tiny_vl, tmp_path_factory):
    from appserver import running_app

    folder = tmp_path_factory.mktemp("public")
    env = {"CAPTIONER_REVIEW": "public", "CAPTIONER_DB": str(folder / "runs.sqlite3"),
           "CAPTIONER_LIBRARY": str(folder / "videos")}  # fmt: skip
    with running_app(tiny_vl, folder / "uploads", env=env) as (url, _):
        yield {"url": url, "db": folder / "runs.sqlite3", "library": folder / "videos",
               "model": tiny_vl}  # fmt: skip


@pytest.fixture(scope="module")
def first_visitor(public):
    """Visitor A captioned the clip once."""
    from gradio_client import Client, handle_file

    client = Client(public["url"], verbose=False)
    status, *_ = client.predict(video=handle_file(str(BBB)), model=public["model"],
                                max_new_tokens=4, seed=0, api_name="/describe")  # fmt: skip
    assert status == "완료"
    return client


def test_a_visitor_cannot_list_open_rate_export_or_compare_anothers_runs(public, first_visitor):
    from gradio_client import Client

    (run_id,) = [row[0] for row in sqlite3.connect(public["db"]).execute("SELECT id FROM runs")]
    mine = Raw(public["url"], first_visitor.session_hash)
    table, count = mine.call("review_refresh", ["English", *FILTERS])
    assert [row[0] for row in table["data"]] == [run_id] and count == "1 runs"

    other = Raw(public["url"])  # a brand-new session
    table, count = other.call("review_refresh", ["English", *FILTERS])
    assert table["data"] == [] and count == "0 runs"
    video, strip, detail, message = other.call("open_run", [run_id, "English"])
    assert video is None and "not found" in message and detail == ""
    chart = other.call("summary_by", ["English", "model", *FILTERS], event="change")[0]
    assert "No ratings yet" in chart
    # the named endpoints, through gradio_client as a script would call them
    client = Client(public["url"], verbose=False)
    _, rated, _ = client.predict(run_id, 1, "", "", "English", *FILTERS, api_name="/rate")
    assert "not found" in rated
    exported, _ = client.predict("jsonl", "English", *FILTERS, api_name="/export")
    assert Path(exported).read_text(encoding="utf-8").strip() == ""  # nothing of A's
    # the hidden handlers, by fn_index: loading a pair, rating a pair, a compare with a path
    _, _, message, pair = other.call("load_two", [run_id, run_id, True, "English"])
    assert "not found" in message and pair in (None, [None, None])
    # the pair is server-side state: what a client sends for it is not used
    _, _, message = other.call("rate_both", [[run_id, run_id], 5, 5, True, "English"])
    assert "not found" in message or "Pick a run" in message
    # A's own data is untouched: no rating from B
    assert sqlite3.connect(public["db"]).execute("SELECT COUNT(*) FROM ratings").fetchone()[0] == 0


def test_the_page_loads_only_what_it_offers(public, first_visitor):
    client = first_visitor
    before = _runs_in(public["db"])
    for model in ("/etc", "/nonexistent/folder", "someone/model", "Qwen/Qwen3-235B-A22B"):
        # a model outside the dropdown's choices reaches the handler's own check (gradio's
        # was an English-only HTTP 400), which says so in words, with no path hint
        status, *_ = client.predict(model=model, prompt="안녕", language="English",
                                    api_name="/describe")  # fmt: skip
        assert "does not offer that model" in status and model not in status
    raw = Raw(public["url"])  # the same through gradio's raw HTTP API
    values = {"model": "/etc", "prompt": "안녕", "language": "English"}
    from captioner.ui import form

    data = [values.get(name, f.default) for name, f in form.BY_NAME.items()]
    status = raw.call("generate", data)[0]
    assert "does not offer that model" in status and "/etc" not in status
    assert _runs_in(public["db"]) == before  # refused before anything ran or was recorded


@pytest.mark.parametrize(("field", "value"), [("max_pixels", 10**12), ("seed", 2**64),
                                              ("max_new_tokens", 10**6), ("fps", -1)])  # fmt: skip
def test_numbers_out_of_range_are_refused_and_not_run(public, first_visitor, field, value):
    from gradio_client import handle_file

    before = _runs_in(public["db"])
    status, *_ = first_visitor.predict(video=handle_file(str(BBB)), model=public["model"],
                                       language="English", api_name="/describe",
                                       **{field: value})  # fmt: skip
    assert f"'{field}' is out of range" in status  # the handler's own check, not gradio's 400
    assert _runs_in(public["db"]) == before


def test_uploads_that_are_not_videos_never_reach_the_library(public, first_visitor, tmp_path):
    from gradio_client import handle_file

    kept = set(public["library"].glob("*"))
    for name, data in (("notes.txt", b"hello"), ("page.html", b"<html></html>"),
                       ("empty.mp4", b""), ("noise.mp4", bytes(range(256)) * 64)):  # fmt: skip
        path = tmp_path / name
        path.write_bytes(data)
        status, *_ = first_visitor.predict(video=handle_file(str(path)), model=public["model"],
                                           language="English", api_name="/describe")  # fmt: skip
        assert status.startswith("⚠️")
    assert set(public["library"].glob("*")) == kept
    names = [r[0] for r in sqlite3.connect(public["db"]).execute("SELECT video_name FROM runs")]
    assert not any(n and n.endswith((".txt", ".html")) for n in names)  # not listed as videos


def test_one_request_per_session_waits_in_the_queue(public):
    """A second request from the same session while the first runs is refused at once; it
    does not take a place in the queue."""
    from gradio_client import Client, handle_file

    client = Client(public["url"], verbose=False)
    long = client.submit(video=handle_file(str(BBB)), model=public["model"], max_new_tokens=300,
                         api_name="/describe")  # fmt: skip
    next(iter(long))  # it started
    second = client.submit(video=handle_file(str(BBB)), model=public["model"], max_new_tokens=4,
                           api_name="/describe")  # fmt: skip
    with pytest.raises(Exception, match="already running or waiting"):
        second.result(timeout=60)
    client.predict(api_name="/stop")
    long.result(timeout=120)
    status, *_ = client.predict(video=handle_file(str(BBB)), model=public["model"],
                                max_new_tokens=4, api_name="/describe")  # fmt: skip
    assert status == "완료"  # the session may ask again once its request is done


@pytest.fixture(scope="module")
def private(tiny_vl, tmp_path_factory):
    from appserver import running_app

    folder = tmp_path_factory.mktemp("private")
    env = {"CAPTIONER_REVIEWERS": "minji:pw-minji,jun:pw-jun",
           "CAPTIONER_DB": str(folder / "runs.sqlite3"),
           "CAPTIONER_LIBRARY": str(folder / "videos")}  # fmt: skip
    with running_app(tiny_vl, folder / "uploads", env=env) as (url, _):
        yield {"url": url, "db": folder / "runs.sqlite3", "model": tiny_vl}


def test_private_review_needs_a_login_and_rates_under_it(private):
    from gradio_client import Client, handle_file

    with pytest.raises(Exception):  # noqa: B017 - gradio_client's error for a failed login varies
        Client(private["url"], auth=("minji", "wrong"), verbose=False)
    with pytest.raises(Exception):  # noqa: B017 - nothing without a login
        Client(private["url"], verbose=False).predict(api_name="/stop")
    jun = Client(private["url"], auth=("jun", "pw-jun"), verbose=False)
    status, *_ = jun.predict(video=handle_file(str(BBB)), model=private["model"],
                             max_new_tokens=4, api_name="/describe")  # fmt: skip
    assert status == "완료"
    minji = Client(private["url"], auth=("minji", "pw-minji"), verbose=False)
    (run_id,) = [r[0] for r in sqlite3.connect(private["db"]).execute("SELECT id FROM runs")]
    _, saved, _ = minji.predict(run_id, 4, "정확", "", "English", *FILTERS, api_name="/rate")
    assert "saved" in saved  # a reviewer sees every run, jun's too
    for score in (6, "abc", 4.5):  # gradio's own Radio check said so in English, or not at all
        _, said, _ = minji.predict(run_id, score, "", "", "English", *FILTERS, api_name="/rate")
        assert "The score must be an integer from 1 to 5" in said, said
    _, said = minji.predict("xml", "English", *FILTERS, api_name="/export")
    assert "xml" in said and "csv" in said, said
    with sqlite3.connect(private["db"]) as conn:
        (reviewer,) = conn.execute("SELECT reviewer FROM ratings").fetchone()
        (owner,) = conn.execute("SELECT owner FROM runs").fetchone()
    assert reviewer == "minji" and owner == "user:jun"  # names from the logins
