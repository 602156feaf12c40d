"""The run log: every generation (web page, CLI, batch) recorded in SQLite, with owners and
access scopes, ratings, filtered queries, rating summaries, exports (CSV, JSONL, an HTML
report, a Hugging Face dataset), blind pairs, startup recovery and the bounded library of
reviewed videos.

    schema.py      migrations and SCHEMA_VERSION (PRAGMA user_version)
    records.py     Run, Rating and WindowRecord (a long run's window), the frozen records
    access.py      Access: who reads or writes, and what they may see
    provenance.py  what is kept of a request: JSON without paths, prompt, config key
    store.py       RunLog: connections, writes, queries (scoped by Access); shared_log
    recorder.py    record(events, ...): passes engine events through, records the run
    summary.py     mean rating per model or preset with a 95% interval
    exports.py     CSV / JSONL / HTML (style in report.css) / dataset, written whole
    dataset.py     the dataset export's fields and line order
    library.py     Library: copies of accepted videos, size and age budget, pruning
    recovery.py    runs left "running" by a dead process become "interrupted"
    blind.py       blind_order: which output of a pair is shown on the left
    times.py       the stored time format
    errors.py      RunLogError, RunNotFound

Import from here: ``from captioner import runlog`` then ``runlog.RunLog(path)``.
"""

from __future__ import annotations

from captioner.runlog.access import Access
from captioner.runlog.blind import blind_order
from captioner.runlog.errors import RunLogError, RunNotFound
from captioner.runlog.exports import EXPORT_FORMATS, export, file_name, to_csv, to_html, to_jsonl
from captioner.runlog.library import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_BYTES,
    Library,
    LibraryUsage,
    PruneReport,
)
from captioner.runlog.provenance import config_key
from captioner.runlog.recorder import PROGRESS_INTERVAL_S, record
from captioner.runlog.records import Rating, Run, WindowRecord
from captioner.runlog.recovery import recover_interrupted
from captioner.runlog.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from captioner.runlog.store import SOURCES, STATUSES, SUMMARY_GROUPS, RunLog, shared_log
from captioner.runlog.summary import RatingSummary
from captioner.runlog.times import parse_time, utc_now

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_BYTES",
    "EXPORT_FORMATS",
    "MIGRATIONS",
    "PROGRESS_INTERVAL_S",
    "SCHEMA_VERSION",
    "SOURCES",
    "STATUSES",
    "SUMMARY_GROUPS",
    "Access",
    "Library",
    "LibraryUsage",
    "PruneReport",
    "Rating",
    "RatingSummary",
    "Run",
    "RunLog",
    "RunLogError",
    "RunNotFound",
    "WindowRecord",
    "blind_order",
    "config_key",
    "export",
    "file_name",
    "migrate",
    "parse_time",
    "record",
    "recover_interrupted",
    "shared_log",
    "to_csv",
    "to_html",
    "to_jsonl",
    "utc_now",
]
