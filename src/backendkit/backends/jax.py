"""The JAX backend: ``jax.numpy`` and ``.at[]`` updates, imported on first use."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._base import Backend

__all__ = ["JaxBackend"]


class JaxBackend(Backend):
    name: ClassVar[str] = "jax"
    framework: ClassVar[str] = "jax"
    extra: ClassVar[str] = "jax"

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp

        self.module = jax
        self.namespace = jnp
        self._tracer = jax.core.Tracer

    @staticmethod
    def _array_type_of(module: Any) -> type:
        return module.Array

    def is_traced(self, x: Any) -> bool:
        return isinstance(x, self._tracer)

    def dtype(self, name: str) -> Any:
        return getattr(self.namespace, name)

    # ------------------------------------------------------------------ arrays
    def asarray(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        out = self.namespace.asarray(x, dtype=dtype)
        if device is not None:
            out = self.module.device_put(out, device)
        return out

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def from_dlpack(self, x: Any) -> Any:
        return self.module.dlpack.from_dlpack(x)

    # ------------------------------------------------------------------ updates
    def update(self, x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
        # JAX arrays are immutable: copy=False cannot update in place, and under jit
        # XLA already reuses the buffer when it can.
        return getattr(x.at[idx], op)(values)
