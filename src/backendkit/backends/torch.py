"""The PyTorch backend: array-api-compat's torch namespace, imported on first use."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .. import _indexing
from ._base import Backend

__all__ = ["TorchBackend"]

# scatter_reduce_ names for the accumulating operations other than add.
_SCATTER_REDUCE = {"multiply": "prod", "min": "amin", "max": "amax"}


class TorchBackend(Backend):
    name: ClassVar[str] = "torch"
    framework: ClassVar[str] = "torch"
    extra: ClassVar[str] = "torch"

    def __init__(self) -> None:
        import array_api_compat.torch as xp_torch
        import torch

        self.module = torch
        self.namespace = xp_torch
        self._combine = {
            "add": torch.add,
            "multiply": torch.mul,
            "min": torch.minimum,
            "max": torch.maximum,
        }

    @staticmethod
    def _array_type_of(module: Any) -> type:
        return module.Tensor

    # ------------------------------------------------------------------ arrays
    def asarray(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        torch = self.module
        if isinstance(x, np.ndarray) and not x.flags.writeable:
            # torch warns on (and cannot share) read-only buffers; copy once instead.
            x = x.copy()
        return torch.as_tensor(x, dtype=dtype, device=device)

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def from_dlpack(self, x: Any) -> Any:
        return self.module.from_dlpack(x)

    # ------------------------------------------------------------------ updates
    def _index(self, idx: tuple[Any, ...], device: Any) -> tuple[Any, ...]:
        torch = self.module
        return tuple(
            torch.as_tensor(i, device=device) if isinstance(i, np.ndarray) else i for i in idx
        )

    def update(self, x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
        torch = self.module
        out = x.clone() if copy else x
        values = torch.as_tensor(values, dtype=x.dtype, device=x.device)
        if op == "set":
            out[self._index(idx, x.device)] = values
        elif not _indexing.has_repeatable(idx):
            # no position can repeat: a gather, combine and scatter is exact
            tidx = self._index(idx, x.device)
            out[tidx] = self._combine[op](out[tidx], values)
        else:
            # Repeated positions must each count, as numpy's ufunc.at does: scatter on
            # the flat positions that x[idx] selects.
            lin = _indexing.linear_indices(tuple(x.shape), idx)
            pos = torch.as_tensor(lin, device=x.device).reshape(-1)
            src = torch.broadcast_to(values, lin.shape).reshape(-1)
            flat = out if out.is_contiguous() else out.contiguous()
            view = flat.view(-1)
            if op == "add":
                view.index_add_(0, pos, src)
            else:
                view.scatter_reduce_(0, pos, src, reduce=_SCATTER_REDUCE[op], include_self=True)
            if flat is not out:
                out.copy_(flat)
        return out
