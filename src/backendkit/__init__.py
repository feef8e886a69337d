"""backendkit: one scientific code path for NumPy, JAX and PyTorch.

This module only re-exports; importing it imports no jax, torch or keras and changes
nothing in the process (see ``backends/_base.py`` for why and how).
"""

from ._version import __version__
from .arrays import asarray, convert, to_numpy
from .errors import (
    BackendError,
    BackendMismatchError,
    BackendNotInstalledError,
    UnknownBackendError,
)
from .functional import at, put
from .namespace import namespace, xp
from .selection import available_backends, backend_of, get_backend, set_backend, use_backend

__all__ = [
    "BackendError",
    "BackendMismatchError",
    "BackendNotInstalledError",
    "UnknownBackendError",
    "__version__",
    "asarray",
    "at",
    "available_backends",
    "backend_of",
    "convert",
    "get_backend",
    "namespace",
    "put",
    "set_backend",
    "to_numpy",
    "use_backend",
    "xp",
]
