"""Mean rating per group (model or preset) with a 95% interval, for the review tab's chart.

Each rating is one observation (a run rated by three reviewers counts three times), so a
group's count is the number of ratings; the number of rated runs is given beside it.

The interval is the Wilson score interval of the mean rescaled to 0..1, ``(score - 1) / 4``,
then mapped back to the 1..5 scale. For a bounded score the variance can never exceed
``p(1 - p)`` (what it would be if every rating were a 1 or a 5), so this interval is
conservative: it is never narrower than the data allow, it stays inside 1..5, and it cannot
collapse to a point the way a t-interval does when a few ratings happen to agree (two 5s give a
t-interval of [5, 5]; here [2.4, 5]). A single rating gets an honest, wide interval
([1.8, 5] for one 5), not a fake tight one. For large groups it is wider than a t-interval
would be when reviewers agree closely; the chart then errs on the side of "not shown to
differ".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

Z_95 = 1.959963984540054  # two-sided 95% normal quantile
LOW, HIGH = 1, 5  # the rating scale


@dataclass(frozen=True)
class RatingSummary:
    group: str | None  # the model id or preset key; None: no model recorded / a free prompt
    runs: int  # rated runs in the group
    ratings: int  # ratings in the group (the n of the interval)
    mean: float
    low: float  # 95% interval on the mean rating (Wilson, see the module docstring)
    high: float
    counts: tuple[int, int, int, int, int]  # how many ratings gave 1, 2, 3, 4, 5

    def to_dict(self) -> dict:
        return {
            "group": self.group,
            "runs": self.runs,
            "ratings": self.ratings,
            "mean": round(self.mean, 3),
            "low": round(self.low, 3),
            "high": round(self.high, 3),
            "counts": list(self.counts),
        }


def wilson_interval(mean: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for a mean rating on LOW..HIGH over ``n`` ratings."""
    if n < 1:
        raise ValueError("an interval needs at least one rating")
    span = HIGH - LOW
    p = min(max((mean - LOW) / span, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return LOW + span * max(0.0, centre - half), LOW + span * min(1.0, centre + half)


def summarize(rows: Iterable[tuple[str | None, int, int]]) -> list[RatingSummary]:
    """``(group, run id, score)`` rows → one summary per group, best mean first."""
    groups: dict[str | None, tuple[set[int], list[int]]] = {}
    for group, run_id, score in rows:
        runs, scores = groups.setdefault(group, (set(), []))
        runs.add(run_id)
        scores.append(int(score))
    found = []
    for group, (runs, scores) in groups.items():
        mean = sum(scores) / len(scores)
        low, high = wilson_interval(mean, len(scores))
        counts = tuple(scores.count(s) for s in range(LOW, HIGH + 1))
        found.append(RatingSummary(group, len(runs), len(scores), mean, low, high, counts))
    return sorted(found, key=lambda s: (-s.mean, -s.ratings, s.group or ""))
