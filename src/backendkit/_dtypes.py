"""Dtypes resolved for a backend: the default dtype's framework object, the dtype a
creation function or a piece of host data gets, a dtype argument of any framework made
this one's. The engine behind :mod:`backendkit.precision`'s settings, used wherever
backendkit makes arrays (``asarray``, ``xp``'s creation functions, ``random``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _tree
from .backends import Backend
from .errors import UnknownDtypeError
from .precision import DTYPE_NAMES, get_default_dtype

__all__ = [
    "complex_name",
    "creation_dtype",
    "default_dtype",
    "float_name",
    "framework_dtype",
    "resolve_dtype",
]

_COMPLEX_OF = {"float32": "complex64", "float64": "complex128"}


def framework_dtype(backend: Backend, name: str) -> Any:
    """The framework's dtype for dtype name ``name``, made available first (JAX's
    64-bit mode for float64, complex128 and int64).

    Raises
    ------
    UnknownDtypeError
        If ``name`` is not one of :data:`DTYPE_NAMES`.
    DtypeUnavailableError
        If the framework cannot give that dtype here.
    """
    if name not in DTYPE_NAMES:
        raise UnknownDtypeError(
            f"unknown dtype name {name!r}; valid names: {', '.join(DTYPE_NAMES)}"
        )
    backend.ensure_dtype(name)
    return backend.dtype(name)


def default_dtype(backend: Backend) -> Any:
    """The framework dtype of the default floating dtype on ``backend``, or ``None``
    to leave the framework's own rule in place."""
    name = get_default_dtype()
    return None if name is None else framework_dtype(backend, name)


def float_name(backend: Backend) -> str:
    """The floating dtype name new arrays get on ``backend``: the default if one is
    set, else the framework's own."""
    name = get_default_dtype()
    return name if name is not None else backend.default_float_name()


def complex_name(backend: Backend) -> str:
    """The complex dtype name matching :func:`float_name`."""
    return _COMPLEX_OF.get(float_name(backend), "complex128")


# ---------------------------------------------------------------------- dtype of data
_NUMBER_KINDS = {float: "f", complex: "c", int: "i", bool: "b"}


def _host_kind(x: Any) -> str | None:
    """NumPy's kind letter for host data ``x``; ``None`` for anything else (arrays of a
    framework keep their dtype)."""
    kind = _NUMBER_KINDS.get(type(x))
    if kind is not None:
        return kind
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype.kind
    if isinstance(x, (list, tuple)):
        try:
            return np.asarray(x).dtype.kind
        except (ValueError, TypeError):  # ragged, or holding framework arrays
            return None
    return None


def _default_for_kind(backend: Backend, kind: str | None) -> Any:
    name = get_default_dtype()
    if name is None or kind not in ("f", "c"):
        return None
    return framework_dtype(backend, name if kind == "f" else _COMPLEX_OF[name])


def resolve_dtype(backend: Backend, dtype: Any, data: Any = None) -> Any:
    """The framework dtype for a ``dtype=`` argument on ``backend``.

    ``None`` gives host data ``data`` the default dtype of its kind (see the module
    docstring), or ``None`` (the framework's rule); a dtype name or a NumPy or JAX
    dtype becomes the framework's dtype (64-bit ones switched on under JAX); a
    framework's own dtype object is passed on.

    Raises
    ------
    UnknownDtypeError
        If ``dtype`` is a string that is no dtype name.
    """
    if dtype is None:
        return _default_for_kind(backend, _host_kind(data))
    if isinstance(dtype, str):
        return framework_dtype(backend, dtype)
    try:
        name = np.dtype(dtype).name
    except TypeError:  # a torch dtype, or another framework object
        return dtype
    return framework_dtype(backend, name) if name in DTYPE_NAMES else dtype


def creation_dtype(
    backend: Backend, func: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The ``dtype=`` to pass to creation function ``func`` of ``backend``'s namespace
    called with ``args`` and ``kwargs``: the one it names, resolved, else the default
    dtype if the function would make floating (or complex) values, else ``None``."""
    given = kwargs.get("dtype")
    if given is not None:
        return resolve_dtype(backend, given)
    if func == "asarray":
        data = args[0] if args else kwargs.get("obj")
        return resolve_dtype(backend, None, data)
    if func == "full":
        fill = args[1] if len(args) > 1 else kwargs.get("fill_value")
        return _default_for_kind(backend, _value_kind(fill))
    if func == "arange":
        values = [*args, *(kwargs.get(k) for k in ("start", "stop", "step"))]
        kinds = {_value_kind(v) for v in values if v is not None}
        return _default_for_kind(backend, "f" if "f" in kinds else None)
    if func == "linspace":
        ends = [*args[:2], kwargs.get("start"), kwargs.get("stop")]
        complex_ = any(_value_kind(v) == "c" for v in ends if v is not None)
        return _default_for_kind(backend, "c" if complex_ else "f")
    return _default_for_kind(backend, "f")


def _value_kind(value: Any) -> str | None:
    kind = _host_kind(value)
    if kind is None and hasattr(value, "dtype"):
        return _tree.dtype_kind(_tree.dtype_name(value.dtype))
    return kind
