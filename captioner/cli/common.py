"""What every command shares: exit codes, the error guard, shared options, the settings.

Exit codes: 0 success, 2 bad input (a short Korean/English message, no traceback),
1 internal error, 130 interrupted (Ctrl-C stops generation and still prints the record),
141 when whoever read the output went away (``| head``), as a shell reports SIGPIPE.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

from captioner import precision
from captioner.errors import CaptionerError
from captioner.settings import Settings, from_environment

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 130, 141


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
    except BrokenPipeError:
        # the reader is gone: nothing more can be shown, and Python's own flush of stdout at
        # exit would fail again, so stdout points at /dev/null from here on
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except Exception as exc:  # noqa: BLE001
        if getattr(args, "debug", False):
            raise
        print(f"내부 오류 / internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


@contextlib.contextmanager
def ctrl_c_stops(
    stop: threading.Event, graceful: Callable[[], bool] = lambda: True
) -> Iterator[None]:
    """While a command runs: the first Ctrl-C sets ``stop`` (generation ends after its
    current step, and the run still reaches its record, its output and its summary); a
    second one interrupts at once, and so does the first while ``graceful()`` is false (a
    model still loading has nothing to keep, and waiting for it would take tens of seconds).
    A KeyboardInterrupt raised inside the chain of event generators ends every one of them
    there, a stopped answer and its record with it. Signal handlers belong to the main
    thread: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_interrupt(signum, frame) -> None:
        if stop.is_set() or not graceful():
            raise KeyboardInterrupt
        stop.set()
        print(
            "\n· 멈추는 중: 지금 단계가 끝나면 멈춥니다 (한 번 더 누르면 즉시)\n"
            "· stopping after the current step (Ctrl-C again: at once)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def writing_to(path) -> Iterator[None]:
    """An OSError while a command writes where the user pointed it (a file in the way, a
    folder it may not write, a full disk) is said in both languages, naming the path."""
    try:
        yield
    except OSError as exc:
        from captioner.errors import InvalidRequest

        raise InvalidRequest.unwritable(path, exc) from exc


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
        **{name: getattr(args, name, None) for name in BACKEND_SETTINGS},
    )
    video.set_cache_limit(built.clip_cache_bytes)
    return built


def user() -> str:
    """This machine's user name ("" where a container has none)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some containers
        return ""


def access(rater: str | None = None):
    """The command line sees every run (whoever runs it can read the file anyway); its runs
    are owned by ``cli:<user>``, its ratings carry ``rater`` (default: the user)."""
    from captioner.runlog import Access

    return Access.cli(user() if rater is None else rater)


def open_log(settings: Settings):
    """The run log of these settings, after marking runs left "running" by a dead process as
    interrupted; an InvalidRequest when the log is off."""
    from captioner import runlog
    from captioner.errors import InvalidRequest

    if settings.db_path is None:
        raise InvalidRequest("실행 기록이 꺼져 있습니다.", "The run log is off.")
    run_log = runlog.RunLog(settings.db_path)
    runlog.recover_interrupted(run_log)
    return run_log


# --- shared options -----------------------------------------------------------------------------
def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", help="run log file, or 'off' (default: $CAPTIONER_DB, /data or ~/.cache)"
    )


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile", help="force a GPU profile (default: detected; also CAPTIONER_PROFILE)"
    )


BACKEND_SETTINGS = ("backend", "base_url", "api_key_env", "server_kind", "video_transport",
                    "concurrency")  # fmt: skip


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    """Where answers come from: this process, or an OpenAI-compatible server."""
    parser.add_argument("--backend", choices=("local", "openai"),
                        help="local model (default) or an OpenAI-compatible server (CAPTIONER_BACKEND)")  # fmt: skip
    parser.add_argument("--base-url", action="append", metavar="URL",
                        help="the server, e.g. http://gpu1:8000/v1; repeat for replicas (CAPTIONER_BASE_URL)")  # fmt: skip
    parser.add_argument("--api-key-env", metavar="NAME",
                        help="environment variable holding the server's API key (OPENAI_API_KEY)")  # fmt: skip
    parser.add_argument("--server-kind", choices=("auto", "vllm", "sglang", "transformers", "openai"),
                        help="the server's dialect (default: asked from the server)")  # fmt: skip
    parser.add_argument("--video-transport", choices=("auto", "data", "path", "url"),
                        help="how clips reach the server (CAPTIONER_VIDEO_TRANSPORT)")  # fmt: skip


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=precision.NAMES)
