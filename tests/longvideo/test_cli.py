"""``python -m captioner describe LONG --long --json`` and ``batch --long`` end to end: the tiny
checkpoint for structure (it writes nonsense), the fake backend in-process for text."""

from __future__ import annotations

import json
import threading

from longvideo.conftest import CUTS
from runcli import cli

from captioner import batch, runlog
from captioner.generation import Options


def test_describe_long_json_has_windows_and_an_ordered_covering_timeline(
    scenes_path, tiny_vl, tmp_path
):
    db = str(tmp_path / "runs.sqlite3")
    result = cli("describe", str(scenes_path), "--long", "--model", tiny_vl, "--max-new-tokens",
                 "4", "--seed", "0", "--json", "--db", db, "--srt", str(tmp_path / "t.srt"),
                 "--vtt", str(tmp_path / "t.vtt"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["duration_s"] == 120.0 and record["long"]["windows"] == 2  # 15 s a frame > 10
    windows = record["windows"]
    assert [w["index"] for w in windows] == [0, 1] and windows[0]["end_s"] == windows[1]["start_s"]
    for w in windows:
        assert w["status"] == "done" and len(w["frame_times"]) == 8
        assert all(w["start_s"] <= t < w["end_s"] for t in w["frame_times"])
        assert w["metrics"]["frames"] == 8 and w["generate_s"] is not None
    check = record["timeline_check"]
    assert check == {"lines": len(record["timeline"]), "inside": True, "ordered": True,
                     "coverage": 1.0, "coverage_starts": check["coverage_starts"], "ok": True}  # fmt: skip
    starts = [line["start"] for line in record["timeline"]]
    assert starts == sorted(starts) and all(0 <= s < 120 for s in starts)
    assert record["frame_times"] == [t for w in windows for t in w["frame_times"]]
    assert record["metrics"]["frames"] == 16 and record["answer"].endswith(
        record["timeline"][-1]["text"]
    )
    assert (tmp_path / "t.srt").read_text(encoding="utf-8").startswith("1\n00:00:00,000 --> ")
    assert "구간 2/2" in result.stderr and "타임라인" in result.stderr
    with runlog.RunLog(db) as log:
        (run,) = log.query(access=runlog.Access.cli())
        assert run.status == "done" and run.windows == 2 and run.frames == 16
        assert len(log.windows(run.id, access=runlog.Access.cli())) == 2


def test_long_flags_become_the_request():
    from captioner import cli
    from captioner.cli import describe

    def parsed(*flags):
        return describe.request_from(cli.parser().parse_args(["describe", "x.mp4", *flags]))

    assert parsed().long is None and parsed("--long").long is True
    assert parsed("--no-long").long is False
    args = cli.parser().parse_args(["batch", "clips/", "--out", "o", "--no-long"])
    assert args.long is False


def test_batch_long_resumes_a_stopped_run_and_writes_subtitles(scenes_path, long_settings, fake,
                                                               tmp_path):  # fmt: skip
    stop = threading.Event()
    fake.on_window = lambda clip: stop.set() if fake.window_calls == 3 else None
    with runlog.RunLog(tmp_path / "runs.sqlite3") as log:
        first = batch.run_batch([scenes_path], out_dir=tmp_path / "out", log=log, stop=stop,
                                settings=long_settings, long=True, options=Options(seed=0))  # fmt: skip
        assert first.stopped == 1 and first.done == 0
        (run,) = log.query(access=batch.BATCH_ACCESS)
        assert run.status == "stopped" and len(log.windows(run.id, access=batch.BATCH_ACCESS)) == 3
        fake.on_window = None
        again = batch.run_batch([scenes_path], out_dir=tmp_path / "out", log=log, srt=True,
                                settings=long_settings, long=True, options=Options(seed=0))  # fmt: skip
        assert again.done == 1 and again.run_ids == [run.id]
        assert fake.window_calls == 3 + 6  # windows 0-1 done, 2 stopped halfway: 2-7 again
        (srt,) = again.subtitle_files
        text = srt.read_text(encoding="utf-8")  # one cue per scene: repeats merged
        assert [line for line in text.splitlines() if line.startswith("장면")] == [
            f"장면 {k}" for k in range(len(CUTS) + 1)
        ]
        assert log.get(run.id, access=batch.BATCH_ACCESS).status == "done"
