"""Incremental detokenization: text out as soon as each character is complete.

Qwen's tokenizer is byte-level BPE, so one Hangul syllable (3 UTF-8 bytes) is often split
over two tokens. transformers' ``TextIteratorStreamer`` holds text back until a space (and
Hangul is not in its CJK check), so Korean arrives a phrase at a time. Here each token is
turned back into its bytes and fed to Python's incremental UTF-8 decoder, which releases
every complete character at once, holds back at most 3 bytes of an unfinished one, and
never emits a broken character. The concatenated chunks equal ``tokenizer.decode(ids)``.

Tokenizers that are not byte-level fall back to decoding a sliding window of tokens.
"""

from __future__ import annotations

import codecs
from functools import cache


@cache
def byte_decoder() -> dict[str, int]:
    """Byte-level BPE's printable character -> byte map (GPT-2's, which Qwen's tokenizer uses)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return {char: byte for byte, char in bytes_to_unicode().items()}


def token_id(tokenizer, token: str) -> int | None:
    """The id of a token the tokenizer knows, else None (never the unknown token's id)."""
    index = tokenizer.convert_tokens_to_ids(token)
    if index is None or index == getattr(tokenizer, "unk_token_id", None):
        return None
    return index


def is_byte_level(tokenizer) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    return decoder is not None and type(decoder).__name__ == "ByteLevel"


class IncrementalDecoder:
    """``push(ids) -> str`` returns the newly complete text; ``flush()`` the rest at the end."""

    def __init__(self, tokenizer, skip_special_tokens: bool = True) -> None:
        self.tokenizer = tokenizer
        self.skip_special = skip_special_tokens
        self.byte_level = is_byte_level(tokenizer)
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._added = {
            index: token for index, token in getattr(tokenizer, "added_tokens_decoder", {}).items()
        }
        self._special = set(getattr(tokenizer, "all_special_ids", []))
        self._ids: list[int] = []  # window for the non-byte-level fallback
        self._emitted = ""

    def _token_bytes(self, index: int) -> bytes:
        if index in self._added:
            if self.skip_special and (index in self._special or self._added[index].special):
                return b""
            return self._added[index].content.encode("utf-8")
        token = self.tokenizer.convert_ids_to_tokens(index)
        if token is None:
            return b""
        table = byte_decoder()
        return bytes(table[char] for char in token)

    def push(self, ids: list[int]) -> str:
        if self.byte_level:
            return self._utf8.decode(b"".join(self._token_bytes(i) for i in ids))
        return self._push_window(ids)

    def flush(self, drop_incomplete: bool = False) -> str:
        """The rest of the text. An unfinished last character (cut off by a token limit or a
        stop) decodes to U+FFFD, as ``tokenizer.decode`` does; ``drop_incomplete`` drops it
        instead, so that a user-facing answer never ends in a broken character."""
        if self.byte_level:
            if drop_incomplete:
                self._utf8.reset()
                return ""
            return self._utf8.decode(b"", final=True)
        text = self.tokenizer.decode(self._ids, skip_special_tokens=self.skip_special)
        if drop_incomplete:
            text = text.rstrip("\ufffd")
        rest = text[len(self._emitted) :]
        self._emitted = text
        return rest

    def _push_window(self, ids: list[int]) -> str:
        # Generic path: decode everything so far, emit the new suffix unless it ends in an
        # incomplete character (U+FFFD). Quadratic, but only for non-Qwen tokenizers.
        self._ids.extend(ids)
        text = self.tokenizer.decode(self._ids, skip_special_tokens=self.skip_special)
        if text.endswith("\ufffd") or not text.startswith(self._emitted):
            return ""
        new = text[len(self._emitted) :]
        self._emitted = text
        return new
