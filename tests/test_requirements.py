"""The README's first command works where the README says it does: requirements.txt resolves
for every platform we name, from the package index, with binary wheels only.

uv resolves for another platform with that platform's environment markers (pip's
``--platform`` keeps this machine's markers, so it cannot check ``decord``'s). Needs the
package index, as installing the requirements does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PLATFORMS = [
    # (uv's name, extra environment, the readers that must be there)
    ("x86_64-manylinux_2_28", {}, {"decord", "av"}),
    ("aarch64-manylinux_2_28", {}, {"av"}),  # GH200 / Grace, Graviton: no decord wheels
    ("aarch64-apple-darwin", {"MACOSX_DEPLOYMENT_TARGET": "14.0"}, {"av"}),  # torch needs 14+
]


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        pytest.fail("uv is in requirements-dev.txt; install the development requirements")
    return found


@pytest.mark.parametrize(("platform", "env", "readers"), PLATFORMS)
def test_requirements_resolve_on(platform, env, readers, tmp_path):
    out = tmp_path / "resolved.txt"
    result = subprocess.run(
        [_uv(), "pip", "compile", str(ROOT / "requirements.txt"), "--python-platform", platform,
         "--python-version", "3.11", "--only-binary", ":all:", "--quiet", "-o", str(out)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pinned = {line.split("==")[0] for line in out.read_text().splitlines() if "==" in line}
    assert {"torch", "transformers", "gradio"} | readers <= pinned
    assert ("decord" in pinned) == ("decord" in readers)
