"""Which backends exist, which are installed, and which one owns an array.

Nothing here imports a framework except :func:`load`, which a caller reaches only when
it really needs the backend. Installation is found with ``importlib.util.find_spec``;
ownership of an array by looking in ``sys.modules`` (see ``_base.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from typing import Any

import numpy as np

from ..errors import BackendMismatchError, BackendNotInstalledError, UnknownBackendError
from ._base import Backend

__all__ = [
    "ALIASES",
    "NAMES",
    "backend_name_of",
    "canonical_name",
    "check_same_backend",
    "is_installed",
    "load",
]

#: canonical names, in the order ``auto`` prefers them last to first
NAMES: tuple[str, ...] = ("numpy", "jax", "torch")
#: other spellings accepted wherever a backend name is
ALIASES: dict[str, str] = {"pytorch": "torch"}
_AUTO_ORDER = ("jax", "torch", "numpy")

_CLASSES = {
    "numpy": ("backendkit.backends.numpy", "NumpyBackend", "numpy"),
    "jax": ("backendkit.backends.jax", "JaxBackend", "jax"),
    "torch": ("backendkit.backends.torch", "TorchBackend", "torch"),
}
#: the backends loaded so far, by canonical name
LOADED: dict[str, Backend] = {}
_LOAD_LOCK = threading.Lock()
# type -> backend name (or None): recognising an array is a dict look-up after the first.
_TYPE_CACHE: dict[type, str | None] = {}


def _valid_names() -> str:
    aliases = ", ".join(f"{a} (= {n})" for a, n in ALIASES.items())
    return f"{', '.join(NAMES)}, auto; aliases: {aliases}"


def canonical_name(name: Any, *, source: str = "backend name") -> str:
    """The canonical backend name for ``name`` (``auto`` resolved to an installed one).

    Raises
    ------
    UnknownBackendError
        If ``name`` is not a backend name; the message lists the valid ones.
    """
    if not isinstance(name, str):
        raise UnknownBackendError(
            f"{source} must be a string, got {type(name).__name__} {name!r}; "
            f"valid names: {_valid_names()}"
        )
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key == "auto":
        return next(n for n in _AUTO_ORDER if is_installed(n))
    if key not in _CLASSES:
        raise UnknownBackendError(f"unknown {source} {name!r}; valid names: {_valid_names()}")
    return key


def is_installed(name: str) -> bool:
    """Whether the framework of backend ``name`` can be imported (without importing it)."""
    framework = _CLASSES[name][2]
    try:
        return importlib.util.find_spec(framework) is not None
    except (ImportError, ValueError):
        return False


def load(name: str) -> Backend:
    """The backend object for canonical ``name``, importing its framework on first use.

    Raises
    ------
    BackendNotInstalledError
        If the framework is missing; the message names the extra to install.
    """
    try:
        return LOADED[name]
    except KeyError:
        pass
    module_name, class_name, framework = _CLASSES[name]
    with _LOAD_LOCK:
        if name not in LOADED:
            cls = getattr(importlib.import_module(module_name), class_name)
            try:
                LOADED[name] = cls()
            except ImportError as exc:
                raise BackendNotInstalledError(
                    f"the {name} backend needs {framework}, which is not installed "
                    f"({exc}): pip install 'backendkit[{cls.extra}]'"
                ) from exc
    return LOADED[name]


def backend_name_of(x: Any) -> str | None:
    """The name of the backend that owns array ``x``, or ``None`` if no backend does."""
    t = type(x)
    try:
        return _TYPE_CACHE[t]
    except KeyError:
        pass
    found = None
    if t is np.ndarray or isinstance(x, np.ndarray):
        found = "numpy"
    else:
        for name in NAMES[1:]:
            module_name, class_name, _ = _CLASSES[name]
            array_type = getattr(importlib.import_module(module_name), class_name).array_type()
            if array_type is not None and isinstance(x, array_type):
                found = name
                break
    _TYPE_CACHE[t] = found
    return found


def _mismatch(first: tuple[int, Any, str], second: tuple[int, Any, str]) -> BackendMismatchError:
    (pos_a, a, name_a), (pos_b, b, name_b) = first, second
    return BackendMismatchError(
        f"arrays of two backends in one call: argument {pos_a} is a {name_a} array "
        f"({type(a).__module__}.{type(a).__name__}) and argument {pos_b} is a {name_b} "
        f"array ({type(b).__module__}.{type(b).__name__}); backendkit converts nothing "
        f"silently: convert one first, e.g. backendkit.convert(x, to={name_a!r})"
    )


def check_same_backend(items: Any) -> str | None:
    """The one backend owning the arrays among ``items`` (``None`` if there are none).

    Raises
    ------
    BackendMismatchError
        If arrays of two backends are present; the message names both and the fix.
    """
    first: tuple[int, Any, str] | None = None
    for pos, item in enumerate(items):
        name = backend_name_of(item)
        if name is None:
            continue
        if first is None:
            first = (pos, item, name)
        elif name != first[2]:
            raise _mismatch(first, (pos, item, name))
    return None if first is None else first[2]
