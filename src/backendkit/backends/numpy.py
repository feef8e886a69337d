"""The NumPy backend: the reference every other backend is compared with."""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np

from ._base import Backend, DeviceEntry

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
        return cast(type, module.ndarray)

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
    def list_devices(self) -> list[DeviceEntry]:
        return [DeviceEntry("cpu", 0, "", "cpu", None)]

    def default_native_device(self) -> Any:
        return None

    # ------------------------------------------------------------------ random
    def random_normal(self, seed: int, shape: tuple[int, ...], dtype: Any) -> Any:
        # NumPy draws normals in float32 and float64 only; others are cast from float64
        own = dtype if np.dtype(dtype) in (np.float32, np.float64) else np.float64
        gen = np.random.default_rng(seed)
        return gen.standard_normal(shape, dtype=own).astype(dtype, copy=False)

    def random_uniform(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: float, high: float
    ) -> Any:
        return (low + (high - low) * np.random.default_rng(seed).random(shape)).astype(dtype)

    def random_integers(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: int, high: int
    ) -> Any:
        return np.random.default_rng(seed).integers(low, high, size=shape, dtype=dtype)

    def random_permutation(self, seed: int, n: int, dtype: Any) -> Any:
        return np.random.default_rng(seed).permutation(n).astype(dtype)
