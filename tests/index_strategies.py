"""Index strategies for the put/at property tests: every kind of index NumPy takes.

Shared by tests/test_functional.py and tests/test_put_differential.py.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def int_array(draw, n: int, size: int, unique: bool) -> np.ndarray:
    """Integers in range for an axis of length n, negatives included (repeats unless unique)."""
    pos = draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size, unique=unique))
    neg = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    return np.array(
        [p - n if flip else p for p, flip in zip(pos, neg, strict=True)], dtype=np.int64
    )


@st.composite
def a_slice(draw, n: int) -> slice:
    start = draw(st.none() | st.integers(-n - 1, n + 1))
    stop = draw(st.none() | st.integers(-n - 1, n + 1))
    step = draw(st.none() | st.sampled_from([1, 2, -1, -2, 3]))
    return slice(start, stop, step)


@st.composite
def index_and_shape(draw, unique: bool) -> tuple[tuple[int, ...], object]:
    """An array shape and an index into it: an int, a slice, an integer array (with
    repeats unless ``unique``), a boolean mask, or a tuple mixing them."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    kind = draw(st.sampled_from(["int", "slice", "array", "list", "mask", "full-mask", "tuple"]))
    n = shape[0]
    if kind == "int":
        return shape, draw(st.integers(-n, n - 1))
    if kind == "slice":
        return shape, draw(a_slice(n))
    if kind in ("array", "list"):
        size = draw(st.integers(1, n if unique else 2 * n + 2))
        arr = draw(int_array(n, size, unique))
        return shape, arr if kind == "array" else arr.tolist()
    if kind == "mask":
        return shape, np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "full-mask":
        flat = draw(
            st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))
        )
        return shape, np.array(flat).reshape(shape)
    # A tuple: per axis an int, a slice, or an integer array; the integer arrays share one
    # length (so they broadcast), or one axis takes a boolean mask instead.
    use_mask = draw(st.booleans())
    size = draw(st.integers(1, 4))
    parts: list[object] = []
    mask_used = False
    for axis, n_axis in enumerate(shape):
        if axis >= draw(st.integers(1, len(shape))) and parts:
            break
        choice = draw(st.sampled_from(["int", "slice", "advanced"]))
        if choice == "int":
            parts.append(draw(st.integers(-n_axis, n_axis - 1)))
        elif choice == "slice":
            parts.append(draw(a_slice(n_axis)))
        elif use_mask and not mask_used:
            parts.append(np.array(draw(st.lists(st.booleans(), min_size=n_axis, max_size=n_axis))))
            mask_used = True
        elif use_mask:
            parts.append(draw(a_slice(n_axis)))
        else:
            parts.append(draw(int_array(n_axis, min(size, n_axis) if unique else size, unique)))
    if unique:
        # several arrays pair up element by element: unique in the first keeps pairs unique,
        # but their lengths must agree, so trim all to the shortest
        arrays = [p for p in parts if isinstance(p, np.ndarray) and p.dtype != bool]
        if arrays:
            k = min(len(a) for a in arrays)
            parts = [p[:k] if isinstance(p, np.ndarray) and p.dtype != bool else p for p in parts]
    if draw(st.booleans()) and len(parts) < len(shape):
        parts.append(Ellipsis)
    if draw(st.booleans()):  # a new axis somewhere: None, as NumPy takes it
        parts.insert(draw(st.integers(0, len(parts))), None)
    return shape, tuple(parts)


def selects_unique(shape: tuple[int, ...], idx: object) -> bool:
    positions = np.arange(int(np.prod(shape))).reshape(shape)[idx]
    return np.unique(positions).size == np.size(positions)
