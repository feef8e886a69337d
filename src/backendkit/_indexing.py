"""Index expressions, checked and taken apart once for every backend.

``put``/``at`` accept what NumPy accepts: integers, slices, ``None``, ``...``, integer
arrays (duplicates allowed) and boolean masks, alone or in a tuple. Backends differ in
what happens to an index that is out of range (NumPy and PyTorch raise, JAX clamps or
drops silently) and in how repeated indices accumulate, so the checks and the index
arithmetic live here, written once against NumPy, and every backend uses them.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .errors import IndexOutOfBoundsError

__all__ = [
    "as_tuple",
    "check_in_bounds",
    "has_repeatable",
    "index_error",
    "linear_indices",
    "mixes_scalars_and_arrays",
    "occurrence_rounds",
    "selected_shape",
]

_FALSE = np.False_


def as_tuple(idx: Any) -> tuple[Any, ...]:
    """``idx`` as a tuple of index components (lists become NumPy arrays)."""
    # put/at call this on every update: the common single index skips the generator
    if not isinstance(idx, tuple):
        return (_list_index(idx) if isinstance(idx, list) else idx,)
    if not any(isinstance(i, list) for i in idx):
        return idx
    return tuple(_list_index(i) if isinstance(i, list) else i for i in idx)


def _list_index(i: list[Any]) -> np.ndarray:
    arr = np.asarray(i)
    # NumPy indexes with an empty list as with an empty integer array; asarray makes it float
    return arr.astype(np.intp) if arr.size == 0 else arr


def check_in_bounds(shape: tuple[int, ...], idx: tuple[Any, ...]) -> None:
    """Raise NumPy's ``IndexError`` if ``idx`` does not fit an array of ``shape``.

    Indexes a zero-strided boolean view of ``shape``: no memory the size of the array
    is touched, only as much as the index selects. A long integer array alone is
    checked by its minimum and maximum instead, which reads it once and allocates
    nothing.
    """
    if len(idx) == 1 and shape and _is_long_integer_array(idx[0]):
        n, i = shape[0], idx[0]
        low, high = i.min(), i.max()
        if low < -n or high >= n:
            bad = high if high >= n else low
            raise index_error(f"index {bad} is out of bounds for axis 0 with size {n}", shape, idx)
        return
    try:
        _zero_view(shape)[idx]
    except IndexError as exc:
        raise index_error(exc, shape, idx) from None


def selected_shape(shape: tuple[int, ...], idx: tuple[Any, ...]) -> tuple[int, ...]:
    """The shape of ``x[idx]`` for an ``x`` of ``shape`` (``idx`` in bounds), found
    without touching memory the size of ``x``."""
    return tuple(_zero_view(shape)[idx].shape)


def index_error(reason: Any, shape: tuple[int, ...], idx: tuple[Any, ...]) -> IndexError:
    """The ``IndexError`` put/at raise on every backend: NumPy's reason, what was given."""
    return IndexOutOfBoundsError(f"{reason} (index {_describe(idx)} on an array of shape {shape})")


# Below this many entries indexing the zero-strided view is the faster check.
_MINMAX_FROM = 4096


def _is_long_integer_array(i: Any) -> bool:
    return isinstance(i, np.ndarray) and i.dtype.kind in "iu" and i.size >= _MINMAX_FROM


@functools.lru_cache(maxsize=128)
def _zero_view(shape: tuple[int, ...]) -> np.ndarray:
    # np.broadcast_to costs microseconds per call; the view is one byte whatever the shape
    return np.broadcast_to(_FALSE, shape)


def has_repeatable(idx: tuple[Any, ...]) -> bool:
    """Whether ``idx`` holds an integer array, the only kind that can repeat a position."""
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" and i.ndim > 0 for i in idx)


def mixes_scalars_and_arrays(idx: tuple[Any, ...]) -> bool:
    """Whether ``idx`` holds an integer scalar and an index array together, where
    NumPy makes the scalar an advanced index (its dimensions can move to the front)
    and PyTorch does not."""
    scalar = array = False
    for i in idx:
        if (isinstance(i, (int, np.integer)) and not isinstance(i, bool)) or getattr(
            i, "ndim", None
        ) == 0:
            scalar = True
        elif getattr(i, "ndim", 0):
            array = True
    return scalar and array


def linear_indices(shape: tuple[int, ...], idx: tuple[Any, ...]) -> np.ndarray:
    """The flat (C-order) positions that ``x[idx]`` selects, repeats kept, shaped like it.

    ``idx`` must be in bounds (see :func:`check_in_bounds`).
    """
    if not shape:
        return np.asarray(np.zeros((), dtype=np.intp)[idx])
    first = idx[0]
    if len(idx) == 1 and isinstance(first, np.ndarray) and first.dtype.kind in "iu":
        # the common case, an integer array on the first axis, without a view per axis
        rest = shape[1:]
        stride = math.prod(rest)
        rows = first.astype(np.intp, copy=False) % shape[0]  # wraps negatives
        if not rest:
            return rows
        rows *= stride
        return rows.reshape((*first.shape, *(1,) * len(rest))) + np.arange(
            stride, dtype=np.intp
        ).reshape(rest)
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


def occurrence_rounds(positions: np.ndarray) -> list[np.ndarray]:
    """``positions`` (flat, repeats allowed) split into rounds without repeats: round
    ``k`` holds, in order, the places in ``positions`` of each position's ``k``-th
    occurrence. Applying an operation round by round applies it once per occurrence
    in the order of the index, as ``numpy.ufunc.at`` does, with updates that are exact
    gathers and scatters (for operations no framework scatters: divide, power)."""
    flat = positions.reshape(-1)
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]] if ordered.size else ordered.astype(bool)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(ordered.size), 0))
    rank = np.empty(ordered.size, dtype=np.intp)
    rank[order] = np.arange(ordered.size) - group_start
    return [np.flatnonzero(rank == k) for k in range(int(rank.max()) + 1 if rank.size else 0)]
