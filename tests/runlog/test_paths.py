"""captioner/runlog/paths.py: the only place the run log reads the environment."""

from __future__ import annotations

from pathlib import Path

from captioner.runlog import paths


def test_default_db_path_env_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "x.sqlite3"))
    assert paths.default_db_path() == tmp_path / "x.sqlite3"
    monkeypatch.delenv("CAPTIONER_DB")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = paths.default_db_path()
    if not (Path("/data").is_dir()):
        assert path == tmp_path / "cache" / "captioner" / "runs.sqlite3"
    assert path.name == "runs.sqlite3"
    monkeypatch.setenv("CAPTIONER_DB", "off")
    assert paths.logging_disabled()


def test_library_dir_env_or_next_to_the_log(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "log" / "runs.sqlite3"))
    monkeypatch.delenv("CAPTIONER_LIBRARY", raising=False)
    assert paths.library_dir() == tmp_path / "log" / "videos"
    monkeypatch.setenv("CAPTIONER_LIBRARY", str(tmp_path / "lib"))
    assert paths.default_library().folder == tmp_path / "lib"


def test_default_log_is_shared_or_none(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "page.sqlite3"))
    page_log = paths.default_log()
    assert page_log is paths.default_log() and page_log.path == tmp_path / "page.sqlite3"
    monkeypatch.setenv("CAPTIONER_DB", "off")
    assert paths.default_log() is None
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("CAPTIONER_DB", str(tmp_path / "f" / "x.sqlite3"))
    assert paths.default_log() is None  # a page keeps working without its log
