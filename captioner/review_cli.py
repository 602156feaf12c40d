"""``python -m captioner batch ...`` and ``python -m captioner review list|show|rate|export``.

``cli.py`` wires these in with two calls: ``add_commands(subparsers)`` while building its
parser, and ``run(args)`` when the parsed command is one of ours (``owns(args)``).
``record_cli_run(...)`` logs a single ``describe`` run from the CLI.

Exit codes as in cli.py: 0 success, 2 bad input (a Korean and an English line, no traceback),
1 internal error, 130 interrupted. A batch that finished but had failed runs exits 2 (1 when
one of them was an internal error), after its summary.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from captioner import terminal
from captioner.cli import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USER, guarded
from captioner.errors import CaptionerError

_HANDLER = "_review_cli_handler"
log = logging.getLogger(__name__)


# --- parser -------------------------------------------------------------------------------------
def add_commands(subparsers: Any) -> None:
    """Register ``batch`` and ``review`` on the CLI's ``add_subparsers()`` object."""
    from captioner import runlog
    from captioner.prompts import PRESETS

    batch = subparsers.add_parser(
        "batch",
        help="describe many videos × prompts × models, recorded and resumable",
        description="영상 여러 개를 프리셋/프롬프트 × 모델 조합으로 설명합니다 (이어하기 가능). "
        "Describe videos × presets/prompts × models; re-running skips what is done.",
    )
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="video files and/or folders")
    batch.add_argument(
        "--preset", action="append", default=[], choices=[p.key for p in PRESETS], help="repeat"
    )
    batch.add_argument("--prompt", action="append", default=[], help="free-text prompt; repeat")
    batch.add_argument(
        "--model", action="append", default=[], help="catalog id, Hub id or folder; repeat"
    )
    batch.add_argument("--out", required=True, help="folder for exports, subtitles, summary")
    batch.add_argument("--max-new-tokens", type=int)
    batch.add_argument("--seed", type=int)
    batch.add_argument("--temperature", type=float)
    batch.add_argument("--fps", type=float, default=2.0, help="frames sampled per second")
    batch.add_argument("--max-frames", type=int)
    batch.add_argument("--max-pixels", type=int)
    batch.add_argument("--profile", help="force a profile (default: detected)")
    batch.add_argument("--precision", choices=("bf16", "fp16", "fp32", "nf4"))
    batch.add_argument("--system", help="system prompt (default: the Korean one)")
    batch.add_argument("--recursive", action="store_true", help="scan folders recursively")
    batch.add_argument("--srt", action="store_true", help="SRT files for timeline runs")
    batch.add_argument("--vtt", action="store_true", help="WebVTT files for timeline runs")
    batch.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    add_db_argument(batch)
    batch.set_defaults(**{_HANDLER: _batch})

    rev = subparsers.add_parser(
        "review",
        help="list, show, rate and export recorded runs",
        description="실행 기록 보기·평가·내보내기 / list, show, rate and export recorded runs",
    )
    sub = rev.add_subparsers(dest="review_command", required=True)

    listing = sub.add_parser("list", help="recorded runs, newest first")
    _filter_args(listing)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(**{_HANDLER: _list})

    show = sub.add_parser("show", help="one run in full")
    show.add_argument("run_id", type=int)
    show.add_argument("--json", action="store_true")
    add_db_argument(show)
    show.set_defaults(**{_HANDLER: _show})

    rate = sub.add_parser("rate", help="rate a run 1..5 (again: replaces your rating)")
    rate.add_argument("run_id", type=int)
    rate.add_argument("score", type=int)
    rate.add_argument("--tag", action="append", default=[], help="repeat")
    rate.add_argument("--note", default="")
    rate.add_argument("--reviewer", help="default: $CAPTIONER_REVIEWER or the user name")
    add_db_argument(rate)
    rate.set_defaults(**{_HANDLER: _rate})

    export = sub.add_parser("export", help="export filtered runs as csv, jsonl or html")
    export.add_argument("--format", required=True, choices=runlog.EXPORT_FORMATS)
    export.add_argument("--out", required=True)
    _filter_args(export)
    export.add_argument("--limit", type=int, help="default: all")
    export.set_defaults(**{_HANDLER: _export})


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """``--db PATH`` (also for cli.py's describe / ask, to pass on to record_cli_run)."""
    parser.add_argument("--db", help="run log file (default: $CAPTIONER_DB, /data or ~/.cache)")


def _filter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help="part of the model id")
    parser.add_argument("--preset")
    parser.add_argument("--prompt", help="part of the prompt text")
    parser.add_argument("--video", help="part of the file name, or a sha256 prefix")
    parser.add_argument("--since", help="UTC date or time, e.g. 2025-06-01")
    parser.add_argument("--until", help="UTC date (inclusive) or time")
    parser.add_argument("--min-rating", type=float)
    rated = parser.add_mutually_exclusive_group()
    rated.add_argument("--rated", dest="rated", action="store_const", const=True)
    rated.add_argument("--unrated", dest="rated", action="store_const", const=False)
    from captioner import runlog

    parser.add_argument("--source", choices=runlog.SOURCES)
    parser.add_argument("--status", choices=runlog.STATUSES)
    add_db_argument(parser)


def owns(args: argparse.Namespace) -> bool:
    """Whether ``args`` came from one of the commands registered here."""
    return hasattr(args, _HANDLER)


# --- dispatch -----------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    handler = getattr(args, _HANDLER, None)
    if handler is None:
        print("내부 오류 / internal error: not a batch/review command", file=sys.stderr)
        return EXIT_INTERNAL
    return guarded(handler, args)


def _open_log(args):
    """The run log, after marking runs left "running" by dead processes as interrupted."""
    from captioner import runlog
    from captioner.runlog import paths

    run_log = runlog.RunLog(args.db or paths.default_db_path())
    runlog.recover_interrupted(run_log)
    return run_log


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some containers
        return ""


def _access(rater: str | None = None):
    """The command line sees every run (whoever runs it can read the file anyway); runs are
    owned by ``cli:<user>``, ratings carry ``rater`` (default: the user)."""
    from captioner.runlog import Access

    return Access.cli(_user() if rater is None else rater)


def _print(text: str) -> None:
    """Model output and file names, with terminal controls removed when stdout is a terminal
    (a pipe or a file gets the stored text unchanged)."""
    print(terminal.safe(text) if sys.stdout.isatty() else text)


def _print_json(value: Any, **kwargs: Any) -> None:
    print(terminal.json_line(json.dumps(value, ensure_ascii=False, default=str, **kwargs)))


# --- batch --------------------------------------------------------------------------------------
def _batch(args) -> int:
    from captioner import batch
    from captioner.generation import Options

    options = Options(
        max_new_tokens=args.max_new_tokens, seed=args.seed, temperature=args.temperature
    )
    fields: dict[str, Any] = {"options": options, "fps": args.fps}
    for name in ("max_frames", "max_pixels", "profile", "precision", "system"):
        value = getattr(args, name)
        if value is not None:
            fields[name] = value
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=0, file=sys.stderr, unit="run", dynamic_ncols=True)

    def progress(done: int, total: int, label: str) -> None:
        if bar is None:
            return
        bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix_str(label, refresh=True)

    with _open_log(args) as run_log:
        try:
            summary = batch.run_batch(
                args.inputs,
                args.preset,
                args.prompt,
                args.model,
                args.out,
                log=run_log,
                access=_access(),
                srt=args.srt,
                vtt=args.vtt,
                progress=progress,
                recursive=args.recursive,
                **fields,
            )
        finally:
            if bar is not None:
                bar.close()
    print(summary.text(), file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
    if summary.interrupted:
        return EXIT_INTERRUPTED
    if summary.internal_failures:
        return EXIT_INTERNAL
    return EXIT_USER if summary.failed else EXIT_OK


# --- review -------------------------------------------------------------------------------------
def _filters(args) -> dict:
    return {
        "model": args.model,
        "preset": args.preset,
        "prompt": args.prompt,
        "video": args.video,
        "since": args.since,
        "until": args.until,
        "min_rating": args.min_rating,
        "rated": args.rated,
        "source": args.source,
        "status": args.status,
    }


def _excerpt(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _list(args) -> int:
    from captioner import batch

    with _open_log(args) as run_log:
        runs = run_log.query(
            access=_access(), **_filters(args), limit=args.limit, offset=args.offset
        )
    if args.json:
        for run in runs:
            _print_json(run.to_dict())
        return EXIT_OK
    if not runs:
        print("기록된 실행이 없습니다 / no runs match", file=sys.stderr)
        return EXIT_OK
    for run in runs:
        rating = f"★{run.rating_avg:.1f}({run.rating_count})" if run.ratings else "-"
        _print(
            f"#{run.id:<5} {run.created_at[:19]} {run.status:<7} {run.source:<5} "
            f"{_excerpt(batch.model_label(run.model), 24):<24} {run.preset or 'prompt':<8} "
            f"{_excerpt(run.video_name or '-', 24):<24} {rating:<9} {_excerpt(run.answer, 50)}"
        )
    return EXIT_OK


def _show(args) -> int:
    with _open_log(args) as run_log:
        run = run_log.get(args.run_id, access=_access())
    if args.json:
        _print_json(run.to_dict(), indent=2)
        return EXIT_OK
    rows = [
        ("run", f"#{run.id} · {run.status} · {run.source} · {run.created_at}"),
        ("video", f"{run.video_name} {run.video_size or ''} {run.video_duration_s or ''}s"),
        (
            "model",
            f"{run.model} {run.model_revision or ''} {run.precision or ''} {run.device or ''}",
        ),
        ("preset", run.preset or "-"),
        ("prompt", run.prompt),
        ("frames", f"{run.frames} @ {run.frame_times}"),
        ("metrics", json.dumps(run.metrics, ensure_ascii=False) if run.metrics else "-"),
    ]
    if run.error:
        rows.append(("error", f"[{run.error_code}] {run.error_ko} / {run.error_en}"))
    for rating in run.ratings:
        rows.append(
            ("rating", f"{rating.score} {rating.reviewer} {rating.tags} {rating.note}".strip())
        )
    for key, value in rows:
        _print(f"{key:<8}: {value}")
    _print(f"\n{run.answer}")
    return EXIT_OK


def _reviewer(args) -> str:
    if args.reviewer is not None:
        return args.reviewer
    name = os.environ.get("CAPTIONER_REVIEWER", "").strip()
    return name or _user()


def _rate(args) -> int:
    access = _access(_reviewer(args))
    with _open_log(args) as run_log:
        run_log.rate(args.run_id, args.score, args.tag, args.note, access=access)
        ratings = run_log.ratings(args.run_id, access=access)
    average = sum(r.score for r in ratings) / len(ratings)
    print(
        f"#{args.run_id}: {args.score}점 저장 / rating saved "
        f"(평균 / average {average:.2f}, {len(ratings)}명 / reviewers)",
        file=sys.stderr,
    )
    return EXIT_OK


def _export(args) -> int:
    from captioner import runlog

    with _open_log(args) as run_log:
        runs = run_log.query(
            access=_access(), **_filters(args), limit=args.limit, newest_first=False
        )
    path = runlog.export(runs, args.format, args.out)
    print(f"{len(runs)}개 실행 내보냄 / exported {len(runs)} runs → {path}", file=sys.stderr)
    return EXIT_OK


# --- describe logging ---------------------------------------------------------------------------
def record_cli_run(
    events: Iterable[Any],
    request: Any,
    source: str = "cli",
    db: str | os.PathLike[str] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> Iterator[Any]:
    """``engine.describe(...)`` events, passed through unchanged and recorded in the run log.

    Recording never stops a run: when the log cannot be opened (or ``CAPTIONER_DB=off``),
    a warning goes to stderr and the events flow unrecorded."""
    from captioner import runlog
    from captioner.runlog import paths

    if db is None and paths.logging_disabled():
        return iter(events)
    try:
        run_log = runlog.RunLog(db or paths.default_db_path())
        runlog.recover_interrupted(run_log)
    except CaptionerError as exc:
        print(f"경고: {exc.ko}\nwarning: {exc.en} (run not recorded)", file=sys.stderr)
        return iter(events)
    recorded = runlog.record(
        events, request, log=run_log, source=source, access=_access(), on_start=on_start
    )
    return _closing(recorded, run_log)


def _closing(events: Iterator[Any], run_log) -> Iterator[Any]:
    try:
        yield from events
    finally:
        run_log.close()
