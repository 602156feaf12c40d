"""The ``review`` commands (captioner/review_cli.py) in-process, and record_cli_run."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from runlog.fakes import ACCESS, XSS, fake_events, recorded, request

from captioner import review_cli, runlog


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="captioner")
    sub = parser.add_subparsers(dest="command", required=True)
    review_cli.add_commands(sub)
    args = parser.parse_args(list(argv))
    assert review_cli.owns(args)
    return review_cli.run(args)


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


def test_record_cli_run_logs_and_can_be_switched_off(tmp_path, monkeypatch):
    path = tmp_path / "c.sqlite3"
    events = fake_events("한글")
    assert list(review_cli.record_cli_run(iter(events), request(), db=path)) == events
    with runlog.RunLog(path) as run_log:
        (run,) = run_log.query(access=ACCESS)
        assert (run.source, run.status, run.answer) == ("cli", "done", "한글")
    monkeypatch.setenv("CAPTIONER_DB", "off")
    assert list(review_cli.record_cli_run(iter(events), request())) == events
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "f.txt" / "x.sqlite3"))
    (tmp_path / "f.txt").write_text("x")
    assert list(review_cli.record_cli_run(iter(events), request())) == events  # warned, not broken


ROOT = Path(__file__).resolve().parent.parent


def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "captioner", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_numbers_sqlite_cannot_hold_exit_2_in_both_languages(tmp_path):
    db = str(tmp_path / "big.sqlite3")
    with runlog.RunLog(db) as run_log:
        recorded(run_log)
    for argv in (
        ("review", "show", "99999999999999999999"),
        ("review", "rate", "99999999999999999999", "3"),
        ("review", "list", "--limit", "99999999999999999999"),
    ):
        result = _run_cli(*argv, "--db", db)
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
    result = _run_cli(
        "describe", "clip.mp4", "--seed", "99999999999999999999", "--db", db, "--json"
    )
    assert result.returncode == 2, result.stderr
    assert "seed" in result.stderr and "범위" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["error"]["code"] == "invalid_request"
    with runlog.RunLog(db) as run_log:
        assert run_log.query(access=ACCESS) == []  # refused before anything ran
