"""``xp``, the NumPy-style namespace chosen at each call, and ``namespace(*arrays)``.

``xp.sum(x, axis=0)`` calls ``numpy.sum``, ``jax.numpy.sum`` or array-api-compat's
torch ``sum`` (for PyTorch, with the NumPy names array-api-compat lacks added), chosen
at each call by the dispatch rule (:mod:`backendkit._dispatch`):

* the call's JAX or PyTorch arrays (inside lists and tuples too, as in
  ``xp.concatenate([t1, t2])``) choose: ``xp.exp(jax_array)`` returns a JAX array
  whatever backend is selected, and JAX tracers count as JAX arrays, so a function
  written with ``xp`` works inside ``jax.jit``, ``jax.grad`` and ``torch.func``;
* a call with host data only (NumPy arrays, Python numbers) or no arrays at all
  (``xp.zeros(3)``) follows the selection (:func:`backendkit.get_backend`);
* JAX and PyTorch arrays in one call raise :class:`~backendkit.BackendMismatchError`.

Creation functions (``zeros``, ``arange``, ...) also receive the default dtype and
device when one has been chosen (:func:`backendkit.set_default_dtype`,
:func:`backendkit.set_device`) and the call does not name its own. Attributes that are
not functions (``xp.pi``, ``xp.float32``, ``xp.newaxis``) are the selected backend's;
a dtype of another framework passed as ``dtype=`` is translated by name, so
``xp.asarray(t, dtype=xp.float32)`` works with a PyTorch tensor under any selection.
Submodules (``xp.linalg``, ``xp.fft``) dispatch the same way.

Three ways to get a namespace, side by side:

==============================  ==========================  ==========================
                                chosen                      cost per call
==============================  ==========================  ==========================
``xp.f(x)``                     at every call, by ``x``     a type look-up per argument
``namespace(x, y).f(x)``        once, by ``x`` and ``y``    the same, paid once
``array_namespace(x).f(x)``     once (array-api-compat)     more (see the benchmark)
==============================  ==========================  ==========================

``namespace(x)`` returns the framework's own module (``numpy``, ``jax.numpy``,
``backendkit.backends._torch_numpy``), which does not apply the default dtype or device;
array-api-compat's ``array_namespace`` returns its compatibility wrappers, for NumPy
too. ``benchmarks/overhead.py`` measures all three.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

from . import backends
from ._dispatch import (
    _UNSEEN,
    _WALK,
    HOST_ARRAY,
    _owner_of_type,
    backend_for,
    host_to,
    to_backend,
)
from .errors import ArgumentTypeError
from .selection import current

__all__ = ["CREATION_FUNCTIONS", "namespace", "xp"]

#: functions of ``xp`` that create arrays from nothing (or from host data) and so
#: take the default dtype and device
CREATION_FUNCTIONS = frozenset(
    {"zeros", "ones", "empty", "full", "eye", "arange", "linspace", "asarray"}
)


def namespace(*arrays: Any) -> Any:
    """The NumPy-style namespace of some arrays' backend, or of a backend by name.

    ``numpy`` for numpy, ``jax.numpy`` for jax, and for torch array-api-compat's torch
    namespace with the NumPy names it lacks (``backendkit.backends._torch_numpy``).
    Like array-api-compat's ``array_namespace``, for library code that wants the
    namespace once; unlike :data:`xp`, the module returned is fixed and does not apply
    the default dtype or device.

    Parameters
    ----------
    *arrays : arrays, or one backend name
        Arrays (and host data, pytrees of them): their backend by the dispatch rule
        (:mod:`backendkit._dispatch`), the current backend if they hold no JAX or
        PyTorch array. A single string names a backend instead (``"jax"``). Nothing:
        the current backend.

    Raises
    ------
    BackendMismatchError
        If the arrays belong to two frameworks.
    UnknownBackendError, BackendNotInstalledError
        For a name that is not a backend, or one whose framework is missing.
    ArgumentTypeError
        For a backend name given together with arrays.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> bk.namespace("numpy").__name__
    'numpy'
    >>> bk.namespace(np.ones(3), 2.0).__name__  # host data: the current backend
    'numpy'
    """
    if len(arrays) == 1 and isinstance(arrays[0], str):
        return backends.load(backends.canonical_name(arrays[0])).namespace
    if any(isinstance(a, str) for a in arrays):
        raise ArgumentTypeError(
            f"namespace takes arrays or one backend name, got {arrays!r}; call "
            f"namespace(name) or namespace(*arrays)"
        )
    return backend_for(*arrays).namespace


# ---------------------------------------------------------------------- xp
def _with_defaults(func: Any, backend: backends.Backend) -> Any:
    from ._devices import default_device
    from ._dtypes import creation_dtype, default_dtype

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


def _missing(backend: backends.Backend, path: tuple[str, ...], attr: str) -> AttributeError:
    import difflib  # an error path: not paid at import

    ns = _walk(backend.namespace, path)
    public = [n for n in dir(ns) if not n.startswith("_")]
    near = difflib.get_close_matches(attr, public, n=3)
    hint = f"; the nearest names there: {', '.join(near)}" if near else ""
    where = ".".join(("xp", *path, attr))
    return AttributeError(
        f"{where}: the {backend.name} backend's namespace ({ns.__name__}) has no {attr!r}{hint}"
    )


def _walk(ns: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        ns = getattr(ns, part)
    return ns


def _dispatcher(path: tuple[str, ...], attr: str) -> Callable[..., Any]:
    """The function ``xp.<path>.<attr>``: picks the backend at each call."""
    if path or attr in CREATION_FUNCTIONS:
        return _general_dispatcher(path, attr)

    # The common case, kept short: every xp call runs it (benchmarks/overhead.py).
    # Positional arguments that are arrays or host data are recognised inline, by the
    # type look-up backend_for does; anything else (a list to walk, a first sighting
    # of a type, two frameworks) goes to backend_for itself.
    def call(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            backend = backend_for(*args, *kwargs.values())
            args, kwargs = _host_args(backend, args, kwargs)
        else:
            found: backends.Backend | None = None
            host = False
            for a in args:
                owner = _owner_of_type(type(a), _UNSEEN)
                if owner is None or owner is found:
                    continue
                if owner is HOST_ARRAY:
                    host = True
                    continue
                if found is not None or owner is _UNSEEN or owner is _WALK:
                    found = backend_for(*args)
                    host = True  # lists may hold NumPy arrays
                    break
                found = owner
            # host data only: the selection (which imports its framework if need be)
            backend = current() if found is None else found
            if host and not backend.takes_host_arrays:
                args = host_to(backend, args)
        try:
            fn = getattr(backend.namespace, attr)
        except AttributeError:
            raise _missing(backend, path, attr) from None
        return fn(*args, **kwargs) if kwargs else fn(*args)

    return _named(call, path, attr)


def _general_dispatcher(path: tuple[str, ...], attr: str) -> Callable[..., Any]:
    creation = not path and attr in CREATION_FUNCTIONS

    def call(*args: Any, **kwargs: Any) -> Any:
        backend = backend_for(*args, *kwargs.values()) if kwargs else backend_for(*args)
        args, kwargs = _host_args(backend, args, kwargs)
        try:
            fn = getattr(_walk(backend.namespace, path), attr)
        except AttributeError:
            raise _missing(backend, path, attr) from None
        if creation:
            fn = _with_defaults(fn, backend)
        return fn(*args, **kwargs)

    return _named(call, path, attr)


def _host_args(
    backend: backends.Backend, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` and ``kwargs`` as ``backend``'s namespace takes them: NumPy arrays made
    its arrays where it takes none (PyTorch), a ``dtype=`` translated (see
    :meth:`Backend.own_dtype`)."""
    if not backend.takes_host_arrays:
        args = host_to(backend, args)
        kwargs = {k: to_backend(backend, v) for k, v in kwargs.items()}
    dtype = kwargs.get("dtype")
    if dtype is not None:
        kwargs["dtype"] = backend.own_dtype(dtype)
    return args, kwargs


def _named(call: Callable[..., Any], path: tuple[str, ...], attr: str) -> Callable[..., Any]:
    call.__name__ = call.__qualname__ = attr
    call.__doc__ = f"``{'.'.join(('xp', *path, attr))}``: the backend's own, chosen at each call."
    return call


class _Namespace(types.ModuleType):
    """:data:`xp` and its submodules (``xp.linalg``, ...): a module whose functions
    dispatch at each call.

    A function or submodule is looked up once (in the selected backend's namespace),
    made a dispatcher and stored in the module's ``__dict__``, so that every later
    ``xp.f`` is an ordinary attribute read. Anything else (``xp.pi``, ``xp.float32``)
    is never stored: it is the selected backend's at each use.
    """

    def __init__(self, path: tuple[str, ...]) -> None:
        super().__init__(".".join(("backendkit.xp", *path)), "See backendkit._namespace.")
        self.__dict__["__xp_path__"] = path
        # A module's own __getattr__ (PEP 562), not the class's: a class __getattr__
        # would slow every attribute read down, found ones included.
        self.__dict__["__getattr__"] = functools.partial(_Namespace._miss, self)

    def _miss(self, attr: str) -> Any:
        if attr[:2] == "__":  # not forwarded: tools probe __wrapped__, __file__, ...
            raise AttributeError(f"backendkit.xp has no attribute {attr!r}")
        path = self.__dict__["__xp_path__"]
        backend = current()
        try:
            value = getattr(_walk(backend.namespace, path), attr)
        except AttributeError:
            raise _missing(backend, path, attr) from None
        if isinstance(value, types.ModuleType):
            sub = self.__dict__[attr] = _Namespace((*path, attr))
            return sub
        if callable(value) and not isinstance(value, type):
            fn = self.__dict__[attr] = _dispatcher(path, attr)
            return fn
        return value  # constants, dtypes, classes: the selected backend's

    def __dir__(self) -> list[str]:
        return dir(_walk(current().namespace, self.__dict__["__xp_path__"]))

    def __repr__(self) -> str:
        where = ".".join(("xp", *self.__dict__["__xp_path__"]))
        return (
            f"<backendkit.{where}: the namespace of each call's arrays, else {current().name}'s>"
        )


#: the NumPy-style namespace of each call's arrays; see :mod:`backendkit._namespace`
xp: Any = _Namespace(())
