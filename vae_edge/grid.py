"""Tile many small images into one array (numpy only; shared by figures and PNG grids)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from vae_edge.errors import InputError

if TYPE_CHECKING:
    import numpy as np

# Largest grid image vae-edge draws: 50 million pixels (e.g. 7,000 x 7,000), 50 MB as
# 8-bit grayscale. A larger one (-n 10**6, --nrow 10**9, --scale 10**5) is refused.
MAX_GRID_PIXELS = 50_000_000


def default_columns(n_images: int) -> int:
    """Columns of a square-ish grid: ceil(sqrt(n))."""
    return math.isqrt(n_images - 1) + 1


def grid_shape(
    n_images: int, image_side: int, n_columns: int, padding: int = 1, scale: int = 1
) -> tuple[int, int]:
    """(height, width) in pixels of the grid `tile` and `scale` make; `InputError` if too large."""
    n_rows = -(-n_images // n_columns)
    height = (n_rows * (image_side + padding) + padding) * scale
    width = (n_columns * (image_side + padding) + padding) * scale
    if height * width > MAX_GRID_PIXELS:
        raise InputError(
            f"a grid of {n_images} images, {n_columns} per row, at scale {scale} would be "
            f"{width} x {height} pixels, more than the {MAX_GRID_PIXELS:,} vae-edge draws"
        )
    return height, width


def tile(images: np.ndarray, n_columns: int, padding: int = 1) -> np.ndarray:
    """Arrange images [N, H, W] into one 2-D array, `n_columns` per row, on a dark border."""
    import numpy as np  # here, not above: the CLI reads this module's limits for --help

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
