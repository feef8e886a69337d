"""Precision: the floating dtype backendkit creates arrays with, on every backend.

Each framework has its own default: NumPy float64, PyTorch float32, JAX float32 (float64
only once its process-wide 64-bit mode, ``jax_enable_x64``, is on). Left alone,
backendkit keeps each framework's rule. :func:`set_default_dtype` (for the process) and
:func:`use_dtype` (for a ``with`` block, in this thread or asyncio task only: a
:mod:`contextvars` variable, like :func:`backendkit.use_backend`) choose ``float32`` or
``float64`` for all of them at once. The choice decides the dtype of

* :func:`backendkit.asarray` given floating host data (Python floats, NumPy float
  arrays, lists of floats); complex host data gets the matching complex dtype
  (complex64 or complex128). Integers and booleans keep their dtype, and a JAX or
  PyTorch array that already belongs to the backend keeps its own (ask with
  ``dtype=``). NumPy arrays count as host data on every backend, the NumPy backend
  included, so ``asarray(numpy_float32_array)`` gives the default dtype everywhere;
* the creation functions of :data:`backendkit.xp` that make floating arrays (``zeros``,
  ``ones``, ``empty``, ``eye``, ``linspace``; ``full`` and ``arange`` when their values
  are floats; ``asarray`` as above) where the call names no ``dtype``;
* :mod:`backendkit.random` where no ``dtype`` is given.

**One call for portable results.** ``set_default_dtype("float32")`` (or ``"float64"``)
is the precision policy that makes the default floating *and* complex dtypes the same
on every backend: without it NumPy makes complex128 where JAX and PyTorch make
complex64, so "same seed, same values" holds only with a ``dtype=`` in every call.
Under it, ``backendkit.random.phasor(seed, shape)`` is bitwise identical on NumPy, JAX
and PyTorch (tests/test_random.py checks 1000 x 10 000 phasors).

**JAX and float64.** backendkit switches ``jax_enable_x64`` on the first time a JAX
array of a 64-bit dtype (float64, complex128, int64) is asked for through backendkit
(a default dtype of float64, or ``dtype="float64"``), never at import and never
otherwise. The flag is JAX's and process-wide: it stays on for the rest of the process
(turning it off again would silently truncate the float64 arrays that exist). With it
on, JAX's own default for new arrays becomes float64 and for integers int64, as in
NumPy; arrays made with a default dtype of float32 stay float32. If JAX still cannot
give float64 (its 64-bit mode switched off in a ``jax.enable_x64(False)`` block, or a
device without float64), :class:`~backendkit.DtypeUnavailableError` is raised rather
than float32 returned.

A failed call (an unknown name, float64 refused) leaves the default as it was.

This module holds the settings; ``backendkit._dtypes`` turns them, and the dtype
arguments of every call, into each framework's dtype objects.
"""

from __future__ import annotations

import contextvars
from typing import Any

from . import _scope
from .errors import UnknownDtypeError

__all__ = [
    "DEFAULT_DTYPES",
    "DTYPE_NAMES",
    "get_default_dtype",
    "set_default_dtype",
    "use_dtype",
]

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
#: the names :func:`set_default_dtype` and :func:`use_dtype` accept
DEFAULT_DTYPES = ("float32", "float64")

_block: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "backendkit_dtype", default=None
)
# the process-wide choice; None: each framework's own rule
_process: str | None = None


def _check_default(name: Any, source: str) -> str:
    if not isinstance(name, str) or name not in DEFAULT_DTYPES:
        shown = f"{type(name).__name__} {name!r}" if not isinstance(name, str) else repr(name)
        raise UnknownDtypeError(
            f"{source} takes 'float32' or 'float64', got {shown}; other dtypes are "
            f"asked for per call, e.g. backendkit.asarray(x, dtype='float16')"
        )
    return name


def get_default_dtype() -> str | None:
    """The default floating dtype now in force, or ``None`` for each framework's own.

    A :func:`use_dtype` block wins over :func:`set_default_dtype`.

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_dtype("float32"):
    ...     bk.get_default_dtype()
    'float32'
    """
    name = _block.get()
    return name if name is not None else _process


def set_default_dtype(name: str | None) -> str | None:
    """Make ``name`` the default floating dtype of the process, on every backend.

    Parameters
    ----------
    name : {"float32", "float64"} or None
        The dtype; ``None`` goes back to each framework's own rule (NumPy float64,
        JAX and PyTorch float32).

    Returns
    -------
    str or None
        ``name``.

    Raises
    ------
    UnknownDtypeError
        If ``name`` is not ``"float32"``, ``"float64"`` or ``None``; the default stays
        as it was.

    Notes
    -----
    Under JAX, float64 is switched on when the first array is made with it, not here
    (see :mod:`backendkit.precision`). Inside a :func:`use_dtype` block the block's
    dtype stays in force.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.set_default_dtype("float32")
    'float32'
    >>> bk.asarray([1.0, 2.0], backend="numpy").dtype
    dtype('float32')
    >>> bk.set_default_dtype(None)
    """
    global _process
    _process = None if name is None else _check_default(name, "set_default_dtype")
    return _process


_blocks = _scope.Scope(_block)  # the open use_dtype blocks, per context


def use_dtype(name: str) -> _scope.Block[str]:
    """Use ``name`` as the default floating dtype inside a ``with`` block; or, as a
    decorator, inside every call of a function.

    Per thread and per asyncio task (:mod:`contextvars`); the previous default comes
    back when the block ends, also on error, and also when blocks end out of order.
    A generator suspended inside a block leaves its dtype in force for its consumer;
    decorate the generator function to keep it to itself (see
    :func:`backendkit.use_backend`, whose blocks work alike).

    Raises
    ------
    UnknownDtypeError
        If ``name`` is not ``"float32"`` or ``"float64"`` (when the block begins).

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_dtype("float32"):
    ...     bk.asarray([1.0, 2.0], backend="numpy").dtype
    dtype('float32')
    """

    def begin() -> tuple[str, str]:
        return _check_default(name, "use_dtype"), name

    return _scope.Block(_blocks, begin, f"use_dtype({name!r})")
