"""MNIST as this project uses it: IDX parsing, 2x2 mean pooling and binarization (numpy only).

This is the single place where images become model inputs; training data and the
runtime's `preprocess` both go through `pool_and_binarize`.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from vae_edge.config import POOL_FACTOR, SOURCE_SIDE, SPLITS, THRESHOLD, Split
from vae_edge.errors import VaeEdgeError

VALIDATION_SIZE = 1000  # the first 1,000 test images, as in the original study

IMAGE_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
LABEL_FILES = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}

# Largest IDX data read (MNIST's training images are 47 MB): a header promising more, or a
# small gzip that would expand beyond it, is refused before it fills memory.
MAX_IDX_BYTES = 256 * 2**20
# IDX magic: two zero bytes, a type code (0x08 = unsigned byte) and the number of dimensions.
_UBYTE_TYPE = 0x08


class DataError(VaeEdgeError, ValueError):
    """A data file is missing, truncated or not what it claims to be."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) of unsigned bytes into an array.

    The header is read and checked first (magic number, dimension count, a size of at
    most `MAX_IDX_BYTES`), then exactly the data it promises: a file that is longer or
    shorter, or not IDX at all, raises `DataError` naming the file without being
    decompressed in full.
    """
    path = Path(path)
    compressed = False
    try:
        with open(path, "rb") as stream:
            compressed = stream.read(2) == b"\x1f\x8b"
        with (gzip.open if compressed else open)(path, "rb") as stream:
            return _read_idx_stream(stream, path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as error:
        kind = "gzip file" if compressed else "file"
        raise DataError(f"{path}: not a readable {kind} ({error})") from None


def _read_idx_stream(stream: BinaryIO, path: Path) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] != _UBYTE_TYPE or magic[3] == 0:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    n_dims = magic[3]
    dims = stream.read(4 * n_dims)
    if len(dims) < 4 * n_dims:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int(x) for x in np.frombuffer(dims, dtype=">u4"))
    size = math.prod(shape)
    if size > MAX_IDX_BYTES:
        raise DataError(
            f"{path}: IDX header promises shape {shape} ({size} bytes), more than the "
            f"{MAX_IDX_BYTES} bytes vae-edge reads"
        )
    data = stream.read(size)  # buffered streams (files, gzip) return less only at the end
    if len(data) != size or stream.read(1):
        held = "fewer" if len(data) < size else "more"
        raise DataError(
            f"{path}: IDX header promises shape {shape} ({size} data bytes) but the file "
            f"holds {held}; it is truncated or corrupted"
        )
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


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
    path = find_idx_file(Path(data_dir), IMAGE_FILES[source])
    images = read_idx(path)
    if images.ndim != 3 or images.shape[1:] != (SOURCE_SIDE, SOURCE_SIDE) or not len(images):
        raise DataError(
            f"{path}: expected N > 0 images of {SOURCE_SIDE}x{SOURCE_SIDE} pixels, "
            f"got shape {images.shape}"
        )
    if split == "validation":
        images = images[:VALIDATION_SIZE]
    return pool_and_binarize(images)


def load_labeled_split(data_dir: str | Path, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """`load_split`'s images and `load_labels`' labels, checked to be equally many."""
    images, labels = load_split(data_dir, split), load_labels(data_dir, split)
    if len(images) != len(labels):
        source = source_file_set(split)
        raise DataError(
            f"{find_idx_file(Path(data_dir), LABEL_FILES[source])}: {len(labels)} labels "
            f"for {len(images)} images in {IMAGE_FILES[source]}; the files do not belong together"
        )
    return images, labels
