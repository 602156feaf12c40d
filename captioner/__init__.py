"""Qwen3 한국어 비디오 캡셔너: describe videos in Korean with Qwen3-VL (and Qwen3 for text).

The package is importable without gradio; ``app.py`` is only the web page around it.
Run ``python -m captioner --help`` for the command line.
"""

from __future__ import annotations

__version__ = "0.1.0"
