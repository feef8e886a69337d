"""Making, reading and converting arrays across backends.

Host data (Python scalars and lists, NumPy arrays) becomes any backend's array with
:func:`asarray`; an array of one framework becomes another's only through
:func:`convert`, which says so in its name: backendkit never converts silently.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backends
from .errors import BackendMismatchError
from .selection import current

__all__ = ["asarray", "convert", "to_numpy"]


def _target(name: str | None) -> backends.Backend:
    return current() if name is None else backends.load(backends.canonical_name(name))


def _dtype_arg(backend: backends.Backend, dtype: Any, data: Any = None) -> Any:
    # the default dtype for floating host data, names resolved (JAX x64 on demand)
    from .precision import resolve_dtype

    return resolve_dtype(backend, dtype, data)


def _device_arg(backend: backends.Backend, device: Any) -> Any:
    from .devices import default_device, framework_device

    return default_device(backend) if device is None else framework_device(backend, device)


def asarray(x: Any, backend: str | None = None, dtype: Any = None, device: Any = None) -> Any:
    """``x`` as an array of ``backend`` (default: the current backend).

    Parameters
    ----------
    x : array_like
        Python scalars or (nested) lists, a NumPy array, or an array of ``backend``
        itself. An array of another framework is refused: use :func:`convert`.
    backend : str, optional
        Backend name; default the current one.
    dtype : str or dtype, optional
        ``"float32"``, ``"float64"``, ... or a framework dtype. Default: for floating
        (complex) host data the default dtype (:func:`backendkit.set_default_dtype`,
        its complex match) if one is set; otherwise, and for integers, booleans and
        the backend's own arrays, the framework's own rule.
    device : str, optional
        Where the array lands, e.g. ``"cpu"`` or ``"gpu:0"``; default the selected
        device (:func:`backendkit.set_device`), else the framework's default.

    Raises
    ------
    BackendMismatchError
        If ``x`` is an array of a framework other than ``backend``.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.asarray([1.0, 2.0], backend="numpy")
    array([1., 2.])
    """
    target = _target(backend)
    owner = backends.backend_name_of(x)
    if owner is not None and owner not in ("numpy", target.name):
        raise BackendMismatchError(
            f"asarray got a {owner} array ({type(x).__module__}.{type(x).__name__}) for "
            f"the {target.name} backend; backendkit converts between frameworks only on "
            f"request: use backendkit.convert(x, to={target.name!r})"
        )
    return target.asarray(
        x, dtype=_dtype_arg(target, dtype, x), device=_device_arg(target, device)
    )


def to_numpy(x: Any) -> np.ndarray:
    """Any backend's array (or host data) as a NumPy array.

    On the CPU the result shares memory with ``x`` where the framework allows
    (PyTorch tensors, JAX arrays read-only); device arrays are copied to the host.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.to_numpy([1, 2])
    array([1, 2])
    """
    owner = backends.backend_name_of(x)
    if owner is None:
        return np.asarray(x)
    return backends.load(owner).to_numpy(x)


def convert(x: Any, to: str, device: Any = None) -> Any:
    """``x`` as an array of backend ``to``, through DLPack without a copy where possible.

    Parameters
    ----------
    x : array
        An array of any backend, or host data.
    to : str
        The target backend name.
    device : str, optional
        Move the result there (a copy when it is not there already). Default: the
        selected device (:func:`backendkit.set_device`) if one is, else where the
        data already is.

    Returns
    -------
    array
        On the CPU, NumPy <-> PyTorch results share memory with ``x``; JAX may copy
        when the buffer does not meet its alignment. Where DLPack cannot be used
        (read-only NumPy arrays, tensors that require grad), a copy is made.

    Notes
    -----
    A result that shares a JAX array's buffer must not be written to: JAX arrays are
    immutable and JAX assumes they never change. NumPy results are read-only for that
    reason; PyTorch has no read-only tensors, so ``convert(jax_array, to="torch")``
    returns a writable tensor on the same memory: ``.clone()`` it before writing.
    Likewise, a PyTorch tensor converted to JAX must not be written to afterwards.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> bk.convert(np.arange(3), to="numpy")
    array([0, 1, 2])
    """
    target = backends.load(backends.canonical_name(to, source="target backend"))
    owner = backends.backend_name_of(x)
    if owner is None:
        return asarray(x, backend=target.name, device=device)
    if owner != target.name:
        source = backends.load(owner)
        try:
            x = target.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError, ValueError):
            x = target.asarray(source.to_numpy(x))
    placed = _device_arg(target, device)  # device=None: the selected device, if any
    if placed is not None:
        x = target.asarray(x, device=placed)
    return x
