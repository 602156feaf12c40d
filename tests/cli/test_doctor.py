"""``python -m captioner doctor``: the decision, in words and JSON, stable from start to start."""

from __future__ import annotations

import json

import pytest
from runcli import cli

from captioner.cli import doctor
from captioner.settings import Settings

SIMULATED = [
    ("Tesla T4:15:7.5", "t4", "Qwen/Qwen3-VL-8B-Instruct", "nf4", "float16"),
    ("NVIDIA L4:22.5:8.9", "l4", "Qwen/Qwen3-VL-8B-Instruct", "bf16", "bfloat16"),
    ("NVIDIA A100-SXM4-40GB:39.5:8.0", "a100-40", "Qwen/Qwen3-VL-8B-Instruct", "bf16", "bfloat16"),
    ("NVIDIA H100 80GB HBM3:79.2:9.0", "h100", "Qwen/Qwen3-VL-32B-Instruct", "bf16", "bfloat16"),
    ("NVIDIA H200:139.8:9.0", "h200", "Qwen/Qwen3-VL-32B-Instruct", "bf16", "bfloat16"),
    ("NVIDIA H100 80GB HBM3:79.2:9.0:8", "multi-gpu", "Qwen/Qwen3-VL-235B-A22B-Instruct", "bf16",
     "bfloat16"),
    ("NVIDIA RTX A6000:48:8.6", "gpu", "Qwen/Qwen3-VL-32B-Instruct", "nf4", "bfloat16"),
]  # fmt: skip


@pytest.mark.parametrize(("gpu", "profile", "model", "precision", "compute"), SIMULATED)
def test_doctor_on_simulated_gpus(gpu, profile, model, precision, compute):
    report = doctor.report_for(Settings(simulate_gpu=gpu).decide())
    assert report["profile"] == profile
    assert (report["video"]["model"], report["video"]["precision"]) == (model, precision)
    assert report["video"]["compute_dtype"] == compute


def test_doctor_cli_json_t4():
    result = cli("doctor", "--json", "--simulate-gpu", "Tesla T4:15:7.5")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["simulated"] and report["profile"] == "t4" and report["device"] == "cuda"
    assert (report["video"]["precision"], report["video"]["compute_dtype"]) == ("nf4", "float16")
    assert report["video"]["max_frames"] == 32 and report["float_precision"] == "fp16"


def test_doctor_bad_simulation_exits_2_without_traceback():
    result = cli("doctor", "--simulate-gpu", "T4")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "오류" in result.stderr and "error" in result.stderr


def test_profile_env_override_and_flag():
    result = cli("doctor", "--json", env={"CAPTIONER_PROFILE": "t4"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["profile"] == "t4"
    flagged = cli("doctor", "--json", "--profile", "l4", env={"CAPTIONER_PROFILE": "t4"})
    assert json.loads(flagged.stdout)["profile"] == "l4"


def test_the_same_answer_at_every_start(tmp_path):
    """Five starts, one answer: the CPU rule plus a measurement cached on disk (a fresh cache
    here, so the first start measures and the others read it)."""
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    answers = set()
    for _ in range(5):
        result = cli("doctor", "--json", env=env)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        answers.add((report["profile"], report["video"]["model"], report["video"]["precision"],
                     report["cpu_bf16_speedup"]))  # fmt: skip
    assert len(answers) == 1


def test_make_tiny_into_a_file_is_a_clear_error(tmp_path):
    from runcli import cli

    taken = tmp_path / "taken"
    taken.write_text("x", encoding="utf-8")
    result = cli("make-tiny", str(taken))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "쓸 수 없습니다" in result.stderr and f"Cannot write to {taken}" in result.stderr
