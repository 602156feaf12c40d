"""Printing untrusted text (model output, file names) to a terminal (the CLI's output).

Model output can contain escape sequences: a caption with ``ESC ] 0 ; ... BEL`` retitles the
window, ``ESC [ 2 J`` clears the screen, OSC 52 can write the clipboard on some terminals.
:func:`safe` removes escape sequences and every other C0/C1 control character except newline
and tab before text reaches a terminal; what is stored is never changed.
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"""
      \x1b\[ [0-?]* [ -/]* [@-~]              # CSI: colours, cursor moves, clearing
    | \x1b\] .*? (?:\x07|\x1b\\|$)            # OSC: titles, hyperlinks, clipboard
    | \x1b[PX^_] .*? (?:\x1b\\|$)             # DCS, SOS, PM, APC strings
    | \x1b [ -/]* [0-~]                       # two-character and nF escapes
    | \x9b [0-?]* [ -/]* [@-~]                # 8-bit CSI
    | [\x90\x98\x9d-\x9f] .*? (?:\x9c|\x07|$) # 8-bit DCS, SOS, OSC, PM, APC strings
    """,
    re.VERBOSE | re.MULTILINE,  # an unterminated string ends at the line end
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all C0/C1 but tab and newline
_C1_AND_DEL = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def safe(text: str) -> str:
    """``text`` without escape sequences or control characters (newline and tab stay)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def json_line(text: str) -> str:
    """A JSON document with DEL and C1 characters written as ``\\u`` escapes. ``json.dumps``
    escapes C0 controls but, with ``ensure_ascii=False``, leaves C1 raw; escaped, the data
    decodes to the same text and no terminal acts on it."""
    return text.translate(_C1_AND_DEL)
