"""Batch runs (captioner/batch.py) with the tiny checkpoints, and the ``batch`` command in-process."""

from __future__ import annotations

import csv
import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from media import make_video

from captioner import batch, engine, loader, runlog
from captioner.errors import InvalidRequest
from captioner.generation import Done, Metrics, Options
from captioner.runlog import provenance

ROOT = Path(__file__).resolve().parent.parent
BBB = ROOT / "assets" / "bigbuckbunny.mp4"
OPTIONS = Options(max_new_tokens=4, seed=0)
ACCESS = runlog.Access.cli("tester")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("batch-clips")
    make_video(folder / "a.mp4", n_frames=12, fps=12, width=96, height=64)
    make_video(folder / "b.mp4", n_frames=8, fps=8, width=64, height=64)
    return folder


@pytest.fixture
def run_log(tmp_path):
    with runlog.RunLog(tmp_path / "runs.sqlite3") as log:
        yield log


@pytest.fixture
def second_vl(tiny_vl, tmp_path) -> str:
    """Another folder with the same tiny weights: to the loader, a different model."""
    folder = tmp_path / "vl-copy"
    folder.mkdir()
    for item in Path(tiny_vl).iterdir():
        os.symlink(item, folder / item.name)
    return str(folder)


def test_find_videos(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.MOV", "a.mp4", "notes.txt", ".hidden.mp4", "c.webm", "sub/d.mkv"):
        (tmp_path / name).write_bytes(b"x")
    names = [p.name for p in batch.find_videos([tmp_path])]
    assert names == ["a.mp4", "b.MOV", "c.webm"]
    deep = [p.name for p in batch.find_videos([tmp_path], recursive=True)]
    assert deep == ["a.mp4", "b.MOV", "c.webm", "d.mkv"]
    explicit = batch.find_videos([tmp_path / "notes.txt", tmp_path, tmp_path / "a.mp4"])
    assert [p.name for p in explicit] == ["notes.txt", "a.mp4", "b.MOV", "c.webm"]


def test_batch_resumes_and_goes_on_past_a_bad_video(tiny_vl, clips, tmp_path, run_log, settings):
    bad = tmp_path / "broken.mp4"
    bad.write_text("영상이 아닙니다", encoding="utf-8")
    seen: list[tuple[int, int]] = []
    kwargs = dict(
        presets=["summary"],
        prompts=["등장하는 색을 말해 줘"],
        models=[tiny_vl],
        log=run_log,
        options=OPTIONS,
        progress=lambda done, total, label: seen.append((done, total)),
    )
    out = tmp_path / "out"
    first = batch.run_batch([clips, bad], out_dir=out, **kwargs, settings=settings)
    assert (first.total, first.done, first.skipped, first.failed) == (6, 4, 0, 2)
    assert seen == [(i, 6) for i in range(1, 7)]
    assert {f["code"] for f in first.failures} == {"not_a_video"}
    assert all(f["video"] == "broken.mp4" and f["user_error"] for f in first.failures)
    runs = run_log.query(limit=None, access=ACCESS)
    assert len(runs) == 6 and {r.source for r in runs} == {"batch"}
    assert sorted(r.status for r in runs) == ["done"] * 4 + ["error"] * 2
    stats = first.models[0]
    assert stats.jobs == 6 and 0 <= stats.load_s <= stats.total_s <= first.total_s

    rows = list(csv.DictReader((out / "runs.csv").read_text(encoding="utf-8-sig").splitlines()))
    # the broken file is not listed as a video; its runs keep the name in the request
    assert len(rows) == 6 and {r["video_name"] for r in rows} == {"a.mp4", "b.mp4", ""}
    assert sum('"video": "broken.mp4"' in r["request"] for r in rows) == 2
    assert len((out / "runs.jsonl").read_text(encoding="utf-8").splitlines()) == 6
    assert '<html lang="ko">' in (out / "report.html").read_text(encoding="utf-8")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["done"] == 4 and summary["failed"] == 2

    second = batch.run_batch([clips, bad], out_dir=out, **kwargs, settings=settings)
    assert (second.done, second.skipped, second.failed) == (0, 4, 2)  # only the bad file again
    assert len(run_log.query(limit=None, status="done", access=ACCESS)) == 4
    assert len((out / "runs.jsonl").read_text(encoding="utf-8").splitlines()) == 6
    assert "건너뜀 4" in second.text() and "skipped 4" in second.text()

    changed = batch.run_batch(
        [clips],
        out_dir=None,
        **{**kwargs, "options": Options(max_new_tokens=3, seed=0)},
        settings=settings,
    )
    assert changed.done == 4 and changed.skipped == 0  # other options: another configuration


def test_two_models_are_each_loaded_once(tiny_vl, second_vl, clips, run_log, monkeypatch, settings):
    loads: list[str] = []
    real = loader._load_uncached

    def counting(request, progress):
        loads.append(request.model)
        return real(request, progress)

    monkeypatch.setattr(loader, "_load_uncached", counting)
    loader.unload()
    summary = batch.run_batch(
        [clips],
        presets=["summary", "detail"],
        models=[tiny_vl, second_vl],
        log=run_log,
        options=OPTIONS,
        settings=settings,
    )
    assert summary.done == 8 and loads == [tiny_vl, second_vl]
    assert [m.model for m in summary.models] == [tiny_vl, second_vl]
    assert all(m.jobs == 4 and m.load_s > 0 for m in summary.models)
    models = [r.model for r in run_log.query(limit=None, newest_first=False, access=ACCESS)]
    assert models == [tiny_vl] * 4 + [second_vl] * 4  # models in the outer loop


def test_subtitles_for_timeline_runs(tiny_vl, clips, tmp_path, run_log, settings):
    video = clips / "a.mp4"
    # a finished timeline run for exactly the combination the batch will ask for
    request = engine.DescribeRequest(
        video=str(video), model=tiny_vl, preset="timeline", options=OPTIONS
    )
    run_id = run_log.start(request, "batch", access=ACCESS)
    clip = SimpleNamespace(
        info=SimpleNamespace(
            path=str(video),
            sha256=provenance.file_sha256(str(video)),
            duration_s=1.0,
            width=96,
            height=64,
            avg_fps=12.0,
        ),
        indices=(0, 11),
        timestamps=(0.0, 0.917),
        frames=SimpleNamespace(shape=(2, 64, 96, 3)),
    )
    run_log.prepared(run_id, SimpleNamespace(model=tiny_vl), clip, None)
    metrics = Metrics(1, 1, 2, 4, 0.0, 0.1, 0.2, 10.0, 1, "process peak RSS", "eos")
    answer = "00:00-00:00.6 빨간 화면\n00:00.6-00:01 막대가 움직입니다 <b>"
    run_log.finish(run_id, done=Done(answer, "", metrics, {}))

    summary = batch.run_batch(
        [video, clips / "b.mp4"],
        presets=["timeline"],
        models=[tiny_vl],
        out_dir=tmp_path / "out",
        log=run_log,
        options=OPTIONS,
        srt=True,
        vtt=True,
        settings=settings,
    )
    assert (summary.skipped, summary.done) == (1, 1)
    files = sorted(p.name for p in summary.subtitle_files)
    stem = f"a.{batch._slug(batch.model_label(tiny_vl))}.run{run_id}"
    assert files == [f"{stem}.srt", f"{stem}.vtt"] and "vl" in stem
    srt = (tmp_path / "out" / "subtitles" / files[0]).read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:00,600\n빨간 화면\n\n2\n00:00:00,600 --> ")
    vtt = (tmp_path / "out" / "subtitles" / files[1]).read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:00.600\n") and "&lt;b&gt;" in vtt
    # the tiny model's timeline answer is noise: reported, not fatal
    assert [e["video"] for e in summary.subtitle_errors] == ["b.mp4"]
    assert "자막 실패" in summary.text()


def test_user_errors_before_running(run_log, tmp_path, tiny_vl, settings):
    with pytest.raises(InvalidRequest):
        batch.run_batch([tmp_path], log=run_log, settings=settings)  # no videos in the folder
    make_video(tmp_path / "x.mp4", n_frames=4, fps=4, width=64, height=64)
    with pytest.raises(InvalidRequest):
        batch.run_batch([tmp_path], presets=["nope"], log=run_log, settings=settings)
    with pytest.raises(InvalidRequest):
        batch.run_batch([tmp_path], log=run_log, colour="red", settings=settings)
    stop = threading.Event()
    stop.set()
    summary = batch.run_batch(
        [tmp_path], models=[tiny_vl], log=run_log, stop=stop, settings=settings
    )
    assert summary.interrupted and summary.done == 0 and run_log.query(access=ACCESS) == []


# --- the command, in-process -----------------------------------------------------------------------
def _cli(*argv: str) -> int:
    from captioner.cli import main

    return main(list(argv))


def test_batch_command(tiny_vl, clips, tmp_path, capsys):
    db = tmp_path / "cli.sqlite3"
    out = tmp_path / "out"
    args = ["batch", str(clips / "a.mp4"), str(BBB), "--preset", "timeline", "--model", tiny_vl]
    args += ["--out", str(out), "--max-new-tokens", "4", "--seed", "1", "--max-frames", "4"]
    args += ["--srt", "--json", "--db", str(db)]
    assert _cli(*args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert (summary["done"], summary["failed"]) == (2, 0)
    assert "batch finished" in captured.err and "배치 완료" in captured.err
    assert {Path(p).name for p in summary["files"].values()} >= {"runs.csv", "report.html"}
    with runlog.RunLog(db) as log:
        runs = log.query(limit=None, access=ACCESS)
        assert {r.video_name for r in runs} == {"a.mp4", "bigbuckbunny.mp4"}
        assert all(r.frames == 4 and r.options["seed"] == 1 for r in runs)
    assert _cli(*args) == 0  # resumed: everything skipped
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] == 2

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"")
    assert _cli("batch", str(bad), "--model", tiny_vl, "--out", str(out), "--db", str(db)) == 2
    err = capsys.readouterr().err
    assert "video_empty" in err and "Traceback" not in err
    assert _cli("batch", str(tmp_path / "nothing-here"), "--out", str(out), "--db", str(db)) == 2


def test_ctrl_c_stops_the_batch_and_keeps_the_stopped_run(tiny_vl, clips, tmp_path):
    from runcli import interrupted

    from captioner.cli import common

    db, out = tmp_path / "cli.sqlite3", tmp_path / "out"

    def running(_stdout: str, _stderr: str) -> bool:
        if not db.exists():
            return False
        with runlog.RunLog(db) as log:
            return bool(log.query(access=common.access(), status="running"))

    sent, result = interrupted("batch", str(clips), "--model", tiny_vl, "--max-new-tokens", "4000",
                               "--out", str(out), "--db", str(db), "--json", ready=running)  # fmt: skip
    assert sent, result.stderr
    assert result.returncode == 130 and "Traceback" not in result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["interrupted"] and summary["stopped"] == 1 and len(summary["run_ids"]) == 1
    # the stopped run is in the batch's own outputs, not only in the run log
    (line,) = (out / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["id"] == summary["run_ids"][0]
    assert "배치 중단" in result.stderr and "batch interrupted" in result.stderr


def test_an_output_folder_that_cannot_be_made_is_refused_before_any_run(
    tmp_path, run_log, settings
):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder", encoding="utf-8")
    make_video(tmp_path / "x.mp4", n_frames=4, fps=4, width=64, height=64)
    with pytest.raises(InvalidRequest) as caught:
        batch.run_batch([tmp_path / "x.mp4"], out_dir=taken, log=run_log, settings=settings)
    assert str(taken) in caught.value.en and str(taken) in caught.value.ko
    assert run_log.query(access=ACCESS) == []


def test_outputs_that_fail_to_write_leave_the_summary_and_the_runs(
    tiny_vl, clips, tmp_path, run_log, settings, monkeypatch
):
    import errno

    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runlog, "export", disk_full)  # a full disk, the one way to get there
    summary = batch.run_batch([clips / "a.mp4"], models=[tiny_vl], out_dir=tmp_path / "out",
                              log=run_log, settings=settings, options=OPTIONS)  # fmt: skip
    assert summary.done == 1 and len(summary.run_ids) == 1
    assert "No space left" in summary.output_error["en"] and "review export" in summary.text()
    assert [r.id for r in run_log.query(access=ACCESS)] == summary.run_ids
