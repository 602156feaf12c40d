"""The review tab's logic: table, details, ratings, exports, comparisons, subtitles, library."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from captioner import engine, reviewui, runlog, webui
from captioner.errors import InvalidRequest
from captioner.generation import Options

BBB = str(Path(__file__).resolve().parent.parent / "assets" / "bigbuckbunny.mp4")


REVIEWER = runlog.Access.reviewer("민지")


@pytest.fixture()
def log(tmp_path):
    with runlog.RunLog(tmp_path / "runs.sqlite3") as run_log:
        yield run_log


@pytest.fixture()
def library(tmp_path):
    return runlog.Library(tmp_path / "videos")


def _run(log, model, video=BBB, tokens=4, preset="detail", access=REVIEWER, library=None):
    request = engine.DescribeRequest(
        video=video, model=model, preset=preset, options=Options(max_new_tokens=tokens, seed=0)
    )
    events = engine.describe(request)
    if library is not None:
        events = library.keeping(events)
    ids: list[int] = []
    recorded = runlog.record(
        events, request, log=log, source="web", access=access, on_start=ids.append
    )
    assert list(recorded)[-1].kind == "done"
    return log.get(ids[0], access=access)


def test_table_open_rate_export(log, library, tiny_vl, tmp_path):
    run = _run(log, tiny_vl, library=library)
    rows = reviewui.table(reviewui.query(log, REVIEWER), "ko")
    # the file name the user gave, not the library's hash name
    assert rows[0][0] == run.id and rows[0][2] == "bigbuckbunny.mp4" and rows[0][5] == "완료"
    path, detail = reviewui.open_run(log, run.id, "en", library, REVIEWER)
    assert Path(path).parent == library.folder and Path(path).name.startswith(run.video_sha256)
    assert "precision" in detail
    assert "★" in reviewui.rate(log, run.id, 5, "정확, #자세함", "좋아요 <b>", "ko", REVIEWER)
    (rating,) = log.get(run.id, access=REVIEWER).ratings
    assert rating.tags == ["정확", "자세함"] and rating.reviewer == "민지"  # from the login
    assert reviewui.table(reviewui.query(log, REVIEWER, min_rating=5), "en")[0][6] == "5.0 (1)"
    assert reviewui.query(log, REVIEWER, model="does-not-exist") == []
    filters = {"model": "", "preset": "all", "video": "", "since": "", "min_rating": 4}
    out = reviewui.export(log, "html", filters, REVIEWER, str(tmp_path))
    html = out.read_text(encoding="utf-8")
    assert "좋아요 &lt;b&gt;" in html and "좋아요 <b>" not in html  # the note is escaped
    dataset = reviewui.export(log, "dataset", filters, REVIEWER, str(tmp_path))
    assert dataset.name == "captioner-runs.dataset.jsonl"
    (summary,) = reviewui.rating_summary(log, REVIEWER, by="model")
    assert (summary["group"], summary["ratings"], summary["mean"]) == (tiny_vl, 1, 5.0)
    assert 1 <= summary["low"] < 5 == summary["high"]
    with pytest.raises(InvalidRequest):
        reviewui.rate(log, None, None, "", "", "ko", REVIEWER)


def test_a_visitor_reaches_only_its_own_runs(log, library, tiny_vl, tmp_path):
    mine, theirs = runlog.Access.visitor("session-a"), runlog.Access.visitor("session-b")
    own = _run(log, tiny_vl, access=mine, library=library)
    other = _run(log, tiny_vl, access=theirs, preset="summary", library=library)
    assert [r.id for r in reviewui.query(log, mine)] == [own.id]
    assert {r.id for r in reviewui.query(log, REVIEWER)} == {own.id, other.id}
    for attempt in (
        lambda: reviewui.open_run(log, other.id, "en", library, mine),
        lambda: reviewui.rate(log, other.id, 1, "", "", "en", mine),
        lambda: reviewui.load_pair(log, own.id, other.id, True, "en", library, mine),
        lambda: reviewui.reveal_if_rated(log, (own.id, other.id), mine, "en"),
    ):
        with pytest.raises(runlog.RunNotFound) as refused:
            attempt()
        with pytest.raises(runlog.RunNotFound) as missing:
            reviewui.open_run(log, 10**6, "en", library, mine)
        # the same words as for a run that does not exist, apart from the id asked for
        assert refused.value.en.replace(str(other.id), "#") == missing.value.en.replace(
            str(10**6), "#"
        )
    filters = {"model": "", "preset": "all", "video": "", "since": "", "min_rating": 0}
    exported = reviewui.export(log, "jsonl", filters, mine, str(tmp_path))
    assert [line for line in exported.read_text(encoding="utf-8").splitlines()] and all(
        f'"id": {other.id},' not in line
        for line in exported.read_text(encoding="utf-8").splitlines()
    )
    reviewui.rate(log, own.id, 2, "", "", "en", mine)
    reviewui.rate(log, own.id, 5, "", "", "en", REVIEWER)
    # a visitor sees its own rating only; the reviewer sees both, the visitor's by session
    assert [r.score for r in log.get(own.id, access=mine).ratings] == [2]
    assert sorted(r.score for r in log.get(own.id, access=REVIEWER).ratings) == [2, 5]
    assert reviewui.rating_summary(log, mine)[0]["ratings"] == 1


def test_compare_two_configurations_blind(log, library, tiny_vl, tiny_dir):
    base = webui.Form(video=BBB, max_new_tokens=4, seed=0)
    a = reviewui.Config(model=tiny_vl, preset="detail")
    b = reviewui.Config(model=tiny_vl, preset="summary", precision="bf16")
    states = list(
        reviewui.compare_configs(
            base, a, b, threading.Event(), log, True, 7, REVIEWER, library=library
        )
    )
    final = states[-1]
    assert final.done and final.left and final.right and all(final.run_ids)
    left, right = (log.get(i, access=REVIEWER) for i in final.run_ids)
    assert {left.preset, right.preset} == {"detail", "summary"}
    assert {left.precision, right.precision} >= {"bf16"}
    assert left.owner == right.owner == "user:민지" and library.find(left.video_sha256)
    # blind panels show outputs only; after both are rated, the configurations are revealed
    left_md, right_md, _, ids = reviewui.load_pair(
        log, *final.run_ids, blind=True, lang="en", library=library, access=REVIEWER
    )
    assert "precision" not in left_md and "precision" not in right_md
    assert reviewui.reveal_if_rated(log, ids, REVIEWER, "en") is None
    for run_id in ids:
        reviewui.rate(log, run_id, 4, "", "", "en", REVIEWER)
    revealed = reviewui.reveal_if_rated(log, ids, REVIEWER, "en")
    assert revealed and all("precision" in text for text in revealed)


def test_pair_of_different_videos_is_refused(log, library, tiny_vl, tmp_path):
    from media import make_video

    other = make_video(tmp_path / "other.mp4", n_frames=24, fps=12)
    first = _run(log, tiny_vl)
    second = _run(log, tiny_vl, video=str(other))
    with pytest.raises(InvalidRequest):
        reviewui.load_pair(log, first.id, second.id, False, "ko", library, REVIEWER)


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
