"""The framework facts of ``backendkit.distributed``: one small class per backend.

Everything that calls a framework's distributed API lives here, and nothing else in the
package does. These classes are the distributed plug-ins: they build on ``_spmd.py``
(floor L4), so they live here, beside it, while the facts about a framework itself stay
in its backend plug-in (``backendkit/backends/``, L1). The engines are the frameworks'
own:

* **JAX** (:class:`JaxParallel`): ``jax.sharding.Mesh`` and ``NamedSharding``,
  ``jax.shard_map`` under ``jax.jit`` for ``pmap``, ``jax.lax`` collectives,
  ``jax.distributed`` (with gloo collectives between CPU processes) and
  ``jax.experimental.multihost_utils`` across processes;
* **PyTorch** (:class:`TorchParallel`): ``torch.distributed`` process groups (gloo on
  the CPU, NCCL for CUDA tensors) started from ``torchrun``'s variables,
  ``DeviceMesh`` and DTensor ``Shard``/``Replicate`` placements;
* **NumPy** (:class:`Parallel`): one device, the CPU, and no process runtime; its
  shards run as threads (``_spmd.run_threads``) and combine with NumPy's arithmetic.

Each class is also the one source of its framework's *process* facts, read from the
class without importing the framework: whether it has a multi-process runtime, the
launcher that starts one (torchrun, or backendkit's own with a JAX coordinator), the
environment variables a worker needs, and how :func:`~backendkit.distributed.initialize`
finds its coordinator in them. ``launch.py`` and ``_processes.py`` ask these classes
through :func:`parallel_class` and :func:`runtimes` and name no backend, so a fourth
framework's distributed support is one class here and one :func:`register` call.

The frameworks are imported in ``__init__``, which runs only when a backend's
distributed functions are first used (see :func:`parallel`).
"""

from __future__ import annotations

import datetime
import functools
import math
import os
import re
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .. import _tree, backends
from ..backends import Backend
from ..errors import ArgumentValueError, DeviceError, DistributedError, DistributedTimeoutError
from ._spmd import (
    Frame,
    JaxFrame,
    assemble,
    enter,
    is_number,
    leave,
    not_replicated,
    out_axes_per_leaf,
    run_threads,
)

__all__ = [
    "JaxParallel",
    "Parallel",
    "TorchParallel",
    "launched_runtime",
    "parallel",
    "parallel_class",
    "register",
    "runtimes",
    "runtimes_install_hint",
    "unregister",
]

#: what a failed collective's message says when its time ran out
_TIMED_OUT = re.compile(r"timed? ?out|deadline", re.IGNORECASE)


def comm_error(
    what: str, where: str, exc: BaseException, timeout: float | None
) -> DistributedError:
    """The error for a collective or start-up that a framework reported as failed."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if _TIMED_OUT.search(str(exc)):
        limit = f" within its timeout of {timeout:g} s" if timeout else " within its timeout"
        return DistributedTimeoutError(
            f"{what} did not complete{limit} on {where}: another process hangs, died or "
            f"never started. The framework said: {first}"
        )
    return DistributedError(
        f"{what} failed on {where}: another process died or closed its connection "
        f"(see its output for the cause). The framework said: {first}"
    )


class Parallel:
    """NumPy: one device, the CPU, and no process runtime.

    ``pmap(f, devices=n)`` runs ``n`` shards on the CPU, one thread each; meshes hold one
    copy of the data in the one memory there is.
    """

    #: the backend this class serves (its canonical name)
    name: ClassVar[str] = "numpy"
    #: the framework's name in messages
    title: ClassVar[str] = "NumPy"

    # ------------------------------------------------------------------ process facts
    # Read from the class, without importing the framework (launch.py reads them in a
    # process that never imports it).

    #: whether the framework has a multi-process runtime (initialize, launch)
    multiprocess: ClassVar[bool] = False
    #: that runtime's module, as messages name it
    runtime_module: ClassVar[str] = ""
    #: where ``launch`` and ``initialize`` rank this runtime when no backend is named
    #: and the selected one has none (lowest first, among the installed ones)
    launch_rank: ClassVar[int] = 100
    #: the variables ``initialize`` needs from the launcher to join a run
    launcher_variables: ClassVar[tuple[str, ...]] = ()
    #: the variable whose presence says that this runtime's launcher started the process
    launcher_marker: ClassVar[str | None] = None
    #: the framework's own launcher, which starts and watches the processes itself
    #: (``None``: ``launch`` starts one process per rank, see :meth:`rank_environment`)
    own_launcher: ClassVar[str | None] = None
    #: what the own launcher's output says about a failed run
    own_launcher_failure: ClassVar[str] = ""

    @classmethod
    def launcher_command(cls, nproc: int, port: int, grace: float, log_dir: str) -> list[str]:
        """The command line of :attr:`own_launcher`, for ``nproc`` processes on this
        machine with a rendezvous on ``127.0.0.1:port``, logs in ``log_dir`` and
        ``grace`` seconds for the others after one failed; the script and its
        arguments follow it."""
        raise NotImplementedError(f"{cls.name} has no launcher of its own")

    @classmethod
    def rank_environment(
        cls, rank: int, nproc: int, coordinator: str, environ: Mapping[str, str]
    ) -> dict[str, str]:
        """The variables process ``rank`` of ``nproc`` gets from ``launch`` (on top of
        ``environ``), the coordinator being ``"host:port"``: torchrun's convention
        (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``) here; a
        runtime adds where its coordinator is."""
        return {
            "RANK": str(rank),
            "WORLD_SIZE": str(nproc),
            "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(nproc),
        }

    @classmethod
    def launched_coordinator(cls, environ: Mapping[str, str]) -> str | None:
        """The coordinator ``initialize`` passes to :meth:`start_processes` when a
        launcher set :attr:`launcher_variables` (``None``: the runtime reads them)."""
        return None

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.xp = backend.namespace

    # ------------------------------------------------------------------ devices
    def device_count(self) -> int:
        """The shards ``pmap`` makes when no ``devices=`` is given."""
        return 1

    def shard_devices(self, n: int, args: Any) -> list[Any]:
        """The device of each of ``n`` thread shards for arrays like ``args``."""
        return [None] * n

    def check_count(self, n: int) -> None:
        """Raise if this process cannot run ``n`` shards (JAX: fewer devices)."""

    def to_device(self, x: Any, device: Any) -> Any:
        return x

    # ------------------------------------------------------------------ pmap
    def pmap(self, call: Any) -> Any:
        """Run ``call`` (``_pmap.Call``); thread shards unless a framework overrides it."""
        devices = self.shard_devices(call.size, call.args)
        outputs = run_threads(
            call.fun,
            lambda i: call.shard_args(i, devices[i], self.to_device),
            call.axis_name,
            devices,
            self,
            call.timeout,
        )
        return assemble(outputs, call.out_axes, self)

    # the array operations thread shards combine values with (the backend's namespace)
    def combine(self, op: str, values: list[Any]) -> Any:
        if all(is_number(v) for v in values):
            total = max(values) if op == "max" else sum(values)
            return total / len(values) if op == "mean" else total
        acc = values[0]
        for v in values[1:]:
            acc = self.xp.maximum(acc, v) if op == "max" else acc + v
        if op == "mean":
            acc = acc / len(values)
        return self.xp.asarray(acc)

    def gather(self, values: list[Any], axis: int, tiled: bool) -> Any:
        values = [self.xp.asarray(v) if is_number(v) else v for v in values]
        if tiled:
            return self.xp.concat(values, axis=axis)
        return self.xp.stack(values, axis=axis)

    def concat(self, values: list[Any]) -> Any:
        """Shard outputs joined along their first axis; scalars stacked."""
        values = [self.xp.asarray(v) if is_number(v) or np.isscalar(v) else v for v in values]
        if values[0].ndim == 0:
            return self.xp.stack(values)
        return self.xp.concat(values, axis=0)

    def equal(self, a: Any, b: Any) -> bool:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))

    def index_array(self, index: int, device: Any) -> Any:
        return np.asarray(index, dtype=np.int32)

    # ------------------------------------------------------------------ meshes
    def make_mesh(self, shape: tuple[int, ...], names: tuple[str, ...]) -> tuple[Any, list[Any]]:
        """``(native mesh or None, devices)`` for a mesh of ``shape``."""
        return None, ["cpu"] * math.prod(shape)

    def place(self, x: Any, mesh: Any, spec: tuple[str | None, ...]) -> Any:
        """``x`` laid out on ``mesh``: array axis ``i`` split over mesh axis ``spec[i]``
        (``None``: not split), replicated over the mesh axes ``spec`` does not name."""
        return x  # one memory holds every shard

    def gather_array(self, x: Any) -> Any:
        """A sharded array made whole again, as an ordinary array of this backend."""
        return x

    def is_placed(self, x: Any) -> bool:
        """Whether ``x`` is an array laid out over several devices or processes."""
        return False

    # ------------------------------------------------------------------ processes
    def processes_active(self) -> bool:
        """Whether this framework's multi-process runtime is running (started by
        :func:`backendkit.distributed.initialize` or by the user directly)."""
        return False

    def _no_runtime(self) -> NotImplementedError:
        names = runtimes()
        modules = " or ".join(parallel_class(n).runtime_module for n in names)
        calls = " or ".join(f"initialize({n!r})" for n in names)
        return NotImplementedError(
            f"{self.name} has no multi-process runtime; use {modules} ({calls})"
        )

    def start_processes(
        self, timeout: float, coordinator: str | None, count: int, index: int
    ) -> None:
        """Join the run of ``count`` processes as process ``index``."""
        raise self._no_runtime()

    def process_index(self) -> int:
        raise self._no_runtime()

    def process_count(self) -> int:
        raise self._no_runtime()

    def all_reduce(self, x: Any, op: str, timeout: float | None) -> Any:
        """One leaf reduced over the processes by ``op`` (sum, mean, max, min)."""
        raise self._no_runtime()

    def barrier(self, timeout: float | None) -> None:
        raise self._no_runtime()

    def stop_processes(self) -> None:
        raise self._no_runtime()


# ====================================================================== JAX
class JaxParallel(Parallel):
    """JAX: a ``Mesh`` of ``jax.devices()`` (every process's), ``jax.shard_map``."""

    name: ClassVar[str] = "jax"
    title: ClassVar[str] = "JAX"
    multiprocess: ClassVar[bool] = True
    runtime_module: ClassVar[str] = "jax.distributed"
    launch_rank: ClassVar[int] = 20
    launcher_variables: ClassVar[tuple[str, ...]] = (
        "JAX_COORDINATOR_ADDRESS",
        "RANK",
        "WORLD_SIZE",
    )
    launcher_marker: ClassVar[str | None] = "JAX_COORDINATOR_ADDRESS"

    @classmethod
    def rank_environment(
        cls, rank: int, nproc: int, coordinator: str, environ: Mapping[str, str]
    ) -> dict[str, str]:
        """JAX has no launcher of its own: ``launch`` starts the processes, and
        ``jax.distributed`` reads ``JAX_COORDINATOR_ADDRESS`` itself."""
        env = super().rank_environment(rank, nproc, coordinator, environ)
        env["JAX_COORDINATOR_ADDRESS"] = coordinator
        if nproc > 1 and "JAX_LOCAL_DEVICE_IDS" not in environ:
            # one GPU per process, as torchrun's LOCAL_RANK means (JAX applies it to
            # GPUs only: CPU devices are unaffected)
            env["JAX_LOCAL_DEVICE_IDS"] = str(rank)
        return env

    @classmethod
    def launched_coordinator(cls, environ: Mapping[str, str]) -> str | None:
        return environ["JAX_COORDINATOR_ADDRESS"]

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        import jax
        from jax.experimental import multihost_utils
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        self.jax = jax
        self._multihost = multihost_utils
        self._Mesh = Mesh
        self._NamedSharding = NamedSharding
        self._P = PartitionSpec

    # ------------------------------------------------------------------ devices
    def device_count(self) -> int:
        return len(self.jax.devices())

    def check_count(self, n: int) -> None:
        there = self.jax.devices()
        if self.jax.process_count() > 1 and n != len(there):
            raise DeviceError(
                f"pmap over {n} devices in a run of {self.jax.process_count()} JAX processes, "
                f"which have {len(there)} devices in all: a multi-process pmap uses every "
                f"device (leave devices=None)"
            )
        if n > len(there):
            platform = there[0].platform if there else "cpu"
            hint = (
                "; on the CPU, JAX can emulate more devices: set the environment variable "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={n} before JAX is imported"
                if platform == "cpu"
                else ""
            )
            raise DeviceError(
                f"pmap over {n} devices, but JAX sees {len(there)} ({platform}){hint}"
            )

    @functools.cache  # noqa: B019 - one instance per process; meshes must be reused for jit's cache
    def _mesh(self, shape: tuple[int, ...], names: tuple[str, ...]) -> Any:
        devices = self.jax.devices()[: math.prod(shape)]
        return self._Mesh(np.array(devices).reshape(shape), names)

    def make_mesh(self, shape: tuple[int, ...], names: tuple[str, ...]) -> tuple[Any, list[Any]]:
        self.check_count(math.prod(shape))
        mesh = self._mesh(shape, names)
        return mesh, list(mesh.devices.flat)

    # ------------------------------------------------------------------ pmap
    def _spec(self, axis: int | None, name: str) -> Any:
        return self._P(name) if axis == 0 else self._P()

    def pmap(self, call: Any) -> Any:
        jax = self.jax
        name = call.axis_name
        mesh = call.mesh_native
        if mesh is None:
            mesh = self._mesh((call.size,), (name,))
        in_specs = tuple(self._spec(a, name) for a in call.in_axes)
        out_specs = jax.tree_util.tree_map(
            lambda a: self._spec(a, name), call.out_axes, is_leaf=lambda a: a is None
        )
        key = ("jax", mesh, in_specs, str(out_specs))
        if key not in call.cache:
            call.cache[key] = self._compile(call, mesh, in_specs, out_specs)
        plain, checked = call.cache[key]
        args = call.args
        several = jax.process_count() > 1
        if several:
            args = tuple(
                self._global(arg, spec, mesh) for arg, spec in zip(args, in_specs, strict=True)
            )
        # The first call of each input signature also checks that the out_axes=None
        # outputs are the same on every device (the compiled check costs an all_gather
        # of them, so later calls skip it: replication follows from the program).
        signature = (
            key,
            jax.tree_util.tree_structure(args),
            *(
                (getattr(v, "shape", None), str(getattr(v, "dtype", type(v))))
                for v in jax.tree_util.tree_leaves(args)
            ),
        )
        # under an outer jax.jit the values are not known yet: nothing to check then
        traced = any(self.backend.is_traced(v) for v in jax.tree_util.tree_leaves(args))
        if checked is not None and not traced and signature not in call.cache:
            out, same = checked(*args)
            if not bool(np.all(self._whole(same) if several else same)):
                raise not_replicated(None)
            call.cache[signature] = True
        else:
            out = plain(*args)
        if several:
            out = jax.tree_util.tree_map(self._whole, out)
        return out

    def _compile(self, call: Any, mesh: Any, in_specs: Any, out_specs: Any) -> tuple[Any, Any]:
        """``(plain, checked)``: the shard-mapped function under ``jax.jit``, and, when
        some output has out_axes None, a variant that also returns one flag per device
        saying whether those outputs equal every other device's."""
        jax = self.jax
        jnp = jax.numpy
        fun, out_axes, size, name = call.fun, call.out_axes, call.size, call.axis_name

        def body(*shards: Any) -> Any:
            token = enter(JaxFrame(name, size))
            try:
                out = fun(*shards)
            finally:
                leave(token)
            axes = out_axes_per_leaf(out_axes, out)
            leaves, treedef = jax.tree_util.tree_flatten(out)
            leaves = [
                jnp.asarray(v)[None] if a == 0 and jnp.ndim(v) == 0 else v
                for v, a in zip(leaves, axes, strict=True)
            ]
            return treedef.unflatten(leaves)

        def body_checked(*shards: Any) -> Any:
            out = body(*shards)
            same = jnp.asarray(True)
            leaves = jax.tree_util.tree_leaves(out)
            for v, a in zip(leaves, out_axes_per_leaf(out_axes, out), strict=True):
                if a is None:
                    v = jnp.asarray(v)
                    everyone = jax.lax.all_gather(v, name)
                    equal = everyone == v[None]
                    if jnp.issubdtype(v.dtype, jnp.inexact):
                        equal = equal | (jnp.isnan(everyone) & jnp.isnan(v[None]))
                    same = same & jnp.all(equal)
            return out, same[None]

        # check_vma=False: jax.pmap's semantics, where a derivative inside the mapped
        # function is this device's own (with JAX's varying-value checks on, the
        # gradient of a replicated input is summed over the devices implicitly, which
        # NumPy and PyTorch shards cannot mirror).
        def build(f: Any, specs: Any) -> Any:
            return jax.jit(
                jax.shard_map(f, mesh=mesh, in_specs=in_specs, out_specs=specs, check_vma=False)
            )

        plain = build(body, out_specs)
        needs_check = any(
            a is None for a in jax.tree_util.tree_leaves(out_axes, is_leaf=lambda a: a is None)
        )
        checked = build(body_checked, (out_specs, self._P(name))) if needs_check else None
        return plain, checked

    def _global(self, tree: Any, spec: Any, mesh: Any) -> Any:
        """Every process's full copy of ``tree`` as global arrays laid out by ``spec``."""
        sharding = self._NamedSharding(mesh, spec)

        def one(x: Any) -> Any:
            if is_number(x):
                return x
            host = np.asarray(x)
            return self.jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])

        return self.jax.tree_util.tree_map(one, tree)

    def _whole(self, x: Any) -> Any:
        """A global array, whole on this process's default device."""
        if not isinstance(x, self.jax.Array) or x.is_fully_addressable:
            return x
        try:
            host = self._multihost.process_allgather(x, tiled=True)
        except Exception as exc:  # XLA's errors share no class: any is a failed gather
            raise comm_error("gathering the pmap output", self._where(), exc, None) from exc
        return self.jax.numpy.asarray(host)

    # ------------------------------------------------------------------ meshes
    def place(self, x: Any, mesh: Any, spec: tuple[str | None, ...]) -> Any:
        sharding = self._NamedSharding(mesh, self._P(*spec))
        if self.jax.process_count() > 1:
            host = np.asarray(x)
            return self.jax.make_array_from_callback(host.shape, sharding, lambda i: host[i])
        return self.jax.device_put(x, sharding)

    def gather_array(self, x: Any) -> Any:
        if not isinstance(x, self.jax.Array):
            return x
        if not x.is_fully_addressable:
            return self._whole(x)
        if len(x.sharding.device_set) == 1:
            return x
        return self.jax.device_put(x, self.backend.default_native_device())

    def is_placed(self, x: Any) -> bool:
        return isinstance(x, self.jax.Array) and len(x.sharding.device_set) > 1

    # ------------------------------------------------------------------ processes
    def processes_active(self) -> bool:
        return bool(self.jax.distributed.is_initialized())

    def _where(self) -> str:
        return f"JAX process {self.jax.process_index()} of {self.jax.process_count()}"

    def start_processes(
        self, timeout: float, coordinator: str | None, count: int, index: int
    ) -> None:
        jax = self.jax
        # Between CPU processes XLA needs a collectives library; gloo is JAX's CPU one
        # (the default from JAX 0.5 on, "none" before).
        if str(jax.config.jax_cpu_collectives_implementation) in ("none", "None", ""):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        seconds = max(1, math.ceil(timeout))
        try:
            jax.distributed.initialize(
                coordinator_address=coordinator,
                num_processes=count,
                process_id=index,
                # everything is given: no probing for SLURM, Open MPI or cloud TPUs
                cluster_detection_method="deactivate",
                initialization_timeout=seconds,
                heartbeat_timeout_seconds=seconds,
                shutdown_timeout_seconds=seconds,
            )
        except RuntimeError as exc:
            if "before any JAX" in str(exc) or "already" in str(exc):
                raise DistributedError(
                    "initialize() must run before the first JAX computation of the process "
                    "(JAX's rule: its devices are fixed then); call it at the top of the "
                    f"script. JAX said: {exc}"
                ) from None
            raise comm_error(
                f"starting JAX process {index} of {count} (coordinator {coordinator})",
                "this process",
                exc,
                timeout,
            ) from exc
        except Exception as exc:  # XLA's own error types, reported as ours
            raise comm_error(
                f"starting JAX process {index} of {count} (coordinator {coordinator})",
                "this process",
                exc,
                timeout,
            ) from exc

    def process_index(self) -> int:
        return int(self.jax.process_index())

    def process_count(self) -> int:
        return int(self.jax.process_count())

    def all_reduce(self, x: Any, op: str, timeout: float | None) -> Any:
        try:
            stacked = self._multihost.process_allgather(x)
        except Exception as exc:  # XLA's errors share no class: a peer that died
            raise comm_error("all_reduce", self._where(), exc, timeout) from exc
        stacked = np.asarray(stacked)
        reduced = getattr(np, op)(stacked, axis=0)  # np.sum, np.mean, np.max, np.min
        if op != "mean":
            reduced = reduced.astype(stacked.dtype)  # NumPy sums small ints into int64
        if isinstance(x, self.jax.Array):
            return self.jax.numpy.asarray(reduced)
        return reduced.item() if is_number(x) else reduced

    def barrier(self, timeout: float | None) -> None:
        try:
            self._multihost.sync_global_devices("backendkit.distributed.barrier")
        except Exception as exc:  # XLA's errors share no class: a peer that died
            raise comm_error("barrier", self._where(), exc, timeout) from exc

    def stop_processes(self) -> None:
        self.jax.distributed.shutdown()


# ====================================================================== PyTorch
class TorchProcessFrame(Frame):
    """A shard that is this whole process of a ``torch.distributed`` process group."""

    def __init__(self, axis_name: str, size: int, fw: TorchParallel) -> None:
        super().__init__(axis_name, size)
        self._fw = fw

    def reduce(self, op: str, tree: Any, axis_name: str) -> Any:
        return _tree.tree_map(lambda x: self._fw.all_reduce(x, op, None), tree)

    def all_gather(self, tree: Any, axis_name: str, axis: int, tiled: bool) -> Any:
        def one(x: Any) -> Any:
            parts = self._fw.gather_parts(self._fw.torch.as_tensor(x) if is_number(x) else x)
            return self._fw.gather(parts, axis, tiled)

        return _tree.tree_map(one, tree)

    def index(self, axis_name: str) -> Any:
        return self._fw.torch.tensor(self._fw.dist.get_rank(), dtype=self._fw.torch.int32)


class TorchParallel(Parallel):
    """PyTorch: the CUDA devices or the CPU in one process; one process per shard in a
    ``torch.distributed`` process group."""

    name: ClassVar[str] = "torch"
    title: ClassVar[str] = "PyTorch"
    multiprocess: ClassVar[bool] = True
    runtime_module: ClassVar[str] = "torch.distributed"
    launch_rank: ClassVar[int] = 10
    launcher_variables: ClassVar[tuple[str, ...]] = (
        "RANK",
        "WORLD_SIZE",
        "MASTER_ADDR",
        "MASTER_PORT",
    )
    launcher_marker: ClassVar[str | None] = "MASTER_ADDR"
    own_launcher: ClassVar[str | None] = "torchrun"
    own_launcher_failure: ClassVar[str] = (
        "torchrun reports which process failed first (its 'Root Cause' above)"
    )

    @classmethod
    def launcher_command(cls, nproc: int, port: int, grace: float, log_dir: str) -> list[str]:
        """torchrun (``python -m torch.distributed.run``): a static rendezvous, no
        restarts, each line of process N's output prefixed ``[rankN]:``."""
        return [
            sys.executable, "-m", "torch.distributed.run",
            "--nnodes", "1", "--nproc-per-node", str(nproc),
            "--master-addr", "127.0.0.1", "--master-port", str(port),
            "--max-restarts", "0",
            # "[rankN]:" before every line of process N (torchrun's tee of its logs)
            "--role", "rank", "--tee", "3", "--log-dir", log_dir,
            "--shutdown-timeout", str(max(1, round(grace))),
        ]  # fmt: skip

    def __init__(self, backend: Backend) -> None:
        super().__init__(backend)
        import torch
        import torch.distributed as dist

        self.torch = torch
        self.dist = dist
        self.timeout: float | None = None

    # ------------------------------------------------------------------ devices
    def processes_active(self) -> bool:
        return bool(self.dist.is_available() and self.dist.is_initialized())

    def device_count(self) -> int:
        if self.processes_active():
            return int(self.dist.get_world_size())
        return 1

    def check_count(self, n: int) -> None:
        if self.processes_active() and n != self.dist.get_world_size():
            raise DeviceError(
                f"pmap over {n} shards in a process group of {self.dist.get_world_size()} "
                f"processes: with torch.distributed running, pmap runs one shard per process "
                f"(leave devices=None)"
            )

    def shard_devices(self, n: int, args: Any) -> list[Any]:
        first = next((x for x in _tree.leaves(args) if isinstance(x, self.torch.Tensor)), None)
        device = first.device if first is not None else self.torch.device("cpu")
        if device.type != "cuda":
            return [device] * n  # the CPU (or MPS): n shards on its one device
        count = self.torch.cuda.device_count()
        if n > count:
            raise DeviceError(
                f"pmap over {n} CUDA devices, but PyTorch sees {count}; use devices<={count}, "
                f"or CPU tensors"
            )
        return [self.torch.device("cuda", i) for i in range(n)]

    def to_device(self, x: Any, device: Any) -> Any:
        if device is not None and isinstance(x, self.torch.Tensor) and x.device != device:
            return x.to(device)
        return x

    # ------------------------------------------------------------------ thread-shard ops
    def concat(self, values: list[Any]) -> Any:
        first = next((v for v in values if isinstance(v, self.torch.Tensor)), None)
        if first is not None:
            values = [self.to_device(v, first.device) for v in values]
        return super().concat(values)

    def equal(self, a: Any, b: Any) -> bool:
        torch = self.torch
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
            return a.shape == b.shape and bool(torch.equal(a, b.to(a.device)))
        return super().equal(a, b)

    def index_array(self, index: int, device: Any) -> Any:
        return self.torch.tensor(index, dtype=self.torch.int32, device=device)

    # ------------------------------------------------------------------ pmap
    def pmap(self, call: Any) -> Any:
        if not self.processes_active():
            return super().pmap(call)
        rank, n = self.dist.get_rank(), self.dist.get_world_size()
        call.args = _tree.tree_map(self._local, call.args)
        args = call.shard_args(rank, None, self.to_device)
        token = enter(TorchProcessFrame(call.axis_name, n, self))
        try:
            out = call.fun(*args)
        finally:
            leave(token)
        leaves, treedef = _tree.flatten(out)
        parts = [self.gather_parts(self.torch.as_tensor(v) if is_number(v) else v) for v in leaves]
        per_shard = [treedef.unflatten([p[i] for p in parts]) for i in range(n)]
        return assemble(per_shard, call.out_axes, self)

    def _local(self, x: Any) -> Any:
        """A DTensor argument made whole: ``Call.shard_args`` then takes this process's
        part of it, as of any other argument."""
        return self.gather_array(x) if self.is_placed(x) else x

    # ------------------------------------------------------------------ collectives
    def _where(self) -> str:
        return f"rank {self.dist.get_rank()} of {self.dist.get_world_size()}"

    def _run(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RuntimeError as exc:  # gloo and NCCL report a dead or silent peer so
            raise comm_error(what, self._where(), exc, self.timeout) from exc

    def all_reduce(self, x: Any, op: str, timeout: float | None) -> Any:
        torch, dist = self.torch, self.dist
        host = not isinstance(x, torch.Tensor)
        # a copy: the reduction is in place, and x must not change
        t = torch.tensor(np.asarray(x)) if host else x.detach().clone()
        if op == "mean" and not (t.is_floating_point() or t.is_complex()):
            t = t.to(torch.get_default_dtype())
        red = {"sum": dist.ReduceOp.SUM, "mean": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}
        red["min"] = dist.ReduceOp.MIN
        self._run("all_reduce", dist.all_reduce, t, op=red[op])
        if op == "mean":
            t = t / dist.get_world_size()
        if host:
            return t.item() if is_number(x) else t.numpy()
        return t

    def gather_parts(self, t: Any) -> list[Any]:
        """Every process's tensor ``t`` (the same shape on all), in rank order."""
        t = t.detach().contiguous()
        parts = [self.torch.empty_like(t) for _ in range(self.dist.get_world_size())]
        self._run("all_gather", self.dist.all_gather, parts, t)
        return parts

    def barrier(self, timeout: float | None) -> None:
        dist = self.dist
        if "gloo" in str(dist.get_backend()):
            seconds = timeout if timeout is not None else self.timeout
            # names the ranks that did not arrive, where a plain barrier only times out
            kwargs: dict[str, Any] = {"wait_all_ranks": True}
            if seconds is not None:
                kwargs["timeout"] = datetime.timedelta(seconds=seconds)
            self._run("barrier", dist.monitored_barrier, **kwargs)
        else:
            self._run("barrier", dist.barrier)

    # ------------------------------------------------------------------ meshes
    def _device_type(self) -> str:
        backend = str(self.dist.get_backend())
        return "cuda" if "nccl" in backend and self.torch.cuda.is_available() else "cpu"

    def make_mesh(self, shape: tuple[int, ...], names: tuple[str, ...]) -> tuple[Any, list[Any]]:
        if not self.processes_active():
            return super().make_mesh(shape, names)
        world = self.dist.get_world_size()
        if math.prod(shape) != world:
            raise ArgumentValueError(
                f"mesh shape {shape} has {math.prod(shape)} places, but the process group has "
                f"{world} processes (one device each): give a shape whose product is {world}"
            )
        from torch.distributed.device_mesh import init_device_mesh

        mesh = init_device_mesh(self._device_type(), shape, mesh_dim_names=names)
        return mesh, [f"rank {r}" for r in range(world)]

    def place(self, x: Any, mesh: Any, spec: tuple[str | None, ...]) -> Any:
        if mesh is None:
            return x
        from torch.distributed.tensor import Replicate, Shard, distribute_tensor

        placements = []
        for name in mesh.mesh_dim_names:
            axis = spec.index(name) if name in spec else None
            placements.append(Replicate() if axis is None else Shard(axis))
        x = x.to(self._device_type()) if x.device.type != self._device_type() else x
        return distribute_tensor(x, mesh, placements)

    def gather_array(self, x: Any) -> Any:
        from torch.distributed.tensor import DTensor

        if isinstance(x, DTensor):
            return self._run("gather", x.full_tensor)
        return x

    def is_placed(self, x: Any) -> bool:
        if "torch.distributed.tensor" not in sys.modules:
            return False
        from torch.distributed.tensor import DTensor

        return isinstance(x, DTensor)

    # ------------------------------------------------------------------ processes
    def start_processes(
        self, timeout: float, coordinator: str | None, count: int, index: int
    ) -> None:
        """Join the process group; ``coordinator`` ``None``: torchrun's variables
        (``env://``, which also uses the store torchrun's agent already runs)."""
        torch, dist = self.torch, self.dist
        if not dist.is_available():
            raise DistributedError(
                "this PyTorch build has no torch.distributed: install a build with it "
                "(every pip wheel for Linux, Windows and macOS has it)"
            )
        backend = "gloo"
        if torch.cuda.is_available() and dist.is_nccl_available():
            # CPU tensors through gloo, CUDA tensors through NCCL, in one group
            backend = "cpu:gloo,cuda:nccl"
            local_rank = int(os.environ.get("LOCAL_RANK", index))
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        self.timeout = timeout
        where = "env://" if coordinator is None else f"tcp://{coordinator}"
        try:
            dist.init_process_group(
                backend,
                init_method=where,
                rank=index,
                world_size=count,
                timeout=datetime.timedelta(seconds=timeout),
            )
        except (RuntimeError, ValueError) as exc:
            raise comm_error(
                f"starting rank {index} of {count} ({where})",
                "this process",
                exc,
                timeout,
            ) from exc

    def process_index(self) -> int:
        return int(self.dist.get_rank())

    def process_count(self) -> int:
        return int(self.dist.get_world_size())

    def stop_processes(self) -> None:
        self.dist.destroy_process_group()
        self.timeout = None


# The distributed plug-ins by backend name, in the order of registration, which is
# also the order launchers' variables are checked in (launched_runtime): JAX's own
# variable before MASTER_ADDR, which tools other than torchrun set too.
_CLASSES: dict[str, type[Parallel]] = {}
_LOADED: dict[str, Parallel] = {}


def register(cls: type[Parallel]) -> None:
    """Make ``cls`` (a :class:`Parallel` subclass) the distributed plug-in of backend
    ``cls.name``."""
    _CLASSES[cls.name] = cls
    _LOADED.pop(cls.name, None)


def unregister(name: str) -> None:
    """Remove the distributed plug-in of backend ``name`` added by :func:`register`."""
    _CLASSES.pop(name, None)
    _LOADED.pop(name, None)


register(Parallel)
register(JaxParallel)
register(TorchParallel)


def parallel_class(name: str) -> type[Parallel]:
    """The distributed plug-in class of canonical backend ``name``; reading its facts
    imports no framework.

    Raises
    ------
    DistributedError
        If backend ``name`` has no distributed plug-in.
    """
    try:
        return _CLASSES[name]
    except KeyError:
        raise DistributedError(
            f"the {name} backend has no distributed support (backendkit.distributed "
            f"serves {', '.join(_CLASSES)}); convert its arrays to one of those first "
            f"(backendkit.convert)"
        ) from None


def runtimes() -> list[str]:
    """The backends with a multi-process runtime, in the order ``launch`` and
    ``initialize`` prefer them when none is named (``launch_rank``)."""
    found = [cls for cls in _CLASSES.values() if cls.multiprocess]
    return [cls.name for cls in sorted(found, key=lambda cls: cls.launch_rank)]


def launched_runtime(environ: Mapping[str, str]) -> str | None:
    """The runtime whose launcher set ``environ``'s variables, ``None`` if none did."""
    return next(
        (
            cls.name
            for cls in _CLASSES.values()
            if cls.launcher_marker is not None and environ.get(cls.launcher_marker)
        ),
        None,
    )


def runtimes_install_hint() -> str:
    """What installs a multi-process runtime: ``pip install 'backendkit[a]' or
    'backendkit[b]'``."""
    first, *others = [backends.install_hint(name) for name in runtimes()]
    return " or ".join([first, *(h.removeprefix("pip install ") for h in others)])


def parallel(name: str) -> Parallel:
    """The distributed facts of backend ``name`` (its framework imported on first use)."""
    try:
        return _LOADED[name]
    except KeyError:
        pass
    fw = _LOADED[name] = parallel_class(name)(backends.load(name))
    return fw
