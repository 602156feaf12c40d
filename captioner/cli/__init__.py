"""Command line: ``python -m captioner doctor | describe | ask | batch | review | make-tiny | bench``.

    python -m captioner doctor --simulate-gpu "Tesla T4:15:7.5"
    python -m captioner describe clip.mp4 --preset timeline --json --srt clip.srt
    python -m captioner batch clips/ --preset detail --model A --model B --out results/
    python -m captioner review export --format html --out report.html --min-rating 4
    python -m captioner ask "한국의 가을을 한 문장으로 묘사해 줘"
    python -m captioner make-tiny ./tiny          # tiny random checkpoints for offline runs

One module per command; each registers its parser and the function that runs it, and
``main`` dispatches through one guard (``common.guarded``). Exit codes: 0 success, 2 bad
input (a short Korean/English message, no traceback; argparse's own too), 1 internal error,
130 interrupted, 141 when the reader of the output went away.
"""

from __future__ import annotations

import argparse
import logging
import sys

from captioner import __version__
from captioner.cli import batch, common, describe, dev, doctor, longdev, review

COMMANDS = (doctor, describe, batch, review, dev, longdev)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose messages about the command line itself (an unknown flag, a
    missing argument, a choice not offered) come in Korean too; its subcommands' parsers are
    of this class as well (``add_subparsers`` makes them with the parser's own class)."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        print(
            f"오류: 명령줄 인자가 올바르지 않습니다 ({self.prog} --help 참고): {message}\n"
            f"error: {message} (see {self.prog} --help)",
            file=sys.stderr,
        )
        raise SystemExit(common.EXIT_USER)


def parser() -> argparse.ArgumentParser:
    root = _Parser(
        prog="python -m captioner",
        description="Qwen3 한국어 비디오 캡셔너 / Korean video captioner",
    )
    root.add_argument("--version", action="version", version=__version__)
    root.add_argument("--debug", action="store_true", help="log details and tracebacks to stderr")
    sub = root.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.debug else logging.WARNING, stream=sys.stderr)
    return common.guarded(args.run, args)
