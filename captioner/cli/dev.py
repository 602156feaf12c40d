"""``python -m captioner make-tiny FOLDER`` and ``python -m captioner bench``: the
development commands (tiny random checkpoints; measurements against raw library calls).

    python -m captioner make-tiny ./tiny
    python -m captioner bench --model ./tiny/vl
"""

from __future__ import annotations

import argparse
import json

from captioner.cli import common


def register(sub) -> None:
    tiny = sub.add_parser("make-tiny", help="write tiny random Qwen3-VL + Qwen3 checkpoints")
    tiny.add_argument("folder")
    tiny.set_defaults(run=make_tiny)

    bench = sub.add_parser("bench", help="measure our pipeline against raw library calls")
    bench.add_argument("--model", help="Qwen3-VL checkpoint (id or folder)")
    bench.add_argument("--video", help="clip (default: the Big Buck Bunny sample in assets/)")
    bench.add_argument("--max-new-tokens", type=int, default=64)
    bench.add_argument("--korean", action="store_true",
                       help="the Korean mask's cost per token against a real-size decoding step")  # fmt: skip
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--levels", default="1,4,8",
                       help="with --backend openai: requests in flight to compare (1,4,8)")  # fmt: skip
    bench.add_argument("--clips", type=int, default=8, help="with --backend openai: clips per run")
    bench.add_argument("--rounds", type=int, default=3, help="with --backend openai: rounds")
    common.add_backend_arguments(bench)
    bench.set_defaults(run=bench_)


def make_tiny(args: argparse.Namespace) -> int:
    from captioner.dev import tiny

    for kind, path in tiny.write_all(args.folder).items():
        print(f"{kind}: {path}")
    return common.EXIT_OK


def bench_(args: argparse.Namespace) -> int:
    from captioner.dev import bench, measure
    from captioner.errors import InvalidRequest

    common.quiet_libraries(args)
    if args.korean:
        report = measure.korean_mask_overhead()
    elif args.backend == "openai" or args.base_url:
        from captioner.dev import serving

        settings = common.settings(args)
        report = serving.report(
            settings, args.model, args.video or str(bench.ASSET_CLIP),
            levels=tuple(int(n) for n in args.levels.split(",")), clips=args.clips,
            rounds=args.rounds, max_new_tokens=args.max_new_tokens,
        )  # fmt: skip
    elif args.model:
        settings = common.settings(args)
        report = bench.report(
            args.model, settings, video_path=args.video, max_new_tokens=args.max_new_tokens
        )
    else:
        raise InvalidRequest(
            "--model 또는 --korean 중 하나를 지정하세요.", "Give --model or --korean."
        )
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))
    return common.EXIT_OK
