"""What each Keras backend needs: its name, its framework, the accelerators it can use
and the environment variables that choose them.

The facts of jax, torch and numpy are their backend plug-ins' (``backendkit.backends``);
tensorflow, a Keras backend that is no backendkit backend, has its facts here. Shared by
:func:`backendkit.keras.configure` and by :func:`backendkit.run_in_backend`, which
prepares a child process's environment with them. Imports no framework but torch or
tensorflow where asked whether an accelerator is there.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from .. import backends, config
from ..errors import BackendNotInstalledError, DeviceError, UnknownBackendError

__all__ = [
    "ACCELERATORS",
    "KERAS_BACKENDS",
    "KERAS_DEFAULT",
    "KERAS_VAR",
    "accelerator_name",
    "check_accelerator",
    "framework_environment",
    "keras_backend_name",
    "lacks",
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

# tensorflow: the Keras backend that is no backendkit backend. It honours only hiding
# the GPUs, for the CPU.
_TENSORFLOW_DEVICES = {"cpu": {"CUDA_VISIBLE_DEVICES": "-1"}, "gpu": {}, "mps": {}}
_TENSORFLOW_INSTALL = {
    "gpu": "pip install 'tensorflow[and-cuda]'",
    "mps": "pip install tensorflow-metal",
}


def _device_variables(backend: str) -> dict[str, dict[str, str]]:
    if backend == "tensorflow":
        return _TENSORFLOW_DEVICES
    return backends.plugin(backend).device_environment


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
    if key == "tensorflow":
        framework, install = "tensorflow", "pip install tensorflow"
    else:
        framework, install = backends.plugin(key).framework, backends.install_hint(key)
    if importlib.util.find_spec(framework) is None:
        raise BackendNotInstalledError(
            f"the Keras backend {key!r} needs {framework}, which is not installed: {install}"
        )
    return key


def accelerator_name(accelerator: Any) -> str:
    """The canonical accelerator kind for ``accelerator`` (``cuda`` is ``gpu``).

    Raises
    ------
    DeviceError
        If it is no device kind.
    """
    key = accelerator.strip().lower() if isinstance(accelerator, str) else ""
    key = _ACCELERATOR_ALIASES.get(key, key)
    if key not in ACCELERATORS:
        raise DeviceError(
            f"unknown accelerator {accelerator!r}: it is no device kind; valid: "
            f"{', '.join(ACCELERATORS)} (aliases cuda and rocm = gpu, metal = mps), or "
            f"None for the framework's own choice"
        )
    return key


def lacks(framework: str, accelerator: str) -> str | None:
    """Why Keras' ``framework`` backend cannot use ``accelerator`` here, or ``None``."""
    if framework != "tensorflow":
        return backends.plugin(framework).lacks_accelerator(accelerator)
    if accelerator == "cpu":
        return None
    import tensorflow as tf

    found = tf.config.list_physical_devices("GPU")
    return None if found else "tensorflow sees no GPU"


def check_accelerator(framework: str, accelerator: str) -> None:
    """Raise :class:`DeviceError` unless ``framework`` can use ``accelerator`` here.

    Imports torch (or tensorflow) to ask it, but never keras, and never initialises
    jax, whose plugins are found by their installed names.
    """
    reason = lacks(framework, accelerator)
    if reason is not None:
        installs = (
            _TENSORFLOW_INSTALL
            if framework == "tensorflow"
            else backends.plugin(framework).accelerator_install
        )
        fix = installs.get(accelerator, "")
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
        accelerator = accelerator_name(accelerator)
        try:
            env.update(_device_variables(backend)[accelerator])
        except KeyError:
            raise DeviceError(
                f"accelerator {accelerator!r} is not available to {backend}: "
                f"{lacks(backend, accelerator)}; use accelerator='cpu' or None"
            ) from None
    return env
