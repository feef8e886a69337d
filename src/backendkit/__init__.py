"""backendkit: one scientific code path for NumPy, JAX and PyTorch.

This module only re-exports; importing it imports no jax, torch or keras and changes
nothing in the process (see ``backends/_base.py`` for why and how).
"""

from . import random
from ._version import __version__
from .arrays import asarray, convert, to_numpy
from .bench import benchmark
from .control import cond, fori_loop, scan, switch, while_loop
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
from .diagnostics import check_backend, print_backend_info
from .errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BackendError,
    BackendMismatchError,
    BackendNotInstalledError,
    BenchmarkError,
    ControlFlowError,
    DeviceError,
    DeviceFallbackWarning,
    DtypeUnavailableError,
    KerasBackendError,
    ModelFileError,
    RunnerError,
    RunnerTimeoutError,
    UnknownBackendError,
    UnknownDtypeError,
)
from .functional import at, put
from .namespace import namespace, xp
from .precision import get_default_dtype, set_default_dtype, use_dtype
from .runner import run_in_backend
from .selection import available_backends, backend_of, get_backend, set_backend, use_backend
from .transforms import grad, jacobian, jit, value_and_grad, vmap

__all__ = [
    "ArgumentTypeError",
    "ArgumentValueError",
    "BackendError",
    "BackendMismatchError",
    "BackendNotInstalledError",
    "BenchmarkError",
    "ControlFlowError",
    "Device",
    "DeviceError",
    "DeviceFallbackWarning",
    "DtypeUnavailableError",
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
    "fori_loop",
    "get_backend",
    "get_default_dtype",
    "get_device",
    "grad",
    "jacobian",
    "jit",
    "memory_info",
    "namespace",
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
