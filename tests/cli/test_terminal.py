"""captioner/terminal.py: untrusted text made safe for a terminal."""

from __future__ import annotations

import json

from captioner.cli import terminal


def test_escape_sequences_and_controls_are_removed():
    cases = {
        "a\x1b[31mred\x1b[0m": "ared",  # colours
        "\x1b]0;title\x07ok": "ok",  # window title (OSC, BEL-terminated)
        "\x1b]52;c;Zm9v\x1b\\ok": "ok",  # clipboard (OSC, ST-terminated)
        "\x1bPq#0;2;0;0;0\x1b\\ok": "ok",  # DCS (sixel)
        "\x9b2Jok": "ok",  # 8-bit CSI
        "\x9d8;;http://x\x9cok": "ok",  # 8-bit OSC
        "x\ry\x08z\x00\x7f": "xyz",  # carriage return, backspace, NUL, DEL
        "\x1b]8;;unterminated\nnext": "\nnext",  # an unterminated string ends at the line
        "한국어\t탭\n줄": "한국어\t탭\n줄",  # tab, newline and text stay
    }
    for raw, expected in cases.items():
        assert terminal.safe(raw) == expected, raw


def test_json_line_escapes_c1_losslessly():
    text = json.dumps({"a": "\x9b2J\x85\x1b한"}, ensure_ascii=False)
    safe = terminal.json_line(text)
    assert "\x9b" not in safe and "\x85" not in safe and "한" in safe
    assert json.loads(safe) == {"a": "\x9b2J\x85\x1b한"}
