"""Command line: ``python -m captioner doctor | describe | ask | batch | review | make-tiny | bench``.

    python -m captioner doctor --simulate-gpu "Tesla T4:15:7.5"
    python -m captioner describe clip.mp4 --preset timeline --json --srt clip.srt
    python -m captioner batch clips/ --preset detail --model A --model B --out results/
    python -m captioner review export --format html --out report.html --min-rating 4
    python -m captioner ask "한국의 가을을 한 문장으로 묘사해 줘"
    python -m captioner make-tiny ./tiny          # tiny random checkpoints for offline runs

Exit codes: 0 success, 2 bad input (a short Korean/English message, no traceback),
1 internal error, 130 interrupted (Ctrl-C stops generation and still prints the record).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading

from captioner import __version__
from captioner.errors import CaptionerError

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m captioner",
        description="Qwen3 한국어 비디오 캡셔너 / Korean video captioner",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--debug", action="store_true", help="log details and tracebacks to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    doctor = sub.add_parser(
        "doctor", help="hardware, chosen profile, model, precision, memory plan"
    )
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument(
        "--simulate-gpu",
        metavar="NAME:MEMORY_GB:CAPABILITY[:COUNT]",
        help='pretend this GPU is present, e.g. "Tesla T4:15:7.5"',
    )
    doctor.add_argument("--profile", help="force a profile (also: CAPTIONER_PROFILE)")

    describe = sub.add_parser("describe", help="describe a video in Korean, streaming")
    describe.add_argument("video")
    _generation_args(describe)
    describe.add_argument(
        "--fps", type=float, default=2.0, help="frames sampled per second (default 2)"
    )
    describe.add_argument("--srt", metavar="FILE", help="write the timeline as SRT subtitles")
    describe.add_argument("--vtt", metavar="FILE", help="write the timeline as WebVTT subtitles")
    describe.add_argument(
        "--max-frames", type=int, help="frame cap (default: the profile's budget)"
    )
    describe.add_argument(
        "--max-pixels", type=int, help="pixels per frame (default: the profile's)"
    )

    ask = sub.add_parser("ask", help="a text prompt to a Qwen3 text model (no video)")
    ask.add_argument("prompt")
    _generation_args(ask, presets=False)

    tiny = sub.add_parser("make-tiny", help="write tiny random Qwen3-VL + Qwen3 checkpoints")
    tiny.add_argument("folder")

    bench = sub.add_parser("bench", help="measure our pipeline against raw library calls")
    bench.add_argument("--model", required=True, help="Qwen3-VL checkpoint (id or folder)")
    bench.add_argument("--video", help="clip (default: the Big Buck Bunny sample in assets/)")
    bench.add_argument("--max-new-tokens", type=int, default=64)
    bench.add_argument("--json", action="store_true")
    from captioner import review_cli

    review_cli.add_commands(sub)  # batch, review list|show|rate|export
    review_cli.add_db_argument(describe)
    review_cli.add_db_argument(ask)
    return parser


def _generation_args(parser: argparse.ArgumentParser, presets: bool = True) -> None:
    parser.add_argument(
        "--model", help="catalog id, Hub id or local folder (default: the profile's)"
    )
    parser.add_argument(
        "--profile", help="force a profile (default: detected; also CAPTIONER_PROFILE)"
    )
    parser.add_argument("--precision", choices=("bf16", "fp16", "fp32", "nf4"))
    parser.add_argument("--adapter", help="LoRA adapter folder or Hub id")
    parser.add_argument("--revision", help="model revision (branch, tag or commit)")
    if presets:
        from captioner.prompts import PRESETS

        group = parser.add_mutually_exclusive_group()
        group.add_argument("--preset", choices=[p.key for p in PRESETS], help="prompt preset")
        group.add_argument("--prompt", help="free-text prompt (Korean by default)")
    parser.add_argument("--system", help="system prompt (default: the Korean one)")
    parser.add_argument(
        "--style",
        default="hamnida",
        metavar="{hamnida,haeyo}",
        help="문체: hamnida 합니다체 (default) | haeyo 해요체",
    )
    parser.add_argument(
        "--length",
        default="normal",
        metavar="{short,normal,long}",
        help="길이: short 짧게 | normal 보통 (default: the prompt decides) | long 자세히",
    )
    parser.add_argument(
        "--allow-hanja",
        action="store_true",
        help="allow Chinese characters in the answer (한자 병기); by default they are masked",
    )
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--repetition-penalty", type=float)
    parser.add_argument("--presence-penalty", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--think", action="store_true", help="thinking on (hybrid Qwen3 models)")
    parser.add_argument("--json", action="store_true", help="end with one JSON record on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING, stream=sys.stderr)
    if not args.debug:
        # library chatter (transformers' deprecation notes, bitsandbytes' optional CPU kernels)
        # is not for the person reading a caption; --debug shows it
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    from captioner import review_cli

    if review_cli.owns(args):
        return review_cli.run(args)
    commands = {
        "doctor": _doctor,
        "describe": _describe,
        "ask": _describe,
        "make-tiny": _make_tiny,
        "bench": _bench,
    }
    return guarded(commands[args.command], args)


def guarded(handler, args) -> int:
    """Run a command: user errors print Korean + English and exit 2, never a traceback;
    anything else exits 1 (with the traceback under --debug); Ctrl-C exits 130."""
    try:
        return handler(args)
    except CaptionerError as exc:
        print_error(exc)
        return EXIT_USER
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001
        if getattr(args, "debug", False):
            raise
        print(f"내부 오류 / internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


def print_error(exc: CaptionerError) -> None:
    print(f"오류: {exc.ko}\nerror: {exc.en}", file=sys.stderr)


# --- video settings from the environment ---------------------------------------------------------
def _env_float(name: str, default: float) -> float:
    from captioner.errors import InvalidRequest

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise InvalidRequest(
            f"환경 변수 {name}의 값 '{raw}'이(가) 숫자가 아닙니다.",
            f"Environment variable {name}='{raw}' is not a number.",
        ) from exc
    if not math.isfinite(value) or value < 0 or (value == 0 and name != "CAPTIONER_CLIP_CACHE_MB"):
        raise InvalidRequest(
            f"환경 변수 {name}은(는) 0보다 커야 합니다 (현재 {raw}).",
            f"Environment variable {name} must be positive (got {raw}).",
        )
    return value


def configure_video():
    """Video limits from CAPTIONER_MAX_FILE_MB / _MAX_DURATION_S / _DECODE_TIMEOUT_S (over
    the defaults), and the clip cache bounded by CAPTIONER_CLIP_CACHE_MB (MiB, 0: off).

    Read once per command by the entry points (the video package never reads the
    environment); the limits are then passed explicitly to every run."""
    from captioner import video

    default = video.VideoLimits()
    mib = 2**20
    video.set_cache_limit(int(_env_float("CAPTIONER_CLIP_CACHE_MB", 512) * mib))
    return video.VideoLimits(
        max_file_bytes=int(_env_float("CAPTIONER_MAX_FILE_MB", default.max_file_bytes / mib) * mib),
        max_duration_s=_env_float("CAPTIONER_MAX_DURATION_S", default.max_duration_s),
        decode_timeout_s=_env_float("CAPTIONER_DECODE_TIMEOUT_S", default.decode_timeout_s),
    )


# --- doctor ----------------------------------------------------------------------------------
def _doctor(args) -> int:
    from captioner import hardware

    hw = hardware.simulate(args.simulate_gpu) if args.simulate_gpu else hardware.detect()
    report = _doctor_report(hw, args.profile)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"하드웨어 / hardware : {report['hardware']}{' (simulated)' if hw.simulated else ''}")
    print(f"프로필 / profile    : {report['profile']}")
    print(f"이유 / reason       : {report['reason_ko']}\n                      {report['reason']}")
    for label, item in (("영상 / video", report["video"]), ("텍스트 / text", report["text"])):
        print(
            f"{label:<17}: {item['model']} · {item['precision']} (compute {item['compute_dtype']})"
        )
        if item["plan"]:
            print(f"{'':<17}  {item['plan']}")
        if label.startswith("영상"):
            print(f"{'':<17}  frames ≤ {item['max_frames']}, {item['max_pixels']} px/frame")
    return EXIT_OK


def _doctor_report(hw, profile: str | None) -> dict:
    from captioner import engine

    video_setup = engine.setup(engine.DescribeRequest(video="<any>", profile=profile), hw)
    text_setup = engine.setup(engine.DescribeRequest(profile=profile), hw)
    return {
        "hardware": hw.describe(),
        "simulated": hw.simulated,
        "profile": video_setup.choice.profile.name,
        "reason": video_setup.reason,
        "reason_ko": video_setup.reason_ko,
        "video": _setup_summary(video_setup),
        "text": _setup_summary(text_setup),
    }


def _setup_summary(setup) -> dict:
    return {
        "model": setup.model,
        "precision": setup.precision,
        "compute_dtype": setup.compute_dtype,
        "device": setup.device,
        "max_frames": setup.max_frames,
        "max_pixels": setup.max_pixels,
        "plan": setup.plan.reason if setup.plan else None,
        "weight_gb": round(setup.plan.weight_bytes / 2**30, 2) if setup.plan else None,
    }


# --- describe / ask -----------------------------------------------------------------------------
def _request(args):
    from captioner.engine import DescribeRequest
    from captioner.generation import Options

    options = Options(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        presence_penalty=args.presence_penalty,
        seed=args.seed,
        think=args.think,
        allow_hanja=args.allow_hanja,
    )
    video_args = {}
    if args.command == "describe":
        video_args = dict(
            video=args.video, fps=args.fps, max_frames=args.max_frames, max_pixels=args.max_pixels
        )
    return DescribeRequest(
        prompt=args.prompt,
        preset=getattr(args, "preset", None),
        system=args.system,
        model=args.model,
        profile=args.profile,
        precision=args.precision,
        adapter=args.adapter,
        revision=args.revision,
        options=options,
        style=args.style,
        length=args.length,
        **video_args,
    )


def _canonical(lookup, value: str) -> str:
    """The key for a style/length value (a Korean label too); as given when unknown (the
    engine reports it as a bad request)."""
    try:
        return lookup(value).key
    except CaptionerError:
        return value


def _describe(args) -> int:
    from captioner import engine, prompts

    stop = threading.Event()
    say = (
        (lambda message: None)
        if args.quiet
        else (lambda message: print(f"· {message}", file=sys.stderr))
    )
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the "Loading weights" bar too
    request = _request(args)
    limits = configure_video()
    record: dict = {
        "style": _canonical(prompts.style, request.style),
        "length": _canonical(prompts.length, request.length),
        "allow_hanja": request.options.allow_hanja,
    }
    interrupted = False
    events = engine.describe(
        request, progress=lambda fraction, message: say(message), stop=stop, limits=limits
    )
    from captioner import review_cli

    events = review_cli.record_cli_run(events, request, source="cli", db=args.db)  # the run log
    while True:
        try:
            event = next(events)
        except StopIteration:
            break
        except KeyboardInterrupt:
            stop.set()  # generation ends after this step; keep reading to get the record
            interrupted = True
            continue
        code = _show(event, args, record, say)
        if code is not None:
            return code
    code = _write_subtitles(args, record)
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    if code is not None:
        return code
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _write_subtitles(args, record: dict) -> int | None:
    """--srt / --vtt: the answer's timestamped lines as subtitles, clamped to the video."""
    targets = [
        (path, fmt)
        for path, fmt in ((getattr(args, "srt", None), "srt"), (getattr(args, "vtt", None), "vtt"))
        if path
    ]
    if not targets or "answer" not in record:
        return None
    from captioner import subtitles

    try:
        cues = subtitles.parse(record["answer"], record.get("duration_s"))
    except CaptionerError as exc:
        print_error(exc)
        record["subtitles_error"] = exc.to_dict()
        return EXIT_USER
    record["subtitles"] = [str(subtitles.write(cues, path, fmt)) for path, fmt in targets]
    print(
        f"· 자막 {len(cues)}개 / {len(cues)} cues → {', '.join(record['subtitles'])}",
        file=sys.stderr,
    )
    return None


def _show(event, args, record: dict, say) -> int | None:
    kind = event.kind
    if kind == "status":
        say(event.message)
    elif kind == "prepared":
        setup, clip, loaded = event.setup, event.clip, event.loaded
        say(f"{setup.model} · {setup.precision} · {loaded.device} · {setup.reason_ko}")
        record.update(
            model=setup.model,
            revision=loaded.revision,
            profile=setup.choice.profile.name,
            precision=setup.precision,
            device=loaded.device,
            reason=setup.reason,
        )
        if clip is not None:
            say(f"프레임 {len(clip.indices)}개 ({clip.backend}, {clip.decode_seconds:.2f}s)")
            if clip.retried:
                say(f"재시도 / retried on {clip.backend}: {clip.retry_reason}")
            record.update(
                video=os.path.basename(clip.info.path),
                duration_s=round(clip.info.duration_s, 3),
                frame_indices=list(clip.indices),
                frame_times=[round(t, 3) for t in clip.timestamps],
                frame_size=list(clip.frames.shape[1:3]),
                decode_backend=clip.backend,
                decode_retry=clip.retry_reason,
            )
    elif kind == "thinking":
        print(event.text, end="", file=sys.stderr, flush=True)
    elif kind == "text":
        print(event.text, end="", flush=True)
    elif kind == "done":
        print(flush=True)
        say(event.metrics.summary())
        check = event.korean
        if check is not None:
            say(check.summary())
            if check.warning_ko:
                # a warning shows even with --quiet
                print(f"경고: {check.warning_ko}\nwarning: {check.warning_en}", file=sys.stderr)
        record.update(
            answer=event.answer,
            thinking=event.thinking,
            metrics=_metrics_dict(event.metrics),
            sampling=event.sampling,
            korean=check.to_dict() if check is not None else None,
        )
    elif kind == "error":
        print_error(event.error)
        if event.error.detail and args.debug:
            print(event.error.detail, file=sys.stderr)
        if args.json:
            record["error"] = event.error.to_dict()
            print(json.dumps(record, ensure_ascii=False))
        return EXIT_USER if event.user_error else EXIT_INTERNAL
    return None


def _metrics_dict(metrics) -> dict:
    import dataclasses

    values = dataclasses.asdict(metrics)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


# --- make-tiny / bench ----------------------------------------------------------------------------
def _make_tiny(args) -> int:
    from captioner import tiny

    paths = tiny.write_all(args.folder)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return EXIT_OK


def _bench(args) -> int:
    from captioner import bench

    report = bench.run(args.model, video_path=args.video, max_new_tokens=args.max_new_tokens)
    print(json.dumps(report, ensure_ascii=False, indent=None if args.json else 2))
    return EXIT_OK
