"""MNIST as this project uses it: IDX parsing, 2x2 mean pooling and binarization (numpy only).

This is the single place where images become model inputs; training data and the
runtime's `preprocess` both go through `pool_and_binarize`.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Literal

import numpy as np

from vae_edge.config import POOL_FACTOR, THRESHOLD
from vae_edge.errors import VaeEdgeError

Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")
VALIDATION_SIZE = 1000  # the first 1,000 test images, as in the original study

IMAGE_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
LABEL_FILES = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}

# IDX magic: two zero bytes, a type code (0x08 = unsigned byte) and the number of dimensions.
_UBYTE_TYPE = 0x08


class DataError(VaeEdgeError, ValueError):
    """A data file is missing, truncated or not what it claims to be."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) of unsigned bytes into an array.

    The header's magic number, dimension count and sizes are checked against the file's
    length, so a truncated or corrupted file raises `DataError` naming the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a readable gzip file ({error})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != _UBYTE_TYPE or raw[3] == 0:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    n_dims = raw[3]
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int(x) for x in np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4))
    expected = header_size + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{path}: IDX header promises shape {shape} ({expected} bytes) "
            f"but the file holds {len(raw)} bytes; it is truncated or corrupted"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def pool_and_binarize(images: np.ndarray) -> np.ndarray:
    """Turn uint8 images [N, H, W] into flat binary float32 inputs [N, (H/2)*(W/2)].

    Each 2x2 block is averaged; a pooled pixel is 1 where its mean intensity >= 128.
    """
    if images.ndim != 3 or images.shape[1] % POOL_FACTOR or images.shape[2] % POOL_FACTOR:
        raise ValueError(
            f"expected images of shape [N, H, W] with H and W divisible by {POOL_FACTOR}, "
            f"got {images.shape}"
        )
    n, height, width = images.shape
    pool = POOL_FACTOR
    blocks = images.reshape(n, height // pool, pool, width // pool, pool)
    pooled = blocks.mean(axis=(2, 4), dtype=np.float32)
    return (pooled >= THRESHOLD).astype(np.float32).reshape(n, -1)


def find_idx_file(data_dir: Path, stem: str) -> Path:
    """Return `stem.gz` or `stem` inside `data_dir`, preferring the compressed original."""
    for name in (f"{stem}.gz", stem):
        if (data_dir / name).is_file():
            return data_dir / name
    raise DataError(f"{data_dir / (stem + '.gz')}: file not found")


def source_file_set(split: Split) -> str:
    """Which MNIST file pair a split reads: "train", or "test" (validation and test)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}, expected one of {', '.join(SPLITS)}")
    return "train" if split == "train" else "test"


def load_labels(data_dir: str | Path, split: Split) -> np.ndarray:
    """Digit labels (0-9) of one split as int64 [N], in the order of `load_split`'s images."""
    source = source_file_set(split)
    path = find_idx_file(Path(data_dir), LABEL_FILES[source])
    labels = read_idx(path)
    if labels.ndim != 1 or labels.size == 0 or labels.max() > 9:
        raise DataError(
            f"{path}: expected a 1-D array of digit labels 0-9, got shape {labels.shape}"
        )
    if split == "validation":
        labels = labels[:VALIDATION_SIZE]
    return labels.astype(np.int64)


def load_split(data_dir: str | Path, split: Split) -> np.ndarray:
    """Binarized 14x14 images of one split as float32 [N, 196].

    train: every training image; validation: the first 1,000 test images; test: every
    test image. Counts come from the IDX headers, never from constants.
    """
    source = source_file_set(split)
    images = read_idx(find_idx_file(Path(data_dir), IMAGE_FILES[source]))
    if images.ndim != 3:
        raise DataError(f"{IMAGE_FILES[source]}: expected a 3-D image array, got {images.shape}")
    if split == "validation":
        images = images[:VALIDATION_SIZE]
    return pool_and_binarize(images)
