"""Which backends exist, which are installed, and which one owns an array.

Every fact about a framework is an attribute of its plug-in class (``_base.py``): its
name and aliases, its top-level modules, the pip extra that installs it, whether its
arrays are host data, where ``auto`` ranks it. The registry only knows where each class
lives, so that adding a backend is one :func:`register` call (tests/test_toy_backend.py
adds a fourth). A plug-in *module* imports no framework, so reading a class's facts is
cheap; only :func:`load` creates the backend object, which imports its framework.

Installation is found with ``importlib.util.find_spec``; ownership of an array by
looking in ``sys.modules`` (see ``_base.py``).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from typing import Any, TypeGuard

from ..errors import BackendMismatchError, BackendNotInstalledError, UnknownBackendError
from ._base import Backend

__all__ = [
    "ALIASES",
    "LOADED",
    "NAMES",
    "TYPE_CACHES",
    "canonical_name",
    "host_name",
    "install_hint",
    "is_framework",
    "is_installed",
    "load",
    "owner_of",
    "owner_of_module",
    "plugin",
    "register",
    "single_owner",
    "unregister",
]

# name -> "module:Class" until the class is first asked for, then the class itself
_PLUGINS: dict[str, str | type[Backend]] = {
    "numpy": "backendkit.backends.numpy:NumpyBackend",
    "jax": "backendkit.backends.jax:JaxBackend",
    "torch": "backendkit.backends.torch:TorchBackend",
}
#: canonical names, in the order the registry lists them (``available_backends``)
NAMES: list[str] = list(_PLUGINS)
#: other spellings accepted wherever a backend name is (each plug-in's ``aliases``)
ALIASES: dict[str, str] = {"pytorch": "torch"}
#: the backends loaded so far, by canonical name
LOADED: dict[str, Backend] = {}
_LOAD_LOCK = threading.Lock()
# type -> backend name (or None): recognising an array is a dict look-up after the first.
_TYPE_CACHE: dict[type, str | None] = {}
#: every cache keyed by array type, here and in the modules above (dispatch, put/at):
#: emptied when a backend comes or goes, since a type's owner may change then
TYPE_CACHES: list[dict[Any, Any]] = [_TYPE_CACHE]


def plugin(name: str) -> type[Backend]:
    """The plug-in class of canonical backend ``name`` (its framework not imported)."""
    found = _PLUGINS[name]
    if isinstance(found, str):
        module_name, _, class_name = found.partition(":")
        found = _PLUGINS[name] = getattr(importlib.import_module(module_name), class_name)
    return found


def register(cls: type[Backend]) -> None:
    """Add the backend ``cls`` (a :class:`Backend` subclass) under ``cls.name``.

    Raises
    ------
    ArgumentValueError
        If another backend has that name or one of its aliases.
    """
    from ..errors import ArgumentValueError

    taken = {*NAMES, *ALIASES}
    clash = {cls.name, *cls.aliases} & taken
    if clash:
        raise ArgumentValueError(
            f"cannot register {cls.__name__}: the name(s) {sorted(clash)} are taken by "
            f"another backend; choose another name"
        )
    _PLUGINS[cls.name] = cls
    NAMES.append(cls.name)
    ALIASES.update(dict.fromkeys(cls.aliases, cls.name))
    _forget_types()


def unregister(name: str) -> None:
    """Remove backend ``name`` added by :func:`register` (the built-in ones stay)."""
    if name in ("numpy", "jax", "torch"):
        raise UnknownBackendError(f"{name} is built in and cannot be unregistered")
    _PLUGINS.pop(name, None)
    LOADED.pop(name, None)
    if name in NAMES:
        NAMES.remove(name)
    for alias in [a for a, n in ALIASES.items() if n == name]:
        del ALIASES[alias]
    _forget_types()


def _forget_types() -> None:
    for cache in TYPE_CACHES:
        cache.clear()


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
        ranked = sorted(NAMES, key=lambda n: plugin(n).auto_rank)
        return next(n for n in ranked if is_installed(n))
    if key not in _PLUGINS:
        raise UnknownBackendError(f"unknown {source} {name!r}; valid names: {_valid_names()}")
    return key


def is_installed(name: str) -> bool:
    """Whether the framework of backend ``name`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(plugin(name).framework) is not None
    except (ImportError, ValueError):
        return False


def install_hint(name: str) -> str:
    """The command that installs backend ``name``'s framework (the plug-in's extra)."""
    return plugin(name).install_hint()


def host_name() -> str:
    """The backend whose arrays are host data (NumPy's)."""
    return next(n for n in NAMES if plugin(n).host)


def owner_of_module(module: str) -> str | None:
    """The backend whose framework module ``module`` (``"jaxlib._jax"``) belongs to."""
    top = module.partition(".")[0]
    return next((n for n in NAMES if top in plugin(n).modules and not plugin(n).host), None)


def is_framework(name: str | None) -> TypeGuard[str]:
    """Whether arrays of backend ``name`` choose their backend (the dispatch rule):
    a framework's, not the host's, and not ``None`` (no backend's)."""
    return name is not None and not plugin(name).host


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
    cls = plugin(name)
    with _LOAD_LOCK:
        if name not in LOADED:
            try:
                LOADED[name] = cls()
            except ImportError as exc:
                raise BackendNotInstalledError(
                    f"the {name} backend needs {cls.framework}, which is not installed "
                    f"({exc}): {cls.install_hint()}"
                ) from exc
    return LOADED[name]


def owner_of(x: Any) -> str | None:
    """The name of the backend that owns array ``x``, or ``None`` if no backend does.

    The host backend (NumPy) is asked last, so that a framework whose arrays are a
    NumPy subclass is recognised as itself.
    """
    t = type(x)
    try:
        return _TYPE_CACHE[t]
    except KeyError:
        pass
    found = None
    for name in sorted(NAMES, key=lambda n: plugin(n).host):
        array_type = plugin(name).array_type()
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


def single_owner(items: Any) -> str | None:
    """The one backend owning the arrays among ``items`` (``None`` if there are none).

    Raises
    ------
    BackendMismatchError
        If arrays of two backends are present; the message names both and the fix.
    """
    first: tuple[int, Any, str] | None = None
    for pos, item in enumerate(items):
        name = owner_of(item)
        if name is None:
            continue
        if first is None:
            first = (pos, item, name)
        elif name != first[2]:
            raise _mismatch(first, (pos, item, name))
    return None if first is None else first[2]
