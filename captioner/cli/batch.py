"""``python -m captioner batch``: videos × presets/prompts × models, recorded and resumable.

A batch that finished but had failed runs exits 2 (1 when one of them was an internal
error), after its summary. The work itself is ``captioner/batch.py``.

    python -m captioner batch clips/ --preset detail --model A --model B --out results/
    python -m captioner batch clips/ --backend openai --base-url http://gpu1:8000/v1 \
        --base-url http://gpu2:8000/v1 --concurrency 8 --out results/
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import Any

import captioner.cli.common as common
from captioner import prompts
from captioner.cli.describe import add_long_args


def register(sub) -> None:
    batch = sub.add_parser(
        "batch",
        help="describe many videos × prompts × models, recorded and resumable",
        description="영상 여러 개를 프리셋/프롬프트 × 모델 조합으로 설명합니다 (이어하기 가능). "
        "Describe videos × presets/prompts × models; re-running skips what is done.",
    )
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="video files and/or folders")
    batch.add_argument("--preset", action="append", default=[],
                       choices=[p.key for p in prompts.PRESETS], help="repeat")  # fmt: skip
    batch.add_argument("--prompt", action="append", default=[], help="free-text prompt; repeat")
    batch.add_argument("--model", action="append", default=[],
                       help="catalog id, Hub id or folder; repeat")  # fmt: skip
    batch.add_argument("--out", required=True, help="folder for exports, subtitles, summary")
    batch.add_argument("--max-new-tokens", type=int)
    batch.add_argument("--seed", type=int)
    batch.add_argument("--temperature", type=float)
    batch.add_argument("--fps", type=float, default=2.0, help="frames sampled per second")
    batch.add_argument("--max-frames", type=int, help="frame cap (default or 0: the profile's)")
    batch.add_argument(
        "--max-pixels",
        type=int,
        help="pixels per frame, at least 1024 (default or 0: the profile's)",
    )
    common.add_profile_argument(batch)
    common.add_precision_argument(batch)
    batch.add_argument("--system", help="system prompt (default: the Korean one)")
    add_long_args(batch)
    batch.add_argument("--recursive", action="store_true", help="scan folders recursively")
    batch.add_argument("--srt", action="store_true", help="SRT files for timeline runs")
    batch.add_argument("--vtt", action="store_true", help="WebVTT files for timeline runs")
    batch.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    batch.add_argument("--quiet", action="store_true", help="no progress bar")
    batch.add_argument("--concurrency", type=int, default=1, metavar="N",
                       help="combinations in flight at once (for a server backend; default 1)")  # fmt: skip
    common.add_db_argument(batch)
    common.add_backend_arguments(batch)
    batch.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from captioner import batch, runlog
    from captioner.errors import InvalidRequest
    from captioner.generation import Options

    settings = common.settings(args)
    common.quiet_libraries(args)
    if settings.db_path is None:
        raise InvalidRequest(
            "배치는 실행 기록에 결과를 남기므로 --db off 로는 실행할 수 없습니다.",
            "A batch keeps its results in the run log: it cannot run with --db off.",
        )
    if args.concurrency < 1:
        raise InvalidRequest("--concurrency 는 1 이상입니다.", "--concurrency is 1 or more.")
    options = Options(
        max_new_tokens=args.max_new_tokens, seed=args.seed, temperature=args.temperature
    )
    fields: dict[str, Any] = {"options": options, "fps": args.fps}
    for name in ("max_frames", "max_pixels", "precision", "system", "long"):
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

    stop = threading.Event()
    with runlog.RunLog(settings.db_path) as run_log, common.ctrl_c_stops(stop):
        try:
            summary = batch.run_batch(
                args.inputs,
                args.preset,
                args.prompt,
                args.model,
                args.out,
                log=run_log,
                settings=settings,
                srt=args.srt,
                vtt=args.vtt,
                progress=progress,
                recursive=args.recursive,
                concurrency=args.concurrency,
                stop=stop,
                **fields,
            )
        finally:
            if bar is not None:
                bar.close()
    print(summary.text(), file=sys.stderr)
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
    if summary.interrupted:
        return common.EXIT_INTERRUPTED
    if summary.internal_failures:
        return common.EXIT_INTERNAL
    return common.EXIT_USER if summary.failed or summary.output_error else common.EXIT_OK
