"""captioner/runlog/summary.py and RunLog.summary: mean rating per model or preset with a
conservative 95% interval, filtered like the run table."""

from __future__ import annotations

import pytest
from runlog.fakes import ACCESS, recorded, request

from captioner import runlog
from captioner.errors import InvalidRequest
from captioner.runlog.summary import summarize, wilson_interval


def test_the_interval_is_honest_for_small_groups():
    low, high = wilson_interval(5.0, 1)
    assert high == 5.0 and low < 2.0  # one rating: wide, not a point at 5
    two_fives = wilson_interval(5.0, 2)
    assert two_fives[0] < 2.5 and two_fives[1] == 5.0  # a t-interval would be [5, 5]
    for mean, n in ((1.0, 1), (3.0, 4), (4.2, 50), (5.0, 500)):
        low, high = wilson_interval(mean, n)
        assert 1.0 <= low <= mean <= high <= 5.0
    narrow = wilson_interval(4.0, 400)
    assert narrow[1] - narrow[0] < wilson_interval(4.0, 10)[1] - wilson_interval(4.0, 10)[0]
    with pytest.raises(ValueError):
        wilson_interval(3.0, 0)


def test_summarize_counts_ratings_and_runs():
    (big, small) = summarize([("a", 1, 5), ("a", 1, 3), ("a", 2, 4), ("b", 3, 2)])
    assert (big.group, big.runs, big.ratings, big.mean) == ("a", 2, 3, 4.0)
    assert big.counts == (0, 0, 1, 1, 1) and big.low < 4.0 < big.high
    assert (small.group, small.ratings, small.mean) == ("b", 1, 2.0)
    assert small.to_dict()["counts"] == [0, 1, 0, 0, 0]


def test_summary_per_model_and_preset_with_the_table_filters(db):
    kim, lee = runlog.Access.cli("kim"), runlog.Access.cli("lee")
    a1 = recorded(db, request(model="org/model-a", preset="summary"), prepared=False)
    a2 = recorded(db, request(model="org/model-a", preset="detail"), prepared=False)
    b1 = recorded(db, request(model="org/model-b", prompt="자유 질문"), prepared=False)
    recorded(db, request(model="org/model-c"), prepared=False)  # unrated: not in the summary
    for run_id, score, access in ((a1, 5, kim), (a1, 4, lee), (a2, 3, kim), (b1, 2, kim)):
        db.rate(run_id, score, access=access)

    by_model = {s.group: s for s in db.summary(access=ACCESS)}
    assert set(by_model) == {"org/model-a", "org/model-b"}
    assert (by_model["org/model-a"].ratings, by_model["org/model-a"].runs) == (3, 2)
    assert by_model["org/model-a"].mean == pytest.approx(4.0)
    assert by_model["org/model-b"].low < 2.0 < by_model["org/model-b"].high  # one rating

    by_preset = {s.group: s.mean for s in db.summary(access=ACCESS, by="preset")}
    assert by_preset == {"summary": 4.5, "detail": 3.0, None: 2.0}  # None: a free prompt

    assert [s.group for s in db.summary(access=ACCESS, preset="detail")] == ["org/model-a"]
    assert [s.group for s in db.summary(access=ACCESS, model="model-b")] == ["org/model-b"]
    assert db.summary(access=ACCESS, since="2999-01-01") == []
    (only_kim,) = [s for s in db.summary(access=ACCESS, min_rating=4.5)]
    assert only_kim.group == "org/model-a" and only_kim.ratings == 2  # run a1 only
    with pytest.raises(InvalidRequest):
        db.summary(access=ACCESS, by="owner")


def test_a_visitor_summarises_only_its_own_ratings(db):
    alice = runlog.Access.visitor("alice")
    own = recorded(db, request(model="m"), access=alice, prepared=False)
    other = recorded(db, request(model="m"), prepared=False)
    db.rate(own, 1, access=alice)
    db.rate(own, 5, access=runlog.Access.cli("kim"))
    db.rate(other, 5, access=runlog.Access.cli("kim"))
    ((mine,),) = [db.summary(access=alice)]
    assert (mine.ratings, mine.mean) == (1, 1.0)
    ((everyone,),) = [db.summary(access=ACCESS)]
    assert everyone.ratings == 3
