"""captioner/runlog/dataset.py: the ``dataset`` export loads with Hugging Face ``datasets``
as is, also when the file is read in several chunks whose first has no ratings or errors."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from runlog.fakes import ACCESS, recorded, request

from captioner import runlog
from captioner.runlog import dataset


def _runs(db) -> list[runlog.Run]:
    """450 runs: 400 plain ones first (no video, no metrics, no ratings, no error), then 50
    with everything, so a reader that types fields from its first chunk only sees nulls."""
    full = db.get(recorded(db, request(preset="timeline")), access=ACCESS)
    db.rate(full.id, 4, ["정확", "자세함"], "좋음", access=runlog.Access.cli("kim"))
    db.rate(full.id, 3, [], "", access=runlog.Access.cli("lee"))
    full = db.get(full.id, access=ACCESS)
    nothing = {f.name: None for f in dataclasses.fields(runlog.Run) if f.name.startswith("video_")}
    plain = dataclasses.replace(
        full,
        **nothing,
        frames=None,
        frame_times=None,
        frame_indices=None,
        metrics=None,
        sampling=None,
        seed=None,
        ratings=(),
        answer="가나다라 " * 40,
    )
    runs = [dataclasses.replace(plain, id=i) for i in range(1, 401)]
    for i in range(401, 451):
        failed = i % 10 == 0
        runs.append(
            dataclasses.replace(
                full,
                id=i,
                status="error" if failed else "done",
                error_code="not_a_video" if failed else None,
                error_ko="영상이 아닙니다." if failed else None,
                error_en="Not a video." if failed else None,
                video_duration_s=5,  # an int where floats are usual: written as 5.0
            )
        )
    return runs


def test_rows_have_one_shape(db):
    rows = [dataset.row(r) for r in _runs(db)]
    assert len({tuple(r) for r in rows}) == 1  # the same fields, in the same order
    for name in rows[0]:
        kinds = {type(r[name]) for r in rows} - {type(None)}
        assert len(kinds) <= 1, (name, kinds)  # a field never changes type
    rated = rows[-1]["ratings"]
    assert [set(r) for r in rated] == [
        {"reviewer", "score", "tags", "note", "created_at", "updated_at"}
    ] * 2
    assert rows[-1]["video_duration_s"] == 5.0 and isinstance(rows[-1]["video_duration_s"], float)
    assert rows[-1]["video_name"] == "clip.mp4" and rows[0]["frame_times"] == []
    assert json.loads(rows[-1]["request_json"])["video"] == "clip.mp4"


def test_the_docstring_lists_every_field(db):
    documented = re.findall(r"^    (\w+) {2,}", dataset.__doc__, flags=re.MULTILINE)
    assert documented == list(dataset.row(_runs(db)[-1]))


def test_leaders_first_then_id_order(db):
    rows = dataset.ordered(dataset.row(r) for r in _runs(db))
    ids = [r["id"] for r in rows]
    leaders = ids[: ids.index(2)]
    assert leaders[0] == 1 and all(i > 400 for i in leaders[1:]) and len(leaders) <= 5
    assert sorted(ids) == list(range(1, 451)) and ids[len(leaders) :] == sorted(ids[len(leaders) :])


@pytest.mark.parametrize("chunksize", [None, 1 << 14])
def test_datasets_loads_the_export_as_is(db, tmp_path, chunksize):
    from datasets import load_dataset

    out = runlog.export(_runs(db), "dataset", tmp_path / "runs.dataset.jsonl")
    assert out.stat().st_size > 8 * (1 << 14)  # several chunks at 16 KB
    options = {"chunksize": chunksize} if chunksize else {}
    loaded = load_dataset(
        "json", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"), **options
    )
    assert loaded.num_rows == 450 and sorted(loaded["id"]) == list(range(1, 451))
    features = loaded.features
    rating = features["ratings"].feature  # a list of structs with fixed keys
    assert rating["score"].dtype == "int64" and rating["tags"].feature.dtype == "string"
    assert features["video_duration_s"].dtype == "float64"
    assert features["error_code"].dtype == "string" and features["video_pruned"].dtype == "bool"
    last = loaded[[row for row, i in enumerate(loaded["id"]) if i == 450][0]]
    assert last["video_name"] == "clip.mp4" and last["error_code"] == "not_a_video"
    assert [r["reviewer"] for r in last["ratings"]] == ["kim", "lee"]
    assert last["ratings"][0]["tags"] == ["정확", "자세함"]


def test_without_the_leaders_the_chunked_load_fails(db, tmp_path):
    """Why the order matters: in plain id order the chunked load fails. If a release of
    ``datasets`` lifts that limit, this test says so and dataset.ordered can go."""
    from datasets import load_dataset

    plain = tmp_path / "id-order.jsonl"
    plain.write_text(
        "".join(json.dumps(dataset.row(r), ensure_ascii=False) + "\n" for r in _runs(db)),
        encoding="utf-8",
    )
    with pytest.raises(Exception, match="(?s)cast|generating"):
        load_dataset(
            "json",
            data_files=str(plain),
            split="train",
            cache_dir=str(tmp_path / "cache"),
            chunksize=1 << 14,
        )
