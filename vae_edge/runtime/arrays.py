"""Checks on the arrays and counts users hand to the runtime, with messages that say what fits."""

from __future__ import annotations

import math
import numbers

import numpy as np

from vae_edge.errors import InputError

# bool, signed and unsigned integers, floats: everything that converts to float32 exactly
# enough. Complex numbers, strings and Python objects are refused.
REAL_KINDS = "biuf"
_FLOAT32 = np.dtype(np.float32)
# Non-negative float32 values order like their bit patterns read as uint32, and NaN and
# infinity lie above 1.0's: bits <= these bits <=> a value in [+0, 1].
_ONE_BITS = int(np.float32(1.0).view(np.uint32))


def positive_int(value: object, name: str) -> int:
    """`value` as an int, if it is an integer >= 1 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: object, name: str) -> int:
    """`value` as an int, if it is an integer >= 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InputError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def real_array(values: object, name: str) -> np.ndarray:
    """`values` as a numpy array of a real (or boolean) dtype."""
    try:
        array = np.asarray(values)
    except ValueError as error:  # ragged nested lists
        raise InputError(f"{name} must be a rectangular array of numbers ({error})") from None
    if array.dtype.kind not in REAL_KINDS:
        raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array


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
    An array that is already float32, C-contiguous and [batch, width] is returned as it
    is once one reduction shows its values fit; anything else takes the full check.
    """
    if (
        type(values) is np.ndarray
        and values.dtype is _FLOAT32  # the native float32 dtype: others take the full check
        and values.ndim == 2
        and values.shape[1] == width
        and values.shape[0]
        and values.flags.c_contiguous
        and (
            # One pass either way, the cheapest found at batch 1 (a max reduction, or
            # min, max and isfinite, cost more): a NaN or infinity makes the sum of
            # squares non-finite (codes); a value above 1, NaN, infinite or negative has a
            # bit pattern above 1.0's, so the largest one (by argmax) tells (images). A
            # failure is not an error yet (the squares may overflow, -0.0 has its sign
            # bit set): the full check decides.
            _largest_bits(values) <= _ONE_BITS
            if unit_interval
            else math.isfinite(np.vdot(values, values))
        )
    ):
        return values
    return _checked_batch(values, name, width, side, unit_interval)


def _largest_bits(values: np.ndarray) -> int:
    """The largest float32 bit pattern in `values`, read as uint32."""
    bits = values.view(np.uint32)
    return bits.item(bits.argmax())


def _checked_batch(
    values: object, name: str, width: int, side: int | None, unit_interval: bool
) -> np.ndarray:
    """`as_batch` for any input: converts, then checks every value; errors say what fits."""
    array = real_array(values, name)
    shape_ok = array.ndim == 2 and array.shape[1] == width
    if side is not None:
        shape_ok = shape_ok or (array.ndim == 3 and array.shape[1:] == (side, side))
    if not shape_ok or array.shape[0] == 0:
        expected = f"[batch, {width}]" + (f" or [batch, {side}, {side}]" if side else "")
        raise InputError(f"{name} must have shape {expected} with batch >= 1, got {array.shape}")
    batch = array.reshape(array.shape[0], width)
    if batch.dtype != _FLOAT32 or not batch.flags.c_contiguous:
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, refused next
            batch = np.ascontiguousarray(batch, dtype=np.float32)
    if not np.isfinite(batch).all():
        raise InputError(f"{name} contains NaN or infinite values")
    low, high = float(batch.min()), float(batch.max())
    if unit_interval and (low < 0 or high > 1):
        raise InputError(f"{name} must hold values in [0, 1], got [{low:.9g}, {high:.9g}]")
    return batch
