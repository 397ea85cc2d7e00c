"""Tile many small images into one array (numpy only; shared by figures and PNG grids)."""

from __future__ import annotations

import numpy as np


def tile(images: np.ndarray, n_columns: int, padding: int = 1) -> np.ndarray:
    """Arrange images [N, H, W] into one 2-D array, `n_columns` per row, on a dark border."""
    n_images, height, width = images.shape
    n_rows = -(-n_images // n_columns)
    canvas = np.zeros(
        (n_rows * (height + padding) + padding, n_columns * (width + padding) + padding),
        dtype=np.float32,
    )
    for index, image in enumerate(images):
        row, column = divmod(index, n_columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        canvas[top : top + height, left : left + width] = image
    return canvas
