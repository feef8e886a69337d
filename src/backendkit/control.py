"""Loops and branches with ``jax.lax`` semantics on every backend.

:func:`fori_loop`, :func:`while_loop`, :func:`cond`, :func:`switch` and :func:`scan`
are ``jax.lax``'s under JAX, so they compile under ``jax.jit`` and carry tracers. Under
NumPy and PyTorch they are Python loops and branches that give the same structures
(tuples, lists, dicts and namedtuples of arrays: *pytrees*), shapes, dtypes and values
as JAX, including JAX's checks:

* a loop body must give back a carry of the type it received (same structure, shapes
  and dtypes; a Python number may become an array, as in JAX);
* the branches of :func:`cond` and :func:`switch` must return the same structure,
  shapes and dtypes. JAX checks this when it traces both branches; the fallbacks run
  every branch to check it (so a branch costs its time even when not taken, and
  branches must be pure functions, as JAX requires). Both raise
  :class:`~backendkit.ControlFlowError`;
* :func:`switch` clamps its index into range, as JAX does.

**Which backend runs** (the dispatch rule, :mod:`backendkit._dispatch`): the
framework of the JAX or PyTorch arrays among the arguments (tracers inside ``jax.jit``
included, and arrays inside any pytree the carry is, registered dataclasses too),
otherwise the current backend; NumPy arrays and Python numbers are host data that go
with any backend. Arrays of JAX and PyTorch together raise
:class:`~backendkit.BackendMismatchError`. The loop bodies and branches run with that
backend selected, so ``xp`` and :func:`~backendkit.asarray` inside them follow the
arrays; the selection comes back afterwards, also when they raise.

The fallbacks decide branches and loop conditions in Python, so under
``torch.func.vmap`` a predicate that depends on the mapped values cannot be decided
and PyTorch raises (JAX turns such a ``cond`` into a select): compute both values and
choose with ``xp.where`` there. Under ``torch.func.grad`` and the other PyTorch
transforms the loops work as they are.

Python numbers in a fallback's result (an ``init`` of ``0.0`` that the body kept a
number) come back as 0-d arrays of the backend, as from JAX.

Bad arguments raise the same errors on every backend, naming the argument: a function
that is not callable or a loop bound that is not an integer
(:class:`~backendkit.ArgumentTypeError`), a ``length`` that does not match ``xs``
(:class:`~backendkit.ArgumentValueError`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from . import _loops, _tree
from ._dispatch import backend_for, host_to
from .arrays import asarray
from .backends import Backend
from .errors import ArgumentTypeError, ArgumentValueError
from .selection import enter, leave

__all__ = ["cond", "fori_loop", "scan", "switch", "while_loop"]

_NUMBERS = (bool, int, float, complex)


def _check_callable(where: str, name: str, fn: Any) -> None:
    if not callable(fn):
        raise ArgumentTypeError(
            f"{where}: {name} must be a function, got {type(fn).__name__} {fn!r}"
        )


def _integer(where: str, name: str, value: Any, backend: Backend) -> Any:
    """``value`` as a Python int, or as it is if it is a traced integer (JAX)."""
    if type(value) is int:
        return value
    if backend.is_traced(value):
        kind = _tree.dtype_kind(_tree.dtype_name(value.dtype))
        if kind in "iu" and value.shape == ():
            return value
        shown = str(_tree.leaf_type(value))
    elif isinstance(value, bool):
        shown = f"bool {value!r}"
    else:
        try:
            return operator.index(value)
        except TypeError:
            shown = f"{type(value).__name__} {value!r}"
    raise ArgumentTypeError(
        f"{where}: {name} must be an integer scalar, got {shown}; convert it, e.g. int(x)"
    )


def _run(
    backend: Backend,
    compiled: Callable[[], Any],
    loop: Callable[[], Any],
    explain: Callable[[], None],
) -> Any:
    """``compiled()`` where the backend compiles control flow, else the Python
    ``loop()``; either with ``backend`` selected. A ``TypeError`` of the compiled
    version (JAX refusing a carry or branch type at trace time) is first given to
    ``explain``, which raises backendkit's :class:`~backendkit.ControlFlowError` when
    it finds what differs; any other ``TypeError`` passes through unchanged."""
    token = enter(backend.name)
    try:
        if not backend.compiled_control_flow:
            return loop()
        try:
            return compiled()
        except TypeError:
            explain()
            raise
    finally:
        leave(token)


def _explain_loop(
    backend: Backend, what: str, body: Any, args: tuple[Any, ...], init: Any
) -> None:
    out = backend.abstract(body, *args)
    if out is not None:
        _loops.check_carry(what, body, init, out)


def _explain_while(backend: Backend, cond_fun: Any, body: Any, init: Any) -> None:
    pred = backend.abstract(cond_fun, init)
    if pred is not None:
        _loops.check_pred(cond_fun, pred)
    _explain_loop(backend, "while_loop", body, (init,), init)


def _explain_branches(
    backend: Backend, what: str, branches: list[tuple[str, Any]], operands: tuple[Any, ...]
) -> None:
    outs = [(label, fn, backend.abstract(fn, *operands)) for label, fn in branches]
    outs = [o for o in outs if o[2] is not None]
    for other in outs[1:]:
        _loops.check_branches(what, outs[0], other)


def _explain_scan(backend: Backend, f: Any, init: Any, xs: Any) -> None:
    out = backend.abstract(f, init, backend.row_shapes(xs))
    if out is not None:
        carry, _ = _loops.scan_pair(f, out)
        _loops.check_carry("scan", f, init, carry)


def _with_arrays(backend: Backend, out: Any) -> Any:
    """``out`` with its Python numbers made 0-d arrays of ``backend``."""
    if hasattr(out, "dtype"):  # a single array: the common case, decided at once
        return out
    return _tree.tree_map(
        lambda x: asarray(x, backend=backend.name) if type(x) in _NUMBERS else x, out
    )


def fori_loop(lower: int, upper: int, body_fun: Callable[[int, Any], Any], init_val: Any) -> Any:
    """Apply ``body_fun(i, val)`` for ``i`` from ``lower`` to ``upper - 1``.

    ``jax.lax.fori_loop`` on every backend; the loop index is a Python int in the
    fallbacks and a traced integer under JAX.

    Parameters
    ----------
    lower, upper : int
        Loop bounds: Python or NumPy integers, or integer scalars of the backend
        (traced ones under ``jax.jit``).
    body_fun : callable
        ``body_fun(i, val) -> val``; must keep ``val``'s structure, shapes and dtypes.
    init_val : pytree
        The initial carry.

    Returns
    -------
    pytree
        The final carry (``init_val`` if ``upper <= lower``).

    Raises
    ------
    ArgumentTypeError
        If ``body_fun`` is not callable or a bound is not an integer.
    ControlFlowError
        If ``body_fun`` changes the carry's type.

    Examples
    --------
    The pattern DESC uses: fill an array with :func:`~backendkit.put`.

    >>> import numpy as np
    >>> import backendkit as bk
    >>> bk.fori_loop(0, 4, lambda i, x: bk.put(x, i, i * i), np.zeros(4))
    array([0., 1., 4., 9.])
    """
    _check_callable("fori_loop", "body_fun", body_fun)
    backend = backend_for(lower, upper, init_val)
    lower = _integer("fori_loop", "lower", lower, backend)
    upper = _integer("fori_loop", "upper", upper, backend)
    (init_val,) = host_to(backend, (init_val,))
    out = _run(
        backend,
        lambda: backend.fori_loop(lower, upper, body_fun, init_val),
        lambda: _loops.fori_loop(lower, upper, body_fun, init_val),
        lambda: _explain_loop(backend, "fori_loop", body_fun, (lower, init_val), init_val),
    )
    return _with_arrays(backend, out)


def while_loop(
    cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any], init_val: Any
) -> Any:
    """Apply ``body_fun`` to the carry while ``cond_fun(carry)`` is true.

    ``jax.lax.while_loop`` on every backend.

    Parameters
    ----------
    cond_fun : callable
        ``cond_fun(val) -> bool`` scalar (a Python bool or a 0-d boolean array).
    body_fun : callable
        ``body_fun(val) -> val``; must keep ``val``'s structure, shapes and dtypes.
    init_val : pytree
        The initial carry.

    Raises
    ------
    ArgumentTypeError
        If ``cond_fun`` or ``body_fun`` is not callable.
    ControlFlowError
        If ``cond_fun`` returns no boolean scalar or ``body_fun`` changes the carry's type.

    Examples
    --------
    >>> import backendkit as bk
    >>> int(bk.while_loop(lambda n: n < 100, lambda n: 2 * n, 3))
    192
    """
    _check_callable("while_loop", "cond_fun", cond_fun)
    _check_callable("while_loop", "body_fun", body_fun)
    backend = backend_for(init_val)
    (init_val,) = host_to(backend, (init_val,))
    out = _run(
        backend,
        lambda: backend.while_loop(cond_fun, body_fun, init_val),
        lambda: _loops.while_loop(backend, cond_fun, body_fun, init_val),
        lambda: _explain_while(backend, cond_fun, body_fun, init_val),
    )
    return _with_arrays(backend, out)


def _scalar(where: str, name: str, value: Any, kinds: str, words: str) -> None:
    t = _tree.leaf_type(value) if not isinstance(value, (tuple, list, dict)) else None
    if t is None or t.shape != () or t.kind() not in kinds:
        shown = t if t is not None else type(value).__name__
        raise ArgumentTypeError(f"{where}: {name} must be {words} scalar, got {shown}")


def cond(
    pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any], *operands: Any
) -> Any:
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``.

    ``jax.lax.cond`` on every backend: both branches must return the same structure,
    shapes and dtypes, and the fallbacks run both to check it (see
    :mod:`backendkit.control`). A Python number in one branch takes the dtype of the
    array in the other, as in JAX.

    Parameters
    ----------
    pred : bool or int scalar
        A Python bool or int, or a 0-d boolean or integer array.
    true_fun, false_fun : callable
        The branches, called with ``*operands``.
    *operands : pytree
        The branches' arguments.

    Raises
    ------
    ArgumentTypeError
        If a branch is not callable or ``pred`` is not a boolean or integer scalar.
    ControlFlowError
        If the branches return different structures, shapes or dtypes.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> bk.cond(True, lambda x: x + 1, lambda x: x - 1, np.float32(1.0))
    np.float32(2.0)
    """
    _check_callable("cond", "true_fun", true_fun)
    _check_callable("cond", "false_fun", false_fun)
    _scalar("cond", "pred", pred, "bi", "a boolean or integer")
    backend = backend_for(pred, operands)
    operands = host_to(backend, operands)
    labelled = [("true_fun", true_fun), ("false_fun", false_fun)]
    out = _run(
        backend,
        lambda: backend.cond(pred, true_fun, false_fun, operands),
        lambda: _loops.run_branches(backend, "cond", 0 if pred else 1, labelled, operands),
        lambda: _explain_branches(backend, "cond", labelled, operands),
    )
    return _with_arrays(backend, out)


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``branches[index](*operands)``, with ``index`` clamped into range as in JAX.

    ``jax.lax.switch`` on every backend: an index below 0 picks the first branch, one
    past the end the last. All branches must return the same structure, shapes and
    dtypes (the fallbacks run all of them to check it).

    Parameters
    ----------
    index : int scalar
        A Python int or a 0-d integer array.
    branches : sequence of callables
        At least one.
    *operands : pytree
        The branches' arguments.

    Raises
    ------
    ArgumentTypeError
        If ``branches`` is empty or holds a non-callable, or ``index`` is not an
        integer scalar.
    ControlFlowError
        If the branches return different structures, shapes or dtypes.

    Examples
    --------
    >>> import backendkit as bk
    >>> branches = [lambda x: x, lambda x: 10 * x, lambda x: 100 * x]
    >>> [int(bk.switch(i, branches, 2)) for i in (-5, 1, 99)]
    [2, 20, 200]
    """
    if not isinstance(branches, (list, tuple)) or not branches:
        raise ArgumentTypeError(
            f"switch: branches must be a non-empty list or tuple of functions, got "
            f"{type(branches).__name__} {branches!r}"
        )
    for i, fn in enumerate(branches):
        _check_callable("switch", f"branches[{i}]", fn)
    _scalar("switch", "index", index, "iu", "an integer")
    backend = backend_for(index, operands)
    operands = host_to(backend, operands)
    if not backend.is_traced(index):
        index = min(max(operator.index(index), 0), len(branches) - 1)
    labelled = [(f"branch {i}", b) for i, b in enumerate(branches)]
    out = _run(
        backend,
        lambda: backend.switch(index, list(branches), operands),
        lambda: _loops.run_branches(backend, "switch", index, labelled, operands),
        lambda: _explain_branches(backend, "switch", labelled, operands),
    )
    return _with_arrays(backend, out)


def scan(
    f: Callable[[Any, Any], tuple[Any, Any]],
    init: Any,
    xs: Any = None,
    length: int | None = None,
    reverse: bool = False,
    unroll: int = 1,
) -> tuple[Any, Any]:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of ``xs``, stacking ``y``.

    ``jax.lax.scan`` on every backend.

    Parameters
    ----------
    f : callable
        ``f(carry, x) -> (carry, y)``; must keep the carry's structure, shapes and
        dtypes. ``y`` may be any pytree (``None`` for nothing to stack).
    init : pytree
        The initial carry.
    xs : pytree of arrays, optional
        Scanned along axis 0; ``None`` gives ``x = None`` at each of ``length`` steps.
    length : int, optional
        The number of steps; required when ``xs`` is ``None``, else it must match.
    reverse : bool, default False
        Run from the last row to the first; ``ys`` stays in ``xs``'s order.
    unroll : int, default 1
        Passed to JAX (steps per compiled loop iteration); ignored by the fallbacks.

    Returns
    -------
    carry, ys
        The final carry and the ``y``'s stacked along a new axis 0.

    Raises
    ------
    ArgumentTypeError
        If ``f`` is not callable or ``length`` not an integer.
    ArgumentValueError
        If ``xs`` and ``length`` are both missing, or the leading sizes of ``xs``'s
        leaves and ``length`` disagree.
    ControlFlowError
        If ``f`` does not return a pair or changes the carry's type.

    Examples
    --------
    A cumulative sum:

    >>> import numpy as np
    >>> import backendkit as bk
    >>> total, partial = bk.scan(lambda c, x: (c + x, c + x), 0.0, np.arange(1.0, 5.0))
    >>> partial
    array([ 1.,  3.,  6., 10.])
    """
    _check_callable("scan", "f", f)
    backend = backend_for(init, xs)
    init, xs = host_to(backend, (init, xs))
    if length is not None:
        length = _integer("scan", "length", length, backend)
        if length < 0:
            raise ArgumentValueError(f"scan: length must be >= 0, got {length}")
    sizes = set()
    for pos, leaf in enumerate(_tree.leaves(xs)):
        shape = tuple(getattr(leaf, "shape", ()))
        if not shape:
            raise ArgumentValueError(
                f"scan: every leaf of xs needs a leading axis to scan over; leaf {pos} "
                f"is a scalar ({type(leaf).__name__})"
            )
        sizes.add(shape[0])
    if len(sizes) > 1:
        raise ArgumentValueError(
            f"scan: the leaves of xs have different leading sizes {sorted(sizes)}; "
            f"they must all have the same"
        )
    if not sizes and length is None:
        raise ArgumentValueError("scan: give xs to scan over, or length when xs is None")
    if sizes and length is not None and sizes != {length}:
        raise ArgumentValueError(
            f"scan: length={length} does not match xs's leading size {sizes.pop()}"
        )
    steps = length if length is not None else sizes.pop()
    carry, ys = _run(
        backend,
        lambda: backend.scan(f, init, xs, steps, bool(reverse), unroll),
        lambda: _loops.scan(backend, f, init, xs, steps, bool(reverse)),
        lambda: _explain_scan(backend, f, init, xs),
    )
    return _with_arrays(backend, carry), ys
