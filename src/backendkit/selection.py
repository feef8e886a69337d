"""Choosing the backend: per process, per block, or from the arrays themselves.

Three layers decide which backend is current, the first that is set winning:

1. a :func:`use_backend` block. It is a :mod:`contextvars` variable, so every thread and
   every asyncio task keeps its own: one worker's block never leaks into another's;
2. the process-wide choice of :func:`set_backend`;
3. the environment variable ``BACKENDKIT_BACKEND``, read once, at first use (not at
   import);
4. the default persisted by :func:`backendkit.keras.swap_backend` in backendkit's
   ``config.json`` (see :mod:`backendkit.config`), read at the same moment;
5. otherwise ``numpy``.

Choosing a backend loads it (imports its framework), so that a missing framework is
reported where it was asked for. A choice that fails leaves the selection as it was.
"""

from __future__ import annotations

import contextvars
import os
from typing import Any

from . import _scope, backends
from .backends import Backend
from .backends._registry import LOADED as _loaded
from .errors import BackendNotInstalledError

__all__ = [
    "ENV_VAR",
    "available_backends",
    "get_backend",
    "set_backend",
    "use_backend",
]

#: the environment variable read (once, at first use) for the process-wide default
ENV_VAR = "BACKENDKIT_BACKEND"

_block: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "backendkit_backend", default=None
)
# process-wide choice and where it came from ("set_backend", "env", "default"); None
# until set_backend is called or the environment has been read.
_process: list[str] | None = None


def _process_choice() -> list[str]:
    global _process
    if _process is None:
        raw = os.environ.get(ENV_VAR)
        if raw is not None and raw.strip():
            name = backends.canonical_name(raw, source=f"{ENV_VAR} value")
            if not backends.is_installed(name):
                # said here, where the variable is read, rather than at some later use
                raise BackendNotInstalledError(
                    f"{ENV_VAR}={raw!r} asks for the {name} backend, which is not "
                    f"installed: {backends.install_hint(name)}, or unset {ENV_VAR}"
                )
            _process = [name, f"env {ENV_VAR}={raw}"]
        else:
            from . import config  # json and pathlib: paid at first use, not at import

            persisted = config.persisted_backend()
            if persisted is not None:
                path = config.config_path()
                name = backends.canonical_name(persisted, source=f"backend in {path}")
                _process = [name, f"config {path}"]
            else:
                _process = [backends.host_name(), "default"]
    return _process


def available_backends() -> list[str]:
    """The backends whose frameworks are installed, found without importing them.

    Returns
    -------
    list of str
        Canonical names in the order ``numpy``, ``jax``, ``torch``.

    Examples
    --------
    >>> import backendkit as bk
    >>> "numpy" in bk.available_backends()
    True
    """
    return [name for name in backends.NAMES if backends.is_installed(name)]


def get_backend() -> str:
    """The name of the current backend.

    A :func:`use_backend` block wins over :func:`set_backend`, which wins over
    ``BACKENDKIT_BACKEND``, which wins over a persisted default
    (:mod:`backendkit.config`); the default is ``numpy``.

    Raises
    ------
    UnknownBackendError
        If ``BACKENDKIT_BACKEND`` (or the persisted default) is not a backend name.
    BackendNotInstalledError
        If ``BACKENDKIT_BACKEND`` names a backend whose framework is not installed.
    ConfigError
        If backendkit's persisted ``config.json`` is not valid JSON.

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_backend("numpy"):
    ...     bk.get_backend()
    'numpy'
    """
    name = _block.get()
    return name if name is not None else _process_choice()[0]


def selection_source() -> str:
    """Why the current backend is current: ``use_backend``, ``set_backend``,
    ``env BACKENDKIT_BACKEND=...``, ``config <path>`` or ``default``."""
    if _block.get() is not None:
        return "use_backend"
    return _process_choice()[1]


def current() -> Backend:
    """The current backend object (its framework imported).

    On every call of :data:`backendkit.xp` with host data: a context-variable read and
    a dictionary look-up (a selected backend is always loaded already).
    """
    name = _block.get()
    if name is None:
        name = (_process if _process is not None else _process_choice())[0]
    try:
        return _loaded[name]
    except KeyError:
        return backends.load(name)


def _resolve(name: Any) -> str:
    resolved = backends.canonical_name(name)
    backends.load(resolved)  # raises BackendNotInstalledError before anything changes
    return resolved


def set_backend(name: str) -> str:
    """Make ``name`` the process-wide backend and return its canonical name.

    Parameters
    ----------
    name : str
        ``numpy``, ``jax``, ``torch`` (alias ``pytorch``) or ``auto`` (jax if
        installed, else torch, else numpy).

    Returns
    -------
    str
        The canonical name that was selected.

    Raises
    ------
    UnknownBackendError
        If ``name`` is not a backend; the message lists the valid names.
    BackendNotInstalledError
        If its framework is missing; the message names the extra to install.
        In both cases the selection stays as it was.

    Notes
    -----
    Inside a :func:`use_backend` block the block's backend stays current; the new
    process-wide choice applies once the block ends.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.set_backend("numpy")
    'numpy'
    """
    global _process
    resolved = _resolve(name)
    _process = [resolved, "set_backend"]
    return resolved


_blocks = _scope.Scope(_block)  # the open use_backend blocks, per context

#: the backend name of the innermost block (use_backend, or a transform running a
#: user's function), ``None`` outside every block; bound once for :data:`backendkit.xp`
selected_name = _block.get


def use_backend(name: str) -> _scope.Block[str]:
    """Use backend ``name`` inside a ``with`` block, in this thread or task only; or,
    as a decorator, inside every call of a function.

    Built on :mod:`contextvars`: other threads and asyncio tasks keep their own
    selection, and the previous one comes back when the block ends, also on error.
    Blocks that end out of order (a generator suspended inside one and closed inside
    another) still leave each block's backend current exactly while it is the
    innermost open one, and the original selection once all have ended.

    Raises
    ------
    UnknownBackendError, BackendNotInstalledError
        As :func:`set_backend`, when the block begins; the selection stays as it was.
    ArgumentTypeError
        When decorating an async generator function, which it cannot isolate.

    Notes
    -----
    A generator runs in the context of whoever iterates it: one suspended at a
    ``yield`` inside a ``use_backend`` block leaves that backend selected for its
    consumer until it resumes and ends the block (as :func:`decimal.localcontext`
    does; a ``contextlib.contextmanager`` built on the block relies on it). To keep a
    generator's selection to itself, decorate it: ``@use_backend("jax")`` on a
    generator function runs each of its steps in a context of its own, so neither the
    decorator's backend nor any block inside the generator is seen by its consumer.
    On a function or coroutine function the decorator wraps each call in the block.

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_backend("numpy") as name:
    ...     type(bk.xp.zeros(2)).__module__
    'numpy'
    >>> @bk.use_backend("numpy")
    ... def numbers():
    ...     yield bk.get_backend()
    >>> list(numbers())
    ['numpy']
    """

    def begin() -> tuple[str, str]:
        resolved = _resolve(name)
        return resolved, resolved

    return _scope.Block(_blocks, begin, f"use_backend({name!r})")


def enter(name: str) -> object:
    """Select canonical backend ``name`` in this context until :func:`leave`.

    The unchecked half of :func:`use_backend`, for backendkit's own code that runs a
    user's function with the backend its arrays chose (see ``backendkit._dispatch``);
    always paired with :func:`leave` in a ``finally``. It is a block like
    ``use_backend``'s, so that the two stay sound together whatever order they end in.
    """
    owner = object()
    _blocks.push(owner, name)
    return owner


def leave(owner: object) -> None:
    """End the selection that :func:`enter` began and returned ``owner`` for."""
    _blocks.pop(owner)
