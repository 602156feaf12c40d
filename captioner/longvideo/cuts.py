"""A cheap shot-change score on small decoded frames, and the best cut near a boundary.

Between two consecutive thumbnails (a few per second, 64x32 pixels) two cheap measures:
how far apart their colour histograms are (16 bins per channel, half the L1 distance: 0
same colours, 1 none shared), and how much the pixels changed (mean absolute difference
over the three channels). A pair scores high when the pixels changed a lot and either the
colours changed too, or the change stands out from the scan's typical frame-to-frame
change (its median) as a single spike: a cut between two shots with the same palette (a
flipped or reframed view) is a spike; motion inside a shot (a pan, a walk) changes pixels
steadily, keeps the colours, and scores low. Cost: a few hundred operations a thumbnail.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

THRESHOLD = 0.3  # below this no pair is a cut (distinct scenes score 0.5-1.0; a pan < 0.2)
BINS = 16
SPIKE_RATIO = 4.0  # a change this many times the scan's median (plus one) is a full spike
SPIKE_FLOOR = 0.005  # keeps a still scene's tiny changes from counting as spikes
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
    """Shot-change score in [0, 1] of each consecutive pair of uint8 RGB frames (T, H, W, 3):
    T-1 values."""
    if frames.shape[0] < 2:
        return np.zeros(0)
    hist = _histograms(frames)
    colour = 0.5 * np.abs(hist[1:] - hist[:-1]).sum(axis=2).mean(axis=1)
    pixels = frames.astype(np.float32)
    moved = np.abs(pixels[1:] - pixels[:-1]).mean(axis=(1, 2, 3)) / 255.0
    changed = np.minimum(1.0, 4.0 * moved)  # a quarter of the range: everything changed
    spike = np.clip((moved / (np.median(moved) + SPIKE_FLOOR) - 1.0) / SPIKE_RATIO, 0.0, 1.0)
    return changed * np.maximum(np.sqrt(colour), spike)


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
