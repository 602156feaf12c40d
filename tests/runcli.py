"""Run ``python -m captioner ...`` as a user does, for the CLI tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BBB = ROOT / "assets" / "bigbuckbunny.mp4"


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    if "CAPTIONER_PROFILE" not in (env or {}):
        full_env.pop("CAPTIONER_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "captioner", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def interrupted(
    *args: str, ready: Callable[[str, str], bool], env: dict | None = None, timeout: float = 300
) -> tuple[bool, subprocess.CompletedProcess]:
    """Run ``python -m captioner ...``, press Ctrl-C once (SIGINT) as soon as ``ready(stdout,
    stderr so far)`` holds, and wait for the command to end. Returns (whether the signal was
    sent before the command ended by itself, the result)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "captioner", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    while (
        proc.poll() is None and not ready("".join(out), "".join(err))
        and time.monotonic() < deadline
    ):  # fmt: skip
        time.sleep(0.05)
    sent = proc.poll() is None
    if sent:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    for reader in readers:
        reader.join(timeout=10)
    return sent, subprocess.CompletedProcess(proc.args, proc.returncode, "".join(out), "".join(err))


def _drain(stream, into: list[str]) -> None:
    for chunk in iter(lambda: stream.read(1), ""):
        into.append(chunk)
