"""Run ``python -m captioner ...`` as a user does, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
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
