"""The run log: every generation (web page, CLI, batch) recorded in SQLite, with ratings,
filtered queries, exports (CSV, JSONL, a self-contained HTML report), blind pairs and the
library of reviewed videos.

    schema.py      migrations and SCHEMA_VERSION (PRAGMA user_version)
    records.py     Run and Rating, the frozen records a query returns
    provenance.py  what is kept of a request: JSON without paths, prompt, config key
    store.py       RunLog: connections, writes, queries; shared_log for the page
    recorder.py    record(events, ...): passes engine events through, records the run
    exports.py     CSV / JSONL / HTML (style in report.css)
    library.py     Library: copies of captioned videos under their content hash
    blind.py       blind_order: which output of a pair is shown on the left
    times.py       the stored time format
    errors.py      RunLogError, RunNotFound

Import from here: ``from captioner import runlog`` then ``runlog.RunLog(path)``.
"""

from __future__ import annotations

from captioner.runlog.blind import blind_order
from captioner.runlog.errors import RunLogError, RunNotFound
from captioner.runlog.exports import EXPORT_FORMATS, export, to_csv, to_html, to_jsonl
from captioner.runlog.library import Library
from captioner.runlog.provenance import config_key
from captioner.runlog.recorder import PROGRESS_INTERVAL_S, record
from captioner.runlog.records import Rating, Run
from captioner.runlog.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from captioner.runlog.store import SOURCES, STATUSES, RunLog, shared_log
from captioner.runlog.times import parse_time, utc_now

__all__ = [
    "EXPORT_FORMATS",
    "MIGRATIONS",
    "PROGRESS_INTERVAL_S",
    "SCHEMA_VERSION",
    "SOURCES",
    "STATUSES",
    "Library",
    "Rating",
    "Run",
    "RunLog",
    "RunLogError",
    "RunNotFound",
    "blind_order",
    "config_key",
    "export",
    "migrate",
    "parse_time",
    "record",
    "shared_log",
    "to_csv",
    "to_html",
    "to_jsonl",
    "utc_now",
]
