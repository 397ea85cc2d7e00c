"""Images in and out of the runtime: any picture -> model input, arrays -> PNG grid."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TypeAlias

import numpy as np
from PIL import Image, UnidentifiedImageError

from vae_edge.config import IMAGE_SIDE, POOL_FACTOR, SOURCE_SIDE
from vae_edge.errors import InputError
from vae_edge.mnist import pool_and_binarize
from vae_edge.runtime.arrays import real_array

ImageInput: TypeAlias = "Image.Image | np.ndarray | str | os.PathLike[str]"
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def preprocess(image: ImageInput, *, invert: bool = False) -> np.ndarray:
    """Any grayscale or RGB(A) picture -> the model's binarized input, float32 [196].

    `image` is a file path, a PIL image or an array: [H, W] grayscale or [H, W, 3|4]
    RGB(A), uint8 0-255, other integers 0-255, bools, or floats in [0, 1]. It is made
    8-bit grayscale (transparent parts become background), resized to 28x28 unless it
    already is (a 14x14 image is taken pixel for pixel), then pooled and binarized by
    `vae_edge.mnist.pool_and_binarize`, the code that prepares the training data.

    Digits are expected light on dark, as in MNIST; `invert=True` takes dark on light.
    Stack results with `np.stack` for a batch. An unreadable file raises `InputError`
    (a `ValueError`) naming it.
    """
    background = 255 if invert else 0
    if isinstance(image, (str, os.PathLike)):
        pixels = _read_grayscale(Path(image), background)
    elif isinstance(image, Image.Image):
        pixels = _grayscale(image, background)
    else:
        pixels = _array_grayscale(image, background)
    if invert:
        pixels = 255 - pixels
    return pool_and_binarize(_to_source_side(pixels)[None])[0]


def _read_grayscale(path: Path, background: int) -> np.ndarray:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block or never end
            kind = "a folder" if path.is_dir() else "a pipe, socket or device"
            raise InputError(f"{path}: is {kind}, not an image file")
        with Image.open(path) as opened:
            opened.load()
            return _grayscale(opened, background)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file (Pillow cannot identify it)") from None
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except InputError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        reason = getattr(error, "strerror", None) or error
        raise InputError(f"{path}: cannot read the image ({reason})") from None


def _grayscale(image: Image.Image, background: int) -> np.ndarray:
    """8-bit grayscale pixels [H, W] of a PIL image, alpha composited onto `background`.

    16-bit images (modes "I;16*", and "I", which Pillow 10.0 gives 16-bit PNGs) are
    scaled from 0-65535; float images (mode "F", such as float TIFFs) from 0-1.
    """
    if image.mode in _SIXTEEN_BIT_MODES or image.mode == "I":
        pixels = np.asarray(image, dtype=np.float64)
        if pixels.min() < 0 or pixels.max() > 65535:
            raise InputError(
                f"a 32-bit integer image must hold 16-bit values 0-65535, "
                f"got {pixels.min():g}-{pixels.max():g}"
            )
        return np.rint(pixels / 257).astype(np.uint8)
    if image.mode == "F":
        return _to_uint8(np.asarray(image, dtype=np.float32))
    if image.mode == "P":  # a palette may carry transparency
        image = image.convert("RGBA")
    if "A" in image.mode or "a" in image.mode:
        canvas = Image.new("RGBA", image.size, (background, background, background, 255))
        image = Image.alpha_composite(canvas, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _array_grayscale(values: object, background: int) -> np.ndarray:
    array = real_array(values, "image array")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    colour = array.ndim == 3 and array.shape[2] in (3, 4)
    if not (array.ndim == 2 or colour) or 0 in array.shape:
        raise InputError(
            f"image array must be [H, W] grayscale or [H, W, 3|4] RGB(A), got shape {array.shape}"
        )
    pixels = _to_uint8(array)
    return _grayscale(Image.fromarray(pixels), background) if colour else pixels


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """0-255 pixels from uint8 (as is), bool (0/255), integers 0-255 or floats in [0, 1]."""
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise InputError(
                "a float image array must hold finite values in [0, 1] "
                "(give 0-255 pixels as a uint8 array)"
            )
        return np.rint(array * 255).astype(np.uint8)
    if array.min() < 0 or array.max() > 255:
        raise InputError(
            f"an integer image array must hold values 0-255, got {array.min()}-{array.max()}"
        )
    return array.astype(np.uint8)


def _to_source_side(pixels: np.ndarray) -> np.ndarray:
    """Pixels [28, 28] as the training images have them before pooling."""
    height, width = pixels.shape
    if (height, width) == (SOURCE_SIDE, SOURCE_SIDE):
        return pixels
    if (height, width) == (IMAGE_SIDE, IMAGE_SIDE):
        # Each pixel becomes a 2x2 block (nearest-neighbour upscaling), which pooling
        # averages back to the same value: the result is that pixel thresholded.
        return pixels.repeat(POOL_FACTOR, axis=0).repeat(POOL_FACTOR, axis=1)
    # BOX averages whole areas when shrinking (no aliasing, no ringing).
    shrinking = min(height, width) >= SOURCE_SIDE
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    resized = Image.fromarray(pixels).resize((SOURCE_SIDE, SOURCE_SIDE), resample)
    return np.asarray(resized, dtype=np.uint8)
