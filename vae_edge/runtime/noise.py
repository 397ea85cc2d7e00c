"""Pixel-flip noise on binarized digits: the corruption recognition is measured under."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

# A numpy array or a torch tensor: `apply_flips` needs only their shared operators.
Array = TypeVar("Array")

# The noise levels `vae-edge evaluate` and the benchmarks report: fractions of pixels flipped.
FLIP_RATES = (0.05, 0.10, 0.20)
# Clean images first (no flips), then each of FLIP_RATES.
CLEAN_AND_FLIP_RATES = (0.0, *FLIP_RATES)


def apply_flips(images: Array, rates: Array | float, uniforms: Array) -> Array:
    """Binary `images` with each pixel flipped (0 <-> 1) where its uniform draw is below
    the rate: the one flip rule of vae-edge.

    Only operators, so it takes numpy arrays and torch tensors alike: the runtime draws
    `uniforms` with numpy, training with torch on its own device and generator.
    """
    return images + (uniforms < rates) * (1 - 2 * images)


def flip_pixels(
    images: np.ndarray, rate: float | np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Binary images [N, P] with each pixel flipped with probability `rate`.

    `rate` is one number, or one per image as an [N, 1] array.
    """
    images = images.astype(np.float32, copy=False)
    return apply_flips(images, rate, rng.random(images.shape, dtype=np.float32))
