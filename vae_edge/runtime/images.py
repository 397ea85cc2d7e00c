"""Images in and out of the runtime: any picture -> model input, arrays -> PNG grid."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vae_edge.atomic import atomic_path
from vae_edge.config import SOURCE_SIDE
from vae_edge.grid import tile
from vae_edge.mnist import pool_and_binarize


def _to_grayscale(image: Image.Image | np.ndarray | str | Path) -> Image.Image:
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as opened:
                opened.load()
                return opened.convert("L")
        except (UnidentifiedImageError, OSError) as error:
            reason = "not an image" if isinstance(error, UnidentifiedImageError) else error
            raise ValueError(f"{image}: cannot read as an image ({reason})") from None
    if isinstance(image, Image.Image):
        return image.convert("L")
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[..., :3]
    elif array.ndim != 2:
        raise ValueError(f"image array must be [H, W] or [H, W, 3|4], got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise ValueError("image array contains NaN or infinite values")
        array = np.clip(array * 255 if array.max() <= 1 else array, 0, 255).round()
    return Image.fromarray(array.astype(np.uint8)).convert("L")


def preprocess(image: Image.Image | np.ndarray | str | Path, invert: bool = False) -> np.ndarray:
    """Any grayscale or RGB(A) picture -> the model's binarized input, float32 [196].

    A path, a PIL image or an array (uint8 0-255, or floats in [0, 1]) is made grayscale,
    resized to 28x28 and then pooled and binarized by the same code as the training data.
    Digits are expected light on dark, as in MNIST; `invert=True` takes dark on light.
    Stack several results with `np.stack` for a batch.
    """
    gray = _to_grayscale(image)
    if gray.size != (SOURCE_SIDE, SOURCE_SIDE):
        small = max(gray.size) <= SOURCE_SIDE // 2
        resample = Image.Resampling.NEAREST if small else Image.Resampling.BILINEAR
        gray = gray.resize((SOURCE_SIDE, SOURCE_SIDE), resample)
    pixels = np.asarray(gray, dtype=np.uint8)
    if invert:
        pixels = 255 - pixels
    return pool_and_binarize(pixels[None])[0]


def save_grid(
    images: np.ndarray,
    path: str | Path,
    nrow: int | None = None,
    scale: int = 4,
    padding: int = 1,
) -> None:
    """Write images [N, H, W] with values in [0, 1] as one grayscale PNG grid.

    `nrow` images per row (default: a square-ish grid), each pixel drawn `scale` times
    as large. The file is written beside `path` and renamed into place.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"images must have shape [N, H, W] with N >= 1, got {images.shape}")
    if nrow is not None and nrow <= 0:
        raise ValueError(f"nrow must be positive, got {nrow}")
    if scale <= 0 or padding < 0:
        raise ValueError(f"scale must be positive and padding >= 0, got {scale} and {padding}")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path}: folder {path.parent} does not exist")
    columns = nrow or math.ceil(math.sqrt(images.shape[0]))
    canvas = tile(np.clip(images, 0, 1), n_columns=columns, padding=padding)
    pixels = (canvas * 255).round().astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
    with atomic_path(path) as tmp_path:
        Image.fromarray(pixels).save(tmp_path, format="PNG")
