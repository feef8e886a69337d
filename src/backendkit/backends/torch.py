"""The PyTorch backend: array-api-compat's torch namespace with the NumPy names it lacks
(``_torch_numpy.py``), imported on first use."""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np

from .. import _indexing, _tree
from ._base import Backend, DeviceEntry

__all__ = ["TorchBackend"]

# where a tensor of an aux output passed through torch.func (see derivatives)
_FROM_TORCH = object()
# scatter_reduce_ names for the accumulating operations other than add.
_SCATTER_REDUCE = {"multiply": "prod", "min": "amin", "max": "amax"}


class TorchBackend(Backend):
    name: ClassVar[str] = "torch"
    aliases: ClassVar[tuple[str, ...]] = ("pytorch",)
    framework: ClassVar[str] = "torch"
    modules: ClassVar[tuple[str, ...]] = ("torch",)
    extra: ClassVar[str] = "torch"
    auto_rank: ClassVar[int] = 1
    device_kinds: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "mps")
    # Keras' torch backend reads KERAS_TORCH_DEVICE
    device_environment: ClassVar[dict[str, dict[str, str]]] = {
        "cpu": {"KERAS_TORCH_DEVICE": "cpu"},
        "gpu": {"KERAS_TORCH_DEVICE": "cuda"},
        "mps": {"KERAS_TORCH_DEVICE": "mps"},
    }
    accelerator_install: ClassVar[dict[str, str]] = {
        "gpu": "install a CUDA or ROCm build of torch (see pytorch.org)",
        "mps": "use an Apple-silicon Mac with macOS 12.3 or later",
    }

    @classmethod
    def lacks_accelerator(cls, kind: str) -> str | None:
        if kind == "cpu":
            return None
        import torch  # asking torch starts no runtime that fixes anything

        if kind == "gpu":
            ok = torch.cuda.is_available()
            return None if ok else f"torch {torch.__version__} sees no CUDA or ROCm GPU"
        ok = torch.backends.mps.is_available()
        return None if ok else f"torch {torch.__version__} has no MPS device"

    takes_host_arrays: ClassVar[bool] = False

    def __init__(self) -> None:
        import torch

        from ._torch_numpy import namespace

        self.module = torch
        self.namespace = namespace()
        # integer index dtypes torch refuses (or reads as masks: uint8)
        self._narrow_ints = {torch.int8, torch.int16, torch.uint8, torch.uint16, torch.uint32}
        self._combine = {
            "add": torch.add,
            "subtract": torch.sub,
            "multiply": torch.mul,
            "divide": torch.div,
            "power": torch.pow,
            "min": torch.minimum,
            "max": torch.maximum,
        }

    @staticmethod
    def _array_type_of(module: Any) -> type:
        return cast(type, module.Tensor)

    def owns_dtype(self, dtype: Any) -> bool:
        return isinstance(dtype, self.module.dtype)

    # ------------------------------------------------------------------ arrays
    def asarray(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        torch = self.module
        if isinstance(x, np.ndarray) and not x.flags.writeable:
            # torch warns on (and cannot share) read-only buffers; copy once instead.
            x = x.copy()
        return torch.as_tensor(x, dtype=dtype, device=device)

    def to_numpy(self, x: Any) -> np.ndarray:
        try:
            return cast(np.ndarray, x.numpy())  # CPU tensors without grad: no copies
        except (RuntimeError, TypeError):
            full = getattr(x, "full_tensor", None)
            if full is not None:  # a DTensor: its shards gathered (a collective: every
                x = full()  # rank of the mesh must call it, as for gather())
            # a conjugate or negative view (torch.conj, fft results) is materialised first
            return cast(np.ndarray, x.detach().cpu().resolve_conj().resolve_neg().numpy())

    def from_dlpack(self, x: Any) -> Any:
        if isinstance(x, np.ndarray) and not x.flags.writeable:
            # torch has no read-only tensors: sharing would let writes reach a buffer
            # NumPy protects (a broadcast view, a read-only memory map)
            return self.asarray(x)
        return self.module.from_dlpack(x)

    # ------------------------------------------------------------------ updates
    def _index(self, idx: tuple[Any, ...], device: Any) -> tuple[Any, ...]:
        """``idx`` as torch indexes: NumPy arrays made tensors, tensors of integer
        dtypes torch refuses as indices made int64."""
        tensor = self.module.Tensor
        return tuple(
            self._index_array(i, device)
            if isinstance(i, np.ndarray)
            else (i.long() if i.dtype in self._narrow_ints else i)
            if isinstance(i, tensor)
            else i
            for i in idx
        )

    def refuses_out_of_bounds(self, x: Any) -> bool:
        # on the CPU every route of a set (index_put_, setitem, the flat positions
        # NumPy computes) raises IndexError; on CUDA an index out of range is a
        # device-side assert that ends the process
        return bool(x.device.type == "cpu")

    def _host_index(self, idx: tuple[Any, ...]) -> tuple[Any, ...]:
        """``idx`` with its tensors as NumPy arrays, for the index arithmetic that finds
        repeated positions (_indexing.py)."""
        tensor = self.module.Tensor
        return tuple(self.to_numpy(i) if isinstance(i, tensor) else i for i in idx)

    def _index_array(self, i: np.ndarray, device: Any) -> Any:
        if i.dtype.kind in "iu" and (i.dtype.kind == "u" or i.dtype.itemsize < 4):
            # torch reads a uint8 index as a boolean mask, and refuses wider unsigned
            # ones and int8/int16 ones
            i = i.astype(np.int64)
        elif not i.flags.writeable:
            i = i.copy()  # torch.from_numpy warns on read-only buffers
        # from_numpy is several times faster than as_tensor on the index every update makes
        out = self.module.from_numpy(i)
        return out if device.type == "cpu" else out.to(device)

    def _setitem(self, out: Any, tidx: tuple[Any, ...], values: Any) -> None:
        if all(isinstance(i, self.module.Tensor) and i.ndim for i in tidx):
            out.index_put_(tidx, values)  # arrays only: twice as fast as __setitem__
        else:
            out[tidx] = values

    def update(self, x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
        torch = self.module
        out = x.clone() if copy else x
        if not (
            isinstance(values, torch.Tensor)
            and values.dtype == x.dtype
            and values.device == x.device
        ):
            values = self.asarray(values, dtype=x.dtype, device=x.device)
        # torch indexing has no negative-step slices, and places the dimensions of an
        # integer with an array apart from NumPy's; the flat-position route has neither
        native = not any(
            isinstance(i, slice) and (i.step or 1) < 0 for i in idx
        ) and not _indexing.mixes_scalars_and_arrays(idx)
        if native and op == "set":
            self._setitem(out, self._index(idx, x.device), values)
            return out
        idx = self._host_index(idx)
        if native and not _indexing.has_repeatable(idx):
            # no position can repeat: a gather, combine and scatter is exact
            tidx = self._index(idx, x.device)
            self._setitem(out, tidx, self._combine[op](out[tidx], values))
        else:
            self._scatter(out, idx, op, values)
        return out

    def _scatter(self, out: Any, idx: tuple[Any, ...], op: str, values: Any) -> None:
        """``out[idx] op= values`` in place, once per occurrence of a repeated position,
        as numpy's ``ufunc.at`` does (a gather-combine-scatter would count it once)."""
        torch = self.module
        first = idx[0]
        if (
            len(idx) == 1
            and isinstance(first, np.ndarray)
            and first.ndim == 1
            and first.dtype.kind in "iu"
            and (op in ("add", "subtract") or (op in _SCATTER_REDUCE and out.ndim == 1))
        ):
            # one integer array on the first axis, the common case: reduce along it
            # directly, without flat positions for every element
            rows = torch.from_numpy(_indexing.linear_indices(tuple(out.shape[:1]), idx))
            rows = rows.to(out.device)
            shape = (len(first), *out.shape[1:])
            src = values if values.shape == shape else torch.broadcast_to(values, shape)
            if op == "add":
                out.index_add_(0, rows, src)
            elif op == "subtract":
                out.index_add_(0, rows, -src)
            else:
                out.scatter_reduce_(0, rows, src, reduce=_SCATTER_REDUCE[op], include_self=True)
            return
        lin = _indexing.linear_indices(tuple(out.shape), idx)
        pos = torch.as_tensor(lin, device=out.device).reshape(-1)
        src = torch.broadcast_to(values, lin.shape).reshape(-1)
        flat = out if out.is_contiguous() else out.contiguous()
        view = flat.view(-1)
        if op == "set":
            view[pos] = src
        elif op == "add":
            view.index_add_(0, pos, src)
        elif op == "subtract":
            view.index_add_(0, pos, -src)
        elif op in _SCATTER_REDUCE:
            view.scatter_reduce_(0, pos, src, reduce=_SCATTER_REDUCE[op], include_self=True)
        else:  # divide, power: no scatter does them; one exact round per occurrence
            combine = self._combine[op]
            for places in _indexing.occurrence_rounds(lin):
                at = torch.from_numpy(places).to(out.device)
                where = pos[at]
                view[where] = combine(view[where], src[at])
        if flat is not out:
            out.copy_(flat)

    # ------------------------------------------------------------------ devices
    #: torch device type -> backendkit device kind (ROCm GPUs are "cuda" in torch too)
    _DEVICE_KINDS: ClassVar[dict[str, str]] = {"cpu": "cpu", "cuda": "gpu", "mps": "mps"}

    def list_devices(self) -> list[DeviceEntry]:
        torch = self.module
        found = [DeviceEntry("cpu", 0, "", "cpu", torch.device("cpu"))]
        if torch.cuda.is_available():
            platform = "rocm" if torch.version.hip else "cuda"
            for i in range(torch.cuda.device_count()):
                name = torch.cuda.get_device_name(i)
                found.append(DeviceEntry("gpu", i, name, platform, torch.device("cuda", i)))
        if torch.backends.mps.is_available():
            found.append(DeviceEntry("mps", 0, "Apple MPS", "mps", torch.device("mps", 0)))
        return found

    def device_key(self, native: Any) -> tuple[str, int] | None:
        kind = self._DEVICE_KINDS.get(native.type)
        if kind is None:
            return None
        index = native.index
        if index is None:  # "cuda" alone means torch's current CUDA device
            cuda = self.module.cuda
            index = cuda.current_device() if kind == "gpu" and cuda.is_available() else 0
        return kind, index

    def default_native_device(self) -> Any:
        return self.module.get_default_device()

    def memory(self, native: Any) -> tuple[int | None, int | None]:
        torch = self.module
        if native.type == "cuda":
            free, total = torch.cuda.mem_get_info(native)
            return int(free), int(total)
        if native.type == "mps":
            # Metal's recommended working set is the most MPS should use (shared memory)
            total = int(torch.mps.recommended_max_memory())
            return max(total - int(torch.mps.driver_allocated_memory()), 0), total
        return None, None

    def block_until_ready(self, arrays: list[Any]) -> None:
        torch = self.module
        # CUDA and MPS kernels run asynchronously; CPU operations are done on return.
        for device in {a.device for a in arrays}:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elif device.type == "mps":
                torch.mps.synchronize()

    # ------------------------------------------------------------------ transforms
    # Control flow is backendkit's Python loops (eager PyTorch needs nothing else);
    # vmap and derivatives are torch.func's, which follow JAX's conventions.
    def jit(self, fun: Any, options: dict[str, Any]) -> Any:
        # Identity unless asked: torch.compile costs seconds to minutes at the first
        # call (and again for each new shape), and pays off only on long runs.
        wanted = options.get("torch_compile")
        if not wanted:
            return fun
        return self.module.compile(fun, **(wanted if isinstance(wanted, dict) else {}))

    has_vmap: ClassVar[bool] = True

    def vmap(self, fun: Any, in_axes: tuple[Any, ...], out_axes: Any) -> Any:
        return self.module.func.vmap(fun, in_dims=in_axes, out_dims=out_axes)

    has_autodiff: ClassVar[bool] = True

    # torch.func follows JAX's conventions but for two things: grad_and_value returns
    # (gradient, value), and has_aux passes tensors only. Without aux the built
    # function is torch.func's own; with aux it is built at each call (see below).
    def grad(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        func = self.module.func
        if not has_aux:
            return func.grad(fun, argnums=argnums)

        def grad_with_aux(*args: Any, **kwargs: Any) -> Any:
            tensors_only, rebuild = self._aux_through_torch_func(fun)
            grads, aux = func.grad(tensors_only, argnums=argnums, has_aux=True)(*args, **kwargs)
            return grads, rebuild(aux)

        return grad_with_aux

    def value_and_grad(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        func = self.module.func

        def value_and_grad(*args: Any, **kwargs: Any) -> Any:
            if not has_aux:
                grads, value = func.grad_and_value(fun, argnums=argnums)(*args, **kwargs)
                return value, grads
            tensors_only, rebuild = self._aux_through_torch_func(fun)
            grads, (value, aux) = func.grad_and_value(tensors_only, argnums=argnums, has_aux=True)(
                *args, **kwargs
            )
            return (value, rebuild(aux)), grads

        return value_and_grad

    def jacobian(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        func = self.module.func
        if not has_aux:
            return func.jacrev(fun, argnums=argnums)

        def jacobian_with_aux(*args: Any, **kwargs: Any) -> Any:
            tensors_only, rebuild = self._aux_through_torch_func(fun)
            jac, aux = func.jacrev(tensors_only, argnums=argnums, has_aux=True)(*args, **kwargs)
            return jac, rebuild(aux)

        return jacobian_with_aux

    def _aux_through_torch_func(self, fun: Any) -> tuple[Any, Any]:
        """``fun`` returning only the tensors of its aux, and a function that puts the
        aux back together: torch.func passes tensors alone through ``has_aux`` (and
        unwraps them), where JAX takes any auxiliary data."""
        tensor = self.module.Tensor
        kept: dict[str, Any] = {}

        def tensors_only(*args: Any, **kwargs: Any) -> Any:
            value, aux = fun(*args, **kwargs)
            leaves, treedef = _tree.flatten(aux)
            kept["aux"] = (treedef, [_FROM_TORCH if isinstance(x, tensor) else x for x in leaves])
            return value, [x for x in leaves if isinstance(x, tensor)]

        def rebuild(tensors: list[Any]) -> Any:
            treedef, leaves = kept["aux"]
            it = iter(tensors)
            return _tree.unflatten(treedef, [next(it) if x is _FROM_TORCH else x for x in leaves])

        return tensors_only, rebuild

    # ------------------------------------------------------------------ random
    # on the CPU; backendkit moves the result where it belongs
    def _generator(self, seed: int) -> Any:
        return self.module.Generator().manual_seed(seed)

    def random_normal(self, seed: int, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.module.randn(shape, generator=self._generator(seed), dtype=dtype)

    def random_uniform(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: float, high: float
    ) -> Any:
        unit = self.module.rand(shape, generator=self._generator(seed), dtype=dtype)
        return low + (high - low) * unit

    def random_integers(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: int, high: int
    ) -> Any:
        gen = self._generator(seed)
        return self.module.randint(low, high, shape, generator=gen, dtype=dtype)

    def random_permutation(self, seed: int, n: int, dtype: Any) -> Any:
        return self.module.randperm(n, generator=self._generator(seed), dtype=dtype)
