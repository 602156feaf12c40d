"""The ``review`` commands (captioner/review_cli.py) in-process, and record_cli_run."""

from __future__ import annotations

import argparse
import json

from runlog.fakes import XSS, fake_events, recorded, request

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
        (run,) = run_log.query()
        assert (run.source, run.status, run.answer) == ("cli", "done", "한글")
    monkeypatch.setenv("CAPTIONER_DB", "off")
    assert list(review_cli.record_cli_run(iter(events), request())) == events
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "f.txt" / "x.sqlite3"))
    (tmp_path / "f.txt").write_text("x")
    assert list(review_cli.record_cli_run(iter(events), request())) == events  # warned, not broken
