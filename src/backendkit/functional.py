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

from typing import Any, Literal, get_args

import numpy as np

from . import _indexing, _tree, backends
from ._dispatch import backend_for
from .arrays import asarray
from .errors import ArgumentTypeError, ArgumentValueError, DtypeUnavailableError
from .selection import current

__all__ = ["UpdateOp", "at", "put"]

#: the operations of :func:`at` (``set`` is also :func:`put`)
UpdateOp = Literal["set", "add", "subtract", "multiply", "divide", "power", "min", "max"]
OPS: tuple[str, ...] = get_args(UpdateOp)

# The dtype kinds (NumPy's letters) each operation takes on every backend. What one
# framework refuses and another allows is refused everywhere, with one error:
# subtracting booleans, dividing integers (the result would not stay integer), and
# the min or max of complex numbers (which have no order).
_KINDS = {
    "set": "biufc",
    "add": "biufc",
    "subtract": "iufc",
    "multiply": "biufc",
    "divide": "fc",
    "power": "iufc",
    "min": "biuf",
    "max": "biuf",
}
# On booleans add is logical or and multiply logical and, as NumPy has them: what
# max and min are, which every framework scatters (JAX's add refuses booleans).
_BOOLEAN = {"add": "max", "multiply": "min"}
# (dtype, op) -> the op to apply; filled on first use, so that the check costs one
# dictionary look-up per update
_OP_FOR: dict[tuple[Any, str], str] = {}


def _op_for(dtype: Any, op: str) -> str:
    try:
        return _OP_FOR[dtype, op]
    except KeyError:
        pass
    name = _tree.dtype_name(dtype)
    kind = _tree.dtype_kind(name)
    if kind not in _KINDS[op]:
        raise DtypeUnavailableError(
            f"at(x, idx).{op}: not defined for x of dtype {name} on any backend; "
            + (
                "convert x to a floating dtype first, e.g. bk.asarray(x, dtype='float32')"
                if op == "divide"
                else "convert x first (e.g. to float32), or use set"
            )
        )
    resolved = _OP_FOR[dtype, op] = _BOOLEAN.get(op, op) if kind == "b" else op
    return resolved


# array type -> its backend: put/at run in loops, and one dict look-up here replaces
# owner_of's and load's (see benchmarks/overhead.py for what each call costs)
_BACKEND_OF_TYPE: dict[type, backends.Backend] = {}
backends.TYPE_CACHES.append(_BACKEND_OF_TYPE)


def _array_x(x: Any) -> tuple[Any, backends.Backend]:
    """``x`` as an array (a NumPy scalar is 0-d host data) and its backend."""
    name = backends.owner_of(x)
    if name is None:
        if isinstance(x, np.generic):
            return np.asarray(x), backends.load(backends.host_name())
        raise ArgumentTypeError(
            f"put/at need an array of numpy, jax or torch as x, got {type(x).__name__} "
            f"{x!r:.60}; make one with backendkit.asarray(x)"
        )
    backend = _BACKEND_OF_TYPE[type(x)] = backends.load(name)
    return x, backend


# Types that are host data for certain: the check below skips them without a call.
_HOST_TYPES = frozenset(
    {int, float, complex, bool, slice, type(None), type(Ellipsis), np.ndarray}
    | {type(np.dtype(c).type(0)) for c in "?bhilqBHILQefdgFDG"}
)


def _update(x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
    if copy is not True and copy is not False:
        raise ArgumentTypeError(f"{_name(op)}: copy must be True or False, got {copy!r}")
    if values is None:
        raise ArgumentTypeError(
            f"{_name(op)}: values is None; give a number or an array (NaN: float('nan'))"
        )
    backend = _BACKEND_OF_TYPE.get(type(x))
    if backend is None:
        x, backend = _array_x(x)
    # The dispatch rule: a JAX or PyTorch array among x, idx and values chooses (two
    # frameworks raise), looked for before lists in idx become NumPy arrays; a NumPy x
    # with host data follows the selection.
    kind = type(idx)
    if type(values) in _HOST_TYPES and (
        kind in _HOST_TYPES or (kind is tuple and idx and _all_host(idx))
    ):
        chosen = current() if backend.host else backend
        idx = (idx,) if kind is not tuple else idx
    else:
        chosen = backend_for(x, values, idx)
        idx = _indexing.as_tuple(idx) or (Ellipsis,)  # x[()] is the whole of x
    if chosen is not backend:  # x is host data: it becomes the chosen backend's array
        x, backend = asarray(x, backend=chosen.name), chosen
    if op != "set":
        op = _op_for(x.dtype, op)
    if backend.host:
        if not copy and not x.flags.writeable:
            # ufunc.at would write into a read-only array: refused as setitem refuses
            raise ArgumentValueError(
                f"{_name(op)}: x is read-only, so copy=False cannot write into it; use "
                f"copy=True (the default) or a writeable copy of x"
            )
        # NumPy checks the index itself, before it writes anything
        try:
            return backend.update(x, idx, op, values, copy)
        except IndexError as exc:
            raise _indexing.index_error(exc, x.shape, idx) from None
        except (ValueError, TypeError) as exc:
            raise _bad_values(op, x, idx, values, exc) from exc
    if op == "set" and copy and backend.refuses_out_of_bounds(x):
        # The framework raises IndexError before the copy is returned (PyTorch on the
        # CPU): the host check is needed only to say it the same way on every backend.
        try:
            return backend.update(x, idx, op, values, copy)
        except IndexError:
            _indexing.check_in_bounds(tuple(x.shape), _host_view(backend, idx))
            raise
        except (ValueError, TypeError, RuntimeError) as exc:
            raise _bad_values(op, x, idx, values, exc) from exc
    if not (backend.is_traced(x) or any(backend.is_traced(i) for i in idx)):
        # Check a host view of the index (under jit the index is a tracer and JAX's
        # own rule applies: out-of-range updates are dropped); the framework gets its
        # own index arrays as they are, without a round trip through the host.
        _indexing.check_in_bounds(tuple(x.shape), _host_view(backend, idx))
    try:
        return backend.update(x, idx, op, values, copy)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise _bad_values(op, x, idx, values, exc) from exc


def _host_view(backend: backends.Backend, idx: tuple[Any, ...]) -> tuple[Any, ...]:
    """``idx`` with the backend's own index arrays as NumPy arrays (views on the CPU)."""
    own = backend.name
    return tuple(backend.to_numpy(i) if backends.owner_of(i) == own else i for i in idx)


def _all_host(idx: tuple[Any, ...]) -> bool:
    for i in idx:  # noqa: SIM110 - a loop: all() of a generator costs more, per update
        if type(i) not in _HOST_TYPES:
            return False
    return True


def _name(op: str) -> str:
    return "put" if op == "set" else f"at(x, idx).{op}"


def _bad_values(op: str, x: Any, idx: tuple[Any, ...], values: Any, exc: Exception) -> Exception:
    """The error of an update the framework refused: values of a shape that does not
    broadcast to ``x[idx]``, or that cannot be cast to ``x``'s dtype, said the same
    way on every backend; anything else is the framework's own error, unchanged."""
    try:
        target = _indexing.selected_shape(tuple(x.shape), idx)
        given = tuple(np.shape(values)) if not hasattr(values, "shape") else tuple(values.shape)
    except Exception:  # noqa: BLE001 - no better diagnosis than the original error
        return exc
    try:
        np.broadcast_shapes(given, target)
    except ValueError:
        return ArgumentValueError(
            f"{_name(op)}: values of shape {given} do not broadcast to x[idx]'s shape "
            f"{target}; give one value, or values of that shape"
        )
    if backends.owner_of(values) is None and np.asarray(values).dtype.kind in "OSU":
        return ArgumentTypeError(
            f"{_name(op)}: values {values!r:.60} are not numbers; x is {_tree.dtype_name(x.dtype)}"
        )
    return exc


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
            raise ArgumentTypeError(
                "at(x, idx) already has an index; write at(x)[idx] or at(x, idx)"
            )
        return _At(self._x, idx)

    def _apply(self, op: str, values: Any, copy: bool) -> Any:
        if self._idx is _NO_INDEX:
            raise ArgumentTypeError(
                f"at(x).{op}(...) needs an index: write at(x)[idx].{op}(v) or at(x, idx).{op}(v)"
            )
        return _update(self._x, self._idx, op, values, copy)

    def set(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx] = values`` (see :func:`put`)."""
        return self._apply("set", values, copy)

    def add(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``values`` added at ``idx``, once per occurrence of a repeated index
        (logical or on booleans)."""
        return self._apply("add", values, copy)

    def subtract(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``values`` subtracted at ``idx``, once per occurrence (not for
        booleans)."""
        return self._apply("subtract", values, copy)

    def multiply(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` multiplied by ``values``, once per occurrence (logical
        and on booleans)."""
        return self._apply("multiply", values, copy)

    def divide(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` divided by ``values``, once per occurrence (floating and
        complex ``x`` only: an integer result would not be the quotient)."""
        return self._apply("divide", values, copy)

    def power(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` raised to ``values``, once per occurrence, in the order
        of the index (not for booleans)."""
        return self._apply("power", values, copy)

    def min(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` replaced by ``minimum(x[idx], values)``, per occurrence
        (not for complex numbers, which have no order)."""
        return self._apply("min", values, copy)

    def max(self, values: Any, *, copy: bool = True) -> Any:
        """``x`` with ``x[idx]`` replaced by ``maximum(x[idx], values)``, per occurrence
        (not for complex numbers)."""
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
