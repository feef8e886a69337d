"""``pmap``: the portable ``jax.pmap``, a function mapped over devices.

The arguments are checked here, once for every backend, so that the same mistake gets
the same error everywhere; the engine that runs the shards is the framework's
(``_frameworks``).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable
from typing import Any

from .. import _tree, backends
from .._dispatch import backend_for, run_with, to_backend
from ..errors import ArgumentTypeError, ArgumentValueError, BackendMismatchError, DistributedError
from ._frameworks import parallel
from ._mesh import Mesh
from ._spmd import current_frame, is_number

__all__ = ["pmap"]

#: the axis name when none is given (the default axis name of :func:`mesh` too)
DEFAULT_AXIS = "data"


@dataclasses.dataclass
class Call:
    """One call of a mapped function, checked, for the engine to run."""

    fun: Callable[..., Any]
    axis_name: str
    in_axes: tuple[int | None, ...]
    out_axes: Any
    args: tuple[Any, ...]
    size: int
    mesh_native: Any
    timeout: float
    cache: dict[Any, Any]

    def shard_args(self, i: int, device: Any, move: Callable[[Any, Any], Any]) -> tuple[Any, ...]:
        """The arguments of shard ``i``: its slice of each mapped argument, every other
        argument whole, each leaf moved to ``device`` by ``move``."""

        def part(x: Any) -> Any:
            k = x.shape[0] // self.size
            return move(x[i * k : (i + 1) * k], device)

        return tuple(
            _tree.tree_map(part, a) if ax == 0 else _tree.tree_map(lambda x: move(x, device), a)
            for a, ax in zip(self.args, self.in_axes, strict=True)
        )


def _check_axes(name: str, axes: Any, *, per_argument: bool) -> Any:
    if isinstance(axes, list):
        axes = tuple(axes)
    leaves = [axes] if axes is None else _tree.leaves(axes)
    if per_argument and isinstance(axes, tuple):
        leaves = list(axes)
    for leaf in leaves:
        if leaf is None:
            continue
        if isinstance(leaf, bool) or not isinstance(leaf, int):
            raise ArgumentTypeError(
                f"pmap: {name} must be 0, None or a tuple of them, got "
                f"{type(leaf).__name__} {leaf!r} in {axes!r}"
            )
        if leaf != 0:
            raise ArgumentValueError(
                f"pmap: {name} entries are 0 (split along the leading axis) or None (the "
                f"whole value on every device), got {leaf!r}; move the axis to the front "
                f"first (xp.moveaxis)"
            )
    return axes


def pmap(
    fun: Callable[..., Any],
    axis_name: str | None = None,
    *,
    in_axes: Any = 0,
    out_axes: Any = 0,
    devices: Any = None,
    timeout: float | None = None,
) -> Callable[..., Any]:
    """``fun`` run on every device at once, each on its slice of the data: the portable
    ``jax.pmap``.

    The leading axis of each mapped argument is split into as many equal shards as
    there are devices; each device runs ``fun`` on its shard, and the collectives
    (:func:`psum`, :func:`pmean`, :func:`pmax`, :func:`all_gather`,
    :func:`axis_index`) combine values across the shards under ``axis_name``. The
    outputs are joined along their leading axis. Engines, by the arrays' backend:

    * JAX: ``jax.jit(jax.shard_map(...))`` over a ``Mesh`` of the devices (of every
      process, after :func:`initialize`); the result stays sharded on the devices;
    * PyTorch: one shard per process when ``torch.distributed`` runs (after
      :func:`initialize`), every process getting the whole result; else one shard per
      CUDA device for CUDA tensors, in threads of this process, as
      ``torch.nn.parallel`` does;
    * NumPy, and PyTorch on the CPU: one device, so one shard, or ``devices=n``
      shards run as threads on it (as XLA's emulated CPU devices run JAX's).

    Parameters
    ----------
    fun : callable
        Called once per shard, with the arrays' backend selected (``xp`` inside it
        follows them).
    axis_name : str, optional
        The name the collectives inside ``fun`` use; default the mesh's axis name when
        ``devices`` is a :class:`Mesh`, else ``"data"``.
    in_axes : 0, None or tuple of them
        Per positional argument: 0 splits it along its leading axis, None gives every
        shard the whole value (parameters, a query).
    out_axes : 0, None or a tuple of them matching the output
        0 joins the shards' outputs along their leading axis (scalars are stacked into
        one value per shard); None returns one copy of an output that must be the same
        on every shard (a ``psum``/``pmean`` result).
    devices : int or Mesh, optional
        How many devices (the first ``n``), or a one-axis :class:`Mesh`; default all
        devices (JAX: every device of every process; PyTorch in a process group: one
        per process; else one).
    timeout : float, optional
        Seconds a thread shard waits for the others at a collective (NumPy, PyTorch in
        one process) before :class:`~backendkit.DistributedTimeoutError`; default as
        :func:`initialize`'s.

    Returns
    -------
    callable
        The mapped function. It takes positional arguments only.

    Raises
    ------
    ArgumentTypeError
        If ``fun`` is not callable, axes are not 0/None, or keyword arguments are
        passed to the mapped function.
    ArgumentValueError
        If a mapped argument's leading axis does not split into equal shards (not
        divisible by the device count) or it has none, ``in_axes`` does not match the
        arguments, or an ``out_axes=None`` output differs between shards.
    DeviceError
        If ``devices`` asks for more devices than the backend has (the message says how
        to emulate more CPU devices for JAX).
    DistributedError
        For ``pmap`` inside ``pmap``, or shards that call different collectives.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import pmap, psum
    >>> normalize = pmap(lambda x: x / psum(x, "i"), axis_name="i", devices=4)
    >>> normalize(np.arange(4.0))
    array([0.        , 0.16666667, 0.33333333, 0.5       ])
    """
    if not callable(fun):
        raise ArgumentTypeError(f"pmap: fun must be a function, got {type(fun).__name__} {fun!r}")
    if axis_name is not None and not isinstance(axis_name, str):
        raise ArgumentTypeError(
            f"pmap: axis_name must be a str, got {type(axis_name).__name__} {axis_name!r}"
        )
    in_axes = _check_axes("in_axes", in_axes, per_argument=True)
    out_axes = _check_axes("out_axes", out_axes, per_argument=False)
    if devices is not None and not isinstance(devices, Mesh):
        if isinstance(devices, bool) or not isinstance(devices, numbers.Integral):
            raise ArgumentTypeError(
                f"pmap: devices must be a number of devices or a Mesh, got "
                f"{type(devices).__name__} {devices!r}"
            )
        if devices < 1:
            raise ArgumentValueError(f"pmap: devices must be at least 1, got {devices}")
    if isinstance(devices, Mesh):
        if len(devices.shape) != 1:
            raise ArgumentValueError(
                f"pmap maps over one axis, but the mesh has {len(devices.shape)} "
                f"({devices.axis_names}); give it a one-axis mesh"
            )
        if axis_name is None:
            axis_name = devices.axis_names[0]
        elif axis_name != devices.axis_names[0]:
            raise ArgumentValueError(
                f"pmap: axis_name {axis_name!r} is not the mesh's axis "
                f"{devices.axis_names[0]!r}; leave axis_name out to use the mesh's"
            )
    name = axis_name or DEFAULT_AXIS
    if timeout is None:
        from ._processes import default_timeout

        timeout = default_timeout()
    elif isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout <= 0:
        raise ArgumentValueError(
            f"pmap: timeout must be a positive number of seconds, got {timeout!r}"
        )
    cache: dict[Any, Any] = {}

    @functools.wraps(fun)
    def mapped(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise ArgumentTypeError(
                f"pmap: keyword arguments ({', '.join(kwargs)}) are not mapped; pass them "
                f"positionally with an in_axes entry, or close over them"
            )
        if current_frame() is not None:
            raise DistributedError(
                "pmap inside pmap is not supported: map over one axis of devices, and "
                "vectorise the inner level with backendkit.vmap"
            )
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise ArgumentValueError(
                f"pmap: in_axes {in_axes!r} has {len(axes)} entries for {len(args)} "
                f"arguments; give one per argument"
            )
        if 0 not in axes:
            raise ArgumentValueError(
                "pmap: no argument is mapped (every in_axes entry is None); map at least "
                "one argument with in_axes=0"
            )
        backend = _backend(args, devices)
        fw = parallel(backend.name)
        args = to_backend(backend, args)
        if isinstance(devices, Mesh):
            size, native = devices.size, devices.native
        else:
            size, native = (fw.device_count() if devices is None else int(devices)), None
        fw.check_count(size)
        _check_split(args, axes, size)
        call = Call(fun, name, axes, out_axes, args, size, native, float(timeout), cache)
        # the dispatch rule: fun runs with the arrays' backend selected (shard threads
        # copy this context)
        return run_with(backend, fw.pmap, call)

    return mapped


def _backend(args: tuple[Any, ...], devices: Any) -> backends.Backend:
    """The arguments' backend (the dispatch rule); a mesh's backend for host data."""
    owner = backend_for(args)
    if not isinstance(devices, Mesh):
        return owner
    names = (backends.owner_of(x) for x in _tree.leaves(args))
    framework = {n for n in names if backends.is_framework(n)}
    if framework and devices.backend not in framework:
        raise BackendMismatchError(
            f"pmap: the arguments are {', '.join(sorted(framework))} arrays but the mesh is "
            f"a {devices.backend} mesh; make the mesh with backend="
            f"{min(framework)!r}, or convert the arguments (backendkit.convert)"
        )
    return backends.load(devices.backend)


def _check_split(args: tuple[Any, ...], axes: tuple[int | None, ...], size: int) -> None:
    """Every leaf of a mapped argument has a leading axis that splits into ``size``."""
    for k, (arg, axis) in enumerate(zip(args, axes, strict=True)):
        if axis is None:
            continue
        for leaf in _tree.leaves(arg):
            shape = getattr(leaf, "shape", None)
            if is_number(leaf) or shape is None or len(shape) == 0:
                raise ArgumentValueError(
                    f"pmap: argument {k} is mapped (in_axes 0) but holds "
                    f"{type(leaf).__name__} {leaf!r}, which has no leading axis to split; "
                    f"give it in_axes=None to pass it whole to every shard"
                )
            if shape[0] % size:
                raise ArgumentValueError(
                    f"pmap: argument {k} has shape {tuple(shape)}: its leading axis of "
                    f"{shape[0]} does not split into {size} equal shards (one per device); "
                    f"pad or trim it to a multiple of {size}, or use devices= a divisor "
                    f"of {shape[0]}"
                )
