"""Precision: which floating dtype backendkit creates arrays with.

(Foundation part: dtype names. The default dtype, ``set_default_dtype`` and
``use_dtype`` come with the precision issue.)
"""

from __future__ import annotations

from typing import Any

from .backends import Backend

__all__ = ["DTYPE_NAMES", "default_dtype", "framework_dtype"]

#: dtype names every backend understands
DTYPE_NAMES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
)


def default_dtype(backend: Backend) -> Any:
    """The framework dtype creation functions use by default on ``backend``, or ``None``
    to leave the framework's own rule in place."""
    return None


def framework_dtype(backend: Backend, name: str) -> Any:
    """The framework's dtype for dtype name ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`DTYPE_NAMES`.
    """
    if name not in DTYPE_NAMES:
        raise ValueError(f"unknown dtype name {name!r}; valid names: {', '.join(DTYPE_NAMES)}")
    return backend.dtype(name)
