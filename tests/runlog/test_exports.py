"""captioner/runlog/export.py: CSV, JSONL and the HTML report, with hostile model output."""

from __future__ import annotations

import csv
import io
import json

import pytest
from runlog.fakes import ACCESS, XSS, recorded, request

from captioner import runlog
from captioner.errors import InvalidRequest
from captioner.runlog import exports


def _hostile_run(db, tmp_path) -> int:
    name = "<svg onload=alert(3)><img src=x onerror=alert(2)>.mp4"  # no "/" in a file name
    run_id = recorded(
        db,
        request(video=str(tmp_path / name), prompt=f"설명해 {XSS} <b>굵게</b>"),
        answer=f"토끼 {XSS} & <iframe src=//evil>",
        clip=(name, "ab" * 32),
    )
    db.rate(run_id, 4, [XSS, "좋음"], f"메모 {XSS}", access=runlog.Access.cli("<i>kim</i>"))
    return run_id


def test_html_export_escapes_everything(db, tmp_path):
    run_id = _hostile_run(db, tmp_path)
    out = runlog.export(db.query(access=ACCESS), "html", tmp_path / "report.html")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '<html lang="ko">' in page
    assert '<meta charset="utf-8">' in page and "Content-Security-Policy" in page
    lowered = page.lower()
    for dangerous in ("<script", "<iframe", "<img", "<svg", "<b>굵게", "<i>kim"):
        assert dangerous not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;iframe src=//evil&gt;" in page and "&amp;" in page
    assert "&lt;svg onload=alert(3)&gt;&lt;img src=x onerror=alert(2)&gt;.mp4" in page
    assert f'id="run-{run_id}"' in page and "토끼" in page and "좋음" in page
    # self-contained: no external stylesheet, script, font or image
    assert "<link" not in lowered and "src=" not in lowered.replace("src=x", "").replace(
        "src=//evil", ""
    )
    assert "http://" not in lowered and "https://" not in lowered


def test_the_report_style_comes_from_report_css(db, tmp_path, monkeypatch):
    recorded(db)
    css = exports.CSS_PATH.read_text(encoding="utf-8")
    assert exports.CSS_PATH.name == "report.css" and "--accent" in css
    page = runlog.to_html(db.query(access=ACCESS))
    assert f"<style>{css}</style>" in page
    restyled = tmp_path / "report.css"
    restyled.write_text("body{color:teal}", encoding="utf-8")
    monkeypatch.setattr(exports, "CSS_PATH", restyled)  # read at export time, not at import
    assert "<style>body{color:teal}</style>" in runlog.to_html(db.query(access=ACCESS))


def test_csv_and_jsonl_round_trip(db, tmp_path):
    run_id = _hostile_run(db, tmp_path)
    formula = recorded(db, answer='=HYPERLINK("http://x")')
    runs = db.query(newest_first=False, access=ACCESS)
    out_csv = runlog.export(runs, "csv", tmp_path / "out" / "runs.csv")
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheet apps then read Korean
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [int(r["id"]) for r in rows] == [run_id, formula]
    assert XSS in rows[0]["answer"] and rows[0]["rating_avg"] == "4.0"
    assert json.loads(rows[0]["ratings"])[0]["tags"] == [XSS, "좋음"]
    assert rows[1]["answer"].startswith("'=")  # never run as a formula
    out_jsonl = runlog.export(runs, "jsonl", tmp_path / "runs.jsonl")
    records = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [run_id, formula]
    assert records[0]["ratings"][0]["note"] == f"메모 {XSS}" and records[0]["rating_avg"] == 4.0
    assert records[1]["answer"] == '=HYPERLINK("http://x")'  # JSONL keeps the exact text
    with pytest.raises(InvalidRequest):
        runlog.export(runs, "xlsx", tmp_path / "x.xlsx")


# --- written whole or not at all --------------------------------------------------------------
def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_exporting_to_a_folder_is_refused_without_a_stray_file(db, tmp_path):
    recorded(db)
    folder = tmp_path / "out"
    folder.mkdir()
    for target in (folder, tmp_path):
        with pytest.raises(InvalidRequest) as info:
            runlog.export(db.query(access=ACCESS), "csv", target)
        assert "folder" in info.value.en and info.value.ko
    assert _leftovers(folder) == [] and _leftovers(tmp_path) == []


def test_a_failure_half_way_leaves_the_old_file_and_no_part(db, tmp_path, monkeypatch):
    recorded(db)
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "runs.csv"
    target.write_text("the previous export", encoding="utf-8")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exports.os, "replace", disk_full)
    with pytest.raises(InvalidRequest) as info:
        runlog.export(db.query(access=ACCESS), "csv", target)
    assert "Cannot write" in info.value.en and "No space" in info.value.detail
    assert target.read_text(encoding="utf-8") == "the previous export"
    assert [p.name for p in target.parent.iterdir()] == ["runs.csv"]
    monkeypatch.undo()
    with pytest.raises(UnicodeEncodeError):  # not an OSError: raised as is, still cleaned up
        exports.write_whole(target, "반쯤 \ud800", "utf-8")
    assert [p.name for p in target.parent.iterdir()] == ["runs.csv"]


def test_an_unwritable_folder_is_a_typed_error(db, tmp_path):
    recorded(db)
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InvalidRequest):
        runlog.export(db.query(access=ACCESS), "html", blocker / "report.html")
