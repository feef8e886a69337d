"""Python loops and branches for the frameworks without compiled control flow.

JAX compiles loops and branches (``jax.lax``); NumPy has nothing of the kind, and
PyTorch's eager mode needs nothing of the kind. Both therefore share these Python
loops, which give the same structures, shapes, dtypes and values as ``jax.lax``, and
the loop that stands in for ``vmap`` where a framework has none. They are written once,
here, and used by :mod:`backendkit.control` and :mod:`backendkit.transforms` wherever
the backend plug-in says it has no compiled version
(:attr:`~backendkit.backends.Backend.compiled_control_flow`,
:attr:`~backendkit.backends.Backend.has_vmap`).

JAX checks at trace time that a loop body keeps its carry's type and that the branches
of a ``cond`` agree; the loops here check the same after the first step and at the end
(not at every step, which would cost more than the loop itself on small bodies), and
``cond``/``switch`` run every branch to compare, as JAX traces every branch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _tree, backends
from .arrays import asarray
from .backends import load, owner_of
from .errors import ArgumentValueError, ControlFlowError

__all__ = [
    "check_branches",
    "check_carry",
    "check_pred",
    "fori_loop",
    "run_branches",
    "scan",
    "scan_pair",
    "vmap",
    "while_loop",
]


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def check_carry(what: str, body: Any, before: Any, after: Any) -> None:
    """Raise :class:`ControlFlowError` if a loop body changed its carry's type."""
    dtype = getattr(before, "dtype", None)
    after_dtype = getattr(after, "dtype", None)
    # "is not None" first: NumPy's dtype("float64") == None is True
    same = dtype is not None and after_dtype is not None and after_dtype == dtype
    if same and before.shape == after.shape:
        return  # one array in, one of the same type out: the common case, at once
    problem = _tree.mismatch(before, after, loop=True)
    if problem is not None:
        raise ControlFlowError(
            f"{what}: {_name(body)} must return a carry of the type it receives, but "
            f"{problem}; keep the carry's structure, shapes and dtypes fixed (cast with "
            f"astype, or start from an init of the final dtype)"
        )


# ---------------------------------------------------------------------- loops
def fori_loop(lower: int, upper: int, body: Callable[[int, Any], Any], init: Any) -> Any:
    """``body(upper-1, ... body(lower+1, body(lower, init)))`` in a Python loop."""
    if lower >= upper:
        return init
    val = body(lower, init)
    check_carry("fori_loop", body, init, val)
    for i in range(lower + 1, upper):
        val = body(i, val)
    check_carry("fori_loop", body, init, val)
    return val


def check_pred(cond_fun: Any, pred: Any) -> None:
    t = _tree.leaf_type(pred) if not isinstance(pred, (tuple, list, dict)) else None
    if t is None or t.shape != () or t.dtype != "bool":
        shown = t if t is not None else type(pred).__name__
        raise ControlFlowError(
            f"while_loop: cond_fun {_name(cond_fun)} must return a boolean scalar, got "
            f"{shown}; compare instead, e.g. return x < 10"
        )


def while_loop(
    backend: Any, cond_fun: Callable[[Any], Any], body: Callable[[Any], Any], init: Any
) -> Any:
    """``body`` applied while ``cond_fun`` holds, in a Python loop."""
    pred = cond_fun(init)
    if type(pred) is not bool:
        owner = owner_of(pred)
        if backends.is_framework(owner) and owner != backend.name:
            # The condition reads arrays of another framework that the carry does not
            # hold (a JAX tracer from a closure, under jax.jit): that framework runs it.
            other = load(owner)
            if other.compiled_control_flow:
                return other.while_loop(cond_fun, body, init)
            return while_loop(other, cond_fun, body, init)
    check_pred(cond_fun, pred)
    if not pred:
        return init
    val = body(init)
    check_carry("while_loop", body, init, val)
    while cond_fun(val):
        val = body(val)
    check_carry("while_loop", body, init, val)
    return val


def scan(
    backend: Any,
    f: Callable[[Any, Any], Any],
    init: Any,
    xs: Any,
    length: int,
    reverse: bool,
) -> tuple[Any, Any]:
    """``jax.lax.scan`` in a Python loop: ``(final carry, stacked ys)``."""
    xs_leaves, xs_def = _tree.flatten(xs)
    single = _tree.is_leaf(xs_def)
    order = range(length - 1, -1, -1) if reverse else range(length)

    def row(i: int) -> Any:
        if single:
            return xs_leaves[0][i]
        return _tree.unflatten(xs_def, [leaf[i] for leaf in xs_leaves])

    if length == 0:
        # JAX knows the shape of ys without running f; here f runs once on a row of
        # zeros, and its result gives the shape and dtype of the empty ys.
        zeros = [
            backend.namespace.zeros(tuple(leaf.shape[1:]), dtype=leaf.dtype) for leaf in xs_leaves
        ]
        carry, y = scan_pair(f, f(init, _tree.unflatten(xs_def, zeros)))
        check_carry("scan", f, init, carry)
        return init, _tree.tree_map(lambda leaf: _stack(backend, [leaf])[:0], y)

    # the hot loop is f and an append: a single array is iterated row by row as a
    # plain loop would (torch cannot slice backwards, so reverse indexes)
    rows = iter(xs_leaves[0]) if single and not reverse else (row(i) for i in order)
    carry, y = scan_pair(f, f(init, next(rows)))
    check_carry("scan", f, init, carry)
    ys = [y]
    append = ys.append
    for x in rows:
        carry, y = f(carry, x)
        append(y)
    check_carry("scan", f, init, carry)
    if reverse:
        ys.reverse()
    return carry, _stack_tree(backend, f, ys)


def scan_pair(f: Any, out: Any) -> tuple[Any, Any]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"{len(out)} values" if isinstance(out, (tuple, list)) else "a single value"
        raise ControlFlowError(
            f"scan: f {_name(f)} must return a pair (carry, y), got {got}; return "
            f"(new_carry, None) when there is nothing to stack"
        )
    return out[0], out[1]


def _stack(backend: Any, items: list[Any], axis: int = 0) -> Any:
    if _tree.leaf_type(items[0]).weak:
        # Python numbers (0-d, so axis is 0) become one array with the default dtype
        return asarray(items, backend=backend.name)
    return backend.namespace.stack(items, axis=axis)


def _stack_tree(backend: Any, f: Any, ys: list[Any], axes: list[Any] | None = None) -> Any:
    first, treedef = _tree.flatten(ys[0])
    if _tree.is_leaf(treedef) and axes is None:
        return _stack(backend, ys)
    columns: list[list[Any]] = [[] for _ in first]
    for y in ys:
        values, d = _tree.flatten(y)
        if d != treedef:
            raise ControlFlowError(
                f"{_name(f)} returned outputs of different structures at different steps: "
                f"{_tree.describe(treedef)} and {_tree.describe(d)}; return the same structure every time"
            )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    if axes is None:
        axes = [0] * len(columns)
    return _tree.unflatten(
        treedef,
        (
            c[0] if ax is None else _stack(backend, c, ax)
            for c, ax in zip(columns, axes, strict=True)
        ),
    )


# ---------------------------------------------------------------------- branches
def check_branches(what: str, first: tuple[str, Any, Any], other: tuple[str, Any, Any]) -> None:
    """Raise :class:`ControlFlowError` if two branches' outputs (``(label, function,
    output)``; outputs may be JAX ``ShapeDtypeStruct`` trees) do not agree."""
    problem = _tree.mismatch(first[2], other[2])
    if problem is not None:
        raise ControlFlowError(
            f"{what} branches must return the same structure, shapes and dtypes, but "
            f"{problem} ({first[0]} {_name(first[1])} against {other[0]} "
            f"{_name(other[1])}); JAX refuses this when it traces the branches, so "
            f"every backend does: make the branches agree"
        )


def run_branches(
    backend: Any,
    what: str,
    index: int,
    branches: Sequence[tuple[str, Callable[..., Any]]],
    operands: tuple[Any, ...],
) -> Any:
    """Branch ``index`` of ``branches`` (``(label, function)`` pairs) on ``operands``.

    Every other branch runs too, to check that all return the same structure, shapes
    and dtypes, as JAX checks when it traces them. A branch not taken that raises on
    these operands (``x[i]`` with ``i`` out of range, where JAX would clamp) cannot be
    compared and is skipped; NumPy's floating-point warnings are silenced in it.
    """
    label, fn = branches[index]
    out = fn(*operands)
    promote: dict[int, Any] = {}
    for other_label, other_fn in branches:
        if other_fn is fn:
            continue
        try:
            with np.errstate(all="ignore"):
                other = other_fn(*operands)
        except Exception:  # noqa: BLE001, S112 - a value-dependent failure JAX would not see
            continue
        check_branches(what, (label, fn, out), (other_label, other_fn, other))
        for pos, leaf in enumerate(_tree.leaves(other)):
            if not _tree.leaf_type(leaf).weak:
                promote.setdefault(pos, leaf.dtype)
    if promote:
        # A Python number meeting an array in the other branch takes its dtype, as in JAX.
        values, treedef = _tree.flatten(out)
        values = [
            backend.asarray(v, dtype=promote[pos])
            if pos in promote and _tree.leaf_type(v).weak
            else v
            for pos, v in enumerate(values)
        ]
        out = _tree.unflatten(treedef, values)
    return out


# ---------------------------------------------------------------------- vmap
def vmap(
    backend: Any,
    fun: Callable[..., Any],
    flat_axes: list[int | None],
    out_axes: Any,
    args: tuple[Any, ...],
    size: int,
) -> Any:
    """``fun`` mapped over ``args`` by a Python loop, the results stacked.

    ``flat_axes`` holds one checked, non-negative axis (or ``None``) per leaf of
    ``args``; ``size`` is the common length of the mapped axes.
    """
    flat, treedef = _tree.flatten(args)
    results = []
    for i in range(size):
        sliced = [
            leaf if ax is None else leaf[(slice(None),) * ax + (i,)]
            for leaf, ax in zip(flat, flat_axes, strict=True)
        ]
        results.append(fun(*_tree.unflatten(treedef, sliced)))
    try:
        axes = _tree.broadcast_prefix(out_axes, results[0], "out_axes")
    except ValueError as exc:
        raise ArgumentValueError(f"vmap: {exc}") from None
    ndims = [np.ndim(leaf) for leaf in _tree.leaves(results[0])]
    checked = []
    for pos, (ax, ndim) in enumerate(zip(axes, ndims, strict=True)):
        if ax is not None and not -ndim - 1 <= ax <= ndim:
            raise ArgumentValueError(
                f"vmap: out_axes entry {ax} for output leaf {pos} is out of range for an "
                f"output with {ndim + 1} dimensions"
            )
        checked.append(None if ax is None else ax % (ndim + 1))
    return _stack_tree(backend, fun, results, checked)
