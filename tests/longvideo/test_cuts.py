"""captioner/longvideo/cuts.py: the shot-change score on small frames and the best cut."""

from __future__ import annotations

import media
import numpy as np

from captioner.longvideo import cuts


def _frames(scenes_and_steps):
    return np.stack([media.scene_frame(s, k, 64, 32) for s, k in scenes_and_steps])


def test_a_scene_change_scores_high_and_motion_inside_a_shot_low():
    frames = _frames([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0)])
    scores = cuts.scores(frames)
    assert len(scores) == 5
    assert scores[0] < 0.1 and scores[1] < 0.1 and scores[3] < 0.1  # the bar moved
    assert scores[2] > cuts.THRESHOLD and scores[4] > cuts.THRESHOLD  # new colours


def test_two_scenes_of_equal_brightness_still_differ():
    red = np.full((1, 16, 16, 3), (220, 40, 40), dtype=np.uint8)
    green = np.full((1, 16, 16, 3), (40, 200, 60), dtype=np.uint8)  # same grey level
    assert cuts.scores(np.concatenate([red, green]))[0] > cuts.THRESHOLD


def test_the_best_cut_is_the_strongest_inside_the_range():
    times = [10.0, 10.5, 11.0, 11.5, 12.0, 12.5]
    scores = [0.05, 0.6, 0.1, 0.9, 0.2]
    assert cuts.best_cut(times, scores, 10.0, 12.5) == (12.0, 0.9)
    assert cuts.best_cut(times, scores, 10.0, 11.5) == (11.0, 0.6)  # 12.0 is outside
    assert cuts.best_cut(times, [0.1] * 5, 10.0, 12.5) is None  # nothing above threshold
    assert len(cuts.scores(np.zeros((1, 4, 4, 3), dtype=np.uint8))) == 0


def test_a_cut_to_the_same_colours_counts_when_it_stands_out():
    """A reframed shot keeps the palette; it is the one big change among small ones."""
    y, x = np.mgrid[0:32, 0:64]
    base = np.stack([x * 4, y * 8, 128 + 100 * np.sin(x / 5.0)], axis=2).astype(np.uint8)
    shot = [np.roll(base, k, axis=1) for k in range(6)]  # a slow pan: small steady changes
    flipped = [np.roll(base[::-1], k, axis=1) for k in range(6)]
    scores = cuts.scores(np.stack(shot + flipped))
    assert scores[5] > cuts.THRESHOLD  # the flip
    assert max(np.delete(scores, 5)) < cuts.THRESHOLD
