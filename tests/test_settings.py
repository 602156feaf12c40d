"""Settings: flags over the environment, read once; nothing writes to the environment."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from captioner import settings as settings_
from captioner.errors import InvalidRequest
from captioner.settings import MiB, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_without_environment(tmp_path):
    s = settings_.from_environment(
        {"XDG_CACHE_HOME": str(tmp_path), "CAPTIONER_DATA_DIR": str(tmp_path / "none")}
    )
    assert s.profile == "auto" and s.models == () and s.queue_size == 16
    assert s.limits.max_file_bytes == 1024 * MiB and s.limits.max_duration_s == 1200
    assert s.db_path == tmp_path / "captioner" / "runs.sqlite3"
    assert s.library == tmp_path / "captioner" / "videos" and s.hub_cache is None
    assert (s.host, s.port, s.zero_gpu, s.simulate_gpu) == ("127.0.0.1", 7860, False, None)


def test_environment_then_flags(tmp_path):
    env = {
        "CAPTIONER_PROFILE": "t4",
        "CAPTIONER_MODEL": "a, ./b",
        "CAPTIONER_MAX_FILE_MB": "50",
        "CAPTIONER_DECODE_TIMEOUT_S": "30",
        "CAPTIONER_DB": "off",
        "GRADIO_SERVER_PORT": "8000",
    }
    s = settings_.from_environment(env)
    assert (s.profile, s.models, s.db_path, s.port) == ("t4", ("a", "./b"), None, 8000)
    assert s.limits.max_file_bytes == 50 * MiB and s.limits.decode_timeout_s == 30
    flagged = settings_.from_environment(env, profile="l4", models=["c"], max_file_mb=7,
                                         db=str(tmp_path / "r.db"), port=None)  # fmt: skip
    assert (flagged.profile, flagged.models, flagged.port) == ("l4", ("c",), 8000)
    assert flagged.limits.max_file_bytes == 7 * MiB and flagged.limits.decode_timeout_s == 30
    assert flagged.db_path == tmp_path / "r.db"


@pytest.mark.parametrize("bad", ["lots", "-1", "0", "nan", "inf"])
def test_bad_numbers_are_bilingual_errors(bad):
    with pytest.raises(InvalidRequest) as info:
        settings_.from_environment({"CAPTIONER_MAX_DURATION_S": bad})
    assert (
        "CAPTIONER_MAX_DURATION_S" in info.value.en
        and "환경 변수" in info.value.ko
        or "0보다" in info.value.ko
    )


@pytest.mark.parametrize(
    ("name", "bad"),
    [("CAPTIONER_QUEUE_SIZE", "0.5"), ("CAPTIONER_QUEUE_SIZE", "0"), ("GRADIO_SERVER_PORT", "99999"),
     ("CAPTIONER_CONCURRENCY", "2.5"), ("GRADIO_SERVER_PORT", "http")],
)  # fmt: skip
def test_counts_are_whole_numbers_in_their_range(name, bad):
    # "0.5" became a queue of 0 through int(); a port past 65535 failed only at launch
    with pytest.raises(InvalidRequest) as info:
        settings_.from_environment({name: bad})
    assert name in info.value.en and name in info.value.ko and "whole number" in info.value.en
    assert settings_.from_environment({"GRADIO_SERVER_PORT": "65535"}).port == 65535


def test_a_space_with_persistent_storage_keeps_caches_and_the_log_there(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = settings_.from_environment({"CAPTIONER_DATA_DIR": str(data)})
    assert s.data_dir == data and s.db_path == data / "captioner" / "runs.sqlite3"
    assert s.hub_cache == str(data / "huggingface" / "hub")
    assert (
        settings_.from_environment({"CAPTIONER_DATA_DIR": str(data), "HF_HOME": "/x"}).hub_cache
        is None
    )


def test_zerogpu_plans_for_the_slice_it_lends():
    s = settings_.from_environment({"SPACES_ZERO_GPU": "1"})
    assert s.zero_gpu and s.hardware.simulated and s.hardware.gpus[0].capability == (9, 0)
    assert s.decide().runtime.float_precision == "bf16"


def test_a_simulated_machine_plans_without_detecting():
    s = Settings(simulate_gpu="Tesla T4:15:7.5")
    assert s.hardware is s.hardware and s.decide().profile.name == "t4"


def _reads_torch_switch(path, node, tree) -> bool:
    """The one read outside settings.py: hardware.py reads PyTorch's own ATEN_CPU_CAPABILITY
    (which kernels torch runs is a fact about the machine, like /proc/cpuinfo, not a setting
    of ours) as ``os.environ.get("ATEN_CPU_CAPABILITY", ...)``."""
    if path.name != "hardware.py":
        return False
    for call in ast.walk(tree):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.value is node
            and call.func.attr == "get"
        ):
            return ast.literal_eval(call.args[0]) == "ATEN_CPU_CAPABILITY"
    return False


def test_only_settings_reads_the_environment_and_nothing_writes_it():
    """The config bus is gone: os.environ appears in settings.py only, and is never written."""
    offenders = []
    for path in sorted((ROOT / "captioner").rglob("*.py")) + [ROOT / "app.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
                if path.name != "settings.py" and not _reads_torch_switch(path, node, tree):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                "setdefault",
                "update",
            ):
                target = ast.unparse(node.func.value)
                if "environ" in target:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} writes {target}")
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any("environ" in ast.unparse(t) for t in targets):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} writes")
    assert offenders == []
