"""captioner/runlog/access.py and its use by the store: a visitor reaches only its own runs,
and a run it may not see looks exactly like a run that does not exist."""

from __future__ import annotations

import pytest
from runlog.fakes import recorded, request

from captioner import runlog
from captioner.errors import InvalidRequest

ALICE = runlog.Access.visitor("session-alice")
BOB = runlog.Access.visitor("session-bob")
KIM = runlog.Access.reviewer("kim")


def test_access_kinds():
    assert ALICE.owner.startswith("session:") and "session-alice" not in ALICE.owner
    assert ALICE == runlog.Access.visitor("session-alice") and ALICE != BOB
    assert ALICE.rater == ALICE.owner and not ALICE.sees_all
    assert (KIM.owner, KIM.rater, KIM.sees_all) == ("user:kim", "kim", True)
    cli = runlog.Access.cli("minji")
    assert (cli.owner, cli.rater, cli.sees_all) == ("cli:minji", "minji", True)
    assert runlog.Access.cli().owner == "cli"
    for make in (lambda: runlog.Access.visitor(""), lambda: runlog.Access.visitor(None)):
        with pytest.raises(InvalidRequest) as info:
            make()  # no session: never the scope "no owner" that old runs have
        assert info.value.ko and info.value.en
    with pytest.raises(InvalidRequest):
        runlog.Access.reviewer("  ")
    with pytest.raises(InvalidRequest):
        runlog.Access(owner=None, rater="", sees_all=False)


def test_every_read_and_write_needs_an_access(db):
    run_id = recorded(db, access=KIM)
    with pytest.raises(TypeError):
        db.get(run_id)  # a required keyword: a page cannot forget it
    with pytest.raises(TypeError):
        db.get(run_id, access="kim")
    with pytest.raises(TypeError):
        db.query()
    with pytest.raises(TypeError):
        db.rate(run_id, 3)
    with pytest.raises(TypeError):
        db.summary()
    with pytest.raises(TypeError):
        list(runlog.record(iter(()), request(), log=db, source="web"))


def test_a_visitor_sees_rates_and_exports_only_its_own_runs(db, tmp_path):
    alice_run = recorded(db, request(preset="summary"), access=ALICE)
    bob_run = recorded(db, request(preset="timeline"), access=BOB)
    cli_run = recorded(db, access=runlog.Access.cli("minji"))
    assert db.get(alice_run, access=ALICE).owner == ALICE.owner
    assert [r.id for r in db.query(access=ALICE)] == [alice_run]
    assert [r.id for r in db.query(access=BOB)] == [bob_run]
    assert [r.id for r in db.query(access=KIM)] == [cli_run, bob_run, alice_run]
    assert db.query(access=ALICE, run_ids=[bob_run, cli_run]) == []
    assert db.query(access=ALICE, preset="timeline") == []

    missing = bob_run + cli_run + 100
    for run_id in (bob_run, cli_run, missing):
        for call in (
            lambda i=run_id: db.get(i, access=ALICE),
            lambda i=run_id: db.rate(i, 1, access=ALICE),
            lambda i=run_id: db.ratings(i, access=ALICE),
        ):
            with pytest.raises(runlog.RunNotFound) as info:
                call()
            # no existence oracle: the same error and words, apart from the id asked for
            assert (info.value.code, info.value.en) == (
                "run_not_found",
                f"Run #{run_id} was not found.",
            )
    assert db.get(bob_run, access=KIM).ratings == ()  # Alice's attempts left nothing

    db.rate(alice_run, 2, ["짧음"], access=ALICE)
    db.rate(alice_run, 5, access=KIM)
    db.rate(bob_run, 4, access=KIM)
    assert [(r.reviewer, r.score) for r in db.get(alice_run, access=ALICE).ratings] == [
        (ALICE.rater, 2)
    ]
    assert {r.reviewer for r in db.get(alice_run, access=KIM).ratings} == {ALICE.rater, "kim"}
    # filters on ratings count only the ratings the access sees
    assert [r.id for r in db.query(access=ALICE, min_rating=3)] == []
    assert [r.id for r in db.query(access=KIM, min_rating=3)] == [bob_run, alice_run]
    out = runlog.export(db.query(access=ALICE), "jsonl", tmp_path / "alice.jsonl")
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1
    assert "kim" not in out.read_text(encoding="utf-8")


def test_runs_from_before_owners_are_for_reviewers_only(db):
    run_id = recorded(db, access=KIM)
    db._conn().execute("UPDATE runs SET owner = NULL WHERE id = ?", (run_id,))
    assert [r.id for r in db.query(access=KIM)] == [run_id]
    assert db.query(access=ALICE) == []
    with pytest.raises(runlog.RunNotFound):
        db.get(run_id, access=ALICE)
