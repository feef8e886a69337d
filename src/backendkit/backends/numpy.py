"""The NumPy backend: the reference every other backend is compared with."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._base import Backend

__all__ = ["NumpyBackend"]

_UFUNCS = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "divide": np.divide,
    "power": np.power,
    "min": np.minimum,
    "max": np.maximum,
}


class NumpyBackend(Backend):
    name: ClassVar[str] = "numpy"
    framework: ClassVar[str] = "numpy"
    modules: ClassVar[tuple[str, ...]] = ("numpy",)
    extra: ClassVar[str] = ""
    host: ClassVar[bool] = True
    auto_rank: ClassVar[int] = 99  # the last resort: always there

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
        if op == "set":
            out[idx] = values  # setitem casts to x's dtype by itself
        else:
            values = np.asarray(values, dtype=x.dtype)
            # ufunc.at applies the operation once per occurrence of a repeated index;
            # out[idx] += values would apply it once in all.
            _UFUNCS[op].at(out, idx, values)
        return out

    # ------------------------------------------------------------------ devices
    # NumPy has the CPU alone, and NumPy 1.x creation functions take no device
    # argument: its device object is None, which backendkit never passes on.
    def list_devices(self) -> list[tuple[str, int, str, str, Any]]:
        return [("cpu", 0, "", "cpu", None)]

    def default_native_device(self) -> Any:
        return None

    # ------------------------------------------------------------------ random
    def native_random(
        self, kind: str, seed: int, shape: tuple[int, ...], dtype: Any, params: dict[str, Any]
    ) -> Any:
        gen = np.random.default_rng(seed)
        if kind == "normal":
            # NumPy draws normals in float32 and float64 only; others are cast from float64
            own = dtype if np.dtype(dtype) in (np.float32, np.float64) else np.float64
            return gen.standard_normal(shape, dtype=own).astype(dtype, copy=False)
        if kind == "uniform":
            low, high = params["low"], params["high"]
            return (low + (high - low) * gen.random(shape)).astype(dtype)
        if kind == "integers":
            return gen.integers(params["low"], params["high"], size=shape, dtype=dtype)
        return gen.permutation(params["n"]).astype(dtype)
