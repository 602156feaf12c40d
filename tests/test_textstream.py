"""Incremental detokenization: Hangul streams per syllable, never a broken character."""

from __future__ import annotations

import random

import pytest

from captioner.dev import tiny
from captioner.textstream import IncrementalDecoder, is_byte_level


@pytest.fixture(scope="module")
def tok():
    return tiny.build_tokenizer()


def test_qwen_tokenizer_is_byte_level(tok):
    assert is_byte_level(tok)


def test_korean_streams_per_syllable_and_joins_exactly(tok):
    text = "숲 속의 커다란 토끼가 나비를 바라봅니다. 漢字 🐰 끝"
    ids = tok(text)["input_ids"]
    decoder = IncrementalDecoder(tok)
    chunks = [decoder.push([i]) for i in ids] + [decoder.flush()]
    assert "".join(chunks) == text
    assert all("\ufffd" not in chunk for chunk in chunks)
    # Every token that completes a character releases it at once: after each token, the
    # stream holds back only the bytes of an unfinished character (decoded as U+FFFD).
    for i in range(1, len(ids) + 1):
        assert "".join(chunks[:i]) == tok.decode(ids[:i]).rstrip("\ufffd")


def test_text_iterator_streamer_lags_on_korean(tok):
    """Why this module exists: transformers' streamer holds Hangul back until a space."""
    import torch
    from transformers import TextIteratorStreamer

    text = "토끼가나비를바라봅니다"
    ids = tok(text)["input_ids"]
    streamer = TextIteratorStreamer(tok)
    decoder = IncrementalDecoder(tok)
    ours = ""
    for i in ids:
        streamer.put(torch.tensor([i]))
        ours += decoder.push([i])
    assert "".join(streamer.text_queue.queue) == ""  # nothing yet, 11 syllables in
    assert ours == text


def test_random_ids_match_decode(tok):
    rng = random.Random(0)
    for _ in range(200):
        ids = [rng.randrange(len(tok)) for _ in range(rng.randrange(1, 30))]
        decoder = IncrementalDecoder(tok)
        streamed = "".join(decoder.push([i]) for i in ids) + decoder.flush()
        assert streamed == tok.decode(ids, skip_special_tokens=True)


def test_special_tokens_are_skipped_and_think_tags_kept(tok):
    ids = tok("<|im_end|>가<think>")["input_ids"]
    decoder = IncrementalDecoder(tok)
    assert decoder.push(ids) + decoder.flush() == "가<think>"
