"""Devices: what each backend can see, where new arrays go, memory, and waiting for work.

Choosing a device here changes nothing outside backendkit. DESC chooses a device by
blanking ``CUDA_VISIBLE_DEVICES``, which hides the GPU from every other library in the
process as well, and cannot be undone once CUDA has started. Here the choice is only
read by backendkit's own functions that create or convert arrays
(:func:`backendkit.asarray`, :func:`backendkit.convert`, ``backendkit.random``, the
creation functions of :data:`backendkit.xp`),
which pass the framework's device object on; code that calls the framework directly
keeps the framework's default. No environment variable and no framework setting is
touched.

A device is named the same way on every backend: ``"cpu"``, ``"gpu"`` (the first GPU,
``"gpu:0"``), ``"gpu:1"``, ``"cuda:0"`` (the same as ``"gpu:0"``; ``"rocm:0"`` too),
``"mps"``, ``"tpu:0"``; a :class:`~backendkit.Device` record or a framework's device
object (``torch.device``, ``jax.Device``) is accepted too. As with the backend, a
:func:`backendkit.use_device` block (a :mod:`contextvars` variable: per thread and per
task) wins over the process-wide :func:`backendkit.set_device`; with neither, the
accelerator persisted by :func:`backendkit.keras.swap_backend` (read from backendkit's
``config.json`` at first use, as the persisted backend is) is the default device of
JAX and PyTorch, falling back to the CPU, with one warning per backend, where this
machine lacks it; with none persisted, each framework's own default applies. A choice
is checked against the current backend when it is made, and against another backend
the first time that backend creates an array under it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import re
import warnings
from typing import Any, TypeVar, cast

from . import _scope, _tree, backends
from ._host import cpu_name, host_memory
from .backends import Backend, DeviceEntry
from .errors import DeviceError, DeviceFallbackWarning

__all__ = [
    "Device",
    "MemoryInfo",
    "block_until_ready",
    "default_device",
    "device_source",
    "devices",
    "framework_device",
    "get_device",
    "memory_info",
    "set_device",
    "use_device",
]

T = TypeVar("T")

_SPEC = re.compile(r"^\s*(cpu|gpu|cuda|rocm|mps|metal|tpu)\s*(?::\s*(\d+))?\s*$", re.IGNORECASE)
_KIND_OF = {"cuda": "gpu", "rocm": "gpu", "metal": "mps"}
# top-level module of a device object's type -> the backend that owns it
_VALID_SPECS = "'cpu', 'gpu', 'gpu:N', 'cuda:N', 'mps', 'tpu:N', a Device or a framework device"


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


@dataclasses.dataclass(frozen=True)
class MemoryInfo:
    """Free and total bytes of one device; ``None`` where the framework reports none."""

    free: int | None
    total: int | None

    @property
    def used(self) -> int | None:
        """``total - free``, or ``None`` where either is unknown."""
        return None if self.free is None or self.total is None else self.total - self.free

    def __str__(self) -> str:
        if self.total is None:
            return "memory unknown"
        if self.free is None:
            return f"{_gib(self.total)} in all"
        return f"{_gib(self.free)} free of {_gib(self.total)}"


@dataclasses.dataclass(frozen=True)
class Device:
    """One device a backend can put arrays on, as :func:`devices` lists it.

    Attributes
    ----------
    backend : str
        The backend that sees it (``numpy``, ``jax``, ``torch``).
    kind : str
        ``cpu``, ``gpu``, ``mps`` or ``tpu``.
    index : int
        Its index among that backend's devices of that kind.
    name : str
        The model (``NVIDIA H100 80GB HBM3``); for the CPU, the processor's.
    platform : str
        ``cpu``, ``cuda``, ``rocm``, ``mps``, ``metal`` or ``tpu``.
    total_memory, free_memory : int or None
        Bytes when listed, ``None`` where unknown. For the CPU the operating system's
        figures (free meaning available); for a JAX accelerator, JAX's own pool.
    """

    backend: str
    kind: str
    index: int
    name: str
    platform: str
    total_memory: int | None = None
    free_memory: int | None = None

    @property
    def spec(self) -> str:
        """The spec that names this device, e.g. ``"gpu:0"``."""
        return f"{self.kind}:{self.index}"

    def __str__(self) -> str:
        memory = MemoryInfo(self.free_memory, self.total_memory)
        return f"{self.backend} {self.spec} ({self.name}, {self.platform}; {memory})"


# ------------------------------------------------------------------ listing
@functools.cache
def _entries(name: str) -> tuple[DeviceEntry, ...]:
    # A process's device set is fixed once its framework has started, so look once.
    return tuple(backends.load(name).list_devices())


def _memory(backend: Backend, kind: str, native: Any) -> tuple[int | None, int | None]:
    return host_memory() if kind == "cpu" else backend.memory(native)


def _record(backend: Backend, entry: DeviceEntry) -> Device:
    kind, index, name, plat, native = entry
    free, total = _memory(backend, kind, native)
    return Device(
        backend=backend.name,
        kind=kind,
        index=index,
        name=cpu_name() if kind == "cpu" else name,
        platform=plat,
        total_memory=total,
        free_memory=free,
    )


def _backend(name: str | None) -> Backend:
    from .selection import current

    return current() if name is None else backends.load(backends.canonical_name(name))


def devices(backend: str | None = None) -> list[Device]:
    """The devices backendkit can put arrays on, with their memory now.

    Parameters
    ----------
    backend : str, optional
        One backend's devices; default every installed backend's (importing each).

    Returns
    -------
    list of Device
        By backend, the CPU first; NumPy has only the CPU.

    Raises
    ------
    UnknownBackendError, BackendNotInstalledError
        For a name that is not a backend, or one whose framework is missing.

    Examples
    --------
    >>> import backendkit as bk
    >>> [d.spec for d in bk.devices("numpy")]
    ['cpu:0']
    """
    from .selection import available_backends

    names = available_backends() if backend is None else [_backend(backend).name]
    found: list[Device] = []
    for name in names:
        b = backends.load(name)
        found.extend(_record(b, entry) for entry in _entries(name))
    return found


# ------------------------------------------------------------------ specs
def _parse(spec: Any) -> tuple[str, int]:
    """``(kind, index)`` for a device spec, without looking at any backend's devices."""
    if isinstance(spec, Device):
        return spec.kind, spec.index
    if isinstance(spec, str):
        match = _SPEC.match(spec)
        if match is None:
            raise DeviceError(f"unknown device {spec!r}; valid: {_VALID_SPECS}")
        kind = match.group(1).lower()
        return _KIND_OF.get(kind, kind), int(match.group(2) or 0)
    owner = backends.owner_of_module(type(spec).__module__)
    if owner is None:
        raise DeviceError(
            f"a device must be a string or a device object, got {type(spec).__name__} "
            f"{spec!r}; valid: {_VALID_SPECS}"
        )
    key = backends.load(owner).device_key(spec)
    if key is None:
        raise DeviceError(f"{spec!r} is not a {owner} device this process can use")
    return key


def _find(backend: Backend, kind: str, index: int) -> DeviceEntry | None:
    return next((e for e in _entries(backend.name) if e[:2] == (kind, index)), None)


def _missing(backend: Backend, kind: str, index: int, fallback: tuple[str, int] | None) -> str:
    if backend.name == "numpy":
        head = (
            f"the numpy backend has only the CPU, not {kind}:{index}: use 'cpu', or the "
            f"jax or torch backend for an accelerator"
        )
    else:
        there = ", ".join(
            f"{k}:{i}" + (f" ({n})" if n else "") for k, i, n, _, _ in _entries(backend.name)
        )
        head = f"no device {kind}:{index} on the {backend.name} backend; available: {there}"
    if fallback is None:
        return f"{head}; or pass fallback='cpu' to use the CPU instead, with a warning"
    return f"{head}; the fallback {fallback[0]}:{fallback[1]} is not there either"


def _resolve(
    backend: Backend,
    kind: str,
    index: int,
    fallback: tuple[str, int] | None,
    stacklevel: int,
    why: str = "as fallback= asks",
) -> DeviceEntry:
    """The device entry for ``kind:index`` on ``backend``, or its fallback (warning
    with ``why``)."""
    entry = _find(backend, kind, index)
    if entry is not None:
        return entry
    fallback_entry = None if fallback is None else _find(backend, *fallback)
    if fallback_entry is None:
        raise DeviceError(_missing(backend, kind, index, fallback))
    warnings.warn(
        f"no device {kind}:{index} on the {backend.name} backend: using "
        f"{fallback[0]}:{fallback[1]} instead, {why}",  # type: ignore[index]
        DeviceFallbackWarning,
        stacklevel=stacklevel + 1,
    )
    return fallback_entry


def framework_device(backend: Backend, spec: Any) -> Any:
    """The framework's device object for ``spec`` on ``backend`` (``None`` on NumPy).

    Raises
    ------
    DeviceError
        If ``spec`` names no device, or one the backend does not have (the message
        lists the devices it has).
    """
    kind, index = _parse(spec)
    return _resolve(backend, kind, index, None, stacklevel=2).native


# ------------------------------------------------------------------ the choice
@dataclasses.dataclass(eq=False)
class _Choice:
    kind: str
    index: int
    fallback: tuple[str, int] | None
    source: str
    # backend name -> device entry, filled as each backend first needs it, so that a
    # fallback warns once per backend and the look-up is a dict read afterwards
    entries: dict[str, DeviceEntry] = dataclasses.field(default_factory=dict)
    why: str = "as fallback= asks"  # the reason the fallback warning gives


_UNSET: Any = object()  # no use_device block (None in a block: the framework default)
_block: contextvars.ContextVar[_Choice | None] = contextvars.ContextVar(
    "backendkit_device", default=_UNSET
)
_process: _Choice | None = None
# whether set_device was called: from then on its choice, None included, is the
# process's, and a persisted accelerator no longer applies
_process_set = False
_persisted: Any = _UNSET  # the persisted accelerator's choice (or None), once read


def _current_choice() -> _Choice | None:
    choice = _block.get()
    if choice is not _UNSET:
        return choice
    if _process_set:
        return _process
    return _persisted if _persisted is not _UNSET else _read_persisted()


def _read_persisted() -> _Choice | None:
    """The choice the accelerator persisted in ``config.json`` makes, read once."""
    global _persisted
    from . import config  # json and pathlib: paid at first use, not at import

    kind = config.persisted_accelerator()
    path = config.config_path()
    _persisted = (
        None
        if kind is None
        else _Choice(
            kind,
            0,
            ("cpu", 0),
            f"config {path}",
            why=(
                f"as the accelerator {kind!r} persisted in {path} (by "
                f"backendkit.keras.swap_backend) is not on this machine; "
                f"set_device or use_device choose another"
            ),
        )
    )
    return cast(_Choice | None, _persisted)


def _choose(
    spec: Any, fallback: Any, source: str, stacklevel: int
) -> tuple[_Choice | None, Device]:
    """The checked choice for ``spec`` and the device it gives on the current backend."""
    from .selection import current

    backend = current()
    if spec is None:
        return None, _record(backend, _default_entry(backend))
    kind, index = _parse(spec)
    fb = None if fallback is None else _parse(fallback)
    entry = _resolve(backend, kind, index, fb, stacklevel + 1)
    choice = _Choice(kind, index, fb, source, {backend.name: entry})
    return choice, _record(backend, entry)


def _chosen_entry(choice: _Choice, backend: Backend, stacklevel: int) -> DeviceEntry:
    try:
        return choice.entries[backend.name]
    except KeyError:
        pass
    if choice is _persisted and backend.name == "numpy":
        # an accelerator is persisted for the frameworks that have one: NumPy, which
        # has only the CPU, uses it without a warning
        entry = _entries(backend.name)[0]
    else:
        entry = _resolve(
            backend, choice.kind, choice.index, choice.fallback, stacklevel + 1, choice.why
        )
    choice.entries[backend.name] = entry
    return entry


def _device_entry(backend: Backend) -> DeviceEntry:
    """The entry of the device that ``backend``'s new arrays go to now."""
    choice = _current_choice()
    if choice is not None:
        return _chosen_entry(choice, backend, stacklevel=3)
    return _default_entry(backend)


def _default_entry(backend: Backend) -> DeviceEntry:
    """The entry of the framework's own default device (the CPU where it names none)."""
    native = backend.default_native_device()
    key = None if native is None else backend.device_key(native)
    found = None if key is None else _find(backend, *key)
    return found if found is not None else _entries(backend.name)[0]


def set_device(spec: Any, *, fallback: Any = None) -> Device:
    """Make ``spec`` the process-wide device for the arrays backendkit creates.

    Parameters
    ----------
    spec : str, Device, framework device or None
        ``"cpu"``, ``"gpu"``, ``"gpu:1"``, ``"cuda:0"``, ``"mps"``, ``"tpu:0"``, ...;
        ``None`` goes back to each framework's own default (an accelerator persisted
        by :func:`backendkit.keras.swap_backend` no longer applies either).
    fallback : str, optional
        The device to use, with a :class:`DeviceFallbackWarning`, where ``spec`` is
        not there (usually ``"cpu"``). Default: no fallback, an error.

    Returns
    -------
    Device
        The device arrays of the current backend now go to.

    Raises
    ------
    DeviceError
        If ``spec`` names no device, or the current backend does not have it (and no
        ``fallback`` is); the message lists the devices there are. The device stays
        as it was.

    Notes
    -----
    Nothing outside backendkit changes: no environment variable, no framework default.
    Inside a :func:`use_device` block the block's device stays in use. The choice is
    checked against the current backend now, and against another backend when that
    backend first creates an array under it.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.set_device("cpu").spec
    'cpu:0'
    >>> bk.set_device(None).kind
    'cpu'
    """
    global _process, _process_set
    choice, device = _choose(spec, fallback, "set_device", stacklevel=2)
    _process, _process_set = choice, True
    return device


_blocks = _scope.Scope(_block)  # the open use_device blocks, per context


def use_device(spec: Any, *, fallback: Any = None) -> _scope.Block[Device]:
    """Use device ``spec`` inside a ``with`` block, in this thread or task only; or,
    as a decorator, inside every call of a function.

    Built on :mod:`contextvars`, like :func:`use_backend`: other threads and asyncio
    tasks keep their device, and the previous choice comes back when the block ends,
    also on error, and also when blocks end out of order. ``None`` uses each
    framework's own default in the block. A generator suspended inside a block leaves
    its device in force for its consumer; decorate the generator function to keep it
    to itself (see :func:`use_backend`, whose blocks work alike).

    Raises
    ------
    DeviceError
        As :func:`set_device`, when the block begins; the device stays as it was.

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_device("cpu") as device:
    ...     device.kind
    'cpu'
    """

    def begin() -> tuple[_Choice | None, Device]:
        # a warning points at the with statement, above Block.__enter__
        return _choose(spec, fallback, "use_device", stacklevel=3)

    return _scope.Block(_blocks, begin, f"use_device({spec!r})")


def default_device(backend: Backend) -> Any:
    """The framework device that new arrays go to on ``backend``, or ``None`` when no
    device was chosen (the framework's own default then applies).

    Raises
    ------
    DeviceError
        If the chosen device is not on ``backend`` and no fallback was given.
    """
    choice = _current_choice()
    return None if choice is None else _chosen_entry(choice, backend, stacklevel=3).native


def get_device() -> Device:
    """The device that arrays of the current backend go to now.

    The :func:`use_device` or :func:`set_device` choice, else the accelerator
    persisted by :func:`backendkit.keras.swap_backend` (the CPU where this machine
    lacks it), else the framework's default (where ``torch.set_default_device`` or
    ``jax_default_device`` may have put it).

    Raises
    ------
    DeviceError
        If the chosen device is not on the current backend and no fallback was given.

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_backend("numpy"):
    ...     bk.get_device().spec
    'cpu:0'
    """
    from .selection import current

    backend = current()
    return _record(backend, _device_entry(backend))


def device_source() -> str:
    """Why the current device is current: ``use_device``, ``set_device``,
    ``config <path>`` (the accelerator persisted there) or ``framework default``.

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_device("cpu"):
    ...     bk.device_source()
    'use_device'
    """
    choice = _current_choice()
    if choice is None:
        return "framework default" if _block.get() is _UNSET else "use_device"
    if choice is _persisted:
        from .selection import get_backend

        if get_backend() == "numpy":  # the persisted accelerator is not for NumPy
            return "framework default"
    return choice.source


def memory_info(device: Any = None, backend: str | None = None) -> MemoryInfo:
    """Free and total bytes of a device, through the framework's own API.

    ``torch.cuda.mem_get_info`` for CUDA, Metal's figures for MPS, ``memory_stats()``
    for a JAX accelerator (JAX's own pool), and the operating system's for the CPU
    (``psutil`` if installed, else ``/proc/meminfo`` or ``sysconf``). Never shells out
    to ``nvidia-smi``.

    Parameters
    ----------
    device : str, Device or framework device, optional
        Default: :func:`get_device`. A :class:`Device` is read on its own backend.
    backend : str, optional
        The backend to ask about a spec string; default the current one.

    Raises
    ------
    DeviceError
        If the backend does not have the device.

    Examples
    --------
    >>> import backendkit as bk
    >>> info = bk.memory_info("cpu", backend="numpy")
    >>> 0 < info.free <= info.total
    True
    """
    if isinstance(device, Device) and backend is None:
        backend = device.backend
    b = _backend(backend)
    if device is None:
        entry = _device_entry(b)
    else:
        entry = _resolve(b, *_parse(device), None, stacklevel=2)
    return MemoryInfo(*_memory(b, entry.kind, entry.native))


# ------------------------------------------------------------------ waiting
def block_until_ready(x: T) -> T:
    """Wait until the work that produces ``x`` has finished; return ``x``.

    JAX dispatches work asynchronously (on the CPU too) and PyTorch does on CUDA and
    MPS: a call returns before its result is computed. Time code with this around the
    result, or the time measured is only that of queueing the work.

    Parameters
    ----------
    x : array or pytree
        An array of any backend, or tuples, lists and dicts of them (and JAX's
        registered pytrees); other leaves are ignored.

    Returns
    -------
    The same object ``x``, once ready (jax: ``block_until_ready``; torch on CUDA:
    the arrays' devices synchronised; numpy: at once).

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> a = np.ones(3)
    >>> bk.block_until_ready({"a": a})["a"] is a
    True
    """
    by_backend: dict[str, list[Any]] = {}
    for leaf in _tree.leaves(x):
        name = backends.owner_of(leaf)
        if name is not None:
            by_backend.setdefault(name, []).append(leaf)
    for name, arrays in by_backend.items():
        backends.load(name).block_until_ready(arrays)
    return x
