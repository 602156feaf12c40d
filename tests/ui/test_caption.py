"""The caption tab's logic without gradio: selectors, previews, defaults, the run loop."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from captioner import loader
from captioner.settings import Settings
from captioner.ui import caption
from captioner.ui.form import Form

BBB = str(Path(__file__).resolve().parent.parent.parent / "assets" / "bigbuckbunny.mp4")
T4 = Settings(simulate_gpu="Tesla T4:15:7.5")


def test_profile_choices_start_with_auto_and_the_detected_hardware():
    choices = caption.profile_choices(T4, "ko")
    assert choices[0][1] == "auto" and "Tesla T4" in choices[0][0] and "감지됨" in choices[0][0]
    names = [value for _, value in choices]
    assert {"t4", "l4", "h100", "h200", "multi-gpu"} <= set(names)
    assert "GPU 없음" not in caption.profile_choices(Settings(simulate_gpu="cpu"), "en")[0][0]


def test_model_choices_fit_the_profile_and_mark_video():
    t4 = dict(caption.model_choices(T4, "auto", "en"))
    values = {v: k for k, v in t4.items()}
    assert "Qwen/Qwen3-VL-8B-Instruct" in values and "⭐" in values["Qwen/Qwen3-VL-8B-Instruct"]
    assert "🎬" in values["Qwen/Qwen3-VL-8B-Instruct"] and "📝" in values["Qwen/Qwen3-4B"]
    assert "Qwen/Qwen3-VL-235B-A22B-Instruct" not in values  # does not fit 15 GB
    assert caption.model_choices(T4, "auto", "en")[0][1] == "Qwen/Qwen3-VL-8B-Instruct"
    h200 = [v for _, v in caption.model_choices(T4, "h200", "en")]
    assert "Qwen/Qwen3-VL-32B-Instruct" in h200  # a chosen profile previews its own memory
    local = caption.model_choices(Settings(simulate_gpu="Tesla T4:15:7.5", models=("/m/tiny",)),
                                  "auto", "en")  # fmt: skip
    assert local[0] == ("/m/tiny (📁 local)", "/m/tiny")


def test_preview_says_what_why_and_how_much_memory():
    text = caption.preview(T4, "auto", "Qwen/Qwen3-VL-8B-Instruct", "en")
    assert "NF4 4-bit (float16)" in text and "weights" in text and "frames ≤ 32" in text
    assert "sm75" in text and "가중치" not in text
    refused = caption.preview(T4, "auto", "Qwen/Qwen3-VL-235B-A22B-Instruct", "ko")
    assert refused.startswith("⚠️") and "들어갑니다" in refused
    local = caption.preview(T4, "auto", "/models/tiny", "ko")
    assert "메모리 계획 없이" in local


def test_preview_and_run_plan_for_the_same_machine():
    """The page passes one settings object to both: the run's selection is the preview's."""
    from captioner import engine

    request = Form(video="x.mp4", model="Qwen/Qwen3-VL-8B-Instruct").request()
    assert engine.select(request, T4).reason in caption.preview(T4, "auto", request.model, "en")


def test_sampling_defaults_are_qwens_recommendations(tiny_vl):
    vl = caption.sampling_defaults("Qwen/Qwen3-VL-8B-Instruct")
    assert (vl["temperature"], vl["top_p"], vl["top_k"], vl["presence_penalty"]) == (
        0.7,
        0.8,
        20,
        1.5,
    )
    assert caption.sampling_defaults("Qwen/Qwen3-8B")["top_p"] == 0.8  # non-thinking on the page
    assert caption.sampling_defaults(tiny_vl)["top_k"] == 20  # the folder's generation_config
    assert caption.thinking_available("Qwen/Qwen3-8B")
    assert not caption.thinking_available("Qwen/Qwen3-VL-8B-Instruct")


def test_stream_grows_text_then_metrics(tiny_vl, settings):
    loader.unload()
    form = Form(video=BBB, preset="detail", model=tiny_vl, max_new_tokens=10, seed=0)
    states = list(caption.stream(form, settings, threading.Event()))
    answers = [s.answer for s in states if s.answer]
    assert len(answers) >= 2 and all(
        b.startswith(a) for a, b in zip(answers, answers[1:], strict=False)
    )
    last = states[-1]
    assert last.done and not last.error and last.status == "완료"
    assert "첫 토큰" in last.metrics and "프레임" in last.metrics


def test_stream_in_english_says_everything_in_english(tiny_vl, settings):
    import re

    form = Form(video=BBB, model=tiny_vl, max_new_tokens=6, seed=0, language="English")
    states = list(caption.stream(form, settings, threading.Event()))
    for state in states:
        assert not re.search(r"[\uac00-\ud7a3]", state.status + state.metrics)
    assert states[-1].status == "Done" and "first token" in states[-1].metrics


def test_stream_bad_video_is_a_message_not_a_traceback(tmp_path, tiny_vl, settings):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00" * 100)
    form = Form(video=str(bad), model=tiny_vl, language="English")
    last = list(caption.stream(form, settings, threading.Event()))[-1]
    assert last.error and last.status.startswith("⚠️") and "video" in last.status.lower()


def test_stream_refuses_a_playlist_with_the_message(tmp_path, tiny_vl, settings):
    playlist = tmp_path / "upload.m3u8"
    playlist.write_text(f"#EXTM3U\n#EXTINF:5.0,\n{BBB}\n#EXT-X-ENDLIST\n", encoding="utf-8")
    states = list(
        caption.stream(Form(video=str(playlist), model=tiny_vl), settings, threading.Event())
    )
    last = states[-1]
    assert last.error and last.status.startswith("⚠️")
    assert "지원하는 영상 파일이 아닙니다" in last.status and "MP4/MOV" in last.status
    assert not any(getattr(s.event, "kind", None) == "prepared" for s in states)


def test_stream_without_video_on_a_video_model_asks_for_one(tiny_vl, settings):
    last = list(caption.stream(Form(video=None, model=tiny_vl), settings, threading.Event()))[-1]
    assert last.error and "영상을 올려" in last.status


def test_stream_text_model_without_video_answers(tiny_text, settings):
    form = Form(video=None, prompt="가을을 묘사해 줘", model=tiny_text, max_new_tokens=5, seed=1)
    last = list(caption.stream(form, settings, threading.Event()))[-1]
    assert last.done and not last.error


def test_stream_text_model_with_video_is_refused(tiny_text, settings):
    form = Form(video=BBB, model=tiny_text, language="English")
    last = list(caption.stream(form, settings, threading.Event()))[-1]
    assert last.error and "text-only" in last.status


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_examples_use_the_shipped_clip_and_name_presets_in_the_language(lang):
    rows = caption.examples()
    assert rows and all(Path(clip).exists() for clip, _, _ in rows)
    assert {key for _, key, _ in rows} == {"detail", "timeline", "people", "summary"}
    shown = caption.example_rows(lang)
    assert [row[0] for row in shown] == ["bigbuckbunny.mp4"] * len(rows)
    assert {row[1] for row in shown} <= {label for label, _ in caption.preset_choices(lang)}


def test_the_page_loads_only_the_models_and_adapters_it_offers(settings, tiny_vl):
    from captioner.errors import InvalidRequest

    caption.check_offered(settings, Form(model=tiny_vl))  # an operator's model
    caption.check_offered(settings, Form(model="Qwen/Qwen3-VL-2B-Instruct"))  # fits this CPU
    for model in ("/etc", "/nonexistent/folder", "someone/other-model", "Qwen/Qwen3-235B-A22B"):
        with pytest.raises(InvalidRequest) as info:
            caption.check_offered(settings, Form(model=model))
        assert "does not offer" in info.value.en and model not in info.value.en  # no path oracle
    with pytest.raises(InvalidRequest):
        caption.check_offered(settings, Form(model=tiny_vl, adapter="/tmp/some-lora"))


def test_answers_render_as_text_not_html_or_outside_images():
    shown = caption.safe_markdown(
        "**토끼** <img src=http://x/t.png> ![t](http://x/t.png) <5.0 seconds>"
    )
    assert "<img" not in shown and "![" not in shown  # an image would load on render
    assert "**토끼**" in shown and "&lt;5.0 seconds&gt;" in shown


def test_header_names_the_active_model_and_profile():
    line = caption.active_line(T4, "auto", "Qwen/Qwen3-VL-8B-Instruct", "en")
    assert (
        line.startswith("Active: **Qwen/Qwen3-VL-8B-Instruct**") and "NF4" in line and "t4" in line
    )


def test_stop_switches_are_per_session():
    switches = caption.StopSwitches()
    a, b = switches.start("a"), switches.start("b")
    assert switches.stop("a") and a.is_set() and not b.is_set()
    switches.finish("a", a)
    assert not switches.stop("a")


def test_a_stop_for_a_waiting_request_is_kept_until_it_starts():
    switches = caption.StopSwitches()
    assert not switches.stop("a")  # nothing running, nothing waiting: nothing kept
    assert not switches.start("a").is_set()
    switches.finish("a", switches.start("a"))
    assert switches.stop("a", waiting=True)  # Stop while the request waits in the queue
    assert switches.start("a").is_set()  # it starts stopped
    assert not switches.start("a").is_set()  # and the one after that runs
