"""The review tab's logic: table, details, ratings, summary, exports, comparisons, subtitles,
library, and the access scope every function carries."""

from __future__ import annotations

import dataclasses
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
REVIEWER = runlog.Access.reviewer("민지")
FILTERS = {"model": "", "preset": "all", "video": "", "since": "", "min_rating": 0}


@pytest.fixture()
def here(tmp_path, settings):
    """This machine's settings with the run log and the library in a fresh folder."""
    return dataclasses.replace(
        settings, db_path=tmp_path / "runs.sqlite3", library_dir=tmp_path / "videos"
    )


@pytest.fixture()
def log(here):
    with runlog.RunLog(here.db_path) as run_log:
        yield run_log


def _run(log, here, model, video=BBB, tokens=4, preset="detail", access=REVIEWER):
    request = engine.DescribeRequest(
        video=video, model=model, preset=preset, options=Options(max_new_tokens=tokens, seed=0)
    )
    ids: list[int] = []
    events = reviewui.recorded(engine.describe(request, here), request, here, log, access,
                               video_name=Path(video).name, on_start=ids.append)  # fmt: skip
    assert list(events)[-1].kind == "done"
    return log.get(ids[0], access=access)


def test_table_open_rate_summary_export(log, here, tiny_vl, tmp_path):
    run = _run(log, here, tiny_vl)
    rows = reviewui.table(reviewui.query(log, REVIEWER), "ko")["data"]
    assert reviewui.table([], "en")["headers"][1] == "Time (UTC)"
    # the file name the user gave, not the library's hash name
    assert rows[0][0] == run.id and rows[0][2] == "bigbuckbunny.mp4" and rows[0][5] == "완료"
    path, detail = reviewui.open_run(log, here, REVIEWER, run.id, "en")
    assert Path(path).parent == here.library and Path(path).name.startswith(run.video_sha256)
    assert "Precision" in detail
    assert "★" in reviewui.rate(log, REVIEWER, run.id, 5, "정확, #자세함", "좋아요 <b>", "ko")
    assert "saved" in reviewui.rate(log, REVIEWER, run.id, 5, "정확, #자세함", "좋아요 <b>", "en")
    (rating,) = log.get(run.id, access=REVIEWER).ratings
    assert rating.tags == ["정확", "자세함"] and rating.reviewer == "민지"  # from the login
    assert (
        reviewui.table(reviewui.query(log, REVIEWER, min_rating=5), "en")["data"][0][6] == "5.0 (1)"
    )
    assert reviewui.query(log, REVIEWER, model="does-not-exist") == []
    out = reviewui.export(log, REVIEWER, "html", {**FILTERS, "min_rating": 4}, str(tmp_path))
    html = out.read_text(encoding="utf-8")
    assert "좋아요 &lt;b&gt;" in html and "좋아요 <b>" not in html  # the note is escaped
    dataset = reviewui.export(log, REVIEWER, "dataset", FILTERS, str(tmp_path))
    assert dataset.name == "captioner-runs.dataset.jsonl"
    (summary,) = reviewui.rating_summary(log, REVIEWER, by="model")
    assert (summary.group, summary.ratings, summary.mean) == (tiny_vl, 1, 5.0)
    with pytest.raises(InvalidRequest):
        reviewui.rate(log, REVIEWER, None, None, "", "", "ko")


def test_a_visitor_reaches_only_its_own_runs(log, here, tiny_vl, tmp_path):
    mine, theirs = runlog.Access.visitor("session-a"), runlog.Access.visitor("session-b")
    own = _run(log, here, tiny_vl, access=mine)
    other = _run(log, here, tiny_vl, access=theirs, preset="summary")
    assert [r.id for r in reviewui.query(log, mine)] == [own.id]
    assert {r.id for r in reviewui.query(log, REVIEWER)} == {own.id, other.id}
    for attempt in (
        lambda: reviewui.open_run(log, here, mine, other.id, "en"),
        lambda: reviewui.rate(log, mine, other.id, 1, "", "", "en"),
        lambda: reviewui.load_pair(log, here, mine, own.id, other.id, True, "en"),
        lambda: reviewui.reveal_if_rated(log, mine, (own.id, other.id), "en"),
    ):
        with pytest.raises(runlog.RunNotFound) as refused:
            attempt()
        with pytest.raises(runlog.RunNotFound) as missing:
            reviewui.open_run(log, here, mine, 10**6, "en")
        # the same words as for a run that does not exist, apart from the id asked for
        assert refused.value.en.replace(str(other.id), "#") == missing.value.en.replace(
            str(10**6), "#"
        )
    exported = reviewui.export(log, mine, "jsonl", FILTERS, str(tmp_path))
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert lines and all(f'"id": {other.id},' not in line for line in lines)
    reviewui.rate(log, mine, own.id, 2, "", "", "en")
    reviewui.rate(log, REVIEWER, own.id, 5, "", "", "en")
    # a visitor sees its own rating only; the reviewer sees both, the visitor's by session
    assert [r.score for r in log.get(own.id, access=mine).ratings] == [2]
    assert sorted(r.score for r in log.get(own.id, access=REVIEWER).ratings) == [2, 5]
    assert reviewui.rating_summary(log, mine)[0].ratings == 1


def test_compare_two_configurations_blind(log, here, tiny_vl, tiny_dir):
    base = Form(video=BBB, max_new_tokens=4, seed=0)
    a = reviewui.Config(model=tiny_vl, preset="detail")
    b = reviewui.Config(model=tiny_vl, preset="summary", precision="bf16")
    states = list(reviewui.compare_configs(base, a, b, here, threading.Event(), log, True, 7,
                                           REVIEWER))  # fmt: skip
    final = states[-1]
    assert final.done and final.left and final.right and all(final.run_ids)
    left, right = (log.get(i, access=REVIEWER) for i in final.run_ids)
    assert {left.preset, right.preset} == {"detail", "summary"}
    assert {left.precision, right.precision} >= {"bf16"}
    assert left.owner == right.owner == "user:민지"
    assert runlog.Library(here.library).find(left.video_sha256)
    # blind panels show outputs only; after both are rated, the configurations are revealed
    left_md, right_md, _, ids = reviewui.load_pair(log, here, REVIEWER, *final.run_ids, True, "en")
    assert "Precision" not in left_md and "Precision" not in right_md
    assert reviewui.reveal_if_rated(log, REVIEWER, ids, "en") is None
    for run_id in ids:
        reviewui.rate(log, REVIEWER, run_id, 4, "", "", "en")
    revealed = reviewui.reveal_if_rated(log, REVIEWER, ids, "en")
    assert revealed and all("Precision" in text for text in revealed)


def test_pair_of_different_videos_is_refused(log, here, tiny_vl, tmp_path):
    from media import make_video

    other = make_video(tmp_path / "other.mp4", n_frames=24, fps=12)
    first = _run(log, here, tiny_vl)
    second = _run(log, here, tiny_vl, video=str(other))
    with pytest.raises(InvalidRequest):
        reviewui.load_pair(log, here, REVIEWER, first.id, second.id, False, "ko")


def test_timeline_answer_becomes_subtitles():
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
