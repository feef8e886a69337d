"""The NumPy backend: the reference every other backend is compared with."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._base import Backend

__all__ = ["NumpyBackend"]

_UFUNCS = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}


class NumpyBackend(Backend):
    name: ClassVar[str] = "numpy"
    framework: ClassVar[str] = "numpy"
    extra: ClassVar[str] = ""

    def __init__(self) -> None:
        self.module = np
        self.namespace = np

    @staticmethod
    def _array_type_of(module: Any) -> type:
        return module.ndarray

    # ------------------------------------------------------------------ arrays
    def asarray(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        return np.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def from_dlpack(self, x: Any) -> Any:
        return np.from_dlpack(x)

    # ------------------------------------------------------------------ updates
    def update(self, x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
        out = x.copy() if copy else x
        values = np.asarray(values, dtype=x.dtype)
        if op == "set":
            out[idx] = values
        else:
            # ufunc.at applies the operation once per occurrence of a repeated index;
            # out[idx] += values would apply it once in all.
            _UFUNCS[op].at(out, idx, values)
        return out
