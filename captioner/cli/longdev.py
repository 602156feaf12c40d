"""The long-video measurement commands (development; ``captioner/dev/longvideo.py``):

python -m captioner make-long-clip long25.mp4 --minutes 25
python -m captioner make-random-vl ./random-vl-2b
python -m captioner measure-long long25.mp4 --model ./random-vl-2b --mode long
"""

from __future__ import annotations

import argparse
import json

import captioner.cli.common as common


def register(sub) -> None:
    clip = sub.add_parser("make-long-clip", help="a 720p clip of distinct scenes (measurements)")
    clip.add_argument("out")
    clip.add_argument("--minutes", type=float, default=25.0)
    clip.set_defaults(run=make_clip)

    random_vl = sub.add_parser("make-random-vl", help="random-weight real-size Qwen3-VL-2B")
    random_vl.add_argument("folder")
    random_vl.add_argument("--model", default="Qwen/Qwen3-VL-2B-Instruct", help="catalog id")
    random_vl.set_defaults(run=make_random)

    measure = sub.add_parser("measure-long", help="one long-video measurement, as JSON")
    measure.add_argument("video")
    measure.add_argument("--model", required=True)
    measure.add_argument("--mode", choices=("single", "long"), required=True)
    measure.add_argument("--max-new-tokens", type=int, default=64)
    common.add_profile_argument(measure)
    measure.set_defaults(run=measure_)


def make_clip(args: argparse.Namespace) -> int:
    from captioner.dev import longvideo

    with common.writing_to(args.out):
        made = longvideo.make_long_clip(args.out, args.minutes)
    print(json.dumps(made))
    return common.EXIT_OK


def make_random(args: argparse.Namespace) -> int:
    from captioner.dev import longvideo

    with common.writing_to(args.folder):
        written = longvideo.write_random_vl(args.folder, args.model)
    print(written)
    return common.EXIT_OK


def measure_(args: argparse.Namespace) -> int:
    from captioner.dev import longvideo

    common.quiet_libraries(args)
    settings = common.settings(argparse.Namespace(profile=args.profile, db="off"))
    report = longvideo.measure(args.video, args.model, settings, args.mode, args.max_new_tokens)
    print(json.dumps(report, ensure_ascii=False))
    return common.EXIT_OK
