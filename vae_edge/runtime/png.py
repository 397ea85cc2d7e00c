"""PNG grids of generated digits, written without Pillow.

A grid is 8-bit grayscale, which a PNG holds in a few lines of zlib; leaving Pillow out
keeps `vae-edge generate` from importing it (about 3 MiB and 30 ms of its start-up).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from vae_edge.atomic import atomic_path
from vae_edge.errors import InputError, OutputError
from vae_edge.grid import default_columns, grid_shape, tile
from vae_edge.runtime.arrays import non_negative_int, positive_int, real_array

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# zlib's default level, as Pillow's: on the CLI's 64-digit grid level 9 took several
# times longer for a file only a few percent smaller.
PNG_COMPRESSION = 6


def png_bytes(pixels: np.ndarray) -> bytes:
    """A grayscale uint8 image [H, W] as the bytes of a PNG file (8 bits, no filter)."""
    height, width = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    # Width, height, bit depth 8, colour type 0 (grayscale), default compression,
    # filter method and no interlace; each row is prefixed with filter type 0 (none).
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = np.hstack([np.zeros((height, 1), np.uint8), pixels.astype(np.uint8, copy=False)])
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_COMPRESSION))
        + chunk(b"IEND", b"")
    )


def save_grid(
    images: np.ndarray,
    path: str | os.PathLike[str],
    nrow: int | None = None,
    scale: int = 4,
    padding: int = 1,
) -> None:
    """Write images [N, H, W] with values in [0, 1] as one grayscale PNG grid.

    `nrow` images per row (default: ceil(sqrt(N)), a square-ish grid); every pixel is
    drawn as a `scale` x `scale` block; `padding` dark pixels (before scaling) separate
    the tiles. The PNG is written beside `path` and renamed into place, so a failure
    leaves no partial file. A missing or unwritable folder raises an `OutputError` (an
    `OSError`) whose message names `path`. A grid beyond `MAX_GRID_PIXELS` raises
    `InputError`.
    """
    array = real_array(images, "images")
    if array.ndim != 3 or 0 in array.shape:
        raise InputError(f"images must have shape [N, H, W] with N, H, W >= 1, got {array.shape}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise InputError("images must hold finite values in [0, 1]")
    columns = default_columns(len(array)) if nrow is None else positive_int(nrow, "nrow")
    scale = positive_int(scale, "scale")
    padding = non_negative_int(padding, "padding")
    grid_shape(len(array), max(array.shape[1:]), columns, padding, scale)  # refuse huge grids
    canvas = tile(array, n_columns=columns, padding=padding)
    pixels = np.rint(canvas * 255).astype(np.uint8).repeat(scale, axis=0).repeat(scale, axis=1)
    _write_png(pixels, Path(path))


def _write_png(pixels: np.ndarray, path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"{path}: folder {folder} {problem}")
    with atomic_path(path) as tmp_path:  # a write error becomes an OutputError naming path
        tmp_path.write_bytes(png_bytes(pixels))
