"""Checks on the arrays and counts users hand to the runtime, with messages that say what fits."""

from __future__ import annotations

import math
import numbers

import numpy as np

# bool, signed and unsigned integers, floats: everything that converts to float32 exactly
# enough. Complex numbers, strings and Python objects are refused.
REAL_KINDS = "biuf"


def positive_int(value: object, name: str) -> int:
    """`value` as an int, if it is an integer >= 1 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: object, name: str) -> int:
    """`value` as an int, if it is an integer >= 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def real_array(values: object, name: str) -> np.ndarray:
    """`values` as a numpy array of a real (or boolean) dtype."""
    try:
        array = np.asarray(values)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers ({error})") from None
    if array.dtype.kind not in REAL_KINDS:
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array


# Up to this many values are checked in plain Python: at batch 1 a numpy ufunc call costs
# more than the check itself (measured: 2 µs against 7 µs beside PyTorch, see benchmarks).
_SMALL = 256


def _value_range(batch: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of `batch`, or None if it holds NaN or an infinity."""
    if batch.size <= _SMALL:
        values = batch.ravel().tolist()
        return (min(values), max(values)) if all(map(math.isfinite, values)) else None
    if not np.isfinite(batch).all():
        return None
    return float(batch.min()), float(batch.max())


def as_batch(
    values: object,
    name: str,
    width: int,
    side: int | None = None,
    unit_interval: bool = False,
) -> np.ndarray:
    """Check `values` and return them as contiguous float32 [batch, width].

    Accepted: shape [batch, width], or [batch, side, side] where `side` is given, with
    batch >= 1; any real dtype; finite values, within [0, 1] if `unit_interval`.
    """
    array = real_array(values, name)
    shape_ok = array.ndim == 2 and array.shape[1] == width
    if side is not None:
        shape_ok = shape_ok or (array.ndim == 3 and array.shape[1:] == (side, side))
    if not shape_ok or array.shape[0] == 0:
        expected = f"[batch, {width}]" + (f" or [batch, {side}, {side}]" if side else "")
        raise ValueError(f"{name} must have shape {expected} with batch >= 1, got {array.shape}")
    batch = array.reshape(array.shape[0], width)
    if batch.dtype != np.float32 or not batch.flags.c_contiguous:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused next
            batch = np.ascontiguousarray(batch, dtype=np.float32)
    value_range = _value_range(batch)
    if value_range is None:
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = value_range
    if unit_interval and (low < 0 or high > 1):
        raise ValueError(f"{name} must hold values in [0, 1], got [{low:g}, {high:g}]")
    return batch
