"""The page's logic without gradio: selectors, previews, defaults, the run loop."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from captioner import hardware, loader, webui

BBB = str(Path(__file__).resolve().parent.parent / "assets" / "bigbuckbunny.mp4")
T4 = hardware.simulate("Tesla T4:15:7.5")


def test_every_text_has_korean_and_english():
    for key, (ko, en) in webui.TEXTS.items():
        assert ko and en, key
    assert webui.t("generate", "ko") == "생성" and webui.t("generate", "en") == "Generate"


def test_profile_choices_start_with_auto_and_the_detected_hardware():
    choices = webui.profile_choices(T4, "ko")
    assert choices[0][1] == "auto" and "Tesla T4" in choices[0][0] and "감지됨" in choices[0][0]
    names = [value for _, value in choices]
    assert {"t4", "l4", "h100", "h200", "multi-gpu"} <= set(names)


def test_model_choices_fit_the_profile_and_mark_video():
    t4 = dict(webui.model_choices("auto", T4, "en"))
    values = {v: k for k, v in t4.items()}
    assert "Qwen/Qwen3-VL-8B-Instruct" in values and "⭐" in values["Qwen/Qwen3-VL-8B-Instruct"]
    assert "🎬" in values["Qwen/Qwen3-VL-8B-Instruct"] and "📝" in values["Qwen/Qwen3-4B"]
    assert "Qwen/Qwen3-VL-235B-A22B-Instruct" not in values  # does not fit 15 GB
    first = webui.model_choices("auto", T4, "en")[0][1]
    assert first == "Qwen/Qwen3-VL-8B-Instruct"  # the recommended video model first
    h200 = [v for _, v in webui.model_choices("h200", T4, "en")]
    assert "Qwen/Qwen3-VL-32B-Instruct" in h200  # a chosen profile previews its own memory
    local = webui.model_choices("auto", T4, "en", extra=("/models/tiny",))
    assert local[0] == ("/models/tiny (📁 local)", "/models/tiny")


def test_preview_says_what_why_and_how_much_memory():
    text = webui.preview("auto", "Qwen/Qwen3-VL-8B-Instruct", "en", T4)
    assert "NF4 4-bit (float16)" in text and "weights" in text and "frames ≤ 32" in text
    assert "sm75" in text
    refused = webui.preview("auto", "Qwen/Qwen3-VL-235B-A22B-Instruct", "ko", T4)
    assert refused.startswith("⚠️") and "들어갑니다" in refused
    local = webui.preview("auto", "/models/tiny", "ko", T4)
    assert "메모리 계획 없이" in local


def test_sampling_defaults_are_qwens_recommendations(tiny_vl):
    vl = webui.sampling_defaults("Qwen/Qwen3-VL-8B-Instruct")
    assert (vl["temperature"], vl["top_p"], vl["top_k"], vl["presence_penalty"]) == (
        0.7,
        0.8,
        20,
        1.5,
    )
    text = webui.sampling_defaults("Qwen/Qwen3-8B")
    assert text["top_p"] == 0.8  # non-thinking by default on the page
    assert webui.sampling_defaults(tiny_vl)["top_k"] == 20  # from the folder's generation_config
    assert webui.thinking_available("Qwen/Qwen3-8B") and not webui.thinking_available(
        "Qwen/Qwen3-VL-8B-Instruct"
    )


def test_gpu_seconds_grow_with_frames_and_tokens():
    assert webui.gpu_seconds(8, 256) < webui.gpu_seconds(64, 4096) <= 300


def test_run_streams_growing_text_then_metrics(tiny_vl):
    loader.unload()
    form = webui.Form(video=BBB, preset="detail", model=tiny_vl, max_new_tokens=10, seed=0)
    states = list(webui.run(form, threading.Event()))
    answers = [s.answer for s in states if s.answer]
    assert len(answers) >= 2 and all(
        b.startswith(a) for a, b in zip(answers, answers[1:], strict=False)
    )
    last = states[-1]
    assert last.done and not last.error and last.status == "완료"
    assert "첫 토큰" in last.metrics and "프레임 " in last.metrics


def test_run_bad_video_is_a_message_not_a_traceback(tmp_path, tiny_vl):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00" * 100)
    last = list(webui.run(webui.Form(video=str(bad), model=tiny_vl, lang="en"), threading.Event()))[
        -1
    ]
    assert last.error and last.status.startswith("⚠️") and "video" in last.status.lower()


def test_run_refuses_a_playlist_with_the_message(tmp_path, tiny_vl):
    playlist = tmp_path / "upload.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXTINF:5.0,\n{BBB}\n#EXT-X-ENDLIST\n", encoding="utf-8")
    states = list(webui.run(webui.Form(video=str(playlist), model=tiny_vl), threading.Event()))
    last = states[-1]
    assert last.error and last.status.startswith("⚠️")
    assert "지원하는 영상 파일이 아닙니다" in last.status and "MP4/MOV" in last.status
    assert not any(getattr(s.event, "kind", None) == "prepared" for s in states)


def test_run_without_video_on_a_video_model_asks_for_one(tiny_vl):
    last = list(webui.run(webui.Form(video=None, model=tiny_vl), threading.Event()))[-1]
    assert last.error and "영상을 올려" in last.status


def test_run_text_model_without_video_answers(tiny_text):
    form = webui.Form(
        video=None, prompt="가을을 묘사해 줘", model=tiny_text, max_new_tokens=5, seed=1
    )
    last = list(webui.run(form, threading.Event()))[-1]
    assert last.done and not last.error


def test_run_text_model_with_video_is_refused(tiny_text):
    last = list(webui.run(webui.Form(video=BBB, model=tiny_text, lang="en"), threading.Event()))[-1]
    assert last.error and "text-only" in last.status


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_examples_use_the_shipped_clip(lang):
    rows = webui.examples()
    assert rows and all(Path(row[0]).exists() for row in rows)
    assert {row[1] for row in rows} <= {key for _, key in webui.preset_choices(lang)}


def test_header_names_the_active_model_and_profile():
    line = webui.active_line("auto", "Qwen/Qwen3-VL-8B-Instruct", "en", T4)
    assert (
        line.startswith("Active: **Qwen/Qwen3-VL-8B-Instruct**") and "NF4" in line and "t4" in line
    )
