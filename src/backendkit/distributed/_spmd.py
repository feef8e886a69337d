"""Inside ``pmap``: the axis a shard runs on, the collectives, and shards as threads.

A function mapped by :func:`~backendkit.distributed.pmap` runs once per shard, each
run seeing its own slice of the data; the collectives (:func:`psum`, :func:`pmean`,
:func:`pmax`, :func:`all_gather`, :func:`axis_index`) combine values across the
shards. Which engine does the combining depends on where the shards run, and is
recorded in a *frame* (a :mod:`contextvars` variable, so every thread has its own):

* JAX: one trace of the function inside ``jax.shard_map``; the collectives are
  ``jax.lax``'s (``_frameworks.JaxParallel``);
* PyTorch in a process group: one shard per process; the collectives are
  ``torch.distributed``'s (``_frameworks.TorchParallel``);
* NumPy, and PyTorch in one process: one shard per device (NumPy and the CPU have one;
  ``devices=n`` puts n shards on it, as XLA's emulated CPU devices do for JAX). Each
  shard runs in its own thread, as ``torch.nn.parallel.parallel_apply`` does, and a
  collective is a rendezvous: every shard leaves its value, waits for the others at a
  :class:`threading.Barrier`, and combines all of them in shard order, so every shard
  gets bitwise the same result. This is not a new engine: there is none in NumPy to
  build on, and the arithmetic is the framework's own.

Shards must call the same collectives in the same order (SPMD: JAX's tracing enforces
it); where thread shards do not, the rendezvous says which shard did what instead of
waiting forever. A shard that raises breaks the barrier, so the others stop too, and
its exception is raised to the caller.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .. import _tree
from ..errors import ArgumentValueError, AxisNameError, DistributedError, DistributedTimeoutError

__all__ = [
    "Frame",
    "all_gather",
    "assemble",
    "axis_index",
    "current_frame",
    "pmax",
    "pmean",
    "psum",
    "run_threads",
]

_NUMBERS = (bool, int, float, complex)


class Frame:
    """Where a shard of a ``pmap`` runs and how its collectives combine values.

    Each engine subclasses it (threads here, JAX and torch.distributed in
    ``_frameworks``). ``reduce``, ``all_gather`` and ``index`` receive arguments that
    :func:`psum` and the others have checked.
    """

    def __init__(self, axis_name: str, size: int) -> None:
        self.axis_name = axis_name
        self.size = size

    def reduce(self, op: str, tree: Any, axis_name: str) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not combine values")

    def all_gather(self, tree: Any, axis_name: str, axis: int, tiled: bool) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not gather values")

    def index(self, axis_name: str) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no shard index")

    def binds(self, axis_name: Any) -> bool:
        """Whether a collective over ``axis_name`` may run here (JAX decides for itself
        about names it binds, such as a ``jax.vmap`` axis inside the ``pmap``)."""
        return bool(axis_name == self.axis_name)


_frame: contextvars.ContextVar[Frame | None] = contextvars.ContextVar(
    "backendkit_pmap_frame", default=None
)


def current_frame() -> Frame | None:
    """The frame of the ``pmap`` shard running in this thread, ``None`` outside one."""
    return _frame.get()


def enter(frame: Frame) -> contextvars.Token[Frame | None]:
    return _frame.set(frame)


def leave(token: contextvars.Token[Frame | None]) -> None:
    _frame.reset(token)


# ---------------------------------------------------------------------- collectives
def _frame_for(what: str, axis_name: Any, tree: Any) -> Frame:
    frame = _frame.get()
    if frame is None:
        jax_frame = _jax_frame_outside_pmap(axis_name, tree)
        if jax_frame is not None:
            return jax_frame
        raise AxisNameError(
            f"{what}: the axis name {axis_name!r} is not bound here: collectives run only "
            f"inside a function mapped by backendkit.distributed.pmap(f, "
            f"axis_name={axis_name!r}) (or by jax.shard_map / jax.pmap under JAX)"
        )
    if not frame.binds(axis_name):
        raise AxisNameError(
            f"{what}: the axis name {axis_name!r} is not bound here: the enclosing pmap "
            f"maps over {frame.axis_name!r}; use the axis_name of the enclosing pmap"
        )
    return frame


def _jax_frame_outside_pmap(axis_name: Any, tree: Any) -> Frame | None:
    """A frame that hands the collective to ``jax.lax`` when ``tree`` holds JAX tracers,
    so that the collectives also work in the user's own ``jax.shard_map``."""
    import sys

    if "jax" not in sys.modules:
        return None
    from .. import backends

    jax_backend = backends.load("jax")
    if not any(jax_backend.is_traced(leaf) for leaf in _tree.leaves(tree)):
        return None
    return JaxFrame(None, None)  # type: ignore[arg-type]


def _check_axis_name(what: str, axis_name: Any) -> None:
    if not isinstance(axis_name, str):
        raise AxisNameError(
            f"{what}: axis_name must be the str given to pmap(f, axis_name=...), got "
            f"{type(axis_name).__name__} {axis_name!r}"
        )


def psum(x: Any, axis_name: str) -> Any:
    """The sum of ``x`` over the shards of the enclosing :func:`pmap`, on every shard.

    Parameters
    ----------
    x : array, number or pytree of them
        This shard's value; every shard passes one of the same shape.
    axis_name : str
        The ``axis_name`` of the enclosing ``pmap``.

    Returns
    -------
    The elementwise sum over the shards (same structure as ``x``), the same on every
    shard. ``psum(1, axis_name)`` is the number of shards.

    Raises
    ------
    AxisNameError
        Outside ``pmap``, or with another name than ``pmap``'s.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import pmap, psum
    >>> normalize = pmap(lambda x: x / psum(x.sum(), "i"), axis_name="i", devices=2)
    >>> normalize(np.array([1.0, 2.0, 3.0, 4.0]))
    array([0.1, 0.2, 0.3, 0.4])
    """
    _check_axis_name("psum", axis_name)
    return _frame_for("psum", axis_name, x).reduce("sum", x, axis_name)


def pmean(x: Any, axis_name: str) -> Any:
    """The mean of ``x`` over the shards of the enclosing :func:`pmap`, on every shard.

    As :func:`psum`, divided by the number of shards: the data-parallel gradient is
    ``pmean(grad(loss)(params, shard), axis_name)``.

    Raises
    ------
    AxisNameError
        Outside ``pmap``, or with another name than ``pmap``'s.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import pmap, pmean
    >>> pmap(lambda x: pmean(x, "i"), axis_name="i", devices=4)(np.arange(4.0))
    array([1.5, 1.5, 1.5, 1.5])
    """
    _check_axis_name("pmean", axis_name)
    return _frame_for("pmean", axis_name, x).reduce("mean", x, axis_name)


def pmax(x: Any, axis_name: str) -> Any:
    """The elementwise maximum of ``x`` over the shards of the enclosing :func:`pmap`.

    Raises
    ------
    AxisNameError
        Outside ``pmap``, or with another name than ``pmap``'s.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import pmap, pmax
    >>> pmap(lambda x: pmax(x.max(), "i"), axis_name="i", devices=2)(np.array([3, 1, 2, 0]))
    array([3, 3])
    """
    _check_axis_name("pmax", axis_name)
    return _frame_for("pmax", axis_name, x).reduce("max", x, axis_name)


def all_gather(x: Any, axis_name: str, *, axis: int = 0, tiled: bool = False) -> Any:
    """Every shard's ``x``, stacked along a new axis ``axis`` (or concatenated along
    ``axis`` with ``tiled=True``), on every shard, as ``jax.lax.all_gather``.

    Raises
    ------
    AxisNameError
        Outside ``pmap``, or with another name than ``pmap``'s.
    ArgumentTypeError
        If ``axis`` is not an int or ``tiled`` not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import all_gather, pmap
    >>> gathered = pmap(lambda x: all_gather(x, "i"), axis_name="i", devices=2)
    >>> gathered(np.array([1, 2, 3, 4])).shape  # 2 shards, each the (2, 2) stack
    (4, 2)
    """
    from ..errors import ArgumentTypeError

    _check_axis_name("all_gather", axis_name)
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ArgumentTypeError(f"all_gather: axis must be an int, got {axis!r}")
    if not isinstance(tiled, bool):
        raise ArgumentTypeError(f"all_gather: tiled must be True or False, got {tiled!r}")
    return _frame_for("all_gather", axis_name, x).all_gather(x, axis_name, axis, tiled)


def axis_index(axis_name: str) -> Any:
    """This shard's position along the axis of the enclosing :func:`pmap`: 0, 1, ...,
    as an int32 scalar array of the shard's backend (a Python-free value under JAX).

    Raises
    ------
    AxisNameError
        Outside ``pmap``, or with another name than ``pmap``'s.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.distributed import axis_index, pmap
    >>> pmap(lambda x: x + axis_index("i"), axis_name="i", devices=2)(np.zeros(4, int))
    array([0, 0, 1, 1])
    """
    _check_axis_name("axis_index", axis_name)
    frame = _frame.get()
    if frame is None:
        jax_frame = _jax_axis_outside_pmap(axis_name)
        if jax_frame is not None:
            return jax_frame.index(axis_name)
    return _frame_for("axis_index", axis_name, None).index(axis_name)


def _jax_axis_outside_pmap(axis_name: str) -> Frame | None:
    """Under a JAX trace (the user's own ``shard_map``), hand ``axis_index`` to JAX."""
    import sys

    jax = sys.modules.get("jax")
    if jax is None:
        return None
    try:
        jax.lax.axis_index(axis_name)
    except NameError:
        return None
    return JaxFrame(None, None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- thread shards
class _Broken(Exception):
    """Another shard failed first; this one stops without an error of its own."""


class Rendezvous:
    """Where ``n`` thread shards meet at each collective (see the module docstring)."""

    def __init__(self, n: int, timeout: float) -> None:
        self.n = n
        self.timeout = timeout
        self._barrier = threading.Barrier(n, timeout=timeout)
        # Two sets of slots, used in turn: a shard writes its next value into the other
        # set, which every shard has finished reading (it passed the barrier after that
        # read), so one barrier per collective is enough.
        self._slots: list[list[tuple[str, Any]]] = [[("", None)] * n, [("", None)] * n]
        self._calls = [0] * n
        self._aborted = False

    def abort(self) -> None:
        self._aborted = True
        self._barrier.abort()

    def _wait(self, index: int, label: str) -> None:
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            if self._aborted:
                raise _Broken() from None
            self._aborted = True
            raise DistributedTimeoutError(
                f"pmap shard {index} waited more than {self.timeout:g} s in {label} for "
                f"the other shards: a shard is stuck in its own code (raise the timeout "
                f"with backendkit.distributed.pmap(..., timeout=...))"
            ) from None

    def exchange(self, index: int, label: str, value: Any) -> list[Any]:
        """Every shard's ``value`` (in shard order), once all ``n`` have called this
        with the same ``label``."""
        if self.n == 1:
            return [value]
        turn = self._slots[self._calls[index] % 2]
        self._calls[index] += 1
        turn[index] = (label, value)
        self._wait(index, label)
        slots = list(turn)
        labels = [lab for lab, _ in slots]
        if len(set(labels)) > 1:
            what = "; ".join(f"shard {i}: {lab}" for i, lab in enumerate(labels))
            raise DistributedError(
                f"the shards of a pmap did not call the same collectives in the same order "
                f"({what}); every shard must run the same collectives (no collective "
                f"inside a branch that depends on the shard's data or index)"
            )
        return [v for _, v in slots]


class ThreadFrame(Frame):
    """A shard running in a thread of this process (NumPy, PyTorch in one process)."""

    def __init__(
        self, axis_name: str, size: int, index: int, device: Any, rendezvous: Rendezvous, ops: Any
    ) -> None:
        super().__init__(axis_name, size)
        self._index = index
        self.device = device
        self._rendezvous = rendezvous
        self._ops = ops  # the framework's array operations (_frameworks.Parallel)

    def _all(self, label: str, tree: Any) -> tuple[list[list[Any]], Any]:
        leaves, treedef = _tree.flatten(tree)
        trees = self._rendezvous.exchange(self._index, label, (leaves, treedef))
        for i, (_, other) in enumerate(trees):
            if other != treedef:
                raise DistributedError(
                    f"{label}: shard {i} passed a value of structure {_tree.describe(other)} "
                    f"where shard {self._index} passed {_tree.describe(treedef)}; every "
                    f"shard must pass the same structure"
                )
        by_leaf = [
            [self._ops.to_device(t[0][j], self.device) for t in trees] for j in range(len(leaves))
        ]
        return by_leaf, treedef

    def reduce(self, op: str, tree: Any, axis_name: str) -> Any:
        by_leaf, treedef = self._all({"sum": "psum", "mean": "pmean", "max": "pmax"}[op], tree)
        return _tree.unflatten(treedef, [self._ops.combine(op, values) for values in by_leaf])

    def all_gather(self, tree: Any, axis_name: str, axis: int, tiled: bool) -> Any:
        by_leaf, treedef = self._all(f"all_gather(axis={axis}, tiled={tiled})", tree)
        return _tree.unflatten(treedef, [self._ops.gather(v, axis, tiled) for v in by_leaf])

    def index(self, axis_name: str) -> Any:
        return self._ops.index_array(self._index, self.device)


def run_threads(
    fun: Callable[..., Any],
    shard_args: Callable[[int], tuple[Any, ...]],
    axis_name: str,
    devices: Sequence[Any],
    ops: Any,
    timeout: float,
) -> list[Any]:
    """``fun`` run once per device, each in its own thread (inline for one device) with
    its frame; every shard's output, in shard order. The first shard's exception is
    raised, with its own traceback."""
    n = len(devices)
    rendezvous = Rendezvous(n, timeout)
    outputs: list[Any] = [None] * n
    errors: list[BaseException | None] = [None] * n

    def work(i: int) -> None:
        token = enter(ThreadFrame(axis_name, n, i, devices[i], rendezvous, ops))
        try:
            out = fun(*shard_args(i))
            rendezvous.exchange(i, "return (no further collective)", None)
            outputs[i] = out
        except _Broken:
            pass  # another shard failed first: its error is the one reported
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            errors[i] = exc
            rendezvous.abort()
        finally:
            leave(token)

    if n == 1:
        work(0)
    else:
        threads = [
            threading.Thread(
                target=contextvars.copy_context().run,  # the caller's backend, device, dtype
                args=(work, i),
                name=f"backendkit-pmap-shard-{i}",
                daemon=True,
            )
            for i in range(n)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                t.join()
        except BaseException:  # KeyboardInterrupt: stop the shards at their next collective
            rendezvous.abort()
            raise
    failed = next((e for e in errors if e is not None), None)
    if failed is not None:
        raise failed
    return outputs


# ---------------------------------------------------------------------- outputs
def out_axes_per_leaf(out_axes: Any, tree: Any) -> list[int | None]:
    """``out_axes`` spelled out per leaf of the output ``tree``.

    Raises
    ------
    ArgumentValueError
        If ``out_axes`` is not a prefix of the output's structure.
    """
    try:
        return _tree.broadcast_prefix(out_axes, tree, "pmap: out_axes")
    except ValueError as exc:
        raise ArgumentValueError(str(exc)) from None


def assemble(outputs: list[Any], out_axes: Any, ops: Any) -> Any:
    """One output from every shard's: leaves with out axis 0 concatenated along their
    first axis (scalars stacked), leaves with ``None`` checked equal on every shard and
    given once.

    Raises
    ------
    DistributedError
        If shards returned different structures.
    ArgumentValueError
        If a leaf with out axis ``None`` differs between shards, or ``out_axes`` does
        not match the output.
    """
    flat = [_tree.flatten(o) for o in outputs]
    treedef = flat[0][1]
    for i, (_, other) in enumerate(flat[1:], start=1):
        if other != treedef:
            raise DistributedError(
                f"pmap: shard {i} returned {_tree.describe(other)} where shard 0 returned "
                f"{_tree.describe(treedef)}; every shard must return the same structure"
            )
    axes = out_axes_per_leaf(out_axes, outputs[0])
    combined = []
    for j, axis in enumerate(axes):
        values = [leaves[j] for leaves, _ in flat]
        if axis is None:
            for v in values[1:]:
                if not ops.equal(values[0], v):
                    raise not_replicated(j)
            combined.append(values[0])
        else:
            combined.append(ops.concat(values))
    return _tree.unflatten(treedef, combined)


def not_replicated(leaf: int | None) -> ArgumentValueError:
    where = "an output" if leaf is None else f"output leaf {leaf}"
    return ArgumentValueError(
        f"pmap: {where} has out_axes=None, which returns one copy of a value that must be "
        f"the same on every shard, but it differs between shards; reduce it first "
        f"(psum, pmean, pmax) or give it out_axes=0 to get every shard's part"
    )


def is_number(x: Any) -> bool:
    return type(x) in _NUMBERS


class JaxFrame(Frame):
    """A shard inside ``jax.shard_map``: the collectives are ``jax.lax``'s."""

    def binds(self, axis_name: Any) -> bool:
        return True  # JAX knows the axes it binds (a vmap axis inside the pmap too)

    def _lax(self, what: str, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from ..errors import AxisNameError

        try:
            return fn(*args, **kwargs)
        except NameError:
            inside = (
                ""
                if self.axis_name is None
                else f"the enclosing pmap maps over {self.axis_name!r}; "
            )
            raise AxisNameError(
                f"{what}: the axis name {name!r} is not bound here: {inside}use the "
                f"axis_name of the enclosing pmap"
            ) from None

    def reduce(self, op: str, tree: Any, axis_name: str) -> Any:
        lax = sys.modules["jax"].lax
        fn = {"sum": lax.psum, "mean": lax.pmean, "max": lax.pmax}[op]
        return self._lax(f"p{op}", axis_name, fn, tree, axis_name)

    def all_gather(self, tree: Any, axis_name: str, axis: int, tiled: bool) -> Any:
        lax = sys.modules["jax"].lax
        return self._lax(
            "all_gather", axis_name, lax.all_gather, tree, axis_name, axis=axis, tiled=tiled
        )

    def index(self, axis_name: str) -> Any:
        lax = sys.modules["jax"].lax
        return self._lax("axis_index", axis_name, lax.axis_index, axis_name)
