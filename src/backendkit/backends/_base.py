"""The interface every backend implements.

A backend is one small class per framework. The framework is imported in ``__init__``
and nowhere else, so that merely importing backendkit, or checking whether some object
is an array of a framework, never imports that framework: it may not be installed,
importing it costs a second or more (jax, torch), and importing keras' backends fixes
process-wide state. :meth:`Backend.array_type` therefore only looks in ``sys.modules``:
an array of a framework that was never imported cannot exist.

Behaviour that is the same on every backend lives once in the concern modules
(``functional.py``, ``control.py``, ...); a backend class holds only what differs.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import numpy as np

__all__ = ["Backend"]


class Backend:
    """One array framework behind backendkit's small, uniform interface.

    Subclasses set the class attributes and import their framework in ``__init__``.
    Instances are created once per process by :func:`backendkit.backends.load`.
    """

    #: canonical backend name, as accepted by :func:`backendkit.set_backend`
    name: ClassVar[str]
    #: the top-level module whose presence in ``sys.modules`` means arrays can exist
    framework: ClassVar[str]
    #: the pip extra that installs the framework
    extra: ClassVar[str]

    #: the framework's NumPy-style namespace (numpy, jax.numpy, array-API torch)
    namespace: Any
    #: the framework's top-level module
    module: Any

    # ------------------------------------------------------------------ recognising
    @classmethod
    def array_type(cls) -> type | None:
        """The framework's array type if the framework is imported, else ``None``."""
        mod = sys.modules.get(cls.framework)
        return None if mod is None else cls._array_type_of(mod)

    @staticmethod
    def _array_type_of(module: Any) -> type:
        raise NotImplementedError("a backend must say what its array type is")

    def is_traced(self, x: Any) -> bool:
        """Whether ``x`` is a placeholder inside a transformation (a JAX tracer)."""
        return False

    @property
    def version(self) -> str:
        return str(self.module.__version__)

    # ------------------------------------------------------------------ arrays
    def asarray(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        """Host data (Python, NumPy) or this backend's array as this backend's array."""
        raise NotImplementedError(f"{self.name} does not implement asarray")

    def to_numpy(self, x: Any) -> np.ndarray:
        """This backend's array as a NumPy array (shares memory where possible)."""
        raise NotImplementedError(f"{self.name} does not implement to_numpy")

    def from_dlpack(self, x: Any) -> Any:
        """Another framework's array as this backend's array, through DLPack."""
        raise NotImplementedError(f"{self.name} does not implement from_dlpack")

    def dtype(self, name: str) -> Any:
        """The framework's dtype object for a NumPy dtype name such as ``"float64"``."""
        return getattr(self.module, name)

    # ------------------------------------------------------------------ updates
    def update(self, x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
        """``x`` with ``x[idx]`` combined with ``values`` by ``op``.

        ``op`` is one of ``set add multiply min max``; ``idx`` has already been checked
        and normalised by :mod:`backendkit.functional` (see there for the contract).
        """
        raise NotImplementedError(f"{self.name} does not implement functional updates")

    def __repr__(self) -> str:
        return f"<backendkit backend {self.name!r} ({self.framework} {self.version})>"
