"""Functional updates that behave the same on every backend: :func:`put` and :func:`at`.

JAX arrays cannot be changed in place, so portable code writes ``y = put(x, idx, v)``
instead of ``x[idx] = v``. What that means is pinned down here, once, for every
backend:

* the input is never changed (unless ``copy=False`` is asked for, see below);
* ``add``, ``multiply``, ``min`` and ``max`` with a repeated index apply once per
  occurrence, as ``numpy.add.at`` does (``x[idx] += v`` would apply once in all);
  ``set`` with a repeated index keeps one of the values, which one is unspecified
  (as in JAX); do not rely on it;
* an index out of range raises ``IndexError`` in eager code on every backend, where
  JAX alone would clamp or drop it silently. Under ``jax.jit`` the index is not known
  and cannot be checked: JAX's rule applies there (out-of-range updates are dropped);
* integers, slices, ``None``, ``...``, integer arrays (lists too) with repeats and
  negative entries, and boolean masks, alone or in a tuple, give the same result on
  every backend;
* ``values`` is cast to ``x``'s dtype, as ``x[idx] = values`` would.

``copy=False`` lets NumPy and PyTorch update ``x`` itself and return it, saving the
copy; JAX arrays are immutable, so JAX ignores it (under ``jit`` XLA reuses the buffer
by itself). Use it only on arrays nothing else holds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _indexing, backends
from ._dispatch import backend_for
from .arrays import asarray
from .selection import current

__all__ = ["at", "put"]

_OPS = ("set", "add", "multiply", "min", "max")


# array type -> its backend: put/at run in loops, and one dict look-up here replaces
# backend_name_of's and load's (see benchmarks/overhead.py for what each call costs)
_BACKEND_OF_TYPE: dict[type, backends.Backend] = {}


def _backend_of_x(x: Any) -> backends.Backend:
    try:
        return _BACKEND_OF_TYPE[type(x)]
    except KeyError:
        pass
    name = backends.backend_name_of(x)
    if name is None:
        raise TypeError(
            f"put/at need an array of numpy, jax or torch as x, got {type(x).__name__}; "
            f"make one with backendkit.asarray(x)"
        )
    backend = _BACKEND_OF_TYPE[type(x)] = backends.load(name)
    return backend


# Types that are host data for certain: the check below skips them without a call.
_HOST_TYPES = frozenset(
    {int, float, complex, bool, slice, type(None), type(Ellipsis), np.ndarray}
    | {type(np.dtype(c).type(0)) for c in "?bhilqBHILQefdgFDG"}
)


def _update(x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
    backend = _BACKEND_OF_TYPE.get(type(x)) or _backend_of_x(x)
    idx = (idx,) if type(idx) in _HOST_TYPES else _indexing.as_tuple(idx)
    # The dispatch rule: a JAX or PyTorch array among x, idx and values chooses (two
    # frameworks raise); a NumPy x with host data follows the selection.
    if len(idx) != 1 or type(values) not in _HOST_TYPES or type(idx[0]) not in _HOST_TYPES:
        chosen = backend_for(x, values, *idx)
    else:
        chosen = current() if backend.name == "numpy" else backend
    if chosen is not backend:  # x is host data: it becomes the chosen backend's array
        x, backend = asarray(x, backend=chosen.name), chosen
    name = backend.name
    if name == "numpy":
        # NumPy checks the index itself, before it writes anything
        try:
            return backend.update(x, idx, op, values, copy)
        except IndexError as exc:
            raise _indexing.index_error(exc, x.shape, idx) from None
    # Bring the index to the host to check it; under jit the index is a tracer and
    # JAX's own rule applies.
    if backend.is_traced(x) or any(backend.is_traced(i) for i in idx):
        return backend.update(x, idx, op, values, copy)
    idx = tuple(backend.to_numpy(i) if backends.backend_name_of(i) == name else i for i in idx)
    _indexing.check_in_bounds(tuple(x.shape), idx)
    return backend.update(x, idx, op, values, copy)


def put(x: Any, idx: Any, values: Any, *, copy: bool = True) -> Any:
    """``x`` with ``x[idx]`` replaced by ``values``, on any backend; ``x`` is unchanged.

    The portable spelling of ``x[idx] = values`` (JAX: ``x.at[idx].set(values)``).
    See :mod:`backendkit.functional` for the contract shared by every backend.

    Parameters
    ----------
    x : array
        A numpy, jax or torch array.
    idx : int, slice, array, list, tuple or boolean mask
        Anything NumPy accepts as an index.
    values : scalar or array
        Broadcast to ``x[idx]``'s shape and cast to ``x``'s dtype.
    copy : bool, default True
        ``False`` lets NumPy and PyTorch write into ``x`` and return it.

    Returns
    -------
    array
        A new array of ``x``'s backend, dtype and shape.

    Raises
    ------
    IndexError
        If ``idx`` is out of range (in eager code, on every backend).
    BackendMismatchError
        If ``values`` or ``idx`` are arrays of another backend than ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> x = np.zeros(4)
    >>> bk.put(x, [1, 3], 7.0)
    array([0., 7., 0., 7.])
    >>> x
    array([0., 0., 0., 0.])
    """
    return _update(x, idx, "set", values, copy)


class _At:
    """The object :func:`at` returns; call one update method on it."""

    __slots__ = ("_idx", "_x")

    def __init__(self, x: Any, idx: Any) -> None:
        self._x = x
        self._idx = idx

    def __getitem__(self, idx: Any) -> _At:
        if self._idx is not _NO_INDEX:
            raise TypeError("at(x, idx) already has an index; write at(x)[idx] or at(x, idx)")
        return _At(self._x, idx)

    def _apply(self, op: str, values: Any, copy: bool) -> Any:
        if self._idx is _NO_INDEX:
            raise TypeError(
                f"at(x).{op}(...) needs an index: write at(x)[idx].{op}(v) or at(x, idx).{op}(v)"
            )
        return _update(self._x, self._idx, op, values, copy)

    def set(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx] = values`` (see :func:`put`)."""
        return self._apply("set", values, copy)

    def add(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``values`` added at ``idx``, once per occurrence of a repeated index."""
        return self._apply("add", values, copy)

    def multiply(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` multiplied by ``values``, once per occurrence."""
        return self._apply("multiply", values, copy)

    def min(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` replaced by ``minimum(x[idx], values)``, per occurrence."""
        return self._apply("min", values, copy)

    def max(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` replaced by ``maximum(x[idx], values)``, per occurrence."""
        return self._apply("max", values, copy)

    def __repr__(self) -> str:
        return f"at({type(self._x).__name__}, {self._idx!r})"


_NO_INDEX: Any = object()


def at(x: Any, idx: Any = _NO_INDEX) -> _At:
    """Functional updates of ``x`` at ``idx``, the same on every backend.

    ``at(x, idx).set(v)`` and ``at(x)[idx].set(v)`` are the same; the methods are
    ``set``, ``add``, ``multiply``, ``min`` and ``max``, each returning a new array
    and each accepting ``copy=False`` (see :mod:`backendkit.functional`).

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> x = np.zeros(3)
    >>> bk.at(x)[[0, 0, 2]].add(1.0)      # the repeated 0 counts twice
    array([2., 0., 1.])
    >>> bk.at(x, 1).set(5.0)
    array([0., 5., 0.])

    Anti-patterns: ``at(x)[idx] = v`` is not supported (there is nothing to assign
    to), and ``x = at(x, i).add(1)`` inside a Python loop copies ``x`` every time on
    NumPy and PyTorch: collect the indices and update once, or use ``copy=False`` on
    an array nothing else holds.
    """
    return _At(x, idx)
