"""The JAX backend: ``jax.numpy`` and ``.at[]`` updates, imported on first use."""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np

from ..errors import ArgumentValueError, DtypeUnavailableError
from ._base import Backend, DeviceEntry

__all__ = ["JaxBackend"]


def _has_jax_plugin(prefixes: tuple[str, ...]) -> bool:
    """Whether an accelerator plugin of jax's is installed, found by its entry points and
    module names: looking does not initialise jax, which would fix its platforms."""
    import importlib.util
    import os
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="jax_plugins")}
    for module in ("jax_plugins", "jaxlib"):
        spec = importlib.util.find_spec(module)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            if os.path.isdir(folder):
                names.update(os.listdir(folder))
    for prefix in ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin"):
        if importlib.util.find_spec(prefix) is not None:
            names.add(prefix)
    return any(name.lower().startswith(prefixes) for name in names)


class JaxBackend(Backend):
    name: ClassVar[str] = "jax"
    framework: ClassVar[str] = "jax"
    modules: ClassVar[tuple[str, ...]] = ("jax", "jaxlib")
    extra: ClassVar[str] = "jax"
    auto_rank: ClassVar[int] = 0  # "auto" prefers JAX, as DESC does
    device_kinds: ClassVar[tuple[str, ...]] = ("cpu", "gpu", "tpu", "mps")
    # jax reads JAX_PLATFORMS at first use; cpu is listed too, so that host-side work
    # still has a device
    device_environment: ClassVar[dict[str, dict[str, str]]] = {
        "cpu": {"JAX_PLATFORMS": "cpu"},
        "gpu": {"JAX_PLATFORMS": "gpu,cpu"},
        "mps": {"JAX_PLATFORMS": "METAL,cpu"},
    }
    accelerator_install: ClassVar[dict[str, str]] = {
        "gpu": "pip install 'jax[cuda12]' (or a ROCm build of jax)",
        "mps": "pip install jax-metal",
    }

    @classmethod
    def lacks_accelerator(cls, kind: str) -> str | None:
        if kind == "cpu":
            return None
        prefixes = ("xla_cuda", "xla_rocm", "jax_cuda", "jax_rocm", "cuda")
        found = _has_jax_plugin(prefixes if kind == "gpu" else ("metal",))
        return None if found else f"the installed jax has no {kind} plugin"

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp

        self.module = jax
        self.namespace = jnp
        self._tracer = jax.core.Tracer
        self._lax = jax.lax

    @staticmethod
    def _array_type_of(module: Any) -> type:
        return cast(type, module.Array)

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
        # XLA already reuses the buffer when it can. The cast is ours because JAX's
        # scatter warns (and will refuse) where numpy's setitem casts unsafely; host
        # values are cast by NumPy, tens of microseconds cheaper than a JAX dispatch.
        if not isinstance(values, self.module.Array):
            values = np.asarray(values, dtype=x.dtype)
        elif values.dtype != x.dtype:
            values = values.astype(x.dtype)
        if len(idx) == 1 and self.is_traced(idx[0]) and idx[0].dtype == bool:
            return self._update_where(x, idx[0], op, values)
        return getattr(x.at[idx], op)(values)

    def _update_where(self, x: Any, mask: Any, op: str, values: Any) -> Any:
        """A traced boolean mask (under jax.jit): x.at[mask] needs the mask's value to
        know how many positions it selects, so the update is ``where(mask, x op v, x)``
        instead, as array-api-extra does; ``values`` must then be one value or of
        ``x``'s shape."""
        jnp = self.namespace
        if np.ndim(values) not in (0,) and tuple(np.shape(values)) != tuple(x.shape):
            raise ArgumentValueError(
                f"under jax.jit a boolean mask takes one value or values of x's shape "
                f"{tuple(x.shape)}, got shape {tuple(np.shape(values))}; use "
                f"xp.where(mask, new_values, x) with new_values of x's shape"
            )
        full = jnp.reshape(mask, mask.shape + (1,) * (x.ndim - mask.ndim))
        new = values if op == "set" else getattr(x.at[...], op)(values)
        return jnp.where(full, new, x)

    # ------------------------------------------------------------------ devices
    #: JAX platform -> backendkit device kind (jax-metal calls its platform METAL)
    _DEVICE_KINDS: ClassVar[dict[str, str]] = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu"}
    _DEVICE_KINDS.update(cuda="gpu", rocm="gpu", metal="mps")

    def list_devices(self) -> list[DeviceEntry]:
        jax = self.module
        platforms = ["cpu"]
        if jax.default_backend() != "cpu":
            platforms.append(jax.default_backend())
        found = []
        for platform in platforms:
            try:
                # local: in a multi-process run, other processes' devices take no arrays
                local = jax.local_devices(backend=platform)
            except RuntimeError:  # JAX_PLATFORMS may leave the CPU out
                continue
            for index, device in enumerate(local):
                plat = device.platform.lower()
                if plat == "gpu":  # one platform for both; the runtime says which
                    version = str(getattr(device.client, "platform_version", "")).lower()
                    plat = "rocm" if "rocm" in version else "cuda"
                kind = self._DEVICE_KINDS.get(plat, plat)
                name = "" if kind == "cpu" else str(device.device_kind)
                found.append(DeviceEntry(kind, index, name, plat, device))
        return found

    def default_native_device(self) -> Any:
        # where an array made now goes: honours jax_default_device and JAX_PLATFORMS
        return next(iter(self.namespace.empty(()).devices()))

    def memory(self, native: Any) -> tuple[int | None, int | None]:
        try:
            stats = native.memory_stats()
        except (NotImplementedError, RuntimeError):  # plugins without allocator stats
            return None, None
        if not stats or "bytes_limit" not in stats:  # the CPU keeps none
            return None, None
        # bytes_limit is JAX's own pool (75% of a GPU unless XLA_PYTHON_CLIENT_* say
        # otherwise): what this process can still allocate, not the whole card.
        total = int(stats["bytes_limit"])
        return max(total - int(stats.get("bytes_in_use", 0)), 0), total

    def block_until_ready(self, arrays: list[Any]) -> None:
        self.module.block_until_ready(arrays)

    # ------------------------------------------------------------------ precision
    #: dtypes JAX gives only in its 64-bit mode (otherwise it truncates them to 32 bits)
    _X64_NAMES: ClassVar[frozenset[str]] = frozenset({"float64", "complex128", "int64"})

    def ensure_dtype(self, name: str) -> None:
        config = self.module.config
        if name not in self._X64_NAMES or config.jax_enable_x64:
            return
        # The process-wide value, which a jax.enable_x64(False) block hides; JAX has no
        # public way to read it, so where the private one is gone, assume the visible one.
        holder = getattr(config, "_value_holders", {}).get("jax_enable_x64")
        get_global = getattr(holder, "get_global", None)
        before = bool(get_global()) if get_global is not None else False
        # Asked for now, so switched on now (never at import): see backendkit.precision.
        config.update("jax_enable_x64", True)
        problem = None
        if not config.jax_enable_x64:
            problem = "JAX's 64-bit mode is switched off here (a jax.enable_x64(False) block?)"
        else:
            try:
                got = str(self.namespace.zeros((), dtype=name).dtype)
            except Exception as exc:  # noqa: BLE001 - a device without 64-bit types
                got = f"an error ({type(exc).__name__}: {exc})"
            if got != name:
                problem = f"JAX gives {got} for {name} on {self.module.default_backend()}"
        if problem is not None:
            config.update("jax_enable_x64", before)  # as it was: nothing changes on failure
            raise DtypeUnavailableError(
                f"{name} was asked for under JAX, but {problem}; use float32 "
                f"(backendkit.set_default_dtype('float32')) or leave that block"
            )

    # ------------------------------------------------------------------ control flow
    # jax.lax itself, so that loops and branches compile under jax.jit (arguments may
    # be tracers); backendkit/control.py explains the TypeErrors JAX raises for a
    # carry or branch type it refuses, through abstract().
    compiled_control_flow: ClassVar[bool] = True

    def fori_loop(self, lower: Any, upper: Any, body: Any, init: Any) -> Any:
        return self._lax.fori_loop(lower, upper, body, init)

    def while_loop(self, cond_fun: Any, body: Any, init: Any) -> Any:
        return self._lax.while_loop(cond_fun, body, init)

    def cond(self, pred: Any, true_fun: Any, false_fun: Any, operands: tuple[Any, ...]) -> Any:
        return self._lax.cond(pred, true_fun, false_fun, *operands)

    def switch(self, index: Any, branches: list[Any], operands: tuple[Any, ...]) -> Any:
        return self._lax.switch(index, branches, *operands)

    def scan(
        self, f: Any, init: Any, xs: Any, length: int, reverse: bool, unroll: int
    ) -> tuple[Any, Any]:
        carry, ys = self._lax.scan(f, init, xs, length=length, reverse=reverse, unroll=unroll)
        return carry, ys

    def abstract(self, fn: Any, *args: Any) -> Any:
        try:
            return self.module.eval_shape(fn, *args)
        except Exception:  # noqa: BLE001 - the original error is the better one then
            return None

    def row_shapes(self, xs: Any) -> Any:
        jax = self.module
        return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), xs)

    # ------------------------------------------------------------------ transforms
    def jit(self, fun: Any, options: dict[str, Any]) -> Any:
        return self.module.jit(
            fun,
            static_argnums=options.get("static_argnums"),
            static_argnames=options.get("static_argnames"),
        )

    has_vmap: ClassVar[bool] = True

    def vmap(self, fun: Any, in_axes: tuple[Any, ...], out_axes: Any) -> Any:
        return self.module.vmap(fun, in_axes=in_axes, out_axes=out_axes)

    has_autodiff: ClassVar[bool] = True

    def grad(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        return self.module.grad(fun, argnums=argnums, has_aux=has_aux)

    def value_and_grad(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        return self.module.value_and_grad(fun, argnums=argnums, has_aux=has_aux)

    def jacobian(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        return self.module.jacobian(fun, argnums=argnums, has_aux=has_aux)

    # ------------------------------------------------------------------ random
    def random_normal(self, seed: int, shape: tuple[int, ...], dtype: Any) -> Any:
        jr = self.module.random
        return jr.normal(jr.key(seed), shape, dtype)

    def random_uniform(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: float, high: float
    ) -> Any:
        jr = self.module.random
        return jr.uniform(jr.key(seed), shape, dtype, minval=low, maxval=high)

    def random_integers(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: int, high: int
    ) -> Any:
        jr = self.module.random
        return jr.randint(jr.key(seed), shape, low, high, dtype)

    def random_permutation(self, seed: int, n: int, dtype: Any) -> Any:
        jr = self.module.random
        return jr.permutation(jr.key(seed), n).astype(dtype)
