"""The review tab's logic: table, details, ratings, exports, comparisons, subtitles, library."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from captioner import engine, runlog
from captioner.errors import InvalidRequest
from captioner.generation import Options
from captioner.ui import caption
from captioner.ui import review as reviewui
from captioner.ui.form import Form

BBB = str(Path(__file__).resolve().parent.parent.parent / "assets" / "bigbuckbunny.mp4")


@pytest.fixture()
def here(tmp_path, settings):
    """This machine's settings with the run log and the library in a fresh folder."""
    import dataclasses

    return dataclasses.replace(
        settings, db_path=tmp_path / "runs.sqlite3", library_dir=tmp_path / "videos"
    )


@pytest.fixture()
def log(here):
    with runlog.RunLog(here.db_path) as run_log:
        yield run_log


def _run(log, here, model, video=BBB, tokens=4, preset="detail"):
    request = engine.DescribeRequest(
        video=video, model=model, preset=preset, options=Options(max_new_tokens=tokens, seed=0)
    )
    events = list(runlog.record(engine.describe(request, here), request, log=log, source="web"))
    assert events[-1].kind == "done"
    return log.query(limit=1)[0]


def test_library_keeps_one_copy_per_content(here, tmp_path):
    first = reviewui.keep_video(here, BBB)
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(Path(BBB).read_bytes())
    assert reviewui.keep_video(here, str(copy)) == first
    assert (
        Path(first).parent == here.library
        and Path(first).stat().st_size == Path(BBB).stat().st_size
    )


def test_table_open_rate_export(log, here, tiny_vl, tmp_path):
    run = _run(log, here, tiny_vl, video=reviewui.keep_video(here, BBB))
    rows = reviewui.table(reviewui.query(log), "ko")
    assert (
        rows[0][0] == run.id
        and rows[0][2] == Path(reviewui.keep_video(here, BBB)).name
        and rows[0][5] == "완료"
    )
    path, detail = reviewui.open_run(log, here, run.id, "en")
    assert Path(path).exists() and "Precision" in detail
    assert "★" in reviewui.rate(log, run.id, 5, "정확, #자세함", "좋아요 <b>", "민지", "ko")
    assert "saved" in reviewui.rate(log, run.id, 5, "정확, #자세함", "좋아요 <b>", "민지", "en")
    assert log.get(run.id).ratings[0].tags == ["정확", "자세함"]
    assert reviewui.table(reviewui.query(log, min_rating=5), "en")[0][6] == "5.0 (1)"
    assert reviewui.query(log, model="does-not-exist") == []
    filters = {"model": "", "preset": "all", "video": "", "since": "", "min_rating": 4}
    out = reviewui.export(log, "html", filters, str(tmp_path))
    html = out.read_text(encoding="utf-8")
    assert "좋아요 &lt;b&gt;" in html and "좋아요 <b>" not in html  # the note is escaped
    with pytest.raises(InvalidRequest):
        reviewui.rate(log, None, None, "", "", "", "ko")


def test_compare_two_configurations_blind(log, here, tiny_vl, tiny_dir):
    base = Form(video=BBB, max_new_tokens=4, seed=0)
    a = reviewui.Config(model=tiny_vl, preset="detail")
    b = reviewui.Config(model=tiny_vl, preset="summary", precision="bf16")
    states = list(
        reviewui.compare_configs(base, a, b, here, threading.Event(), log, blind=True, seed=7)
    )
    final = states[-1]
    assert final.done and final.left and final.right and all(final.run_ids)
    left, right = (log.get(i) for i in final.run_ids)
    assert {left.preset, right.preset} == {"detail", "summary"}
    assert {left.precision, right.precision} >= {"bf16"}
    # blind panels show outputs only; after both are rated, the configurations are revealed
    left_md, right_md, _, ids = reviewui.load_pair(log, here, *final.run_ids, blind=True, lang="en")
    assert "Precision" not in left_md and "Precision" not in right_md
    assert reviewui.reveal_if_rated(log, ids, "민지", "en") is None
    for run_id in ids:
        reviewui.rate(log, run_id, 4, "", "", "민지", "en")
    revealed = reviewui.reveal_if_rated(log, ids, "민지", "en")
    assert revealed and all("Precision" in text for text in revealed)


def test_pair_of_different_videos_is_refused(log, here, tiny_vl, tmp_path):
    from media import make_video

    other = make_video(tmp_path / "other.mp4", n_frames=24, fps=12)
    first = _run(log, here, tiny_vl)
    second = _run(log, here, tiny_vl, video=str(other))
    with pytest.raises(InvalidRequest):
        reviewui.load_pair(log, here, first.id, second.id, blind=False, lang="ko")


def test_timeline_answer_becomes_subtitles(tmp_path):
    answer = "00:00-00:02 토끼가 굴에서 나옵니다.\n00:02-00:05 나비를 바라봅니다."
    run = {"preset": "timeline", "prompt": "", "answer": answer, "duration": 5.28, "video": BBB}
    files, vtt, problem = caption.timeline_subtitles(run, "ko")
    assert problem is None and len(files) == 2
    assert Path(vtt).read_text(encoding="utf-8").startswith("WEBVTT")
    srt = Path([f for f in files if f.endswith(".srt")][0]).read_text(encoding="utf-8")
    assert "00:00:02,000 --> 00:00:05,000" in srt
    files, vtt, problem = caption.timeline_subtitles({**run, "answer": "시간 표시가 없는 답"}, "en")
    assert files == [] and problem
    assert caption.timeline_subtitles({**run, "preset": "detail"}, "ko") == ([], None, None)
