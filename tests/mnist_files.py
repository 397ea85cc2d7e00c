"""Writing IDX files for tests: hand-made arrays, or the first images of the real MNIST."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vae_edge.mnist import IMAGE_FILES, LABEL_FILES, find_idx_file, read_idx


def write_idx(path: Path, array: np.ndarray) -> None:
    """`array` as an uncompressed IDX file of unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist_slice(source: Path, target: Path, counts: dict[str, int]) -> Path:
    """The first `counts[set]` images and labels of each MNIST file set ("train", "test")
    of `source`, written to `target` as the four IDX files: real digits, cheap to read."""
    target.mkdir(parents=True, exist_ok=True)
    for file_set, count in counts.items():
        for stem in (IMAGE_FILES[file_set], LABEL_FILES[file_set]):
            write_idx(target / stem, read_idx(find_idx_file(source, stem))[:count])
    return target
