"""The dispatch rule: which backend runs a call. Every public function obeys it.

* **Arrays decide.** The JAX or PyTorch arrays among a call's arguments choose its
  backend: arrays inside tuples, lists, dicts and any other pytree node included
  (walked by one pytree adapter, ``backendkit._tree``), JAX tracers included, so that code called
  inside ``jax.jit``, ``jax.grad`` or ``torch.func`` follows its caller.
* **Host data follows the selection.** NumPy arrays, NumPy scalars and Python numbers
  belong to no framework: with nothing else, the current backend
  (:func:`backendkit.get_backend`) runs, and host data becomes its arrays where its
  framework does not take NumPy arrays itself (PyTorch), as ``jax.numpy`` makes them
  JAX arrays.
* **Two frameworks in one call are refused.** JAX and PyTorch arrays together raise
  :class:`~backendkit.BackendMismatchError`, naming both; nothing is ever converted to
  the host or to another framework silently (:func:`backendkit.convert` says so).
* **Functions run with their arrays' backend selected.** A transformed function, a
  loop body or a branch runs with the chosen backend selected (``selecting``,
  ``run_with``), so ``xp``, ``asarray``, ``put`` and ``backendkit.random`` inside
  it follow the caller's arrays, also while JAX or PyTorch traces it. The selection
  comes back afterwards, also when the function raises.

:data:`backendkit.xp` applies the rule at each call, :func:`backendkit.namespace`
once; ``put``/``at``, control flow, transforms and ``random`` all call
``backend_for``.

Recognising an argument is one dictionary look-up by its type after the first time
(``_OWNERS``); only containers and other pytree nodes are walked.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _tree, backends
from .arrays import asarray
from .backends import Backend
from .errors import BackendMismatchError
from .selection import current, enter, leave

__all__ = [
    "HOST_ARRAY",
    "backend_for",
    "backend_of",
    "host_kwargs_to",
    "host_to",
    "mismatch_error",
    "run_with",
    "selecting",
    "to_backend",
]

# What an argument's type says about the backend, after the first look:
#   None        host data other than arrays (Python numbers, strings, ...)
#   HOST_ARRAY  a NumPy array or scalar: host data that follows the selection and
#               becomes the selected backend's array where that framework does not
#               take NumPy arrays itself (PyTorch)
#   a Backend   the framework that owns arrays of this type
#   _WALK       a container or other object that may hold arrays: walked as a pytree
HOST_ARRAY: Any = object()
_WALK: Any = object()
_UNSEEN: Any = object()
_OWNERS: dict[type, Any] = {
    t: None for t in (bool, int, float, complex, str, bytes, type(None), slice, types.EllipsisType)
}
_OWNERS[np.ndarray] = HOST_ARRAY
_OWNERS[np.dtype] = None
for _t in (tuple, list, dict):
    _OWNERS[_t] = _WALK
_BUILT_IN_OWNERS = dict(_OWNERS)


class _Owners(dict):  # type: ignore[type-arg]
    """``_OWNERS``: emptied by the registry when a backend comes or goes, then refilled
    with the built-in entries above."""

    def clear(self) -> None:
        super().clear()
        self.update(_BUILT_IN_OWNERS)


_OWNERS = _Owners(_OWNERS)
backends.TYPE_CACHES.append(_OWNERS)
_owner_of_type = _OWNERS.get  # bound once: backend_for runs on every xp call


def _classify(x: Any) -> Any:
    """What ``type(x)`` says (see ``_OWNERS``), found once per type."""
    name = backends.owner_of(x)
    if name is not None:
        owner = backends.load(name) if backends.is_framework(name) else HOST_ARRAY
    elif isinstance(x, np.generic):
        owner = HOST_ARRAY
    elif isinstance(x, (np.dtype, type)) or callable(x):
        owner = None  # dtypes, classes, functions: never arrays
    else:
        owner = _WALK
    _OWNERS[type(x)] = owner
    return owner


def mismatch_error(
    a: Any, name_a: str, b: Any, name_b: str, places: tuple[str, str] = ("a ", "a ")
) -> BackendMismatchError:
    """The error for arrays ``a`` of ``name_a`` and ``b`` of ``name_b`` in one call
    (``places``: how to introduce each, e.g. ``"argument 1 is a "``)."""
    return BackendMismatchError(
        f"arrays of two frameworks in one call: {places[0]}{name_a} array "
        f"({type(a).__module__}.{type(a).__name__}) and {places[1]}{name_b} array "
        f"({type(b).__module__}.{type(b).__name__}); backendkit converts nothing "
        f"silently: convert one first, e.g. backendkit.convert(x, to={name_a!r})"
    )


def _mismatch(trees: tuple[Any, ...]) -> BackendMismatchError:
    """The error for ``trees`` that hold arrays of two frameworks, naming where each is
    (found again on this error path only, so that the search itself stays cheap)."""
    first: tuple[Any, Backend, str] | None = None
    for pos, tree in enumerate(trees):
        nested = _OWNERS.get(type(tree)) is _WALK or _classify(tree) is _WALK
        for leaf in _tree.leaves(tree) if nested else (tree,):
            owner = _OWNERS.get(type(leaf), _UNSEEN)
            if owner is _UNSEEN:
                owner = _classify(leaf)
            if not isinstance(owner, Backend):
                continue
            place = f"argument {pos}{' (inside a container)' if nested else ''} is a "
            if first is None:
                first = (leaf, owner, place)
            elif owner is not first[1]:
                return mismatch_error(first[0], first[1].name, leaf, owner.name, (first[2], place))
    raise AssertionError("no mismatch among the arguments")  # pragma: no cover


def backend_for(*trees: Any) -> Backend:
    """The backend that runs a call whose arguments are ``trees`` (see the module rule).

    Raises
    ------
    BackendMismatchError
        If arrays of JAX and PyTorch meet; the message names both.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit._dispatch import backend_for
    >>> backend_for(np.ones(2), [1.0, 2.0], {"n": 3}).name  # host data: the selection
    'numpy'
    """
    found: Backend | None = None
    for tree in trees:
        owner = _owner_of_type(type(tree), _UNSEEN)
        if owner is None or owner is HOST_ARRAY:
            continue
        if owner is _UNSEEN:
            owner = _classify(tree)
            if owner is None or owner is HOST_ARRAY:
                continue
        if owner is _WALK:
            found = _walk(tree, found, trees)
        elif found is None:
            found = owner
        elif owner is not found:
            raise _mismatch(trees)
    return current() if found is None else found


def _walk(tree: Any, found: Backend | None, trees: tuple[Any, ...]) -> Backend | None:
    """``found`` (the backend chosen so far) updated by the leaves of ``tree``, one of
    the arguments ``trees``."""
    for leaf in _tree.leaves(tree):
        owner = _owner_of_type(type(leaf), _UNSEEN)
        if owner is _UNSEEN:
            owner = _classify(leaf)
        if owner is None or owner is HOST_ARRAY or owner is _WALK:  # _WALK: an unregistered
            continue  # object, which the pytree library gives back as a leaf
        if found is None:
            found = owner
        elif owner is not found:
            raise _mismatch(trees)
    return found


def backend_of(*arrays: Any) -> str:
    """The name of the backend the given arrays belong to, by the dispatch rule.

    JAX or PyTorch arrays (inside containers and pytrees too) name their framework;
    NumPy arrays alone give ``"numpy"``; Python numbers, ``None`` and other objects
    that are no array are ignored, and with no array at all the current backend is
    returned.

    Raises
    ------
    BackendMismatchError
        If JAX and PyTorch arrays are given together; the message names both.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> bk.backend_of(np.ones(3), 2.0, [1, 2])
    'numpy'
    >>> bk.backend_of({"a": [1.0]})  # no array: the current backend
    'numpy'
    """
    found = backend_for(*arrays)  # a framework's arrays, else the current backend
    names = {backends.owner_of(leaf) for leaf in _tree.leaves(arrays)}
    host = backends.host_name()
    if found.name in names or host not in names:
        return found.name
    return host  # NumPy arrays alone belong to NumPy, whatever is selected


def run_with(backend: Backend, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with ``backend`` selected while it runs."""
    token = enter(backend.name)
    try:
        return fn(*args, **kwargs)
    finally:
        leave(token)


def selecting(backend: Backend, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` made to run with ``backend`` selected at every call (also while a
    framework traces it); the selection comes back afterwards, also on error."""
    name = backend.name

    @functools.wraps(fn)
    def selected(*args: Any, **kwargs: Any) -> Any:
        token = enter(name)
        try:
            return fn(*args, **kwargs)
        finally:
            leave(token)

    return selected


_NUMBERS = (bool, int, float, complex)


def host_to(backend: Backend, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with their NumPy arrays made ``backend``'s, where its framework does
    not take NumPy arrays itself (:attr:`Backend.takes_host_arrays`)."""
    if backend.takes_host_arrays:
        return args
    for a in args:
        if _owner_of_type(type(a)) is not backend:
            return tuple(to_backend(backend, a) for a in args)
    return args  # the backend's arrays already: the common case, at once


def host_kwargs_to(backend: Backend, kwargs: dict[str, Any]) -> dict[str, Any]:
    """:func:`host_to` for keyword arguments."""
    if backend.takes_host_arrays or not kwargs:
        return kwargs
    return {k: to_backend(backend, v) for k, v in kwargs.items()}


def to_backend(backend: Backend, tree: Any, numbers: bool = False) -> Any:
    """``tree`` with its NumPy arrays (and Python numbers if ``numbers``) made
    ``backend``'s arrays, as :func:`backendkit.asarray` makes them (default dtype and
    device applied)."""

    def convert(x: Any) -> Any:
        if isinstance(x, (np.ndarray, np.generic)) or (numbers and type(x) in _NUMBERS):
            return asarray(x, backend=backend.name)
        return x

    return _tree.tree_map(convert, tree)
