"""``xp``: the current backend's NumPy-style namespace, looked up at each use.

``xp.sum(x, axis=0)`` calls ``numpy.sum``, ``jax.numpy.sum`` or array-api-compat's
torch ``sum``, whichever backend is current at the moment of the call, so one function
written with ``xp`` runs on all three. The proxy holds no state of its own; the look-up
is a context-variable read and two dictionary look-ups (its cost is measured in
``benchmarks/overhead.py``).

Creation functions (``zeros``, ``arange``, ...) also receive the default dtype and
device when one has been chosen (:func:`backendkit.set_default_dtype`,
:func:`backendkit.set_device`) and the call does not name its own.
"""

from __future__ import annotations

import functools
from typing import Any

from . import backends
from .selection import current

__all__ = ["CREATION_FUNCTIONS", "namespace", "xp"]

#: functions of ``xp`` that create arrays from nothing (or from host data) and so
#: take the default dtype and device
CREATION_FUNCTIONS = frozenset(
    {"zeros", "ones", "empty", "full", "eye", "arange", "linspace", "asarray"}
)


def namespace(name: str | None = None) -> Any:
    """The NumPy-style namespace of backend ``name`` (default: the current one).

    ``numpy`` for numpy, ``jax.numpy`` for jax, ``array_api_compat.torch`` for torch.
    Unlike :data:`xp`, the module returned is fixed: it does not follow later changes
    of the selection, and it does not apply the default dtype or device.

    Raises
    ------
    UnknownBackendError, BackendNotInstalledError
        For a name that is not a backend, or one whose framework is missing.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.namespace("numpy").__name__
    'numpy'
    """
    if name is None:
        return current().namespace
    return backends.load(backends.canonical_name(name)).namespace


def _with_defaults(func: Any, backend: backends.Backend) -> Any:
    from .devices import default_device
    from .precision import creation_dtype, default_dtype

    kwargs = {}
    dtype = default_dtype(backend)
    if dtype is not None:
        kwargs["dtype"] = dtype
    device = default_device(backend)
    if device is not None:
        kwargs["device"] = device
    if not kwargs:
        return func

    @functools.wraps(func)
    def create(*args: Any, **kw: Any) -> Any:
        for key, value in kwargs.items():
            if key == "dtype":
                # only floating (and complex) results take the default: see precision.py
                kw[key] = creation_dtype(backend, func.__name__, args, kw)
            elif kw.get(key) is None:
                kw[key] = value
        if backend.name == "jax" and "device" in kwargs:
            # jax.numpy creation functions take device=; older ones do not: place after.
            device = kw.pop("device")
            return backend.module.device_put(func(*args, **kw), device)
        return func(*args, **kw)

    return create


class _NamespaceProxy:
    """The proxy behind :data:`xp` (one instance; it has no state)."""

    __slots__ = ()

    # __getattribute__ rather than __getattr__: the proxy has no attributes of its own,
    # and letting the ordinary look-up fail first (raising and catching an
    # AttributeError) would cost more than the whole dispatch (see benchmarks/overhead.py).
    def __getattribute__(self, attr: str) -> Any:
        if attr[:2] == "__":
            try:
                return object.__getattribute__(self, attr)
            except AttributeError:
                pass
        backend = current()
        value = getattr(backend.namespace, attr)
        if attr in CREATION_FUNCTIONS:
            return _with_defaults(value, backend)
        return value

    def __dir__(self) -> list[str]:
        return dir(current().namespace)

    def __repr__(self) -> str:
        return f"<backendkit.xp: the {current().name} namespace, chosen at each use>"


#: the current backend's NumPy-style namespace; see :mod:`backendkit.namespace`
xp: Any = _NamespaceProxy()
