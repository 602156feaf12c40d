"""The review tab's logic: table, details, ratings, exports, comparisons, subtitles, library."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from captioner import engine, reviewui, runlog, webui
from captioner.errors import InvalidRequest
from captioner.generation import Options

BBB = str(Path(__file__).resolve().parent.parent / "assets" / "bigbuckbunny.mp4")


@pytest.fixture()
def log(tmp_path):
    with runlog.RunLog(tmp_path / "runs.sqlite3") as run_log:
        yield run_log


@pytest.fixture()
def library(tmp_path):
    return runlog.Library(tmp_path / "videos")


def _run(log, model, video=BBB, tokens=4, preset="detail"):
    request = engine.DescribeRequest(
        video=video, model=model, preset=preset, options=Options(max_new_tokens=tokens, seed=0)
    )
    events = list(runlog.record(engine.describe(request), request, log=log, source="web"))
    assert events[-1].kind == "done"
    return log.query(limit=1)[0]


def test_table_open_rate_export(log, library, tiny_vl, tmp_path):
    kept = library.keep(BBB)
    run = _run(log, tiny_vl, video=kept)
    rows = reviewui.table(reviewui.query(log), "ko")
    assert rows[0][0] == run.id and rows[0][2] == Path(kept).name and rows[0][5] == "완료"
    path, detail = reviewui.open_run(log, run.id, "en", library)
    assert Path(path).exists() and "precision" in detail
    assert "★" in reviewui.rate(log, run.id, 5, "정확, #자세함", "좋아요 <b>", "민지", "ko")
    assert log.get(run.id).ratings[0].tags == ["정확", "자세함"]
    assert reviewui.table(reviewui.query(log, min_rating=5), "en")[0][6] == "5.0 (1)"
    assert reviewui.query(log, model="does-not-exist") == []
    filters = {"model": "", "preset": "all", "video": "", "since": "", "min_rating": 4}
    out = reviewui.export(log, "html", filters, str(tmp_path))
    html = out.read_text(encoding="utf-8")
    assert "좋아요 &lt;b&gt;" in html and "좋아요 <b>" not in html  # the note is escaped
    with pytest.raises(InvalidRequest):
        reviewui.rate(log, None, None, "", "", "", "ko")


def test_compare_two_configurations_blind(log, library, tiny_vl, tiny_dir):
    base = webui.Form(video=BBB, max_new_tokens=4, seed=0)
    a = reviewui.Config(model=tiny_vl, preset="detail")
    b = reviewui.Config(model=tiny_vl, preset="summary", precision="bf16")
    states = list(reviewui.compare_configs(base, a, b, threading.Event(), log, blind=True, seed=7))
    final = states[-1]
    assert final.done and final.left and final.right and all(final.run_ids)
    left, right = (log.get(i) for i in final.run_ids)
    assert {left.preset, right.preset} == {"detail", "summary"}
    assert {left.precision, right.precision} >= {"bf16"}
    # blind panels show outputs only; after both are rated, the configurations are revealed
    left_md, right_md, _, ids = reviewui.load_pair(
        log, *final.run_ids, blind=True, lang="en", library=library
    )
    assert "precision" not in left_md and "precision" not in right_md
    assert reviewui.reveal_if_rated(log, ids, "민지", "en") is None
    for run_id in ids:
        reviewui.rate(log, run_id, 4, "", "", "민지", "en")
    revealed = reviewui.reveal_if_rated(log, ids, "민지", "en")
    assert revealed and all("precision" in text for text in revealed)


def test_pair_of_different_videos_is_refused(log, library, tiny_vl, tmp_path):
    from media import make_video

    other = make_video(tmp_path / "other.mp4", n_frames=24, fps=12)
    first = _run(log, tiny_vl)
    second = _run(log, tiny_vl, video=str(other))
    with pytest.raises(InvalidRequest):
        reviewui.load_pair(log, first.id, second.id, blind=False, lang="ko", library=library)


def test_timeline_answer_becomes_subtitles(tmp_path):
    answer = "00:00-00:02 토끼가 굴에서 나옵니다.\n00:02-00:05 나비를 바라봅니다."
    run = {"preset": "timeline", "prompt": "", "answer": answer, "duration": 5.28, "video": BBB}
    files, vtt, problem = webui.timeline_subtitles(run, "ko")
    assert problem is None and len(files) == 2
    assert Path(vtt).read_text(encoding="utf-8").startswith("WEBVTT")
    srt = Path([f for f in files if f.endswith(".srt")][0]).read_text(encoding="utf-8")
    assert "00:00:02,000 --> 00:00:05,000" in srt
    files, vtt, problem = webui.timeline_subtitles({**run, "answer": "시간 표시가 없는 답"}, "en")
    assert files == [] and problem
    assert webui.timeline_subtitles({**run, "preset": "detail"}, "ko") == ([], None, None)
