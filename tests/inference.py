"""Start a real ``transformers serve`` on a free localhost port for tests, as a user would:
one server answers both tiny checkpoints (it loads the model a request names by path),
with continuous batching for the text model (transformers serves VLMs one at a time)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from appserver import free_port


@contextmanager
def transformers_serve(home: Path, *extra: str, timeout: float = 300):
    """Yields the base URL (http://127.0.0.1:PORT/v1) once /health answers."""
    port = free_port()
    (home / "hub").mkdir(parents=True, exist_ok=True)  # its /v1/models scans this cache
    env = {**os.environ, "HF_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_VERBOSITY": "error"}  # fmt: skip
    log = open(home / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "transformers.cli.transformers", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--continuous-batching", "--log-level", "warning",
         # on a CPU its KV cache would otherwise take 60% of the RAM (14 GB here) beside the
         # suite: 5% (~1.2 GB) holds far more than the tiny models' requests need
         "--cb-max-memory-percent", "0.05", *extra],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    root = f"http://127.0.0.1:{port}"
    try:
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError((home / "serve.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(f"{root}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise TimeoutError(root)
        yield f"{root}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
