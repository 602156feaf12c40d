"""Korean output quality: keep Chinese characters (and kana) out of Korean answers, never
emit a broken character, and check the script mix of an answer.

Qwen3 models slip Chinese characters, sometimes whole Chinese phrases, into Korean answers.
``logits_processor(...)`` returns a ``transformers.LogitsProcessor`` that makes such tokens
impossible to sample (their score becomes -inf before temperature / top-k / top-p), so
greedy decoding and sampling both respect it.

What is blocked (Korean mode, the default):

* every token whose text contains a Han character: ``HAN_RANGES`` = CJK Unified Ideographs
  and extensions A-I (all of planes 2 and 3, which Unicode reserves for ideographs, so later
  extensions are covered too), CJK Compatibility Ideographs (+ Supplement), the CJK and
  Kangxi radicals, and the few other Han-script marks (々 〇 〡-〩 〸-〻, U+16FE2-3, U+16FF0-6):
  every character of Unicode's Script=Han (tests/test_korean.py checks this against ``regex``).
  Radicals are included: a Korean answer never needs them, and a model that writes them is
  writing Chinese. Ideographic description characters and CJK punctuation (、。「」) are not
  Han letters and stay allowed;
* Japanese kana (``KANA_RANGES``: Script=Hiragana/Katakana, with the kana voiced-sound
  marks): Qwen also slips it in now and then, and it is never Korean.
  ``allow_hanja`` lifts the Han block only (한자 병기 needs Han, not kana). The katakana
  middle dot ・ (U+30FB) and ー (U+30FC) stay allowed: Korean text uses ・ as 가운뎃점;
* byte fragments that can only become one of those: Qwen's BPE is byte-level, so a token can
  end with an incomplete UTF-8 sequence. For that trailing prefix we compute the range of
  code points that every valid completion falls in; if the whole range is Han (or kana), the
  token is blocked. E.g. a lone lead byte E5-E9 can only become U+5000-U+9FFF (all Han);
  E4 may still become a Yijing hexagram (U+4DC0-4DFF), so E4 alone is kept, but E4 B8 can only
  become U+4E00-U+4E3F and is blocked. EA-ED (Hangul syllables) are always kept;
* tokens that start with UTF-8 continuation bytes cannot be judged alone: what they complete
  depends on the bytes the previous token left pending (B8 80 after E4 is 一, after EA it is
  글). So the processor tracks, per sequence, the incomplete bytes at the end of the answer,
  and at each step allows exactly the continuation tokens that finish (or extend) that
  pending character into a non-blocked one, and nothing else. With nothing pending, tokens
  that start with continuation bytes are blocked (they could only make U+FFFD). Tokens that
  spell U+FFFD itself are blocked too (Qwen's vocabulary has nine, "\ufffd", "\ufffdt" and
  the like, learnt from mis-decoded text; one surfaced in a sampled answer), and so is a
  pending character completed into it. A side effect we want: the answer is always valid
  UTF-8 (with ``allow_hanja`` too: the processor then blocks only kana, broken characters
  and padding rows), so the stream never shows U+FFFD (a character cut off by the token
  limit is dropped at the end by ``generation``);
* embedding rows past the tokenizer's length (Qwen3 pads 151,669 tokens to 151,936 rows):
  they are no token at all, decode to nothing, and a trained model gives them ~no mass;
  blocking them costs nothing and keeps a random test model from emitting empty steps.

Reasoning inside ``<think>...</think>`` is not constrained: it is not the answer, and Qwen3
may reason in Chinese or English; constraining it could only hurt the reasoning.

The tables are built once per tokenizer (~0.3 s for Qwen's 151,669 tokens; cached per
tokenizer object and by name/size), the per-step work is one ``masked_fill`` over the
vocabulary with a cached mask on the scores' device (after an incomplete character: keep
the few ids that may follow it) plus a few bytes of bookkeeping:
``captioner.dev.measure.korean_mask_overhead()`` times it against a decoding step of a
real-size Qwen3 on this machine (``python -m captioner bench --korean``).

``check(text)`` reports the Hangul share among letters and warns about other scripts; the
generation ``Done`` event carries it.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
import unicodedata
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

from captioner.textstream import byte_decoder, is_byte_level, token_id

# --- scripts -------------------------------------------------------------------------------
HAN_RANGES: tuple[tuple[int, int], ...] = (
    (0x2E80, 0x2EFF),  # CJK Radicals Supplement
    (0x2F00, 0x2FDF),  # Kangxi Radicals
    (0x3005, 0x3005),  # 々 ideographic iteration mark
    (0x3007, 0x3007),  # 〇 ideographic number zero
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3038, 0x303B),  # Hangzhou numerals 10-30, vertical iteration mark
    (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0x16FE2, 0x16FE3),  # Old Chinese hook and iteration marks
    (0x16FF0, 0x16FF6),  # Vietnamese alternate reading marks and later Han-script marks
    (0x20000, 0x3FFFF),  # planes 2-3: extensions B-I (and later), compatibility supplement
)
KANA_RANGES: tuple[tuple[int, int], ...] = (
    (0x3040, 0x309F),  # Hiragana (with the combining voiced sound marks)
    (0x30A0, 0x30FA),  # Katakana, up to ヺ (・ U+30FB and ー U+30FC stay allowed)
    (0x30FD, 0x30FF),  # ヽ ヾ ヿ
    (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
    (0x32D0, 0x32FE),  # circled katakana
    (0x3300, 0x3357),  # squared katakana words (the units after them, ㎏ ㎝, stay allowed)
    (0xFF66, 0xFF6F),  # halfwidth katakana ｦ-ｯ
    (0xFF71, 0xFF9F),  # halfwidth katakana ｱ-ﾟ
    (0x1AFF0, 0x1B16F),  # Kana Extended-B, Kana Supplement, Kana Extended-A, Small Kana Ext.
    (0x1F200, 0x1F200),  # squared hiragana ほか
)
HANGUL_RANGES: tuple[tuple[int, int], ...] = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xAC00, 0xD7AF),  # Hangul Syllables
    (0xD7B0, 0xD7FF),  # Hangul Jamo Extended-B
    (0xFFA0, 0xFFDC),  # halfwidth Hangul
)
REPLACEMENT = "\ufffd"  # what a broken character shows as: never part of an answer


def _char_class(ranges: tuple[tuple[int, int], ...]) -> re.Pattern:
    return re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]")


_HAN_RE = _char_class(HAN_RANGES)
_KANA_RE = _char_class(KANA_RANGES)


class _Ranges:
    """A set of code points as sorted, merged intervals."""

    def __init__(self, *groups: tuple[tuple[int, int], ...]) -> None:
        merged: list[list[int]] = []
        for lo, hi in sorted(r for group in groups for r in group):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.starts = [lo for lo, _ in merged]
        self.ends = [hi for _, hi in merged]

    def __contains__(self, cp: int) -> bool:
        i = bisect.bisect_right(self.starts, cp) - 1
        return i >= 0 and cp <= self.ends[i]

    def covers(self, lo: int, hi: int) -> bool:
        """Is every valid code point in [lo, hi] in the set? (Surrogates are not characters.)"""
        if lo <= 0xDFFF and hi >= 0xD800:
            parts = [(lo, min(hi, 0xD7FF)), (max(lo, 0xE000), hi)]
            return all(self.covers(a, b) for a, b in parts if a <= b)
        i = bisect.bisect_right(self.starts, lo) - 1
        return i >= 0 and hi <= self.ends[i]


_HAN = _Ranges(HAN_RANGES)
_KANA = _Ranges(KANA_RANGES)
_HANGUL = _Ranges(HANGUL_RANGES)
_HAN_KANA = _Ranges(HAN_RANGES, KANA_RANGES)


# --- UTF-8 prefixes --------------------------------------------------------------------------
def _is_cont(byte: int) -> bool:
    return 0x80 <= byte <= 0xBF


def _seq_len(lead: int) -> int:
    """Length of the UTF-8 sequence a lead byte starts; 0 for an invalid lead byte."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def completions(prefix: bytes) -> tuple[int, int] | None:
    """The code points [lo, hi] that the incomplete UTF-8 sequence ``prefix`` can still become.

    None when ``prefix`` is not the start of any valid character (or is already complete).
    Each byte still missing contributes 6 free bits, so the completions form one range; the
    range is clipped to what the lead byte may encode (no overlong forms, <= U+10FFFF)."""
    if not prefix:
        return None
    n = _seq_len(prefix[0])
    if n < 2 or len(prefix) >= n or not all(_is_cont(b) for b in prefix[1:]):
        return None
    cp = prefix[0] & (0xFF >> (n + 1))
    for byte in prefix[1:]:
        cp = (cp << 6) | (byte & 0x3F)
    free = 6 * (n - len(prefix))
    lo = max(cp << free, (0x80, 0x800, 0x10000)[n - 2])
    hi = min((cp << free) | ((1 << free) - 1), 0x10FFFF)
    if lo > hi or (lo >= 0xD800 and hi <= 0xDFFF):
        return None
    return lo, hi


def pending_tail(data: bytes) -> bytes:
    """The incomplete character at the end of ``data`` (b"" when it ends on a boundary)."""
    for k in range(1, min(3, len(data)) + 1):
        byte = data[-k]
        if _is_cont(byte):
            continue
        tail = data[-k:]
        return tail if completions(tail) is not None else b""
    return b""


# --- per-token analysis --------------------------------------------------------------------
@dataclass(frozen=True)
class _Token:
    lead: bytes  # leading continuation bytes: judged only against what is pending
    han: bool  # a complete Han character in the rest
    pure_han: bool  # ...and nothing but Han (and spaces)
    kana: bool
    tail: str  # what the trailing incomplete character can only become: han|kana|hankana|""
    invalid: bool  # broken UTF-8 inside the token, or U+FFFD spelled out (9 Qwen tokens)


_PLAIN = _Token(b"", False, False, False, "", False)


def _analyse(data: bytes) -> _Token:
    lead_len = 0
    while lead_len < len(data) and _is_cont(data[lead_len]):
        lead_len += 1
    lead, rest = data[:lead_len], data[lead_len:]
    tail = pending_tail(rest)
    body = rest[: len(rest) - len(tail)]
    try:
        text = body.decode("utf-8")
        invalid = lead_len > 3 or REPLACEMENT in text
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="ignore")
        invalid = True
    han = bool(_HAN_RE.search(text))
    kana = bool(_KANA_RE.search(text))
    pure_han = han and all(ord(c) in _HAN or c.isspace() for c in text)
    kind = ""
    if tail:
        lo, hi = completions(tail)  # type: ignore[misc]
        kind = (
            "han"
            if _HAN.covers(lo, hi)
            else "kana"
            if _KANA.covers(lo, hi)
            else "hankana"
            if _HAN_KANA.covers(lo, hi)
            else ""
        )
    if not (lead or han or kana or kind or invalid):
        return _PLAIN
    return _Token(lead, han, pure_han, kana, kind, invalid)


# --- vocabulary tables (once per tokenizer) ----------------------------------------------------
@dataclass(frozen=True)
class MaskStats:
    """How many vocabulary rows one mask blocks when nothing is pending, and why."""

    rows: int  # embedding rows (the model's vocab_size)
    tokens: int  # tokens the tokenizer knows
    blocked: int  # rows blocked with nothing pending (the sum of the blocked groups below)
    han_tokens: int  # tokens containing a Han character (blocked unless allow_hanja)
    pure_han_tokens: int  # ...of which nothing but Han (and spaces)
    han_fragments: int  # tokens ending in bytes that can only become Han
    kana_tokens: int  # tokens containing kana (without Han)
    kana_fragments: int  # tokens ending in bytes that can only become kana
    leading_continuation: int  # start with continuation bytes: only allowed after a prefix
    invalid: int  # broken UTF-8 inside the token, or U+FFFD spelled out
    padding_rows: int  # rows past the tokenizer's length
    build_s: float  # seconds to build the vocabulary tables and this mask

    def to_dict(self) -> dict:
        return asdict(self)


class _Vocab:
    """Per-tokenizer tables: each row's bytes and its analysis (independent of the mode)."""

    def __init__(self, tokenizer, rows: int) -> None:

        started = time.perf_counter()
        n = len(tokenizer)
        self.rows = max(rows, n)
        self.tokens = n
        added = dict(getattr(tokenizer, "added_tokens_decoder", {}) or {})
        special = set(getattr(tokenizer, "all_special_ids", []) or [])
        self.think_start = token_id(tokenizer, "<think>")
        self.think_end = token_id(tokenizer, "</think>")
        names = tokenizer.convert_ids_to_tokens(list(range(n)))
        table = {ord(char): byte for char, byte in byte_decoder().items()}
        byte_level = is_byte_level(tokenizer)
        self.data: list[bytes] = []
        self.added: set[int] = set()
        analysis: dict[int, _Token] = {}
        for index, name in enumerate(names):
            if index in added:
                # special tokens decode to nothing (as in textstream); the others to their text
                self.added.add(index)
                is_special = index in special or added[index].special
                self.data.append(b"" if is_special else added[index].content.encode("utf-8"))
                continue
            if name is None:
                self.data.append(b"")
                continue
            if byte_level:
                data = name.translate(table).encode("latin-1")
            else:  # e.g. SentencePiece: judge the decoded text, no byte fragments
                data = tokenizer.convert_tokens_to_string([name]).encode("utf-8")
            self.data.append(data)
            token = _analyse(data)
            if token is not _PLAIN:
                analysis[index] = token
        self.analysis = analysis
        self.build_s = time.perf_counter() - started
        self.masks: dict[tuple[bool, bool], _Masks] = {}
        self.lock = threading.Lock()

    def masks_for(self, block_han: bool, block_kana: bool) -> _Masks:
        key = (block_han, block_kana)
        with self.lock:
            if key not in self.masks:
                self.masks[key] = _Masks(self, block_han, block_kana)
            return self.masks[key]


class _Masks:
    """The masks of one mode: the static one (nothing pending), and per pending prefix the
    few ids that may follow it."""

    def __init__(self, vocab: _Vocab, block_han: bool, block_kana: bool) -> None:
        import torch

        started = time.perf_counter()
        self.vocab = vocab
        self.block_han, self.block_kana = block_han, block_kana
        groups = ((HAN_RANGES,) if block_han else ()) + ((KANA_RANGES,) if block_kana else ())
        # U+FFFD in every mode: a pending character is never completed into it either
        self.blocked_set = _Ranges(((ord(REPLACEMENT), ord(REPLACEMENT)),), *groups)
        blocked = torch.zeros(vocab.rows, dtype=torch.bool)
        blocked[vocab.tokens :] = True  # padding rows: no token behind them
        counts = dict.fromkeys(
            ("han", "pure_han", "han_frag", "kana", "kana_frag", "lead", "invalid"), 0
        )
        by_lead: dict[bytes, tuple[list[int], list[int]]] = {}
        blocked_ids: list[int] = []
        for index, token in vocab.analysis.items():
            rest_blocked = self._rest_blocked(token)
            if token.lead or rest_blocked:
                blocked_ids.append(index)
            if token.invalid:
                counts["invalid"] += 1
            elif token.lead:
                counts["lead"] += 1
            elif block_han and token.han:
                counts["han"] += 1
                counts["pure_han"] += token.pure_han
            elif block_kana and token.kana:
                counts["kana"] += 1
            elif rest_blocked:
                counts["han_frag" if token.tail in ("han", "hankana") else "kana_frag"] += 1
            if token.lead and not rest_blocked and len(token.lead) <= 3:
                complete, pure = by_lead.setdefault(token.lead, ([], []))
                complete.append(index)
                if len(token.lead) == len(vocab.data[index]):
                    pure.append(index)
        blocked[torch.tensor(blocked_ids, dtype=torch.long)] = True
        self.static = blocked
        self.by_lead = {
            lead: (torch.tensor(c, dtype=torch.long), torch.tensor(p, dtype=torch.long))
            for lead, (c, p) in by_lead.items()
        }
        self._pending: dict[bytes, Any] = {}
        self._on_device: dict[tuple[bytes, str, int], Any] = {}
        self.lock = threading.Lock()
        padding = vocab.rows - vocab.tokens
        self.stats = MaskStats(
            rows=vocab.rows,
            tokens=vocab.tokens,
            blocked=int(blocked.sum()),
            han_tokens=counts["han"],
            pure_han_tokens=counts["pure_han"],
            han_fragments=counts["han_frag"],
            kana_tokens=counts["kana"],
            kana_fragments=counts["kana_frag"],
            leading_continuation=counts["lead"],
            invalid=counts["invalid"],
            padding_rows=padding,
            build_s=round(vocab.build_s + time.perf_counter() - started, 3),
        )

    def _rest_blocked(self, token: _Token) -> bool:
        """Is the token blocked for what follows its leading continuation bytes?"""
        if token.invalid:
            return True
        if (self.block_han and token.han) or (self.block_kana and token.kana):
            return True
        tail = token.tail
        return (
            (tail == "han" and self.block_han)
            or (tail == "kana" and self.block_kana)
            or (tail == "hankana" and self.block_han and self.block_kana)
        )

    def blocked_char(self, cp: int) -> bool:
        return cp in self.blocked_set

    def pending_allowed(self, pending: bytes):
        """The token ids allowed when ``pending`` (an incomplete character) ends the answer.

        Only tokens whose leading continuation bytes finish it into an allowed character
        (and whose rest is allowed), or extend it into a prefix that can still become an
        allowed one, may follow; anything else would break the character (U+FFFD) or make a
        blocked one. A short list (a few to ~140 ids), cached per prefix."""
        with self.lock:
            allowed = self._pending.get(pending)
            if allowed is None:
                allowed = self._pending[pending] = self._build_pending(pending)
            return allowed

    def _build_pending(self, pending: bytes):
        import torch

        allowed = []
        need = _seq_len(pending[0]) - len(pending) if completions(pending) else 0
        for lead, (complete, pure) in self.by_lead.items():
            joined = pending + lead
            if len(lead) == need:
                try:
                    char = joined.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if not self.blocked_char(ord(char)):
                    allowed.append(complete)
            elif len(lead) < need:
                span = completions(joined)
                if span is not None and not self.blocked_set.covers(*span):
                    allowed.append(pure)
        if not allowed:
            return torch.zeros(0, dtype=torch.long)
        return torch.cat(allowed).sort().values

    def pending_mask(self, pending: bytes):
        """The bool mask (True = blocked) over the rows after ``pending`` bytes."""
        import torch

        mask = torch.ones(self.vocab.rows, dtype=torch.bool)
        mask[self.pending_allowed(pending)] = False
        return mask

    def on_device(self, pending: bytes, device, width: int):
        """For the scores' device and width: the static bool mask (nothing pending) or the
        allowed ids after ``pending``."""
        key = (pending, str(device), width)
        value = self._on_device.get(key)
        if value is None:
            import torch

            if pending:
                allowed = self.pending_allowed(pending)
                value = allowed[allowed < width].to(device)
            else:
                base = self.static
                if width != base.shape[0]:  # scores narrower or wider than the rows
                    extra = torch.ones(max(0, width - base.shape[0]), dtype=torch.bool)
                    base = torch.cat([base[:width], extra])
                value = base.to(device)
            with self.lock:
                self._on_device[key] = value
        return value


_CACHE: dict[tuple, _Vocab] = {}  # by (class, name_or_path, length, rows) for named ones
_BY_OBJECT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # and per tokenizer object
_CACHE_LOCK = threading.Lock()


def vocab_tables(tokenizer, rows: int | None = None) -> _Vocab:
    """The tables for ``tokenizer``, built once (~0.3 s for Qwen's vocabulary) and cached
    per tokenizer object and, for a tokenizer loaded from a checkpoint, by its name and size
    (a reload of the same model reuses them). Nothing is stored on the tokenizer itself: it
    must stay deep-copyable and picklable."""
    rows = max(rows or 0, len(tokenizer))
    name = getattr(tokenizer, "name_or_path", "") or ""
    key = (type(tokenizer).__name__, name, len(tokenizer), rows) if name else None
    with _CACHE_LOCK:
        try:
            vocab = _BY_OBJECT.get(tokenizer)
        except TypeError:  # pragma: no cover - an unhashable tokenizer
            vocab = None
        if vocab is None or vocab.rows != rows:
            vocab = _CACHE.get(key) if key else None
        if vocab is None:
            vocab = _Vocab(tokenizer, rows)
            if key:
                _CACHE[key] = vocab
                while len(_CACHE) > 4:  # a few models' worth (~10 MB each)
                    del _CACHE[next(iter(_CACHE))]
        try:
            _BY_OBJECT[tokenizer] = vocab
        except TypeError:  # pragma: no cover
            pass
    return vocab


def clear_tables() -> None:
    """Forget every tokenizer's tables (the next use builds them again)."""
    with _CACHE_LOCK:
        _CACHE.clear()
        _BY_OBJECT.clear()


def mask_stats(
    tokenizer, rows: int | None = None, *, allow_hanja: bool = False, block_kana: bool = True
) -> MaskStats:
    return vocab_tables(tokenizer, rows).masks_for(not allow_hanja, block_kana).stats


def bias_token_ids(tokenizer, *, allow_hanja: bool = False, block_kana: bool = True) -> list[int]:
    """The ids a server can block with ``logit_bias`` (a static mask, for the OpenAI-compatible
    backend): tokens that contain a blocked character or end in bytes that can only become
    one, whatever comes before them. What a static bias cannot do: the pending-prefix rule
    above (a kept lead byte completed into Han by a continuation token, e.g. E4 + B8 80 = 一)
    and broken UTF-8, which the local processor also blocks; padding rows are left out
    (servers refuse ids past the tokenizer)."""
    vocab = vocab_tables(tokenizer)
    masks = vocab.masks_for(not allow_hanja, block_kana)
    return sorted(i for i, token in vocab.analysis.items() if masks._rest_blocked(token))


# --- the logits processor ----------------------------------------------------------------------
def logits_processor(
    tokenizer,
    rows: int | None = None,
    *,
    prompt_len: int,
    allow_hanja: bool = False,
    block_kana: bool = True,
    thinking: bool = False,
):
    """A ``transformers.LogitsProcessor`` for one generation (it tracks each sequence's state).

    ``rows``: the model's vocab_size (embedding rows); ``prompt_len``: where the answer starts
    in ``input_ids``; ``thinking``: the prompt left a ``<think>`` block open."""
    masks = vocab_tables(tokenizer, rows).masks_for(not allow_hanja, block_kana)
    return _processor_class()(masks, prompt_len, thinking)


_PROCESSOR_CLASS = None


def _processor_class():
    global _PROCESSOR_CLASS
    if _PROCESSOR_CLASS is not None:
        return _PROCESSOR_CLASS
    import torch
    from transformers import LogitsProcessor

    class KoreanLogitsProcessor(LogitsProcessor):
        """Blocks Han (unless allowed), kana, broken UTF-8 and padding rows in the answer."""

        def __init__(self, masks: _Masks, prompt_len: int, thinking: bool) -> None:
            self.masks = masks
            self.prompt_len = prompt_len
            self.start_thinking = thinking
            self.states: list[list] | None = None  # per row: [pending bytes, thinking]
            self.seen = prompt_len

        def _update(self, input_ids: torch.LongTensor) -> None:
            if self.states is None or len(self.states) != input_ids.shape[0]:
                self.states = [[b"", self.start_thinking] for _ in range(input_ids.shape[0])]
                self.seen = self.prompt_len
            if input_ids.shape[1] <= self.seen:
                return
            vocab = self.masks.vocab
            data = vocab.data
            known = len(data)
            for state, ids in zip(self.states, input_ids[:, self.seen :].tolist(), strict=True):
                for token in ids:
                    if token == vocab.think_start:
                        state[0], state[1] = b"", True
                    elif token == vocab.think_end:
                        state[0], state[1] = b"", False
                    elif not state[1] and token < known:
                        state[0] = pending_tail(state[0] + data[token])
            self.seen = input_ids.shape[1]

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor):
            self._update(input_ids)
            keys = [None if thinking else pending for pending, thinking in self.states]
            if all(key == keys[0] for key in keys):  # always so for one sequence
                return self._masked(scores, keys[0])
            out = scores.clone()
            for row, key in enumerate(keys):
                out[row : row + 1] = self._masked(scores[row : row + 1], key)
            return out

        def _masked(self, scores: torch.FloatTensor, pending: bytes | None):
            if pending is None:  # inside <think>: reasoning is not constrained
                return scores
            device, width = scores.device, scores.shape[-1]
            if pending:
                allowed = self.masks.on_device(pending, device, width)
                if allowed.numel():  # (never empty for a prefix this processor let through)
                    out = torch.full_like(scores, float("-inf"))
                    out[:, allowed] = scores[:, allowed]
                    return out
            return scores.masked_fill(self.masks.on_device(b"", device, width), float("-inf"))

    _PROCESSOR_CLASS = KoreanLogitsProcessor
    return KoreanLogitsProcessor


# --- the check -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class KoreanCheck:
    """The script mix of an answer: Hangul share among letters, and what else is there."""

    hangul_share: float  # Hangul letters / all letters (0.0 when there are no letters)
    letters: int  # letters of any script (all Han and kana characters count, radicals too)
    han_chars: int
    kana_chars: int
    latin_letters: int
    other_scripts: dict = field(default_factory=dict)  # e.g. {"CYRILLIC": 3}
    warning_ko: str | None = None
    warning_en: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        line = (
            f"한글 비율 {self.hangul_share * 100:.1f}% (글자 {self.letters}) · "
            f"한자 {self.han_chars} · 가나 {self.kana_chars} · 라틴 {self.latin_letters}"
        )
        if self.other_scripts:
            line += " · " + ", ".join(f"{k} {v}" for k, v in sorted(self.other_scripts.items()))
        return line


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ")[0] if name else "UNKNOWN"


def check(text: str, *, allow_hanja: bool = False) -> KoreanCheck:
    """Count the letters of ``text`` by script; warn when a Korean answer carries other ones.

    Han, kana and scripts other than Hangul and Latin trigger a warning (Han not when
    ``allow_hanja``); Latin does not (brand names, units, "CCTV"), unless letters are mostly
    not Hangul."""
    hangul = han = kana = latin = 0
    other: dict[str, int] = {}
    for char in text:
        cp = ord(char)
        if cp in _HAN:
            han += 1
        elif cp in _KANA:
            kana += 1
        elif cp in _HANGUL:
            hangul += 1 if unicodedata.category(char).startswith("L") else 0
        elif unicodedata.category(char).startswith("L"):
            script = _script(char)
            if script == "LATIN":
                latin += 1
            else:
                other[script] = other.get(script, 0) + 1
    letters = hangul + han + kana + latin + sum(other.values())
    share = hangul / letters if letters else 0.0
    found_ko: list[str] = []
    found_en: list[str] = []
    if han and not allow_hanja:
        found_ko.append(f"한자 {han}자")
        found_en.append(f"{han} Chinese character(s)")
    if kana:
        found_ko.append(f"일본어 가나 {kana}자")
        found_en.append(f"{kana} Japanese kana")
    if other:
        total = sum(other.values())
        names = ", ".join(sorted(other))
        found_ko.append(f"기타 문자 {total}자 ({names})")
        found_en.append(f"{total} letter(s) of other scripts ({names})")
    warning_ko = warning_en = None
    if found_ko:
        warning_ko = "답변에 한국어가 아닌 문자가 섞여 있습니다: " + ", ".join(found_ko) + "."
        warning_en = "The answer mixes in non-Korean script: " + ", ".join(found_en) + "."
    if letters >= 20 and share < 0.5:
        warning_ko = (warning_ko + " " if warning_ko else "") + (
            f"글자의 {share * 100:.0f}%만 한글입니다."
        )
        warning_en = (warning_en + " " if warning_en else "") + (
            f"Only {share * 100:.0f}% of the letters are Hangul."
        )
    return KoreanCheck(
        hangul_share=round(share, 4),
        letters=letters,
        han_chars=han,
        kana_chars=kana,
        latin_letters=latin,
        other_scripts=other,
        warning_ko=warning_ko,
        warning_en=warning_en,
    )
