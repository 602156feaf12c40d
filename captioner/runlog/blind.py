"""Blind comparison: which of two outputs is shown on the left.

One decision, used both when two configurations are run side by side (the order is fixed
before either run exists, so streaming does not give it away) and when two recorded runs are
loaded as a blind pair. The order depends only on ``seed``; the page draws a fresh seed per
comparison and keeps the mapping on the server.
"""

from __future__ import annotations

import random
from typing import TypeVar

T = TypeVar("T")


def blind_order(seed: int | str, first: T, second: T) -> tuple[T, T]:
    """(left, right): ``first`` and ``second`` in an order fixed by ``seed``; each order is
    equally likely over seeds."""
    swapped = random.Random(f"blind:{seed}").random() < 0.5
    return (second, first) if swapped else (first, second)
