"""``python -m captioner doctor``: the hardware, the profile, the models, precisions and
memory plans this machine (or a simulated one) gets, and why.

    python -m captioner doctor --simulate-gpu "Tesla T4:15:7.5" --json
"""

from __future__ import annotations

import argparse
import json

import captioner.cli.common as common
from captioner import precision


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
    common.add_backend_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = common.settings(args)
    decision = settings.decide()
    report = report_for(decision)
    report["backend"] = backend_report(settings)
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
    _print_backend(report["backend"])
    return common.EXIT_OK


def backend_report(settings) -> dict:
    """Where answers come from; for a server: each replica's kind, models and whether it
    answers (asked now, a few seconds at most per replica)."""
    if settings.backend != "openai":
        return {"backend": "local"}
    from captioner.backends import remote

    infos = remote.deployment(settings).infos(refresh=True)
    return {
        "backend": "openai",
        "api_key_env": settings.api_key_env,
        "api_key_set": settings.api_key is not None,  # never the key itself
        "video_transport": settings.video_transport,
        "servers": [info.to_dict() for info in infos],
    }


def _print_backend(report: dict) -> None:
    if report["backend"] != "openai":
        print("백엔드 / backend    : local (this process loads the model)")
        return
    key = "set" if report["api_key_set"] else "not set"
    print(f"백엔드 / backend    : openai · key ${report['api_key_env']} {key}")
    for server in report["servers"]:
        state = "응답함 / answers" if server["answers"] else "응답 없음 / no answer"
        print(f"  {server['url']} · {server['kind']} · {state}")
        for model in server["models"]:
            length = f" · max_model_len {model['max_model_len']}" if model["max_model_len"] else ""
            print(f"    {model['id']}{length}")
        if server["problem"]:
            print(f"    ({server['problem']})")


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
