"""Meshes of devices, and arrays laid out on them: ``mesh``, ``shard``, ``replicate``,
``gather``.

A mesh names the devices along one or more axes (``("data",)``, ``("data",
"model")``). :func:`shard` splits an array along one of its axes over a mesh axis,
:func:`replicate` puts a whole copy on every device, :func:`gather` makes a laid-out
array whole again. The layouts are the frameworks' own: JAX's ``NamedSharding``
(a ``jax.Array`` that lives on several devices) and PyTorch's DTensor ``Shard`` and
``Replicate`` placements on a ``DeviceMesh`` (one process per device, after
:func:`initialize`). NumPy, and PyTorch without a process group, have one memory: a
mesh there says how many shards :func:`pmap` makes, and ``shard``/``replicate`` leave
the array as it is.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from .. import backends
from .._dispatch import backend_for
from ..arrays import asarray
from ..errors import ArgumentTypeError, ArgumentValueError, BackendMismatchError
from ..selection import current
from ._frameworks import parallel

__all__ = ["Mesh", "gather", "mesh", "replicate", "shard"]


@dataclasses.dataclass(frozen=True, eq=False)
class Mesh:
    """Devices arranged along named axes, as :func:`mesh` makes them.

    Attributes
    ----------
    backend : str
        The backend whose devices these are.
    shape : tuple of int
        Devices along each axis.
    axis_names : tuple of str
        One name per axis.
    devices : tuple
        The devices in row-major order (the framework's device objects; ``"cpu"``
        for NumPy, ``"rank N"`` for PyTorch processes).
    native : object
        The framework's mesh: ``jax.sharding.Mesh``, a torch ``DeviceMesh``, or
        ``None`` where there is one memory (NumPy, PyTorch in one process).
    """

    backend: str
    shape: tuple[int, ...]
    axis_names: tuple[str, ...]
    devices: tuple[Any, ...]
    native: Any

    @property
    def size(self) -> int:
        """The number of devices."""
        return math.prod(self.shape)

    def __repr__(self) -> str:
        axes = ", ".join(f"{n}={s}" for n, s in zip(self.axis_names, self.shape, strict=True))
        return f"Mesh({self.backend}: {axes})"


def mesh(
    shape: int | tuple[int, ...] | None = None,
    axis_names: str | tuple[str, ...] = ("data",),
    *,
    backend: str | None = None,
) -> Mesh:
    """A mesh of the backend's devices with named axes.

    Parameters
    ----------
    shape : int or tuple of int, optional
        Devices along each axis; default every device along one axis (JAX: all of
        ``jax.devices()``, of every process; PyTorch in a process group: one per
        process; NumPy: the CPU).
    axis_names : str or tuple of str
        One name per axis; default ``("data",)``.
    backend : str, optional
        Default: the current backend.

    Returns
    -------
    Mesh

    Raises
    ------
    ArgumentTypeError, ArgumentValueError
        For a shape that is not positive integers, names that are not distinct
        strings, or as many names as axes.
    DeviceError
        If the mesh needs more devices than JAX has (the message says how to emulate
        CPU devices), or a PyTorch mesh does not match the process group.

    Examples
    --------
    >>> from backendkit.distributed import mesh
    >>> mesh(backend="numpy")
    Mesh(numpy: data=1)
    """
    fw = parallel(current().name if backend is None else backends.canonical_name(backend))
    if isinstance(axis_names, str):
        axis_names = (axis_names,)
    if not isinstance(axis_names, (tuple, list)) or not all(
        isinstance(n, str) and n for n in axis_names
    ):
        raise ArgumentTypeError(f"mesh: axis_names must be strings, got {axis_names!r}")
    names = tuple(axis_names)
    if len(set(names)) != len(names):
        raise ArgumentValueError(f"mesh: axis_names must be distinct, got {names}")
    if shape is None:
        if len(names) != 1:
            raise ArgumentValueError(
                f"mesh: give shape= for a mesh of {len(names)} axes {names}; only a "
                f"one-axis mesh defaults to every device"
            )
        shape = (fw.device_count(),)
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ArgumentValueError(f"mesh: shape must be positive integers, got {shape!r}")
    shape = tuple(int(s) for s in shape)
    if len(shape) != len(names):
        raise ArgumentValueError(
            f"mesh: shape {shape} has {len(shape)} axes but axis_names {names} has "
            f"{len(names)}; give one name per axis"
        )
    native, devices = fw.make_mesh(shape, names)
    return Mesh(fw.name, shape, names, tuple(devices), native)


def _checked(x: Any, where: Mesh, what: str) -> Any:
    if not isinstance(where, Mesh):
        raise ArgumentTypeError(
            f"{what}: mesh must be a backendkit.distributed.Mesh (from mesh()), got "
            f"{type(where).__name__}"
        )
    owner = backends.owner_of(x)
    if backends.is_framework(owner) and owner != where.backend:
        raise BackendMismatchError(
            f"{what}: x is a {owner} array but the mesh is a {where.backend} mesh; make "
            f"the mesh with backend={owner!r}, or convert x (backendkit.convert)"
        )
    return asarray(x, backend=where.backend) if owner != where.backend else x


def shard(x: Any, mesh: Mesh, axis: int = 0, *, mesh_axis: str | None = None) -> Any:
    """``x`` split along its axis ``axis`` over the devices of a mesh axis.

    Each device holds ``x.shape[axis] / n`` of it (``n`` devices along ``mesh_axis``),
    and a copy along the mesh's other axes. JAX: a ``jax.Array`` with a
    ``NamedSharding``; PyTorch in a process group: a DTensor with a ``Shard``
    placement; NumPy and PyTorch in one process: ``x`` itself.

    Parameters
    ----------
    x : array_like
        Host data becomes the mesh's backend's array.
    mesh : Mesh
    axis : int
        The array axis to split.
    mesh_axis : str, optional
        The mesh axis to split it over; default the mesh's first.

    Raises
    ------
    ArgumentValueError
        If ``axis`` is out of range or its length is not divisible by the number of
        devices along ``mesh_axis``, or ``mesh_axis`` is not one of the mesh's.
    BackendMismatchError
        If ``x`` is an array of another framework than the mesh's.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import gather, mesh, shard
    >>> m = mesh(backend="numpy")
    >>> gather(shard(np.arange(4.0), m))
    array([0., 1., 2., 3.])
    """
    x = _checked(x, mesh, "shard")
    if mesh_axis is None:
        mesh_axis = mesh.axis_names[0]
    if mesh_axis not in mesh.axis_names:
        raise ArgumentValueError(
            f"shard: mesh_axis {mesh_axis!r} is not an axis of {mesh!r}; use one of "
            f"{mesh.axis_names}"
        )
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ArgumentTypeError(f"shard: axis must be an int, got {axis!r}")
    ndim = len(x.shape)
    if not -ndim <= axis < ndim:
        raise ArgumentValueError(
            f"shard: axis {axis} is out of range for an array of shape {tuple(x.shape)}"
        )
    axis %= ndim
    n = mesh.shape[mesh.axis_names.index(mesh_axis)]
    if x.shape[axis] % n:
        raise ArgumentValueError(
            f"shard: axis {axis} of shape {tuple(x.shape)} has length {x.shape[axis]}, "
            f"which does not split into {n} equal parts over mesh axis {mesh_axis!r}; pad "
            f"or trim it to a multiple of {n}"
        )
    spec = tuple(mesh_axis if i == axis else None for i in range(ndim))
    return parallel(mesh.backend).place(x, mesh.native, spec)


def replicate(x: Any, mesh: Mesh) -> Any:
    """A whole copy of ``x`` on every device of ``mesh``.

    JAX: a ``jax.Array`` with a replicated ``NamedSharding``; PyTorch in a process
    group: a DTensor with ``Replicate`` placements; NumPy and PyTorch in one process:
    ``x`` itself.

    Raises
    ------
    BackendMismatchError
        If ``x`` is an array of another framework than the mesh's.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import mesh, replicate
    >>> replicate(np.ones(2), mesh(backend="numpy"))
    array([1., 1.])
    """
    x = _checked(x, mesh, "replicate")
    return parallel(mesh.backend).place(x, mesh.native, (None,) * len(x.shape))


def gather(x: Any) -> Any:
    """A laid-out array made whole again, as an ordinary array of its backend.

    JAX: on the default device (every process's data, gathered, in a multi-process
    run); PyTorch: ``DTensor.full_tensor()``; other arrays are returned as they are.
    ``backendkit.to_numpy`` of the result is a NumPy array.

    Raises
    ------
    DistributedError
        If another process died while its part was being gathered.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import gather
    >>> gather(np.arange(3))
    array([0, 1, 2])
    """
    owner = backend_for(x)
    return parallel(owner.name).gather_array(x)
