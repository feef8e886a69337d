"""Several processes: ``initialize``, ``process_index``, ``process_count``,
``all_reduce``, ``barrier``, ``shutdown``.

The runtimes are the frameworks': ``torch.distributed`` (a process group, gloo between
CPUs, NCCL between GPUs) and ``jax.distributed`` (a coordinator, and gloo collectives
between CPU processes). :func:`initialize` reads what the launcher put in the
environment, as the frameworks' own launchers define it:

* PyTorch, from ``torchrun`` (which ``python -m backendkit launch --backend torch``
  runs): ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` (and
  ``LOCAL_RANK``, the GPU of the process);
* JAX, from ``python -m backendkit launch --backend jax``: ``JAX_COORDINATOR_ADDRESS``
  (which ``jax.distributed`` itself reads), ``RANK`` and ``WORLD_SIZE``.

**Nothing waits forever.** Every collective has a timeout (``initialize(timeout=...)``,
default 300 s, or the ``BACKENDKIT_DISTRIBUTED_TIMEOUT`` environment variable, which
``launch --collective-timeout`` sets). A process that dies closes its connections, and
the others' collectives fail at once with :class:`~backendkit.DistributedError`; one
that hangs, or never starts, makes them fail when the timeout ends, with
:class:`~backendkit.DistributedTimeoutError`. JAX's coordinator also stops every
process whose heartbeats fail for that long. The launcher stops the remaining processes
once one has failed.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
from typing import Any

import numpy as np

from .. import _tree, backends
from ..errors import ArgumentTypeError, ArgumentValueError, BackendMismatchError, DistributedError
from ..selection import get_backend
from ._frameworks import (
    Parallel,
    launched_runtime,
    parallel,
    parallel_class,
    runtimes,
    runtimes_install_hint,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV_VAR",
    "all_reduce",
    "barrier",
    "initialize",
    "process_count",
    "process_index",
    "shutdown",
]

#: seconds a collective waits for the other processes, unless told otherwise
DEFAULT_TIMEOUT = 300.0
#: the environment variable that sets that default (``launch --collective-timeout``)
TIMEOUT_ENV_VAR = "BACKENDKIT_DISTRIBUTED_TIMEOUT"
_OPS = ("sum", "mean", "max", "min")

# {"backend": name, "timeout": seconds} while initialize() is in force
_state: dict[str, Any] | None = None


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # a number in a string: the env var
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0:
        raise ArgumentValueError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def default_timeout() -> float:
    """The collective timeout in force: ``initialize``'s, else
    ``BACKENDKIT_DISTRIBUTED_TIMEOUT``, else 300 s."""
    if _state is not None:
        return float(_state["timeout"])
    raw = os.environ.get(TIMEOUT_ENV_VAR)
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    return _seconds(raw.strip(), f"the environment variable {TIMEOUT_ENV_VAR}")


def _no_launcher(runtime: str, missing: list[str]) -> DistributedError:
    own = parallel_class(runtime).own_launcher
    how = f"python -m backendkit launch -n N --backend {runtime} script.py"
    if own is not None:
        how += f" (or {own})"
    return DistributedError(
        f"initialize(): no launcher started this process for {runtime}: "
        f"{', '.join(missing)} not set. Start the script with {how}, or pass "
        f"coordinator_address=, num_processes= and process_id="
    )


def _runtime(backend: str | None) -> str:
    """The framework whose runtime starts: ``backend``, else the selected one, else
    the one the launcher's variables are for."""
    name = backends.canonical_name(backend) if backend is not None else get_backend()
    cls = parallel_class(name)
    if cls.multiprocess:
        return name
    if backend is not None:
        choices = " or ".join(f"{n!r} ({parallel_class(n).runtime_module})" for n in runtimes())
        raise ArgumentValueError(
            f"initialize(backend={name!r}): {cls.title} has no multi-process runtime; use "
            f"{choices}, which also reduce {cls.title} arrays"
        )
    launched = launched_runtime(os.environ)
    if launched is not None:
        return launched
    for name in runtimes():
        if backends.is_installed(name):
            needed = parallel_class(name).launcher_variables
            raise _no_launcher(name, [v for v in needed if v not in os.environ])
    raise DistributedError(
        f"initialize(): neither {' nor '.join(runtimes())} is installed, and {cls.title} "
        f"has no multi-process runtime: {runtimes_install_hint()}"
    )


def _int(value: Any, what: str, *, low: int) -> int:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # a number in a string: the env var
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ArgumentValueError(
            f"initialize(): {what} must be an integer >= {low}, got {value!r}"
        )
    return int(value)


def initialize(
    backend: str | None = None,
    *,
    timeout: float | None = None,
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Join the other processes of a multi-process run.

    Call it once, at the top of the script, in every process (with JAX, before the
    first JAX computation: JAX fixes its devices then). Afterwards :func:`pmap` and
    :func:`mesh` span every process's devices, and :func:`all_reduce` and
    :func:`barrier` work across the processes.

    Parameters
    ----------
    backend : {'torch', 'jax'}, optional
        The runtime: ``torch.distributed`` or ``jax.distributed``. Default: the
        selected backend (``launch --backend`` selects it), else the one the
        launcher's variables are for.
    timeout : float, optional
        Seconds any collective, and the start itself, may wait for the other
        processes; default ``BACKENDKIT_DISTRIBUTED_TIMEOUT``, else 300.
    coordinator_address, num_processes, process_id : optional
        ``"host:port"`` of process 0, the number of processes and this one's index,
        where no launcher set ``RANK``, ``WORLD_SIZE`` and ``MASTER_ADDR`` /
        ``MASTER_PORT`` (torch) or ``JAX_COORDINATOR_ADDRESS`` (JAX).

    Raises
    ------
    DistributedError
        If it was already called (or the framework's runtime was started directly),
        no launcher started this process and no coordinator is given, or JAX has
        already computed something in this process.
    DistributedTimeoutError
        If the other processes did not all join within ``timeout``.
    ArgumentValueError
        For a timeout or numbers that are not positive, or ``backend='numpy'``.

    Examples
    --------
    >>> from backendkit.distributed import initialize
    >>> initialize("torch")  # doctest: +SKIP
    """
    global _state
    if _state is not None:
        fw = parallel(_state["backend"])
        raise DistributedError(
            f"initialize() was already called in this process ({_state['backend']}, "
            f"process {fw.process_index()} of {fw.process_count()}); call shutdown() "
            f"before initializing again"
        )
    runtime = _runtime(backend)
    seconds = default_timeout() if timeout is None else _seconds(timeout, "initialize(): timeout")
    needed = parallel_class(runtime).launcher_variables
    explicit = (coordinator_address, num_processes, process_id)
    if all(v is None for v in explicit):
        missing = [v for v in needed if not os.environ.get(v)]
        if missing:
            raise _no_launcher(runtime, missing)
        count = _int(os.environ["WORLD_SIZE"], "WORLD_SIZE", low=1)
        index = _int(os.environ["RANK"], "RANK", low=0)
        # None: the runtime reads its launcher's variables itself (torch's env://,
        # which also reuses torchrun's store)
        coordinator = parallel_class(runtime).launched_coordinator(os.environ)
    elif any(v is None for v in explicit):
        raise ArgumentValueError(
            "initialize(): give all of coordinator_address=, num_processes= and "
            "process_id=, or none of them (to read them from the launcher)"
        )
    else:
        if not isinstance(coordinator_address, str) or ":" not in coordinator_address:
            raise ArgumentValueError(
                f"initialize(): coordinator_address must be 'host:port', got "
                f"{coordinator_address!r}"
            )
        coordinator = coordinator_address
        count = _int(num_processes, "num_processes", low=1)
        index = _int(process_id, "process_id", low=0)
    if index >= count:
        raise ArgumentValueError(
            f"initialize(): process {index} does not exist in a run of {count} processes"
        )
    fw = parallel(runtime)
    if fw.processes_active():
        raise DistributedError(
            f"initialize(): {runtime}'s multi-process runtime was already started in this "
            f"process (directly, not by backendkit); use it as it is, or shut it down first"
        )
    fw.start_processes(seconds, coordinator, count, index)
    _state = {"backend": runtime, "timeout": seconds}


def _active() -> Parallel | None:
    """The running multi-process runtime: ours, else one the user started directly;
    ``None`` in a single process."""
    if _state is not None:
        return parallel(_state["backend"])
    for name in runtimes():
        # a runtime the user started directly: its framework is imported already
        if backends.plugin(name).framework in sys.modules and backends.is_installed(name):
            fw = parallel(name)
            if fw.processes_active():
                return fw
    size = os.environ.get("WORLD_SIZE", "1")
    if size.isdigit() and int(size) > 1:
        raise DistributedError(
            f"this process was started as one of {size} (WORLD_SIZE={size}) but "
            f"initialize() was not called: call backendkit.distributed.initialize() first, "
            f"or every process would compute alone"
        )
    return None


def process_index() -> int:
    """This process's index among the processes of the run: 0, 1, ...; 0 in a single
    process.

    Raises
    ------
    DistributedError
        If a launcher started several processes but :func:`initialize` was not called.

    Examples
    --------
    >>> from backendkit.distributed import process_index
    >>> process_index()
    0
    """
    fw = _active()
    return 0 if fw is None else fw.process_index()


def process_count() -> int:
    """The number of processes in the run; 1 in a single process.

    Raises
    ------
    DistributedError
        If a launcher started several processes but :func:`initialize` was not called.

    Examples
    --------
    >>> from backendkit.distributed import process_count
    >>> process_count()
    1
    """
    fw = _active()
    return 1 if fw is None else fw.process_count()


def all_reduce(x: Any, op: str = "sum") -> Any:
    """``x`` combined over every process, the same result on each.

    Parameters
    ----------
    x : array, number or pytree of them
        NumPy arrays and numbers come back as NumPy arrays and numbers; arrays of the
        runtime's framework as arrays of it. Never changed in place.
    op : {'sum', 'mean', 'max', 'min'}

    Returns
    -------
    The reduced value (a new array). In a single process, ``x`` reduced over one
    process: a copy of it.

    Raises
    ------
    ArgumentValueError
        For an unknown ``op``.
    BackendMismatchError
        If ``x`` is an array of another framework than the runtime's.
    DistributedError
        If another process died during the reduction, or :func:`initialize` was not
        called in a launched process.
    DistributedTimeoutError
        If another process did not join the reduction within the timeout.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import all_reduce
    >>> all_reduce(np.array([1.0, 2.0]))  # one process: the sum over it
    array([1., 2.])
    """
    if op not in _OPS:
        raise ArgumentValueError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
    fw = _active()
    if fw is None:
        return _tree.tree_map(lambda leaf: _alone(leaf, op), x)
    runtime = fw.name
    timeout = default_timeout()

    def one(leaf: Any) -> Any:
        owner = backends.owner_of(leaf)
        if backends.is_framework(owner) and owner != runtime:
            raise BackendMismatchError(
                f"all_reduce: a {owner} array, but the processes run {runtime}'s runtime; "
                f"convert it first (backendkit.convert(x, to={runtime!r}))"
            )
        if owner is None and not isinstance(leaf, (numbers.Number, np.generic)):
            raise ArgumentTypeError(
                f"all_reduce: expected arrays or numbers, got {type(leaf).__name__}"
            )
        return fw.all_reduce(leaf, op, timeout)

    return _tree.tree_map(one, x)


def _alone(x: Any, op: str) -> Any:
    """``x`` reduced over one process: the value itself, as a new array."""
    if isinstance(x, (numbers.Number, np.generic)):
        value: Any = x
        return value / 1 if op == "mean" else value
    owner = backends.owner_of(x)
    if owner is None:
        raise ArgumentTypeError(f"all_reduce: expected arrays or numbers, got {type(x).__name__}")
    if op == "mean":
        return x / 1
    return backends.load(owner).namespace.asarray(x, copy=True)


def barrier(timeout: float | None = None) -> None:
    """Wait until every process has reached this call; at once in a single process.

    Parameters
    ----------
    timeout : float, optional
        Seconds to wait (PyTorch with gloo); default :func:`initialize`'s.

    Raises
    ------
    DistributedError
        If another process died; with PyTorch the message names the ranks that did not
        arrive.
    DistributedTimeoutError
        If not every process arrived within the timeout.

    Examples
    --------
    >>> from backendkit.distributed import barrier
    >>> barrier()
    """
    if timeout is not None:
        timeout = _seconds(timeout, "barrier: timeout")
    fw = _active()
    if fw is not None:
        fw.barrier(timeout)


def shutdown() -> None:
    """Leave the multi-process run that :func:`initialize` joined; nothing if none.

    Afterwards :func:`initialize` may be called again.

    Examples
    --------
    >>> from backendkit.distributed import shutdown
    >>> shutdown()
    """
    global _state
    if _state is None:
        return
    fw = parallel(_state["backend"])
    try:
        fw.stop_processes()
    finally:
        _state = None
