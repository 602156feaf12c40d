"""The run log (captioner/review.py): recording, ratings, filters, exports, migrations,
concurrent writers, blind pairs; and the ``review`` commands (review_cli.py) in-process."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from media import make_video

from captioner import __version__, engine, loader, review, review_cli
from captioner.errors import InvalidRequest, NotAVideo
from captioner.generation import Done, Error, Metrics, Options, Text, Thinking

ROOT = Path(__file__).resolve().parent.parent
XSS = "<script>alert(1)</script>"


# --- helpers --------------------------------------------------------------------------------------
@pytest.fixture
def db(tmp_path) -> review.RunLog:
    with review.RunLog(tmp_path / "runs.sqlite3") as run_log:
        yield run_log


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", n_frames=12, fps=12, width=96)


def _metrics(finish: str = "eos", new_tokens: int = 3) -> Metrics:
    return Metrics(
        prompt_tokens=10,
        video_tokens=4,
        frames=4,
        new_tokens=new_tokens,
        preprocess_s=0.01,
        ttft_s=0.1,
        total_s=0.2,
        tokens_per_s=20.0,
        peak_memory_bytes=1,
        peak_memory_kind="process peak RSS",
        finish_reason=finish,
    )


def _fake_prepared(video_name: str = "clip.mp4", sha: str = "ab" * 32, duration: float = 5.0):
    info = SimpleNamespace(
        sha256=sha, duration_s=duration, width=320, height=240, avg_fps=25.0, path=video_name
    )
    clip = SimpleNamespace(
        info=info,
        indices=(0, 25, 50, 75),
        timestamps=(0.0, 1.0, 2.0, 3.0),
        frames=SimpleNamespace(shape=(4, 224, 288, 3)),
    )
    setup = SimpleNamespace(
        model="fake/model",
        precision="bf16",
        device="cpu",
        choice=SimpleNamespace(profile=SimpleNamespace(name="cpu")),
        hardware=SimpleNamespace(describe=lambda: "CPU test"),
    )
    loaded = SimpleNamespace(device="cpu", revision="abc123", request=SimpleNamespace(adapter=None))
    return engine.Prepared(setup, clip, loaded)


def _fake_events(
    answer: str = "토끼가 잔다.", thinking: str = "", finish: str = "eos", prepared: bool = True
):
    events = [engine.Status("plan", "p")] + ([_fake_prepared()] if prepared else [])
    if thinking:
        events.append(Thinking(thinking))
    events += [Text(ch) for ch in answer]
    events.append(Done(answer, thinking, _metrics(finish), {"temperature": 0.7, "top_p": 0.8}))
    return events


def _request(**kwargs) -> engine.DescribeRequest:
    return engine.DescribeRequest(**{"video": "clip.mp4", "model": "fake/model", **kwargs})


def _recorded(run_log, request=None, source="web", **event_kwargs) -> int:
    ids: list[int] = []
    request = request or _request()
    for _ in review.record(
        iter(_fake_events(**event_kwargs)),
        request,
        log=run_log,
        source=source,
        on_start=ids.append,
    ):
        pass
    return ids[0]


# --- paths ------------------------------------------------------------------------------------
def test_default_db_path_env_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "x.sqlite3"))
    assert review.default_db_path() == tmp_path / "x.sqlite3"
    monkeypatch.delenv("CAPTIONER_DB")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = review.default_db_path()
    if not (Path("/data").is_dir()):
        assert path == tmp_path / "cache" / "captioner" / "runs.sqlite3"
    assert path.name == "runs.sqlite3"
    monkeypatch.setenv("CAPTIONER_DB", "off")
    assert review.logging_disabled()


def test_default_log_is_shared_or_none(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "page.sqlite3"))
    page_log = review.default_log()
    assert page_log is review.default_log() and page_log.path == tmp_path / "page.sqlite3"
    monkeypatch.setenv("CAPTIONER_DB", "off")
    assert review.default_log() is None
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "f" / "x.sqlite3"))
    assert review.default_log() is None  # a page keeps working without its log
    events = _fake_events("글")
    assert list(review.record(iter(events), _request(), log=None, source="web")) == events


def test_a_bad_db_path_is_a_typed_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(review.RunLogError) as info:
        review.RunLog(blocker / "runs.sqlite3")
    assert info.value.ko and info.value.en


# --- recording --------------------------------------------------------------------------------
def test_record_passes_events_through_unchanged(db):
    events = _fake_events("가나다")
    ids: list[int] = []
    passed = list(
        review.record(iter(events), _request(), log=db, source="cli", on_start=ids.append)
    )
    assert len(passed) == len(events) and all(a is b for a, b in zip(passed, events, strict=True))
    run = db.get(ids[0])
    assert (run.status, run.source, run.answer) == ("done", "cli", "가나다")
    assert run.model == "fake/model" and run.model_revision == "abc123"
    assert (run.profile, run.precision, run.device, run.hardware) == (
        "cpu",
        "bf16",
        "cpu",
        "CPU test",
    )
    assert run.frame_indices == [0, 25, 50, 75] and run.frame_times == [0.0, 1.0, 2.0, 3.0]
    assert (run.frame_height, run.frame_width, run.frames) == (224, 288, 4)
    assert run.metrics["finish_reason"] == "eos" and run.sampling["top_p"] == 0.8
    assert run.app_version == __version__ and run.finished_at >= run.created_at
    assert run.preset == "detail" and "자세히" in run.prompt  # the default preset, resolved


def test_record_real_describe_on_a_clip(db, tiny_vl, clip_path):
    request = engine.DescribeRequest(
        video=str(clip_path), model=tiny_vl, options=Options(max_new_tokens=5, seed=3)
    )
    ids: list[int] = []
    events = list(
        review.record(engine.describe(request), request, log=db, source="cli", on_start=ids.append)
    )
    assert events[-1].kind == "done"
    run = db.get(ids[0])
    assert run.status == "done" and run.answer == events[-1].answer
    assert run.video_sha256 == hashlib.sha256(clip_path.read_bytes()).hexdigest()
    assert run.video_name == "clip.mp4" and run.video_duration_s == pytest.approx(1.0, abs=0.05)
    assert (run.video_width, run.video_height, run.video_fps) == (96, 240, 12.0)
    assert run.frames == len(run.frame_times) == events[-1].metrics.frames
    assert run.model == tiny_vl and run.profile and run.precision and run.device == "cpu"
    assert run.options["max_new_tokens"] == 5 and run.seed == 3
    assert run.metrics["new_tokens"] == 5 and run.sampling["max_new_tokens"] == 5
    assert run.request["video"] == "clip.mp4"  # the file name only, never the local path
    assert run.request["options"]["seed"] == 3 and "fps" in run.request
    assert str(clip_path.parent) not in json.dumps(run.to_dict(), ensure_ascii=False)


def test_stop_event_leaves_a_stopped_run_with_partial_output(db, tiny_vl, clip_path):
    stop = threading.Event()
    request = engine.DescribeRequest(
        video=str(clip_path), model=tiny_vl, options=Options(max_new_tokens=200, seed=0)
    )
    ids: list[int] = []
    texts = []
    last = None
    for event in review.record(
        engine.describe(request, stop=stop), request, log=db, source="web", on_start=ids.append
    ):
        if event.kind == "text":
            texts.append(event.text)
            stop.set()
        last = event
    assert last.kind == "done" and last.metrics.finish_reason == "stopped"
    run = db.get(ids[0])
    assert run.status == "stopped" and run.answer == last.answer and run.answer
    assert run.metrics["new_tokens"] < 200


def test_consumer_closing_early_records_stopped(db, tiny_vl, clip_path):
    request = engine.DescribeRequest(
        video=str(clip_path), model=tiny_vl, options=Options(max_new_tokens=200, seed=0)
    )
    ids: list[int] = []
    stream = review.record(
        engine.describe(request), request, log=db, source="web", on_start=ids.append
    )
    received = []
    for event in stream:
        if event.kind == "text":
            received.append(event.text)
            if len(received) == 2:
                break
    stream.close()  # a closed browser tab
    run = db.get(ids[0])
    assert run.status == "stopped" and run.answer == "".join(received)
    assert not loader.current().lock.locked()  # the model is free for the next request


def test_error_event_run_is_recorded(db, tiny_vl, tmp_path):
    bad = tmp_path / "<b>notes<b>.mp4"
    bad.write_text("이건 영상이 아닙니다", encoding="utf-8")
    request = engine.DescribeRequest(video=str(bad), model=tiny_vl)
    ids: list[int] = []
    events = list(
        review.record(engine.describe(request), request, log=db, source="cli", on_start=ids.append)
    )
    assert events[-1].kind == "error"
    run = db.get(ids[0])
    assert run.status == "error" and run.error_code == "not_a_video"
    assert run.error_ko and run.error_en and run.video_name == "<b>notes<b>.mp4"
    assert run.video_sha256 == hashlib.sha256(bad.read_bytes()).hexdigest()


def test_error_event_keeps_partial_output(db):
    events = [
        engine.Status("plan", "p"),
        Text("반쯤 "),
        Text("썼다"),
        Error(NotAVideo("ko", "en"), True),
    ]
    ids: list[int] = []
    list(review.record(iter(events), _request(), log=db, source="cli", on_start=ids.append))
    run = db.get(ids[0])
    assert (run.status, run.answer, run.error_code) == ("error", "반쯤 썼다", "not_a_video")


def test_an_exception_passing_through_is_an_error_run(db):
    def events():
        yield engine.Status("plan", "p")
        yield Text("일부")
        raise RuntimeError("boom")

    ids: list[int] = []
    with pytest.raises(RuntimeError):
        list(review.record(events(), _request(), log=db, source="cli", on_start=ids.append))
    run = db.get(ids[0])
    assert (run.status, run.answer, run.error_code) == ("error", "일부", "internal")
    assert "boom" in run.error_detail


def test_keyboard_interrupt_is_a_stopped_run(db):
    def events():
        yield Text("중간")
        raise KeyboardInterrupt

    ids: list[int] = []
    with pytest.raises(KeyboardInterrupt):
        list(review.record(events(), _request(), log=db, source="cli", on_start=ids.append))
    assert db.get(ids[0]).status == "stopped"


def test_done_stopped_is_a_stopped_run(db):
    run_id = _recorded(db, answer="멈춤", finish="stopped")
    assert db.get(run_id).status == "stopped"


def test_partial_output_is_saved_while_running(db, monkeypatch):
    monkeypatch.setattr(review, "PROGRESS_INTERVAL_S", 0.0)
    ids: list[int] = []
    stream = review.record(
        iter(_fake_events("토끼가 잔다", thinking="생각")),
        _request(),
        log=db,
        source="web",
        on_start=ids.append,
    )
    for event in stream:
        if event.kind == "text" and event.text == "가":
            break
    # another connection (another process would see the same): the text so far is on disk
    with review.RunLog(db.path) as other:
        run = other.get(ids[0])
        assert run.status == "running" and run.answer == "토끼가" and run.thinking == "생각"
    stream.close()
    assert db.get(ids[0]).status == "stopped"


def test_progress_writes_are_throttled(db):
    run_id = db.start(_request(), "cli")
    assert db.progress(run_id, "a")
    assert not db.progress(run_id, "ab")  # within PROGRESS_INTERVAL_S
    assert db.get(run_id).answer == "a"
    assert db.progress(run_id, "abc", force=True) and db.get(run_id).answer == "abc"


def test_a_failing_log_never_breaks_the_events(db, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(db, "finish", broken)
    monkeypatch.setattr(db, "prepared", broken)
    events = _fake_events("글")
    assert list(review.record(iter(events), _request(), log=db, source="cli")) == events
    monkeypatch.setattr(db, "start", broken)
    assert list(review.record(iter(events), _request(), log=db, source="cli")) == events


def test_new_request_fields_are_kept(db):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Future(engine.DescribeRequest):  # e.g. style/length/allow_hanja being added now
        style: str = "격식체"
        allow_hanja: bool = False

    run_id = db.start(Future(video="clip.mp4", prompt="설명해"), "web")
    run = db.get(run_id)
    assert run.request["style"] == "격식체" and run.request["allow_hanja"] is False
    assert review.config_key(Future(prompt="a")) != review.config_key(Future(prompt="a", style="x"))


# --- ratings and filters -----------------------------------------------------------------------
def test_rate_filter_and_query(db):
    a = _recorded(
        db,
        _request(model="Qwen/Qwen3-VL-2B-Instruct", preset="summary"),
        source="cli",
        prepared=False,
    )
    b = _recorded(
        db,
        _request(model="Qwen/Qwen3-VL-8B-Instruct", preset="timeline"),
        source="batch",
        prepared=False,
    )
    c = _recorded(
        db, _request(model="Qwen/Qwen3-VL-8B-Instruct", prompt="고양이를 찾아 줘"), prepared=False
    )
    db.rate(a, 2, ["반복"], "loops", reviewer="kim")
    db.rate(b, 5, ["정확", "정확", " "], "좋음", reviewer="kim")
    db.rate(b, 3, [], "", reviewer="lee")
    first = db.ratings(b)[0]
    db.rate(
        b, 4, ["정확"], "다시 봄", reviewer="kim"
    )  # a reviewer's second rating replaces the first
    ratings = db.ratings(b)
    assert [(r.reviewer, r.score, r.tags) for r in ratings] == [
        ("kim", 4, ["정확"]),
        ("lee", 3, []),
    ]
    assert ratings[0].id == first.id and ratings[0].updated_at >= ratings[0].created_at
    assert db.get(b).rating_avg == pytest.approx(3.5)

    ids = lambda runs: sorted(r.id for r in runs)  # noqa: E731
    assert ids(db.query(model="8B")) == [b, c]
    assert ids(db.query(model="qwen3-vl-2b")) == [a]  # case-insensitive part
    assert ids(db.query(preset="timeline")) == [b]
    assert ids(db.query(prompt="고양이")) == [c]
    assert ids(db.query(source="batch")) == [b]
    assert ids(db.query(min_rating=3)) == [b]
    assert ids(db.query(rated=True)) == [a, b] and ids(db.query(rated=False)) == [c]
    assert ids(db.query(video="clip")) == [a, b, c] and db.query(video="other") == []
    assert ids(db.query(since="2000-01-01", until="2999-12-31")) == [a, b, c]
    assert db.query(since="2999-01-01") == []
    today = db.get(a).created_at[:10]
    assert len(db.query(until=today)) == 3  # a bare date includes that day
    assert [r.id for r in db.query(limit=2)] == [c, b]  # newest first
    assert [r.id for r in db.query(limit=2, offset=1, newest_first=False)] == [b, c]
    assert db.query(model="100%_") == []  # LIKE wildcards are literal


def test_rating_is_checked(db):
    run_id = _recorded(db)
    for bad in (0, 6, 2.5, True, "5"):
        with pytest.raises(InvalidRequest):
            db.rate(run_id, bad)
    with pytest.raises(review.RunNotFound):
        db.rate(run_id + 100, 3)
    with pytest.raises(review.RunNotFound):
        db.get(run_id + 100)
    with pytest.raises(InvalidRequest):
        db.query(since="지난주")


def test_videos_and_runs_for_video(db, clip_path, tmp_path):
    other = make_video(tmp_path / "other.mp4", n_frames=6, fps=6, width=64, height=48)
    first = _recorded(db, _request(video=str(clip_path)), prepared=False)
    second = _recorded(db, _request(video=str(clip_path), preset="summary"), prepared=False)
    third = _recorded(db, _request(video=str(other)), prepared=False)
    sha = hashlib.sha256(clip_path.read_bytes()).hexdigest()
    videos = {v.sha256: v for v in db.videos()}
    assert set(videos) == {sha, hashlib.sha256(other.read_bytes()).hexdigest()}
    assert (videos[sha].name, videos[sha].runs) == ("clip.mp4", 2)
    assert sorted(r.id for r in db.runs_for_video(sha)) == [first, second]
    assert sorted(r.id for r in db.query(video=sha[:12])) == [first, second]
    assert [r.id for r in db.query(video="other")] == [third]


# --- exports --------------------------------------------------------------------------------------
def _hostile_run(db, tmp_path) -> int:
    name = "<svg onload=alert(3)><img src=x onerror=alert(2)>.mp4"  # no "/" in a file name
    run_id = _recorded(
        db,
        _request(video=str(tmp_path / name), prompt=f"설명해 {XSS} <b>굵게</b>"),
        answer=f"토끼 {XSS} & <iframe src=//evil>",
    )
    db.rate(run_id, 4, [XSS, "좋음"], f"메모 {XSS}", reviewer="<i>kim</i>")
    return run_id


def test_html_export_escapes_everything(db, tmp_path):
    run_id = _hostile_run(db, tmp_path)
    out = review.export(db.query(), "html", tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '<html lang="ko">' in page
    assert '<meta charset="utf-8">' in page and "Content-Security-Policy" in page
    lowered = page.lower()
    for dangerous in ("<script", "<iframe", "<img", "<svg", "<b>굵게", "<i>kim"):
        assert dangerous not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;iframe src=//evil&gt;" in page and "&amp;" in page
    assert "&lt;svg onload=alert(3)&gt;&lt;img src=x onerror=alert(2)&gt;.mp4" in page
    assert f'id="run-{run_id}"' in page and "토끼" in page and "좋음" in page
    # self-contained: no external stylesheet, script, font or image
    assert "<link" not in lowered and "src=" not in lowered.replace("src=x", "").replace(
        "src=//evil", ""
    )
    assert "http://" not in lowered and "https://" not in lowered


def test_csv_and_jsonl_round_trip(db, tmp_path):
    run_id = _hostile_run(db, tmp_path)
    formula = _recorded(db, answer='=HYPERLINK("http://x")')
    runs = db.query(newest_first=False)
    out_csv = review.export(runs, "csv", tmp_path / "out" / "runs.csv")
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheet apps then read Korean
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == [run_id, formula]
    assert XSS in rows[0]["answer"] and rows[0]["rating_avg"] == "4.0"
    assert json.loads(rows[0]["ratings"])[0]["tags"] == [XSS, "좋음"]
    assert rows[1]["answer"].startswith("'=")  # never run as a formula
    out_jsonl = review.export(runs, "jsonl", tmp_path / "runs.jsonl")
    records = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [run_id, formula]
    assert records[0]["ratings"][0]["note"] == f"메모 {XSS}" and records[0]["rating_avg"] == 4.0
    assert records[1]["answer"] == '=HYPERLINK("http://x")'  # JSONL keeps the exact text
    with pytest.raises(InvalidRequest):
        review.export(runs, "xlsx", tmp_path / "x.xlsx")


# --- schema ---------------------------------------------------------------------------------------
def test_migration_from_v1_keeps_the_data(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    assert review.migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO runs (created_at, source, status, video_name, model, prompt, answer)"
        " VALUES ('2025-01-02T03:04:05.000Z', 'cli', 'ok', 'a.mp4', 'm1', '설명', '토끼')"
    )
    conn.execute(
        "INSERT INTO runs (created_at, source, status, video_name, model, prompt, error_code,"
        " error_en) VALUES ('2025-01-03T00:00:00.000Z', 'web', 'failed', 'b.mp4', 'm2', 'p',"
        " 'not_a_video', 'Not a video')"
    )
    conn.close()
    with review.RunLog(path) as run_log:
        assert run_log.schema_version() == review.SCHEMA_VERSION == 2
        old, failed = run_log.query(newest_first=False)
        assert (old.status, old.answer, old.model, old.video_name) == (
            "done",
            "토끼",
            "m1",
            "a.mp4",
        )
        assert (failed.status, failed.error_code) == ("error", "not_a_video")
        assert old.updated_at == old.created_at and old.thinking == "" and old.metrics is None
        run_log.rate(old.id, 5)  # the new tables work on old rows
        assert run_log.get(old.id).rating_avg == 5
        assert run_log.integrity_check() == "ok"


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(review.RunLogError) as info:
        review.RunLog(path)
    assert "v99" in info.value.en


def test_wal_mode(db):
    assert db._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# --- concurrency ------------------------------------------------------------------------------------
WRITER = """
import sys
from captioner import review
from captioner.engine import DescribeRequest
from captioner.generation import Options
log = review.RunLog(sys.argv[1])
for i in range(int(sys.argv[3])):
    request = DescribeRequest(prompt=f"{sys.argv[2]} {i}", model="m", options=Options(seed=i))
    run_id = log.start(request, sys.argv[2])
    log.progress(run_id, "부분", force=True)
    log.finish(run_id, answer=f"{sys.argv[2]}-{i}", stopped=True)
    log.rate(run_id, 1 + i % 5, ["t"], "n", sys.argv[2])
log.close()
"""


def test_two_writer_processes_at_once(tmp_path):
    path = tmp_path / "shared.sqlite3"
    n = 120
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), source, str(n)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for source in ("web", "batch")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with review.RunLog(path) as run_log:
        runs = run_log.query(limit=None)
        assert len(runs) == 2 * n
        for source in ("web", "batch"):
            answers = {r.answer for r in runs if r.source == source}
            assert answers == {f"{source}-{i}" for i in range(n)}
        assert all(r.status == "stopped" and r.rating_count == 1 for r in runs)
        assert run_log.integrity_check() == "ok"


def test_threads_share_one_log(db):
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(20):
                run_id = db.start(_request(prompt=f"{k}-{i}"), "web")
                db.finish(run_id, answer="x", stopped=True)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(db.query(limit=None)) == 80


# --- blind comparison ---------------------------------------------------------------------------------
def test_blind_pairs_are_deterministic_and_revealable(db):
    a, b = db.get(_recorded(db)), db.get(_recorded(db, answer="다른 답"))
    orders = set()
    for seed in range(12):
        left, right, key = review.pair_for_blind(a, b, seed)
        assert review.pair_for_blind(a, b, seed)[:2] == (left, right)
        assert {left.id, right.id} == {a.id, b.id}
        assert review.reveal(key) == {"left": left.id, "right": right.id}
        orders.add(left.id)
    assert orders == {a.id, b.id}  # both orders occur
    with pytest.raises(InvalidRequest):
        review.reveal("not-a-key")


# --- the review commands, in-process ---------------------------------------------------------------
def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="captioner")
    sub = parser.add_subparsers(dest="command", required=True)
    review_cli.add_commands(sub)
    args = parser.parse_args(list(argv))
    assert review_cli.owns(args)
    return review_cli.run(args)


def test_review_cli_list_rate_show_export(tmp_path, capsys):
    path = tmp_path / "cli.sqlite3"
    with review.RunLog(path) as run_log:
        first = _recorded(run_log, _request(preset="summary"), source="cli")
        second = _recorded(run_log, _request(preset="timeline"), source="batch", answer=XSS)
    db = ["--db", str(path)]
    assert (
        _cli(
            "review",
            "rate",
            str(first),
            "5",
            "--tag",
            "좋음",
            "--tag",
            "정확",
            "--note",
            "굿",
            "--reviewer",
            "kim",
            *db,
        )
        == 0
    )
    assert _cli("review", "list", "--json", *db) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["id"] for x in lines] == [second, first]
    assert lines[1]["ratings"][0]["tags"] == ["좋음", "정확"]
    assert _cli("review", "list", "--min-rating", "4", *db) == 0
    out = capsys.readouterr().out
    assert f"#{first}" in out and f"#{second} " not in out
    assert _cli("review", "show", str(second), "--json", *db) == 0
    assert json.loads(capsys.readouterr().out)["answer"] == XSS
    report = tmp_path / "r.html"
    assert (
        _cli(
            "review",
            "export",
            "--format",
            "html",
            "--out",
            str(report),
            "--preset",
            "timeline",
            *db,
        )
        == 0
    )
    assert "&lt;script&gt;" in report.read_text(encoding="utf-8")
    assert (
        _cli(
            "review",
            "export",
            "--format",
            "jsonl",
            "--out",
            str(tmp_path / "r.jsonl"),
            "--rated",
            *db,
        )
        == 0
    )
    assert len((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_review_cli_user_errors_exit_2(tmp_path, capsys):
    db = ["--db", str(tmp_path / "e.sqlite3")]
    assert _cli("review", "rate", "999", "3", *db) == 2
    err = capsys.readouterr().err
    assert "오류" in err and "error" in err and "Traceback" not in err
    assert _cli("review", "rate", "1", "9", *db) == 2
    assert _cli("review", "list", "--since", "어제", *db) == 2
    blocker = tmp_path / "f"
    blocker.write_text("x")
    assert _cli("review", "list", "--db", str(blocker / "x.sqlite3")) == 2


def test_record_cli_run_logs_and_can_be_switched_off(tmp_path, monkeypatch):
    path = tmp_path / "c.sqlite3"
    events = _fake_events("한글")
    assert list(review_cli.record_cli_run(iter(events), _request(), db=path)) == events
    with review.RunLog(path) as run_log:
        (run,) = run_log.query()
        assert (run.source, run.status, run.answer) == ("cli", "done", "한글")
    monkeypatch.setenv("CAPTIONER_DB", "off")
    assert list(review_cli.record_cli_run(iter(events), _request())) == events
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "f.txt" / "x.sqlite3"))
    (tmp_path / "f.txt").write_text("x")
    assert list(review_cli.record_cli_run(iter(events), _request())) == events  # warned, not broken
