"""Keras on any backend: choose it in time, refuse clearly when it is too late.

Keras reads its backend once, when ``import keras`` runs (from ``KERAS_BACKEND``, else
``keras.json``, else its default ``tensorflow``), and keeps it for the life of the
process. Choosing it afterwards is the commonest Keras trap: setting the variable then
silently does nothing. This module therefore

- chooses the backend (and the device its framework uses) *before* keras is imported,
  and raises :class:`~backendkit.KerasBackendError` when keras is already
  running another backend, naming the two ways out: restart, or
  :func:`~backendkit.run_in_backend`, which runs code in a fresh interpreter;
- reports the backend keras uses or would use without importing keras
  (:func:`current_backend`, :func:`keras_config_path`): importing it would fix the
  backend, and would write ``keras.json`` if none exists;
- persists a choice, the accelerator included, for later sessions
  (:func:`swap_backend`), and says when a ``KERAS_BACKEND`` set in the environment
  will override it;
- loads a saved ``.keras`` model and predicts with it (:func:`load_model`,
  :func:`predict`) and builds the stella-style flare CNN (:func:`flare_cnn`).

Only the functions that need keras import it, inside the function: importing this
module imports neither keras nor any framework.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
import zipfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from . import backends, config
from .errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BackendNotInstalledError,
    DeviceError,
    DeviceFallbackWarning,
    KerasBackendError,
    ModelFileError,
    UnknownBackendError,
)
from .runner import run_in_backend

__all__ = [
    "ACCELERATORS",
    "KERAS_BACKENDS",
    "backend_and_source",
    "configure",
    "current_backend",
    "environment_override",
    "flare_cnn",
    "keras_config_path",
    "load_model",
    "predict",
    "run_in_backend",
    "saved_backend",
    "swap_backend",
]

#: the Keras backends this module chooses between (``tensorflow`` only if installed)
KERAS_BACKENDS: tuple[str, ...] = ("jax", "torch", "numpy", "tensorflow")
#: accelerator names accepted by :func:`configure` and :func:`swap_backend`
ACCELERATORS: tuple[str, ...] = config.ACCELERATOR_KINDS
_ACCELERATOR_ALIASES = {"cuda": "gpu", "rocm": "gpu", "metal": "mps"}
#: the variable through which the environment overrides ``keras.json``
KERAS_VAR = "KERAS_BACKEND"
#: Keras' own default when neither ``KERAS_BACKEND`` nor ``keras.json`` names one
KERAS_DEFAULT = "tensorflow"

# The variables each framework reads, at import or first use, to pick its device. Keras
# itself has none except KERAS_TORCH_DEVICE; jax reads JAX_PLATFORMS (cpu listed too, so
# that host-side work still has a device); tensorflow only honours hiding the GPUs.
_DEVICE_VARIABLES: dict[str, dict[str, dict[str, str]]] = {
    "jax": {
        "cpu": {"JAX_PLATFORMS": "cpu"},
        "gpu": {"JAX_PLATFORMS": "gpu,cpu"},
        "mps": {"JAX_PLATFORMS": "METAL,cpu"},
    },
    "torch": {
        "cpu": {"KERAS_TORCH_DEVICE": "cpu"},
        "gpu": {"KERAS_TORCH_DEVICE": "cuda"},
        "mps": {"KERAS_TORCH_DEVICE": "mps"},
    },
    "numpy": {"cpu": {}},
    "tensorflow": {"cpu": {"CUDA_VISIBLE_DEVICES": "-1"}, "gpu": {}, "mps": {}},
}
_FRAMEWORK_INSTALL = {
    "jax": ("jax", "pip install 'backendkit[jax]'"),
    "torch": ("torch", "pip install 'backendkit[torch]'"),
    "numpy": ("numpy", "pip install numpy"),
    "tensorflow": ("tensorflow", "pip install tensorflow"),
}
_ACCELERATOR_INSTALL = {
    ("jax", "gpu"): "pip install 'jax[cuda12]' (or a ROCm build of jax)",
    ("jax", "mps"): "pip install jax-metal",
    ("torch", "gpu"): "install a CUDA or ROCm build of torch (see pytorch.org)",
    ("torch", "mps"): "use an Apple-silicon Mac with macOS 12.3 or later",
    ("tensorflow", "gpu"): "pip install 'tensorflow[and-cuda]'",
    ("tensorflow", "mps"): "pip install tensorflow-metal",
}


# ---------------------------------------------------------------------------- names
def keras_backend_name(name: Any) -> str:
    """The canonical Keras backend name for ``name`` (``pytorch`` is ``torch``).

    Raises
    ------
    UnknownBackendError
        If ``name`` is not a Keras backend this module supports.
    BackendNotInstalledError
        If its framework is not installed.
    """
    key = name.strip().lower() if isinstance(name, str) else ""
    key = backends.ALIASES.get(key, key)
    if key not in KERAS_BACKENDS:
        raise UnknownBackendError(
            f"unknown Keras backend {name!r}; valid names: {', '.join(KERAS_BACKENDS)} "
            f"(tensorflow only if installed; alias pytorch = torch)"
        )
    framework, install = _FRAMEWORK_INSTALL[key]
    if importlib.util.find_spec(framework) is None:
        raise BackendNotInstalledError(
            f"the Keras backend {key!r} needs {framework}, which is not installed: {install}"
        )
    return key


def _accelerator_name(accelerator: Any) -> str:
    key = accelerator.strip().lower() if isinstance(accelerator, str) else ""
    key = _ACCELERATOR_ALIASES.get(key, key)
    if key not in ACCELERATORS:
        raise DeviceError(
            f"unknown accelerator {accelerator!r}: it is no device kind; valid: "
            f"{', '.join(ACCELERATORS)} (aliases cuda and rocm = gpu, metal = mps), or "
            f"None for the framework's own choice"
        )
    return key


def _has_jax_plugin(prefixes: tuple[str, ...]) -> bool:
    # jax finds accelerator plugins by these entry points and module names; looking for
    # them does not initialise jax, which would fix its platforms for the process.
    names = {ep.name for ep in entry_points(group="jax_plugins")}
    for module in ("jax_plugins", "jaxlib"):
        spec = importlib.util.find_spec(module)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            if os.path.isdir(folder):
                names.update(os.listdir(folder))
    for prefix in ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin"):
        if importlib.util.find_spec(prefix) is not None:
            names.add(prefix)
    return any(name.lower().startswith(prefixes) for name in names)


def _lacks(framework: str, accelerator: str) -> str | None:
    """Why ``framework`` cannot use ``accelerator`` here, or ``None`` if it can."""
    if accelerator == "cpu":
        return None
    if framework == "numpy":
        return "Keras' numpy backend runs on the CPU only"
    if framework == "jax":
        if accelerator == "gpu":
            found = _has_jax_plugin(("xla_cuda", "xla_rocm", "jax_cuda", "jax_rocm", "cuda"))
        else:
            found = _has_jax_plugin(("metal",))
        return None if found else f"the installed jax has no {accelerator} plugin"
    if framework == "torch":
        import torch

        if accelerator == "gpu":
            ok = torch.cuda.is_available()
            return None if ok else f"torch {torch.__version__} sees no CUDA or ROCm GPU"
        ok = torch.backends.mps.is_available()
        return None if ok else f"torch {torch.__version__} has no MPS device"
    import tensorflow as tf

    found = tf.config.list_physical_devices("GPU")
    return None if found else "tensorflow sees no GPU"


def check_accelerator(framework: str, accelerator: str) -> None:
    """Raise :class:`DeviceError` unless ``framework`` can use ``accelerator`` here.

    Imports torch (or tensorflow) to ask it, but never keras, and never initialises
    jax, whose plugins are found by their installed names.
    """
    reason = _lacks(framework, accelerator)
    if reason is not None:
        fix = _ACCELERATOR_INSTALL.get((framework, accelerator), "")
        raise DeviceError(
            f"accelerator {accelerator!r} is not available to {framework} on this machine "
            f"({reason}); use accelerator='cpu' or None (the framework's own choice)"
            + (f", or {fix}" if fix else "")
        )


def framework_environment(backend: str, accelerator: str | None) -> dict[str, str]:
    """The environment variables that make Keras use ``backend`` on ``accelerator``.

    ``backend`` is a canonical Keras backend name; ``accelerator`` is checked by name
    only (see :func:`check_accelerator` for the machine).
    """
    env = {"KERAS_BACKEND": backend}
    if accelerator is not None:
        accelerator = _accelerator_name(accelerator)
        try:
            env.update(_DEVICE_VARIABLES[backend][accelerator])
        except KeyError:
            raise DeviceError(
                f"accelerator {accelerator!r} is not available to {backend}: "
                f"{_lacks(backend, accelerator)}; use accelerator='cpu' or None"
            ) from None
    return env


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
_configured: dict[str, str] = {}


def saved_backend() -> str | None:
    """The backend saved in :func:`keras_config_path`, or ``None`` where the file is
    missing, unreadable or names none. Imports nothing, writes nothing."""
    try:
        saved = config.read_json(keras_config_path()).get("backend")
    except config.ConfigError:
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
    acc = None if accelerator is None else _accelerator_name(accelerator)
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


def swap_backend(backend: str, accelerator: str | None = None) -> dict[str, dict[str, tuple]]:
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
    acc = None if accelerator is None else _accelerator_name(accelerator)
    missing = None if acc is None else _lacks(name, acc)
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
    changes: dict[str, dict[str, tuple]] = {
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
    from .selection import ENV_VAR

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
    except config.ConfigError:
        return {}  # get_backend and get_device report a broken file; keras need not
    table = _DEVICE_VARIABLES.get(name, {})
    if acc not in table or any(os.environ.get(k) for v in table.values() for k in v):
        return {}
    return {} if _lacks(name, acc) is not None else dict(table[acc])


# ---------------------------------------------------------------------------- models
def _import_keras() -> Any:
    if "keras" not in sys.modules:
        name, source = backend_and_source()
        if name == "tensorflow" and importlib.util.find_spec("tensorflow") is None:
            raise KerasBackendError(
                f"keras would use tensorflow ({source}), which is not installed; call "
                f"backendkit.keras.configure('jax') (or 'torch', 'numpy') before this"
            )
        # the accelerator swap_backend persisted: Keras has no setting for it in
        # keras.json, so it is set here, where keras is about to be imported
        _set_environment(_persisted_device_environment(name))
    import keras

    return keras


def flare_cnn(window: int = 200) -> Any:
    """The stella-style 1D CNN that scores a light-curve window for a flare.

    Conv1D(16, 7, relu, same) → MaxPool(2) → Dropout(0.1) → Conv1D(64, 3, relu,
    same) → MaxPool(2) → Dropout(0.1) → Flatten → Dense(32, relu) → Dropout(0.1) →
    Dense(1, sigmoid), on input of shape ``(window, 1)``. Uncompiled.

    Parameters
    ----------
    window : int
        Cadences per window (stella uses 200); at least 4, for the two poolings.

    Returns
    -------
    keras.Sequential

    Raises
    ------
    ArgumentTypeError
        If ``window`` is not an integer.
    ArgumentValueError
        If ``window`` is less than 4.
    KerasBackendError
        If keras is not imported yet and would fall back to a tensorflow that is not
        installed (call :func:`configure` first).

    Examples
    --------
    >>> from backendkit.keras import flare_cnn
    >>> model = flare_cnn(200)  # doctest: +SKIP
    >>> model.output_shape  # doctest: +SKIP
    (None, 1)
    """
    if isinstance(window, bool) or not isinstance(window, int):
        raise ArgumentTypeError(
            f"window must be an integer of at least 4 cadences, got "
            f"{type(window).__name__} {window!r}"
        )
    if window < 4:
        raise ArgumentValueError(
            f"window must be an integer of at least 4 cadences (two poolings halve it), "
            f"got {window}"
        )
    keras = _import_keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(window, 1)),
            layers.Conv1D(16, 7, activation="relu", padding="same"),
            layers.MaxPooling1D(2),
            layers.Dropout(0.1),
            layers.Conv1D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling1D(2),
            layers.Dropout(0.1),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dropout(0.1),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="flare_cnn",
    )


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a saved ``.keras`` model for inference (``compile=False``).

    Raises
    ------
    ModelFileError
        If ``path`` does not exist, is not a ``.keras`` file (a zip archive keras wrote
        with ``model.save``), holds no model (no ``config.json``), is damaged, or keras
        fails to load it (the cause is chained); the message names the path and the
        fix. All but the last are found before keras is imported.
    ArgumentTypeError
        If ``path`` is not a ``str`` or ``os.PathLike``.
    KerasBackendError
        As :func:`flare_cnn`.

    Examples
    --------
    >>> from backendkit.keras import load_model
    >>> load_model("no/such/model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    backendkit.errors.ModelFileError: no Keras model at 'no/such/model.keras' ...
    """
    p = _model_archive(path)
    keras = _import_keras()
    try:
        return keras.models.load_model(p, compile=False)
    except (KeyError, ValueError, TypeError, AttributeError, OSError, zipfile.BadZipFile) as exc:
        raise ModelFileError(
            f"keras could not load the model in {str(p)!r} ({type(exc).__name__}: {exc}); "
            f"the archive may be damaged, or written by a Keras with layers this one "
            f"lacks: save it again with model.save('name.keras')"
        ) from exc


def _model_archive(path: Any) -> Path:
    """``path`` checked, without keras, to be a ``.keras`` archive that holds a model."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"path must be a str or os.PathLike naming a .keras file, got "
            f"{type(path).__name__} {path!r}"
        )
    p = Path(path)
    if not p.exists():
        raise ModelFileError(
            f"no Keras model at {str(path)!r} (the path does not exist); check the path, "
            f"or save the model first with model.save('name.keras')"
        )
    if p.suffix != ".keras" or not zipfile.is_zipfile(p):
        raise ModelFileError(
            f"{str(path)!r} is not a Keras model file: load_model reads the .keras "
            f"archives written by model.save('name.keras'); convert other formats "
            f"(.h5, SavedModel) with the Keras they were written by"
        )
    # keras reads config.json first and answers a missing one with a bare KeyError
    try:
        with zipfile.ZipFile(p) as archive:
            names = archive.namelist()
            raw = archive.read("config.json") if "config.json" in names else None
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:  # RuntimeError: encrypted
        raise ModelFileError(
            f"{str(path)!r} is a damaged zip archive ({exc}); save the model again with "
            f"model.save('name.keras')"
        ) from exc
    if raw is None:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") or "nothing"
        raise ModelFileError(
            f"{str(path)!r} is a zip archive but holds no Keras model (no config.json; it "
            f"holds {shown}); load_model reads the archives written by "
            f"model.save('name.keras')"
        )
    try:
        spec = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise ModelFileError(
            f"the config.json in {str(path)!r} is not valid JSON ({exc}); the archive is "
            f"damaged: save the model again with model.save('name.keras')"
        ) from exc
    if not isinstance(spec, dict):
        raise ModelFileError(
            f"the config.json in {str(path)!r} is not a JSON object but a "
            f"{type(spec).__name__}; the archive is damaged: save the model again with "
            f"model.save('name.keras')"
        )
    return p


def predict(path: str | os.PathLike[str], x: Any, batch_size: int = 256) -> Any:
    """Predictions of the saved model at ``path`` for ``x``, as a NumPy array.

    A module-level function, so that :func:`~backendkit.run_in_backend` can run it
    under any Keras backend: ``run_in_backend("torch", predict, path, x)``.

    Raises
    ------
    ModelFileError, KerasBackendError
        As :func:`load_model`.

    Examples
    --------
    >>> from backendkit import run_in_backend
    >>> from backendkit.keras import predict
    >>> run_in_backend("jax", predict, "model.keras", windows)  # doctest: +SKIP
    array([[0.01], [0.97], ...], dtype=float32)
    """
    import numpy as np

    model = load_model(path)
    return np.asarray(model.predict(np.asarray(x), batch_size=batch_size, verbose=0))
