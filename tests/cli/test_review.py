"""``python -m captioner review`` and ``batch`` from a terminal, on the tiny checkpoints."""

from __future__ import annotations

import json
import sys

from runcli import BBB, cli
from runlog.fakes import ACCESS, XSS, fake_events, recorded, request

from captioner import runlog
from captioner.cli import main


def _cli(*argv: str) -> int:
    """The review commands in-process, through the one dispatch."""
    return main(list(argv))


def test_describe_is_recorded_and_review_commands_work(tiny_vl, tmp_path):
    db = str(tmp_path / "runs.sqlite3")
    result = cli(
        "describe", str(BBB), "--model", tiny_vl, "--max-new-tokens", "4", "--db", db, "--quiet"
    )
    assert result.returncode == 0, result.stderr
    listed = cli("review", "list", "--db", db, "--json")
    assert listed.returncode == 0, listed.stderr
    runs = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert len(runs) == 1 and runs[0]["status"] == "done" and runs[0]["source"] == "cli"
    rated = cli(
        "review", "rate", str(runs[0]["id"]), "4", "--tag", "정확", "--reviewer", "민지", "--db", db
    )
    assert rated.returncode == 0, rated.stderr
    out = tmp_path / "report.html"
    exported = cli(
        "review", "export", "--format", "html", "--out", str(out), "--min-rating", "4", "--db", db
    )
    assert exported.returncode == 0 and "민지" in out.read_text(encoding="utf-8")
    bad = cli("review", "rate", "999", "4", "--db", db)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_batch_is_resumable_and_survives_a_bad_video(tiny_vl, tmp_path):
    from media import make_video

    clips = tmp_path / "clips"
    clips.mkdir()
    make_video(clips / "a.mp4", n_frames=24, fps=12, width=160, height=120)
    make_video(clips / "b.mp4", n_frames=30, fps=12, width=160, height=120)
    (clips / "broken.mp4").write_text("not a video", encoding="utf-8")
    db = str(tmp_path / "runs.sqlite3")
    args = ("batch", str(clips), "--preset", "detail", "--model", tiny_vl, "--out", str(tmp_path / "out"),
            "--max-new-tokens", "4", "--seed", "0", "--db", db, "--quiet")  # fmt: skip
    first = cli(*args)
    assert first.returncode == 2, first.stderr  # one video failed; the others are done
    assert (tmp_path / "out" / "runs.csv").exists() and (tmp_path / "out" / "report.html").exists()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["done"], summary["failed"]) == (2, 1)
    again = json.loads(
        (cli(*args), (tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))[1]
    )
    assert again["skipped"] == 2 and again["done"] == 0


def test_review_cli_list_rate_show_export(tmp_path, capsys):
    path = tmp_path / "cli.sqlite3"
    with runlog.RunLog(path) as run_log:
        first = recorded(run_log, request(preset="summary"), source="cli")
        second = recorded(run_log, request(preset="timeline"), source="batch", answer=XSS)
    db = ["--db", str(path)]
    rate = ["review", "rate", str(first), "5", "--tag", "좋음", "--tag", "정확", "--note", "굿"]
    assert _cli(*rate, "--reviewer", "kim", *db) == 0
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
    export = ["review", "export", "--format", "html", "--out", str(report)]
    assert _cli(*export, "--preset", "timeline", *db) == 0
    assert "&lt;script&gt;" in report.read_text(encoding="utf-8")
    export = ["review", "export", "--format", "jsonl", "--out", str(tmp_path / "r.jsonl")]
    assert _cli(*export, "--rated", *db) == 0
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


def test_cli_runs_are_recorded_and_the_log_can_be_switched_off(tmp_path):
    from captioner.cli.describe import recorded as record_cli_run
    from captioner.settings import Settings

    path = tmp_path / "c.sqlite3"
    events = fake_events("한글")
    assert list(record_cli_run(iter(events), request(), Settings(db_path=path), "cli")) == events
    with runlog.RunLog(path) as run_log:
        (run,) = run_log.query(access=ACCESS)
        assert (run.source, run.status, run.answer) == ("cli", "done", "한글")
    assert list(record_cli_run(iter(events), request(), Settings(db_path=None), "cli")) == events
    (tmp_path / "f.txt").write_text("x")
    broken = Settings(db_path=tmp_path / "f.txt" / "x.sqlite3")
    assert list(record_cli_run(iter(events), request(), broken, "cli")) == events  # warned


def test_numbers_sqlite_cannot_hold_exit_2_in_both_languages(tmp_path):
    db = str(tmp_path / "big.sqlite3")
    with runlog.RunLog(db) as run_log:
        recorded(run_log)
    for argv in (
        ("review", "show", "99999999999999999999"),
        ("review", "rate", "99999999999999999999", "3"),
        ("review", "list", "--limit", "99999999999999999999"),
    ):
        result = cli(*argv, "--db", db)
        assert result.returncode == 2, result.stderr
        assert "범위" in result.stderr and "out of range" in result.stderr
        assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr


HOSTILE = "토끼\x1b]0;pwned\x07가 \x1b[2J\x1b[31m뛴다\x1b[0m\r\x9b2J\x07 끝\n둘째\t줄"


def test_list_and_show_strip_terminal_controls_on_a_terminal(tmp_path, capsys, monkeypatch):
    path = tmp_path / "t.sqlite3"
    with runlog.RunLog(path) as run_log:
        run_id = recorded(run_log, answer=HOSTILE, clip=("\x1b[31mred.mp4", "ab" * 32))
    db = ["--db", str(path)]
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert _cli("review", "show", str(run_id), *db) == 0
    assert _cli("review", "list", *db) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x9b" not in shown and "\r" not in shown
    assert "\x07" not in shown and "pwned" not in shown
    assert "토끼가 뛴다 끝\n둘째\t줄" in shown and "red.mp4" in shown
    # JSON keeps the exact text, with every control written as an escape
    assert _cli("review", "show", str(run_id), "--json", *db) == 0
    raw = capsys.readouterr().out
    assert "\x1b" not in raw and "\x9b" not in raw and json.loads(raw)["answer"] == HOSTILE
    # not a terminal (a pipe, a file): the stored text as it is
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert _cli("review", "show", str(run_id), *db) == 0
    assert HOSTILE in capsys.readouterr().out
    with runlog.RunLog(path) as run_log:
        assert run_log.get(run_id, access=ACCESS).answer == HOSTILE  # stored unchanged


def test_describe_with_a_seed_sqlite_cannot_hold_exits_2(tmp_path):
    db = str(tmp_path / "seed.sqlite3")
    result = cli("describe", "clip.mp4", "--seed", "99999999999999999999", "--db", db, "--json")
    assert result.returncode == 2, result.stderr
    assert "seed" in result.stderr and "범위" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["error"]["code"] == "invalid_request"
    with runlog.RunLog(db) as run_log:
        assert run_log.query(access=ACCESS) == []  # refused before anything ran
