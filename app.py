"""Qwen3 한국어 비디오 캡셔너: the web page (placeholder until the web-app issue lands).

Until then, use the command line, which runs the same engine:

    python -m captioner describe assets/bigbuckbunny.mp4
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    print(__doc__.strip(), file=sys.stderr)
    raise SystemExit(2)
