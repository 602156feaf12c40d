"""``python -m captioner make-tiny FOLDER`` and ``python -m captioner bench``: the
development commands (tiny random checkpoints; measurements against raw library calls).

    python -m captioner make-tiny ./tiny
    python -m captioner bench --model ./tiny/vl
    python -m captioner bench --report docs/bench        # every figure + plots (long: minutes)
    python -m captioner bench --suite gpu [--dry]        # the GPU suite (dry: CPU, tiny model)
"""

from __future__ import annotations

import argparse
import json

import captioner.cli.common as common


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
    bench.add_argument("--report", metavar="DIR",
                       help="measure everything into DIR/report.json with PNG plots")  # fmt: skip
    bench.add_argument("--quick", metavar="TINY",
                       help="with --report: measure only this tiny checkpoint (tests)")  # fmt: skip
    bench.add_argument("--repeats", type=int, default=3, help="interleaved runs per figure")
    bench.add_argument("--models", nargs="+", metavar="ID",
                       help="with --report: the catalog models to measure (default: 2B and 4B)")  # fmt: skip
    bench.add_argument("--suite", choices=["gpu"], help="the GPU suite (see README)")
    bench.add_argument("--dry", action="store_true",
                       help="with --suite gpu: on the CPU with a tiny model (no GPU needed)")  # fmt: skip
    common.add_profile_argument(bench)
    bench.add_argument("--json", action="store_true")
    bench.add_argument("--levels", default="1,4,8",
                       help="with --backend openai: requests in flight to compare (1,4,8)")  # fmt: skip
    bench.add_argument("--clips", type=int, default=8, help="with --backend openai: clips per run")
    bench.add_argument("--rounds", type=int, default=3, help="with --backend openai: rounds")
    common.add_backend_arguments(bench)
    bench.set_defaults(run=bench_)


def make_tiny(args: argparse.Namespace) -> int:
    from captioner.dev import tiny

    with common.writing_to(args.folder):
        written = tiny.write_all(args.folder)
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return common.EXIT_OK


def bench_(args: argparse.Namespace) -> int:
    from captioner.dev import bench, measure
    from captioner.errors import InvalidRequest

    common.quiet_libraries(args)
    if args.suite == "gpu":
        from captioner.dev import gpu_suite

        report = gpu_suite.run(common.settings(args), dry=args.dry)
    elif args.report:
        from captioner.dev import report as report_

        models = tuple(args.models) if args.models else report_.MODELS
        report = report_.build(
            args.report,
            quick=bool(args.quick),
            tiny=args.quick,
            repeats=args.repeats,
            models=models,
        )
    elif args.korean:
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
            "--model, --korean, --report, --suite 중 하나를 지정하세요.",
            "Give --model, --korean, --report or --suite.",
        )
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))
    return common.EXIT_OK
