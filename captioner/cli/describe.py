"""``python -m captioner describe VIDEO`` and ``python -m captioner ask PROMPT``.

The answer streams to stdout as each Hangul syllable completes, progress goes to stderr;
with ``--json`` the last stdout line is one JSON record. Every run is recorded in the run
log. Ctrl-C stops generation after the current token and still prints the record.

    python -m captioner describe clip.mp4 --preset timeline --json --srt clip.srt
    python -m captioner ask "한국의 가을을 한 문장으로 묘사해 줘"
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import captioner.cli.common as common
import captioner.cli.terminal as terminal
from captioner import prompts
from captioner.errors import CaptionerError


def register(sub) -> None:
    describe = sub.add_parser("describe", help="describe a video in Korean, streaming")
    describe.add_argument("video")
    add_generation_args(describe)
    describe.add_argument("--fps", type=float, default=2.0, help="frames sampled per second (2)")
    describe.add_argument("--max-frames", type=int, help="frame cap (default or 0: the profile's)")
    describe.add_argument(
        "--max-pixels",
        type=int,
        help="pixels per frame, at least 1024 (default or 0: the profile's)",
    )
    describe.add_argument("--srt", metavar="FILE", help="write the timeline as SRT subtitles")
    describe.add_argument("--vtt", metavar="FILE", help="write the timeline as WebVTT subtitles")
    add_long_args(describe)
    describe.add_argument("--fresh", action="store_true",
                          help="start a long video over instead of resuming its unfinished run")  # fmt: skip
    describe.set_defaults(run=run)

    ask = sub.add_parser("ask", help="a text prompt to a Qwen3 text model (no video)")
    ask.add_argument("prompt")
    add_generation_args(ask, presets=False)
    ask.set_defaults(run=run)


def add_generation_args(parser: argparse.ArgumentParser, presets: bool = True) -> None:
    parser.add_argument("--model", help="catalog id, Hub id or local folder (default: profile's)")
    common.add_profile_argument(parser)
    common.add_precision_argument(parser)
    parser.add_argument("--adapter", help="LoRA adapter folder or Hub id")
    parser.add_argument("--revision", help="model revision (branch, tag or commit)")
    if presets:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--preset", choices=[p.key for p in prompts.PRESETS])
        group.add_argument("--prompt", help="free-text prompt (Korean by default)")
    parser.add_argument("--system", help="system prompt (default: the Korean one)")
    parser.add_argument("--style", default=prompts.DEFAULT_STYLE, metavar="{hamnida,haeyo}",
                        help="문체: hamnida 합니다체 (default) | haeyo 해요체")  # fmt: skip
    parser.add_argument("--length", default=prompts.DEFAULT_LENGTH, metavar="{short,normal,long}",
                        help="길이: short 짧게 | normal 보통 (default: the prompt decides) | long 자세히")  # fmt: skip
    parser.add_argument("--allow-hanja", action="store_true",
                        help="allow Chinese characters in the answer (한자 병기); masked by default")  # fmt: skip
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
    common.add_db_argument(parser)
    common.add_backend_arguments(parser)


def add_long_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--long", dest="long", action="store_true", default=None,
                       help="긴 영상: caption in windows merged into one timeline "
                       "(default: automatic when one pass would see too few frames)")  # fmt: skip
    group.add_argument("--no-long", dest="long", action="store_false",
                       help="always one pass over the whole video")  # fmt: skip


def request_from(args: argparse.Namespace):
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
            video=args.video,
            fps=args.fps,
            max_frames=args.max_frames,
            max_pixels=args.max_pixels,
            long=args.long,
        )
    return DescribeRequest(
        prompt=args.prompt,
        preset=getattr(args, "preset", None),
        system=args.system,
        model=args.model,
        precision=args.precision,
        adapter=args.adapter,
        revision=args.revision,
        options=options,
        style=args.style,
        length=args.length,
        **video_args,
    )


def run(args: argparse.Namespace) -> int:
    from captioner import longvideo, subtitles

    settings = common.settings(args)
    common.quiet_libraries(args)
    stop = threading.Event()
    say = (lambda message: None) if args.quiet else (lambda m: print(f"· {m}", file=sys.stderr))
    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # the "Loading weights" bar too
    request = request_from(args)
    for path in (getattr(args, "srt", None), getattr(args, "vtt", None)):
        if path:  # refused now, not after the answer was made
            subtitles.check_target(path)
    record: dict = {
        "style": _canonical(prompts.style, request.style),
        "length": _canonical(prompts.length, request.length),
        "allow_hanja": request.options.allow_hanja,
    }
    events = longvideo.describe(request, settings, progress=lambda _f, m: say(m), stop=stop)
    events = recorded(events, request, settings, source="cli",
                      fresh=getattr(args, "fresh", False))  # fmt: skip
    ready = {"on": False}  # the model is loaded and the video decoded: a run to keep
    with common.ctrl_c_stops(stop, graceful=lambda: ready["on"]):
        line = {"open": False}  # the answer's last line on stdout has no newline yet
        for event in events:
            ready["on"] = ready["on"] or event.kind in ("prepared", "long_plan")
            code = _show(event, args, record, say, line)
            if code is not None:
                return code
    code = _write_subtitles(args, record)
    if args.json:
        print(json.dumps(record, ensure_ascii=False))
    if code is not None:
        return code
    return common.EXIT_INTERRUPTED if stop.is_set() else common.EXIT_OK


def recorded(
    events: Iterable[Any], request: Any, settings, source: str, fresh: bool = False
) -> Iterator[Any]:
    """The events, passed through unchanged and recorded in the run log. Recording never
    stops a run: when the log cannot be opened, a warning goes to stderr. A long video
    resumes its unfinished run of the same configuration unless ``fresh``."""
    from captioner import longvideo, runlog

    if settings.db_path is None:
        return iter(events)
    try:
        run_log = common.open_log(settings)
    except CaptionerError as exc:
        print(f"경고: {exc.ko}\nwarning: {exc.en} (run not recorded)", file=sys.stderr)
        return iter(events)
    access = common.access()
    resumed = None if fresh else longvideo.resume(events, run_log, access, request)
    if resumed is not None:
        print(f"· 이어서 실행 / resuming run #{resumed}", file=sys.stderr)
    recorded_ = runlog.record(
        events, request, log=run_log, source=source, access=access, resume_run=resumed
    )
    return _closing(recorded_, run_log)


def _closing(events: Iterator[Any], run_log) -> Iterator[Any]:
    try:
        yield from events
    finally:
        run_log.close()


def _canonical(lookup, value: str) -> str:
    """The key for a style/length value (a Korean label too); as given when unknown (the
    engine reports it as a bad request)."""
    try:
        return lookup(value).key
    except CaptionerError:
        return value


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
        record["subtitles"] = [str(subtitles.write(cues, path, fmt)) for path, fmt in targets]
    except CaptionerError as exc:
        common.print_error(exc)
        record["subtitles_error"] = exc.to_dict()
        return common.EXIT_USER
    print(f"· 자막 {len(cues)}개 / {len(cues)} cues → {', '.join(record['subtitles'])}",
          file=sys.stderr)  # fmt: skip
    return None


def _show(event, args, record: dict, say, line: dict) -> int | None:
    kind = event.kind
    if kind == "status":
        say(event.message)
    elif kind == "prepared":
        chosen, clip, backend = event.selection, event.clip, event.backend
        say(f"{chosen.model} · {chosen.precision} · {backend.device} · {chosen.reason_ko}")
        record.update(
            model=chosen.model,
            revision=backend.revision,
            profile=chosen.profile,
            precision=chosen.precision,
            device=backend.device,
            reason=chosen.reason,
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
            seen = getattr(backend, "frame_times", None)  # a server's own stamps (backends/)
            if seen is not None:
                record["frame_times_seen"] = [round(t, 3) for t in seen(clip)]
    elif kind == "thinking":
        print(_terminal(event.text, sys.stderr), end="", file=sys.stderr, flush=True)
    elif kind == "text":
        print(_terminal(event.text, sys.stdout), end="", flush=True)
        line["open"] = not event.text.endswith("\n")
    elif kind == "done":
        print(flush=True)
        line["open"] = False
        say(event.metrics.line("ko"))
        check = event.korean
        if check is not None:
            say(check.summary())
            if check.warning_ko:  # a warning shows even with --quiet
                print(f"경고: {check.warning_ko}\nwarning: {check.warning_en}", file=sys.stderr)
        record.update(
            answer=event.answer,
            thinking=event.thinking,
            metrics=_rounded(dataclasses.asdict(event.metrics)),
            sampling=event.sampling,
            korean=check.to_dict() if check is not None else None,
        )
    elif kind in longvideo_kinds():
        _show_long(event, args, record, say)
    elif kind == "error":
        if line["open"]:  # the part of the answer shown so far ends its line
            print(flush=True)
        common.print_error(event.error)
        if event.error.detail and args.debug:
            print(event.error.detail, file=sys.stderr)
        if args.json:
            record["error"] = event.error.to_dict()
            print(json.dumps(record, ensure_ascii=False))
        return common.EXIT_USER if event.user_error else common.EXIT_INTERNAL
    return None


def _terminal(text: str, stream) -> str:
    """Model output on a terminal loses its control characters (each chunk on its own: an
    escape sequence split over two chunks loses its ESC, so the rest is plain text); a pipe
    or a file gets the text unchanged."""
    return terminal.safe(text) if stream.isatty() else text


def _rounded(values: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}


def longvideo_kinds() -> tuple[str, ...]:
    from captioner import longvideo

    return longvideo.KINDS


def _show_long(event, args, record: dict, say) -> None:
    """A long video's progress on stderr; its plan, windows and timeline in the record."""
    from captioner.subtitles import clock_text

    kind = event.kind
    loud = not args.quiet
    if kind == "long_plan":
        layout, info = event.layout, event.info
        say(f"긴 영상 / long video: {layout.reason_ko}")
        if event.reused:
            say(f"완료된 구간 {event.reused}개 재사용 / reusing {event.reused} finished windows")
        record.update(
            video=os.path.basename(info.path),
            duration_s=round(info.duration_s, 3),
            long={"windows": layout.count, "seconds_per_frame": layout.seconds_per_frame,
                  "frame_budget": layout.frame_budget, "reason": layout.reason},
            windows=[],
        )  # fmt: skip
    elif kind == "window_start":
        w = event.window
        eta = f" · 남은 시간 약 {_minutes(event.eta_s)}" if event.eta_s is not None else ""
        say(f"구간 {w.index + 1}/{event.count} ({clock_text(w.start_s)}-{clock_text(w.end_s)}, "
            f"프레임 {len(event.frame_times)}개){eta}")  # fmt: skip
    elif kind in ("window_text", "merge_text") and loud:
        print(_terminal(event.text, sys.stderr), end="", file=sys.stderr, flush=True)
    elif kind in ("window_done", "window_failed"):
        result = event.result
        if loud and not result.reused and kind == "window_done":
            print(file=sys.stderr)
        if kind == "window_failed" and result.error is not None:
            say(f"구간 {result.index + 1} 실패, 건너뜀 / window {result.index + 1} failed, "
                f"skipped: {result.error.ko} / {result.error.en}")  # fmt: skip
        record.setdefault("windows", []).append(result.to_dict())
    elif kind == "merge":
        say(f"구간 {event.windows_done}개를 하나의 타임라인으로 합치는 중 / merging")
    elif kind == "merged":
        if loud:
            print(file=sys.stderr)
        say(event.check.summary("ko"))
        done = [w for w in event.windows if w.status == "done"]
        record.update(
            summary=event.summary,
            timeline=[{"start": c.start, "end": c.end, "text": c.text} for c in event.cues],
            timeline_check=event.check.to_dict(),
            frame_indices=[i for w in done for i in w.frame_indices],
            frame_times=[round(t, 3) for w in done for t in w.frame_times],
            windows_failed=event.failed,
        )
        if event.merge_error is not None:
            say(f"합치기 실패, 구간 설명을 그대로 씀 / merge failed: {event.merge_error.en}")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}분" if seconds >= 90 else f"{seconds:.0f}초"
