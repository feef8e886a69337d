"""What keras uses or would use, found without importing it, and choosing it in time:
:func:`configure` for this process, :func:`swap_backend` for the next sessions."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from .. import backends, config
from ..errors import (
    ConfigError,
    DeviceFallbackWarning,
    KerasBackendError,
)
from ._environment import (
    KERAS_DEFAULT,
    KERAS_VAR,
    accelerator_name,
    check_accelerator,
    framework_environment,
    keras_backend_name,
    lacks,
)

__all__ = [
    "backend_and_source",
    "configure",
    "current_backend",
    "environment_override",
    "keras_config_path",
    "saved_backend",
    "swap_backend",
]


# ---------------------------------------------------------------------------- lookup
def keras_config_path() -> Path:
    """The ``keras.json`` that keras reads, found as keras finds it, without keras.

    ``$KERAS_HOME/keras.json`` if ``KERAS_HOME`` is set, else ``~/.keras/keras.json``
    (``/tmp/.keras/keras.json`` if the home folder is not writable). The file need not
    exist. Safe to call at any time: it imports nothing.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from backendkit.keras import keras_config_path
    >>> with mock.patch.dict(os.environ, {"KERAS_HOME": "/tmp/example-keras-home"}):
    ...     keras_config_path().as_posix()
    '/tmp/example-keras-home/keras.json'
    """
    if "KERAS_HOME" in os.environ:
        folder = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        folder = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    return Path(os.path.expanduser(os.path.join(folder, "keras.json")))


def backend_and_source() -> tuple[str, str]:
    """The backend keras uses or would use, and why, without importing keras.

    The reason is ``"keras imported"``, ``"KERAS_BACKEND"``, ``"keras.json <path>"``
    or ``"Keras' default"`` (with a note when ``keras.json`` is unreadable, which keras
    ignores too). For diagnostics; :func:`current_backend` returns the name alone.
    """
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return str(keras.backend.backend()), "keras imported"
    path = keras_config_path()
    if os.environ.get("KERAS_BACKEND"):  # keras ignores the variable when it is empty
        return os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return KERAS_DEFAULT, "Keras' default"
    except (OSError, ValueError) as exc:
        return KERAS_DEFAULT, f"Keras' default ({path} is unreadable: {exc})"
    if isinstance(data, dict) and isinstance(data.get("backend"), str):
        return data["backend"], f"keras.json {path}"
    return KERAS_DEFAULT, "Keras' default"


def current_backend() -> str:
    """The backend keras uses, or would use if imported now, without importing keras.

    In keras' own order: the backend of the imported keras, else ``KERAS_BACKEND``,
    else the ``backend`` in :func:`keras_config_path`, else keras' default,
    ``tensorflow``. Safe to call at any time: it imports nothing and writes nothing.

    Examples
    --------
    >>> import os, sys
    >>> from unittest import mock
    >>> from backendkit.keras import current_backend
    >>> with mock.patch.dict(os.environ, {"KERAS_BACKEND": "torch"}):
    ...     current_backend()  # doctest: +SKIP
    'torch'
    >>> "keras" in sys.modules  # doctest: +SKIP
    False
    """
    return backend_and_source()[0]


def _loaded_backend() -> str | None:
    keras = sys.modules.get("keras")
    return None if keras is None else str(keras.backend.backend())


# The variables configure() set in this process, so that swap_backend can tell a
# KERAS_BACKEND of backendkit's own from one the shell, or a launcher, put there.


# The variables configure() set in this process, so that swap_backend can tell a
# KERAS_BACKEND of backendkit's own from one the shell, or a launcher, put there.
_configured: dict[str, str] = {}


def saved_backend() -> str | None:
    """The backend saved in :func:`keras_config_path`, or ``None`` where the file is
    missing, unreadable or names none. Imports nothing, writes nothing."""
    try:
        saved = config.read_json(keras_config_path()).get("backend")
    except ConfigError:
        return None
    return saved if isinstance(saved, str) else None


def environment_override() -> tuple[str, str] | None:
    """``(KERAS_BACKEND's value, keras.json's backend)`` when the variable, set in the
    environment, wins over another backend saved in ``keras.json``; else ``None``.

    Keras reads ``KERAS_BACKEND`` before ``keras.json``, so a variable exported in a
    shell profile silently overrides every :func:`swap_backend` in sessions started
    from that shell. Reads the file, imports nothing. For diagnostics
    (:func:`backendkit.check_backend`, :func:`backendkit.print_backend_info`).

    Examples
    --------
    >>> import os, tempfile
    >>> from unittest import mock
    >>> from backendkit.keras import environment_override
    >>> folder = tempfile.mkdtemp()  # a keras home that swap_backend("torch") wrote
    >>> with mock.patch.dict(os.environ, {"KERAS_HOME": folder, "KERAS_BACKEND": "jax"}):
    ...     with open(os.path.join(folder, "keras.json"), "w") as f:
    ...         _ = f.write('{"backend": "torch"}')
    ...     environment_override()
    ('jax', 'torch')
    """
    value = os.environ.get(KERAS_VAR)
    saved = saved_backend()
    if not value or saved is None or saved == value:  # keras ignores an empty variable
        return None
    return value, saved


# ---------------------------------------------------------------------------- choosing
def configure(backend: str, accelerator: str | None = None) -> str:
    """Choose the backend keras will use, and its device, before keras is imported.

    Sets, in this process only, the variables keras and that framework read:
    ``KERAS_BACKEND``, and for ``accelerator`` ``JAX_PLATFORMS`` (jax),
    ``KERAS_TORCH_DEVICE`` (torch) or ``CUDA_VISIBLE_DEVICES`` (tensorflow on the CPU).
    Nothing is written to disk; see :func:`swap_backend` to persist a choice.

    Parameters
    ----------
    backend : str
        ``jax``, ``torch`` (alias ``pytorch``), ``numpy``; ``tensorflow`` if installed.
    accelerator : {'cpu', 'gpu', 'mps'}, optional
        The device the framework should use (``cuda`` is an alias of ``gpu``); by
        default the framework's own choice (a GPU when it has one).

    Returns
    -------
    str
        The canonical backend name.

    Raises
    ------
    UnknownBackendError, BackendNotInstalledError
        For a name that is not a Keras backend, or whose framework is missing.
    DeviceError
        For an unknown accelerator, or one this machine or framework build lacks.
    KerasBackendError
        If keras is already imported with another backend (it cannot change in this
        process). With the same backend there is nothing to do and nothing is changed.
        In every error case nothing is changed.

    Examples
    --------
    >>> from backendkit.keras import configure
    >>> configure("numpy", accelerator="gpu")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    backendkit.errors.DeviceError: accelerator 'gpu' is not available to numpy ...
    """
    name = keras_backend_name(backend)
    loaded = _loaded_backend()
    if loaded is not None:
        if loaded == name:
            return name
        raise KerasBackendError(
            f"keras is already imported with the {loaded!r} backend, so configure"
            f"({backend!r}) cannot take effect: keras fixes its backend at import. "
            f"Either restart Python (the kernel) and call "
            f"backendkit.keras.configure({name!r}) before anything imports keras, or run "
            f"the code in a fresh interpreter: "
            f"backendkit.run_in_backend({name!r}, func, ...)"
        )
    acc = None if accelerator is None else accelerator_name(accelerator)
    if acc is not None:
        check_accelerator(name, acc)
    _set_environment(framework_environment(name, acc))
    return name


def _set_environment(env: dict[str, str]) -> None:
    os.environ.update(env)
    _configured.update(env)
    jax = sys.modules.get("jax")
    if jax is not None and "JAX_PLATFORMS" in env:
        # jax read the variable when it was imported; its flag still applies until
        # jax first runs something.
        jax.config.update("jax_platforms", env["JAX_PLATFORMS"])


def swap_backend(
    backend: str, accelerator: str | None = None
) -> dict[str, dict[str, tuple[Any, Any]]]:
    """Persist ``backend``, and its accelerator, for later sessions of Keras and backendkit.

    Writes ``backend`` into :func:`keras_config_path` (keras.json) and, for ``jax``,
    ``torch`` and ``numpy``, ``backend`` and ``accelerator`` as backendkit's own
    defaults into :func:`backendkit.config.config_path`, both files or neither
    (:func:`backendkit.config.update_json_files`). Each file is replaced atomically (a
    temporary file in the same folder, then ``os.replace``), keeps every other key and
    its mode, and is created if missing; a ``keras.json`` that is a symbolic link stays
    one and its target is written. Concurrent calls, from threads or processes, take
    the two files' locks in one order and so apply one after another: the two files
    never name different backends.

    If keras is not imported yet, the choice also takes effect now, as with
    :func:`configure`. Otherwise a ``UserWarning`` says that it applies after a
    restart.

    Parameters
    ----------
    backend : str
        ``jax``, ``torch`` (alias ``pytorch``), ``numpy``; ``tensorflow`` if installed.
    accelerator : {'cpu', 'gpu', 'mps'}, optional
        The device kind (aliases ``cuda``, ``rocm``, ``metal``), for this session and
        the next ones: it becomes their default device (:func:`backendkit.get_device`
        reports it, with ``config.json`` as its source, until ``set_device`` or
        ``use_device`` chooses another), and this module's functions that import keras
        (:func:`load_model`, :func:`predict`, :func:`flare_cnn`) point Keras at it,
        unless the environment already chose a device. ``None`` (the default) saves
        the framework's own choice. A kind this machine lacks (``"mps"`` on Linux) is
        saved all the same, for the machines that have it, with a
        :class:`~backendkit.DeviceFallbackWarning`: here the CPU is used instead, now
        and in later sessions. Not persisted for ``tensorflow``, which backendkit's
        ``config.json`` does not cover.

    Returns
    -------
    dict
        ``{"keras.json": {...}, "config.json": {...}, "environment": {...}}``, each
        mapping what changed to ``(old, new)`` (``old`` is ``None`` where unset).

    Raises
    ------
    UnknownBackendError, BackendNotInstalledError
        As :func:`configure`.
    DeviceError
        For a name that is no device kind (``"tpu9"``, ``"gpx"``), or an accelerator
        the backend cannot use on any machine (``numpy`` runs on the CPU only).
    ConfigError
        If ``keras.json`` or backendkit's ``config.json`` is not valid JSON, cannot be
        read, or cannot be written (a read-only folder); both files are left as they
        were, and so is the environment.

    Warns
    -----
    DeviceFallbackWarning
        For an accelerator this machine lacks: what runs here instead.
    UserWarning
        When ``KERAS_BACKEND`` (or ``BACKENDKIT_BACKEND``) is set in the environment
        to another backend: it wins over the files just written in every session
        started with it (a shell profile's ``export``), and the warning names it and
        says how to unset it. And when keras is already imported with another backend.

    Examples
    --------
    >>> import os, tempfile
    >>> from unittest import mock
    >>> from backendkit.keras import swap_backend
    >>> folder = tempfile.mkdtemp()  # instead of ~/.keras and ~/.config/backendkit
    >>> with mock.patch.dict(os.environ, {"KERAS_HOME": folder,
    ...                                   "BACKENDKIT_CONFIG_DIR": folder}):
    ...     changes = swap_backend("numpy")
    >>> changes["keras.json"], changes["config.json"]
    ({'backend': (None, 'numpy')}, {'backend': (None, 'numpy')})
    """
    name = keras_backend_name(backend)
    acc = None if accelerator is None else accelerator_name(accelerator)
    missing = None if acc is None else lacks(name, acc)
    if missing is not None and name == "numpy":
        check_accelerator(name, acc)  # type: ignore[arg-type]  # no machine has it: refused
    now = acc if missing is None else "cpu"
    env = framework_environment(name, now)
    overrides = _overriding_variables(name)  # before configure() below sets our own
    keras_path = keras_config_path()
    files: dict[str | os.PathLike[str], dict[str, Any]] = {keras_path: {"backend": name}}
    if name in backends.NAMES:
        files[config.config_path()] = {"backend": name, "accelerator": acc}
    # One transaction for both files: both written or neither, under both locks, so
    # that concurrent swaps never leave the two files naming different backends.
    written = list(config.update_json_files(files).values())
    changes: dict[str, dict[str, tuple[Any, Any]]] = {
        "keras.json": written[0],
        "config.json": written[1] if len(written) > 1 else {},
    }
    if missing is not None:
        warnings.warn(
            f"accelerator {acc!r} is not available to {name} on this machine ({missing}); "
            f"it is saved in {config.config_path()} for later sessions on machines that "
            f"have it. On this machine {name} uses the CPU instead: Keras now, and "
            f"backendkit's default device in later sessions (which warn so once)",
            DeviceFallbackWarning,
            stacklevel=2,
        )
    for variable, value in overrides:
        warnings.warn(
            f"{variable}={value!r} is set in the environment, and wins over the "
            f"{name!r} just saved in {_saved_where(variable, keras_path)} in every "
            f"session started with it: those sessions will use {value!r}. Unset it "
            f"(`unset {variable}`, and remove its `export` from your shell profile) for "
            f"the saved choice to apply",
            UserWarning,
            stacklevel=2,
        )
    loaded = _loaded_backend()
    if loaded is None:
        changes["environment"] = {
            k: (os.environ.get(k), v) for k, v in env.items() if os.environ.get(k) != v
        }
        configure(name, now)
    else:
        changes["environment"] = {}
        if loaded != name:
            warnings.warn(
                f"keras is already imported with the {loaded!r} backend; {name!r} was "
                f"saved in {keras_path} and applies after a restart of Python (the "
                f"kernel). To use it now, run the code with "
                f"backendkit.run_in_backend({name!r}, func, ...)",
                UserWarning,
                stacklevel=2,
            )
    return changes


def _overriding_variables(name: str) -> list[tuple[str, str]]:
    """The variables, set in the environment other than by :func:`configure`, that
    will choose another backend than ``name`` in sessions started with them."""
    found = []
    value = os.environ.get(KERAS_VAR)
    if value and value != name and _configured.get(KERAS_VAR) != value:
        found.append((KERAS_VAR, value))
    from ..selection import ENV_VAR

    value = os.environ.get(ENV_VAR, "").strip()
    if value and name in backends.NAMES:
        key = backends.ALIASES.get(value.lower(), value.lower())
        if key != name:
            found.append((ENV_VAR, value))
    return found


def _saved_where(variable: str, keras_path: Path) -> str:
    return str(keras_path) if variable == KERAS_VAR else str(config.config_path())


def _persisted_device_environment(name: str) -> dict[str, str]:
    """The variables that point Keras' ``name`` backend at the accelerator persisted
    with it, or none: when another backend or no accelerator is persisted, when the
    environment already chose a device, or when this machine lacks the accelerator."""
    try:
        if config.persisted_backend() != name:
            return {}
        acc = config.persisted_accelerator()
    except ConfigError:
        return {}  # get_backend and get_device report a broken file; keras need not
    table = backends.plugin(name).device_environment if name in backends.NAMES else {}
    if acc not in table or any(os.environ.get(k) for v in table.values() for k in v):
        return {}
    return {} if lacks(name, acc) is not None else dict(table[acc])
