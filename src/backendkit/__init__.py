"""backendkit: one scientific code path for NumPy, JAX and PyTorch.

This module only re-exports. Every name is imported at its first use (PEP 562), so that
``import backendkit`` costs little more than NumPy's import and imports no jax, torch or
keras; nothing at import changes the process (see ``backends/_base.py`` for why and
how). The modules are laid out in floors, each importing only from the floors below
(ARCHITECTURE.md).
"""

from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> the module that defines it (None: the name is a submodule itself)
_LAZY: dict[str, str | None] = {
    "Device": "_devices",
    "MemoryInfo": "_devices",
    "block_until_ready": "_devices",
    "device_source": "_devices",
    "devices": "_devices",
    "get_device": "_devices",
    "memory_info": "_devices",
    "set_device": "_devices",
    "use_device": "_devices",
    "backend_of": "_dispatch",
    "namespace": "_namespace",
    "xp": "_namespace",
    "asarray": "arrays",
    "convert": "arrays",
    "to_numpy": "arrays",
    "benchmark": "bench",
    "cond": "control",
    "fori_loop": "control",
    "scan": "control",
    "switch": "control",
    "while_loop": "control",
    "check_backend": "diagnostics",
    "print_backend_info": "diagnostics",
    "pmap": "distributed",
    "ArgumentTypeError": "errors",
    "ConfigError": "errors",
    "ArgumentValueError": "errors",
    "AxisNameError": "errors",
    "BackendError": "errors",
    "BackendMismatchError": "errors",
    "BackendNotInstalledError": "errors",
    "BenchmarkError": "errors",
    "ControlFlowError": "errors",
    "DeviceError": "errors",
    "DeviceFallbackWarning": "errors",
    "DistributedError": "errors",
    "DistributedTimeoutError": "errors",
    "DtypeUnavailableError": "errors",
    "IndexOutOfBoundsError": "errors",
    "KerasBackendError": "errors",
    "ModelFileError": "errors",
    "RunnerError": "errors",
    "RunnerTimeoutError": "errors",
    "UnknownBackendError": "errors",
    "UnknownDtypeError": "errors",
    "at": "functional",
    "put": "functional",
    "get_default_dtype": "precision",
    "set_default_dtype": "precision",
    "use_dtype": "precision",
    "run_in_backend": "runner",
    "available_backends": "selection",
    "get_backend": "selection",
    "set_backend": "selection",
    "use_backend": "selection",
    "grad": "transforms",
    "jacobian": "transforms",
    "jit": "transforms",
    "value_and_grad": "transforms",
    "vmap": "transforms",
    "backends": None,
    "bench": None,
    "distributed": None,
    "finite_differences": None,
    "keras": None,
    "random": None,
}

if TYPE_CHECKING:
    from . import backends as backends  # submodules reachable as attributes (_LAZY)
    from . import bench as bench
    from . import distributed, random
    from . import finite_differences as finite_differences
    from . import keras as keras
    from ._devices import (
        Device,
        MemoryInfo,
        block_until_ready,
        device_source,
        devices,
        get_device,
        memory_info,
        set_device,
        use_device,
    )
    from ._dispatch import backend_of
    from ._namespace import namespace, xp
    from .arrays import asarray, convert, to_numpy
    from .bench import benchmark
    from .control import cond, fori_loop, scan, switch, while_loop
    from .diagnostics import check_backend, print_backend_info
    from .distributed import pmap
    from .errors import (
        ArgumentTypeError,
        ArgumentValueError,
        AxisNameError,
        BackendError,
        BackendMismatchError,
        BackendNotInstalledError,
        BenchmarkError,
        ConfigError,
        ControlFlowError,
        DeviceError,
        DeviceFallbackWarning,
        DistributedError,
        DistributedTimeoutError,
        DtypeUnavailableError,
        IndexOutOfBoundsError,
        KerasBackendError,
        ModelFileError,
        RunnerError,
        RunnerTimeoutError,
        UnknownBackendError,
        UnknownDtypeError,
    )
    from .functional import at, put
    from .precision import get_default_dtype, set_default_dtype, use_dtype
    from .runner import run_in_backend
    from .selection import available_backends, get_backend, set_backend, use_backend
    from .transforms import grad, jacobian, jit, value_and_grad, vmap


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'backendkit' has no attribute {name!r}") from None
    import importlib

    value = importlib.import_module(f".{module or name}", __name__)
    if module is not None:
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ArgumentTypeError",
    "ArgumentValueError",
    "AxisNameError",
    "BackendError",
    "BackendMismatchError",
    "BackendNotInstalledError",
    "BenchmarkError",
    "ConfigError",
    "ControlFlowError",
    "Device",
    "DeviceError",
    "DeviceFallbackWarning",
    "DistributedError",
    "DistributedTimeoutError",
    "DtypeUnavailableError",
    "IndexOutOfBoundsError",
    "KerasBackendError",
    "MemoryInfo",
    "ModelFileError",
    "RunnerError",
    "RunnerTimeoutError",
    "UnknownBackendError",
    "UnknownDtypeError",
    "__version__",
    "asarray",
    "at",
    "available_backends",
    "backend_of",
    "benchmark",
    "block_until_ready",
    "check_backend",
    "cond",
    "convert",
    "device_source",
    "devices",
    "distributed",
    "fori_loop",
    "get_backend",
    "get_default_dtype",
    "get_device",
    "grad",
    "jacobian",
    "jit",
    "memory_info",
    "namespace",
    "pmap",
    "print_backend_info",
    "put",
    "random",
    "run_in_backend",
    "scan",
    "set_backend",
    "set_default_dtype",
    "set_device",
    "switch",
    "to_numpy",
    "use_backend",
    "use_device",
    "use_dtype",
    "value_and_grad",
    "vmap",
    "while_loop",
    "xp",
]
