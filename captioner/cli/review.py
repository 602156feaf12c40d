"""``python -m captioner review list | show | rate | export``: the run log from a terminal.

Model output is untrusted: what is printed has its terminal control characters removed.

    python -m captioner review export --format html --out report.html --min-rating 4
"""

from __future__ import annotations

import argparse
import json
import sys

import captioner.cli.common as common
import captioner.cli.terminal as terminal


def register(sub) -> None:
    from captioner import runlog

    rev = sub.add_parser(
        "review",
        help="list, show, rate and export recorded runs",
        description="실행 기록 보기·평가·내보내기 / list, show, rate and export recorded runs",
    )
    commands = rev.add_subparsers(dest="review_command", required=True)

    listing = commands.add_parser("list", help="recorded runs, newest first")
    _filter_args(listing)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(run=_list)

    show = commands.add_parser("show", help="one run in full")
    show.add_argument("run_id", type=int)
    show.add_argument("--json", action="store_true")
    common.add_db_argument(show)
    show.set_defaults(run=_show)

    rate = commands.add_parser("rate", help="rate a run 1..5 (again: replaces your rating)")
    rate.add_argument("run_id", type=int)
    rate.add_argument("score", type=int)
    rate.add_argument("--tag", action="append", default=[], help="repeat")
    rate.add_argument("--note", default="")
    rate.add_argument("--reviewer", help="default: $CAPTIONER_REVIEWER or the user name")
    common.add_db_argument(rate)
    rate.set_defaults(run=_rate)

    export = commands.add_parser("export", help="export filtered runs as csv, jsonl or html")
    export.add_argument("--format", required=True, choices=runlog.EXPORT_FORMATS)
    export.add_argument("--out", required=True)
    _filter_args(export)
    export.add_argument("--limit", type=int, help="default: all")
    export.set_defaults(run=_export)


def _filter_args(parser: argparse.ArgumentParser) -> None:
    from captioner import runlog

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
    parser.add_argument("--source", choices=runlog.SOURCES)
    parser.add_argument("--status", choices=runlog.STATUSES)
    common.add_db_argument(parser)


def _open_log(args):
    return common.open_log(common.settings(args))


def _print(text: str) -> None:
    """Model output and file names, with terminal controls removed when stdout is a terminal
    (a pipe or a file gets the stored text unchanged)."""
    print(terminal.safe(text) if sys.stdout.isatty() else text)


def _print_json(value, **kwargs) -> None:
    print(terminal.json_line(json.dumps(value, ensure_ascii=False, default=str, **kwargs)))


def _filters(args) -> dict:
    names = ("model", "preset", "prompt", "video", "since", "until", "min_rating", "rated",
             "source", "status")  # fmt: skip
    return {name: getattr(args, name) for name in names}


def _excerpt(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _list(args) -> int:
    from captioner import batch

    with _open_log(args) as run_log:
        runs = run_log.query(
            access=common.access(), **_filters(args), limit=args.limit, offset=args.offset
        )
    if args.json:
        for run in runs:
            _print_json(run.to_dict())
        return common.EXIT_OK
    if not runs:
        print("기록된 실행이 없습니다 / no runs match", file=sys.stderr)
        return common.EXIT_OK
    for run in runs:
        rating = f"★{run.rating_avg:.1f}({run.rating_count})" if run.ratings else "-"
        _print(
            f"#{run.id:<5} {run.created_at[:19]} {run.status:<7} {run.source:<5} "
            f"{_excerpt(batch.model_label(run.model), 24):<24} {run.preset or 'prompt':<8} "
            f"{_excerpt(run.video_name or '-', 24):<24} {rating:<9} {_excerpt(run.answer, 50)}"
        )
    return common.EXIT_OK


def _show(args) -> int:
    with _open_log(args) as run_log:
        run = run_log.get(args.run_id, access=common.access())
    if args.json:
        _print_json(run.to_dict(), indent=2)
        return common.EXIT_OK
    rows = [
        ("run", f"#{run.id} · {run.status} · {run.source} · {run.created_at}"),
        ("video", f"{run.video_name} {run.video_size or ''} {run.video_duration_s or ''}s"),
        ("model", f"{run.model} {run.model_revision or ''} {run.precision or ''} {run.device or ''}"),
        ("preset", run.preset or "-"),
        ("prompt", run.prompt),
        ("frames", f"{run.frames} @ {run.frame_times}"),
        ("metrics", json.dumps(run.metrics, ensure_ascii=False) if run.metrics else "-"),
    ]  # fmt: skip
    if run.error:
        rows.append(("error", f"[{run.error_code}] {run.error_ko} / {run.error_en}"))
    for rating in run.ratings:
        rows.append(("rating", f"{rating.score} {rating.reviewer} {rating.tags} {rating.note}"))
    for key, value in rows:
        _print(f"{key:<8}: {value}")
    _print(f"\n{run.answer}")
    return common.EXIT_OK


def _reviewer(args) -> str:
    if args.reviewer is not None:
        return args.reviewer
    return common.settings(args).reviewer or common.user()


def _rate(args) -> int:
    rater = common.access(_reviewer(args))
    with _open_log(args) as run_log:
        run_log.rate(args.run_id, args.score, args.tag, args.note, access=rater)
        ratings = run_log.ratings(args.run_id, access=rater)
    average = sum(r.score for r in ratings) / len(ratings)
    print(
        f"#{args.run_id}: {args.score}점 저장 / rating saved "
        f"(평균 / average {average:.2f}, {len(ratings)}명 / reviewers)",
        file=sys.stderr,
    )
    return common.EXIT_OK


def _export(args) -> int:
    from captioner import runlog

    with _open_log(args) as run_log:
        runs = run_log.query(
            access=common.access(), **_filters(args), limit=args.limit, newest_first=False
        )
    path = runlog.export(runs, args.format, args.out)
    print(f"{len(runs)}개 실행 내보냄 / exported {len(runs)} runs → {path}", file=sys.stderr)
    return common.EXIT_OK
