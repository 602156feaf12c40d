"""What every command shares: exit codes, the error guard, shared options, the settings.

Exit codes: 0 success, 2 bad input (a short Korean/English message, no traceback),
1 internal error, 130 interrupted (Ctrl-C stops generation and still prints the record).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable

from captioner import precision
from captioner.errors import CaptionerError
from captioner.settings import Settings, from_environment

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


def guarded(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
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


def quiet_libraries(args: argparse.Namespace) -> None:
    """Library chatter (transformers' deprecation notes, bitsandbytes' optional CPU kernels)
    is not for the person reading a caption; --debug keeps it. Called by the commands that
    load models (importing transformers costs seconds, which doctor must not pay)."""
    if getattr(args, "debug", False):
        return
    import logging

    from transformers.utils import logging as hf_logging

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    hf_logging.set_verbosity_error()


def print_error(exc: CaptionerError) -> None:
    print(f"오류: {exc.ko}\nerror: {exc.en}", file=sys.stderr)


def settings(args: argparse.Namespace) -> Settings:
    """The settings for a command: the environment, with this command's flags on top; the
    process's clip cache is sized from them."""
    from captioner import video

    built = from_environment(
        profile=getattr(args, "profile", None),
        db=getattr(args, "db", None),
        simulate_gpu=getattr(args, "simulate_gpu", None),
    )
    video.set_cache_limit(built.clip_cache_bytes)
    return built


# Terminal control sequences (CSI/OSC/other escapes) and C0/C1 controls but newline and tab.
_CONTROL = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def printable(text: str | None) -> str:
    """Model output for a terminal: control characters and escape sequences removed, so an
    answer cannot move the cursor, change colours or retitle the terminal."""
    return _CONTROL.sub("", text or "")


# --- shared options -----------------------------------------------------------------------------
def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="run log file, or 'off' (default: $CAPTIONER_DB, /data or ~/.cache)"
    )


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", help="force a GPU profile (default: detected; also CAPTIONER_PROFILE)"
    )


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=precision.NAMES)
