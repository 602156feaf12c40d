"""``python -m captioner doctor``: the hardware, the profile, the models, precisions and
memory plans this machine (or a simulated one) gets, and why.

    python -m captioner doctor --simulate-gpu "Tesla T4:15:7.5" --json
"""

from __future__ import annotations

import argparse
import json

from captioner import precision
from captioner.cli import common


def register(sub) -> None:
    parser = sub.add_parser(
        "doctor", help="hardware, chosen profile, model, precision, memory plan"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--simulate-gpu",
        metavar="NAME:MEMORY_GB:CAPABILITY[:COUNT]",
        help='pretend this GPU is present, e.g. "Tesla T4:15:7.5"',
    )
    common.add_profile_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = common.settings(args)
    decision = settings.decide()
    report = report_for(decision)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return common.EXIT_OK
    simulated = " (simulated)" if decision.hardware.simulated else ""
    print(f"하드웨어 / hardware : {report['hardware']}{simulated}")
    print(f"프로필 / profile    : {report['profile']} · {report['device']}")
    print(f"이유 / reason       : {report['reason_ko']}\n                      {report['reason']}")
    for label, item in (("영상 / video", report["video"]), ("텍스트 / text", report["text"])):
        print(
            f"{label:<17}: {item['model']} · {item['precision']} (compute {item['compute_dtype']})"
        )
        print(f"{'':<17}  {item['plan']}")
    print(f"{'':<17}  frames ≤ {report['max_frames']}, {report['max_pixels']} px/frame")
    return common.EXIT_OK


def report_for(decision) -> dict:
    """doctor's JSON: the decision with both models' plans (nothing loaded)."""
    rt = decision.runtime

    def model(choice, video: bool) -> dict:
        return {
            "model": choice.model,
            "precision": choice.precision,
            "compute_dtype": rt.compute_dtype(choice.precision),
            "device": rt.device,
            "max_frames": decision.max_frames if video else 0,
            "max_pixels": decision.max_pixels,
            "plan": choice.plan.reason,
            "weight_gb": round(choice.plan.weight_bytes / precision.GiB, 2),
            "fits": choice.plan.fits,
        }

    return {
        "hardware": decision.hardware.describe(),
        "simulated": decision.hardware.simulated,
        "profile": decision.profile.name,
        "device": rt.device,
        "float_precision": rt.float_precision,
        "attention": rt.attn_implementation,
        "cpu_bf16_speedup": decision.hardware.cpu_bf16_speedup,
        "reason": decision.reason,
        "reason_ko": decision.reason_ko,
        "fits": decision.fits,
        "max_frames": decision.max_frames,
        "max_pixels": decision.max_pixels,
        "video": model(decision.video, True),
        "text": model(decision.text, False),
    }
