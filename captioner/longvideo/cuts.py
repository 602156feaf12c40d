"""A cheap shot-change score on small decoded frames, and the best cut near a boundary.

Between two consecutive thumbnails the score is the geometric mean of (a) how far apart
their colour histograms are (16 bins per channel, half the L1 distance: 0 same colours,
1 none shared) and (b) how much the pixels changed (mean absolute difference over the
three channels, saturating at a quarter of the range: two scenes of equal brightness but
different colours must still differ). A cut changes both; motion inside a shot
moves pixels but keeps the colours, a slow fade shifts colours but moves few pixels, so
either alone scores low. Cost: a few hundred operations per thumbnail of 64x32 pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

THRESHOLD = 0.3  # below this no pair is a cut (distinct scenes score 0.5-1.0; a pan < 0.2)
BINS = 16
SCAN_FPS = 2.0  # thumbnails per second scanned around a boundary
THUMB_PIXELS = 64 * 32  # per thumbnail (the decoder scales inside FFmpeg)


def _histograms(frames: np.ndarray) -> np.ndarray:
    """(T, 3, BINS) colour histograms, each channel normalised to sum 1."""
    t = frames.shape[0]
    binned = (frames.reshape(t, -1, 3).astype(np.int32) * BINS) // 256
    out = np.zeros((t, 3, BINS))
    for c in range(3):
        for i in range(t):
            out[i, c] = np.bincount(binned[i, :, c], minlength=BINS)
    return out / out.sum(axis=2, keepdims=True)


def scores(frames: np.ndarray) -> np.ndarray:
    """Shot-change score of each consecutive pair of uint8 RGB frames (T, H, W, 3): T-1 values."""
    if frames.shape[0] < 2:
        return np.zeros(0)
    hist = _histograms(frames)
    colour = 0.5 * np.abs(hist[1:] - hist[:-1]).sum(axis=2).mean(axis=1)
    pixels = frames.astype(np.float32)
    moved = np.abs(pixels[1:] - pixels[:-1]).mean(axis=(1, 2, 3)) / 255.0
    return np.sqrt(colour * np.minimum(1.0, 4.0 * moved))


def best_cut(
    times: Sequence[float],
    pair_scores: Sequence[float],
    lo: float,
    hi: float,
    threshold: float = THRESHOLD,
) -> tuple[float, float] | None:
    """(time, score) of the strongest cut whose new shot starts in [lo, hi], or None.

    A cut between frames i and i+1 is placed at frame i+1's time: the next window starts
    on the new shot (at most one scan step after the real cut)."""
    best: tuple[float, float] | None = None
    for i, score in enumerate(pair_scores):
        when = float(times[i + 1])
        if lo <= when <= hi and score >= threshold and (best is None or score > best[1]):
            best = (when, float(score))
    return best
