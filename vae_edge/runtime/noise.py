"""Pixel-flip noise on binarized digits: the corruption recognition is measured under."""

from __future__ import annotations

import numpy as np

# The noise levels `vae-edge evaluate` and the benchmarks report: fractions of pixels flipped.
FLIP_RATES = (0.05, 0.10, 0.20)
# Clean images first (no flips), then each of FLIP_RATES.
CLEAN_AND_FLIP_RATES = (0.0, *FLIP_RATES)


def flip_pixels(
    images: np.ndarray, rate: float | np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Binary images [N, P] with each pixel flipped (0 <-> 1) with probability `rate`.

    `rate` is one number, or one per image as an [N, 1] array.
    """
    flips = rng.random(images.shape, dtype=np.float32) < rate
    return np.where(flips, 1 - images, images).astype(np.float32)
