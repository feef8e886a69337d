"""backendkit: one scientific code path for NumPy, JAX and PyTorch.

This module only re-exports; importing it imports no jax, torch or keras and changes
nothing in the process (see ``backends/_base.py`` for why and how).
"""

from typing import TYPE_CHECKING, Any

from ._dispatch import backend_of
from ._version import __version__
from .arrays import asarray, convert, to_numpy

# ``devices`` is both a function and the module defining it: importing the module
# anywhere would set ``backendkit.devices`` to the module, so it is imported here,
# eagerly, and the function bound last.
from .devices import (
    Device,
    MemoryInfo,
    block_until_ready,
    devices,
    get_device,
    memory_info,
    set_device,
    use_device,
)
from .errors import (
    ArgumentTypeError,
    ArgumentValueError,
    AxisNameError,
    BackendError,
    BackendMismatchError,
    BackendNotInstalledError,
    BenchmarkError,
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
from .namespace import namespace, xp
from .selection import available_backends, get_backend, set_backend, use_backend

# Re-exported on first use (PEP 562), so that ``import backendkit`` does not pay for
# modules a script may never touch (see benchmarks/overhead.py for the import time).
_LAZY = {
    "random": None,  # the submodule itself
    "distributed": None,  # the submodule itself
    "pmap": "distributed",
    "benchmark": "bench",
    "cond": "control",
    "fori_loop": "control",
    "scan": "control",
    "switch": "control",
    "while_loop": "control",
    "check_backend": "diagnostics",
    "print_backend_info": "diagnostics",
    "get_default_dtype": "precision",
    "set_default_dtype": "precision",
    "use_dtype": "precision",
    "run_in_backend": "runner",
    "grad": "transforms",
    "jacobian": "transforms",
    "jit": "transforms",
    "value_and_grad": "transforms",
    "vmap": "transforms",
}

if TYPE_CHECKING:
    from . import distributed, random
    from .bench import benchmark
    from .control import cond, fori_loop, scan, switch, while_loop
    from .diagnostics import check_backend, print_backend_info
    from .distributed import pmap
    from .precision import get_default_dtype, set_default_dtype, use_dtype
    from .runner import run_in_backend
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
