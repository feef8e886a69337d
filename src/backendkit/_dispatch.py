"""Which backend runs a control-flow call or a transformed function.

The rule, shared by :mod:`backendkit.control` and :mod:`backendkit.transforms`:

* the framework of the JAX or PyTorch arrays among the arguments (leaves of tuples,
  lists and dicts included; JAX tracers are JAX arrays), so that library code follows
  its caller's arrays and works inside ``jax.jit``;
* NumPy arrays and Python numbers are host data, which every backend takes (as
  :func:`backendkit.asarray` and :func:`backendkit.put` do): with nothing else, the
  current backend (:func:`backendkit.get_backend`) runs;
* JAX and PyTorch arrays in one call raise :class:`~backendkit.BackendMismatchError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _tree, backends
from .selection import current

__all__ = ["backend_for", "to_backend"]


def backend_for(*trees: Any) -> backends.Backend:
    """The backend for a call whose arguments are ``trees`` (see the module rule).

    Raises
    ------
    BackendMismatchError
        If arrays of JAX and PyTorch meet; the message names both.
    """
    first = None
    for leaf in _leaves(trees):
        name = backends.backend_name_of(leaf)
        if name is None or name == "numpy":
            continue
        if first is None:
            first = (leaf, name)
        elif name != first[1]:
            backends.check_same_backend((first[0], leaf))  # raises, naming both
    return current() if first is None else backends.load(first[1])


_NUMBERS = (bool, int, float, complex)


_CONTAINERS = (tuple, list, dict)


def _leaves(trees: tuple[Any, ...]) -> Any:
    # most calls pass a few arrays and numbers: flatten only what is a container
    for tree in trees:
        if isinstance(tree, _CONTAINERS):
            yield from _tree.leaves(tree)
        else:
            yield tree


def to_backend(backend: backends.Backend, tree: Any, numbers: bool = False) -> Any:
    """``tree`` with its NumPy arrays (and Python numbers if ``numbers``) made
    ``backend``'s arrays, as :func:`backendkit.asarray` makes them (default dtype and
    device applied)."""
    from .arrays import asarray

    def convert(x: Any) -> Any:
        if isinstance(x, np.ndarray) or (numbers and type(x) in _NUMBERS):
            return asarray(x, backend=backend.name)
        return x

    return _tree.tree_map(convert, tree)
