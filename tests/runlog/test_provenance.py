"""captioner/runlog/provenance.py: the stored request, the resolved prompt, the config key."""

from __future__ import annotations

from dataclasses import dataclass

from runlog.fakes import request

from captioner import engine, prompts, runlog
from captioner.runlog import provenance


def test_prompt_is_resolved_by_the_one_function_the_engine_uses():
    assert provenance.prompt_and_preset(request(preset="summary")) == prompts.resolve_prompt(
        "summary", None
    )
    assert provenance.prompt_and_preset(request()) == (
        prompts.preset(prompts.DEFAULT_PRESET).prompt,
        prompts.DEFAULT_PRESET,
    )
    assert provenance.prompt_and_preset(request(prompt=" 자유 ", preset="summary")) == (
        "자유",
        None,
    )
    # a request the engine will refuse is logged as it was asked
    assert provenance.prompt_and_preset(request(preset="nope")) == (None, "nope")


def test_stored_request_has_no_local_path():
    values = provenance.stored_request(request(video="/home/kim/비밀/clip.mp4"))
    assert values["video"] == "clip.mp4" and "/home" not in str(values)


def test_config_key_covers_new_fields_and_the_resolved_prompt():
    @dataclass(frozen=True)
    class Future(engine.DescribeRequest):
        colour: str = "red"

    assert runlog.config_key(Future(prompt="a")) != runlog.config_key(
        Future(prompt="a", colour="b")
    )
    # a preset's text typed out is another configuration (the preset key is part of it);
    # a preset named by its Korean label is the same one
    text = prompts.preset("summary").prompt
    assert runlog.config_key(request(preset="summary")) != runlog.config_key(request(prompt=text))
    assert runlog.config_key(request(preset="summary")) == runlog.config_key(
        request(preset="한 줄 요약")
    )
