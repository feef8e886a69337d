"""Index expressions, checked and taken apart once for every backend.

``put``/``at`` accept what NumPy accepts: integers, slices, ``None``, ``...``, integer
arrays (duplicates allowed) and boolean masks, alone or in a tuple. Backends differ in
what happens to an index that is out of range (NumPy and PyTorch raise, JAX clamps or
drops silently) and in how repeated indices accumulate, so the checks and the index
arithmetic live here, written once against NumPy, and every backend uses them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_tuple", "check_in_bounds", "has_repeatable", "linear_indices"]

_FALSE = np.False_


def as_tuple(idx: Any) -> tuple[Any, ...]:
    """``idx`` as a tuple of index components (lists become NumPy arrays)."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    return tuple(np.asarray(i) if isinstance(i, list) else i for i in idx)


def check_in_bounds(shape: tuple[int, ...], idx: tuple[Any, ...]) -> None:
    """Raise NumPy's ``IndexError`` if ``idx`` does not fit an array of ``shape``.

    Indexes a zero-strided boolean view of ``shape``: no memory the size of the array
    is touched, only as much as the index selects.
    """
    try:
        np.broadcast_to(_FALSE, shape)[idx]
    except IndexError as exc:
        raise IndexError(f"{exc} (index {_describe(idx)} on an array of shape {shape})") from None


def has_repeatable(idx: tuple[Any, ...]) -> bool:
    """Whether ``idx`` holds an integer array, the only kind that can repeat a position."""
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" and i.ndim > 0 for i in idx)


def linear_indices(shape: tuple[int, ...], idx: tuple[Any, ...]) -> np.ndarray:
    """The flat (C-order) positions that ``x[idx]`` selects, repeats kept, shaped like it."""
    if not shape:
        return np.zeros((), dtype=np.intp)[idx]
    total: Any = 0
    stride = 1
    ndim = len(shape)
    for axis in range(ndim - 1, -1, -1):
        n = shape[axis]
        steps = (np.arange(n, dtype=np.intp) * stride).reshape((n,) + (1,) * (ndim - axis - 1))
        total = total + np.broadcast_to(steps, shape)[idx]
        stride *= n
    return np.asarray(total, dtype=np.intp)


def _describe(idx: tuple[Any, ...]) -> str:
    parts = []
    for i in idx:
        if isinstance(i, np.ndarray):
            parts.append(f"{i.dtype} array of shape {i.shape}")
        else:
            parts.append(repr(i))
    return "(" + ", ".join(parts) + ")" if len(parts) != 1 else parts[0]
