"""``python -m captioner review`` and ``batch`` from a terminal, on the tiny checkpoints."""

from __future__ import annotations

import json

from runcli import BBB, cli


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
