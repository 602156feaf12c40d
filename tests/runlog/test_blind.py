"""captioner/runlog/blind.py: one decision for the order of a blind pair."""

from __future__ import annotations

from captioner import runlog


def test_blind_order_is_fixed_by_the_seed_and_both_orders_occur():
    orders = set()
    for seed in range(16):
        left, right = runlog.blind_order(seed, "a", "b")
        assert runlog.blind_order(seed, "a", "b") == (left, right)
        assert {left, right} == {"a", "b"}
        orders.add(left)
        # config indexes (before the runs exist) and runs (afterwards) get the same order
        assert runlog.blind_order(seed, 0, 1) == ((0, 1) if left == "a" else (1, 0))
    assert orders == {"a", "b"}
