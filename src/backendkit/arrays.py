"""Making, reading and converting arrays across backends.

Host data (Python scalars and lists, NumPy arrays) becomes any backend's array with
:func:`asarray`; an array of one framework becomes another's only through
:func:`convert`, which says so in its name: backendkit never converts silently.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from . import backends
from .errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BackendError,
    BackendMismatchError,
    UnknownDtypeError,
)
from .selection import current

__all__ = ["asarray", "convert", "to_numpy"]


def _target(name: str | None) -> backends.Backend:
    return current() if name is None else backends.load(backends.canonical_name(name))


def _dtype_arg(backend: backends.Backend, dtype: Any, data: Any = None) -> Any:
    # the default dtype for floating host data, names resolved (JAX x64 on demand)
    from ._dtypes import resolve_dtype

    return resolve_dtype(backend, dtype, data)


def _device_arg(backend: backends.Backend, device: Any) -> Any:
    from ._devices import default_device, framework_device

    return default_device(backend) if device is None else framework_device(backend, device)


def asarray(x: Any, backend: str | None = None, dtype: Any = None, device: Any = None) -> Any:
    """``x`` as an array of ``backend`` (default: the current backend).

    Parameters
    ----------
    x : array_like
        Python scalars or (nested) lists, a NumPy array, or an array of ``backend``
        itself. An array of another framework is refused: use :func:`convert`.
    backend : str, optional
        Backend name. Default: the backend of ``x`` if it is a JAX or PyTorch array
        (the dispatch rule), else the current one.
    dtype : str or dtype, optional
        ``"float32"``, ``"float64"``, ... or a framework dtype. Default: for floating
        (complex) host data the default dtype (:func:`backendkit.set_default_dtype`,
        its complex match) if one is set; otherwise, and for integers, booleans and
        the backend's own arrays, the framework's own rule.
    device : str, optional
        Where the array lands, e.g. ``"cpu"`` or ``"gpu:0"``; default the selected
        device (:func:`backendkit.set_device`), else the framework's default.

    Raises
    ------
    BackendMismatchError
        If ``x`` is an array of a framework other than ``backend``.
    ArgumentTypeError
        If ``x`` is no numeric host data (a dict, a string, ``None``, a set, an
        iterator, a NumPy array of strings or objects, a list holding any of these),
        or ``dtype`` is no dtype; the message says where in ``x`` and what to do.
    ArgumentValueError
        If nested lists are ragged, or a Python integer does not fit: in int64, in the
        ``dtype`` asked for, or in JAX's int32 while its 64-bit mode is off.
    UnknownDtypeError
        If ``dtype`` names no dtype backendkit knows, or a non-numeric one.

    The same class for the same mistake on every backend; good data pays nothing
    for these checks (the reason is looked for only when the conversion failed).

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.asarray([1.0, 2.0], backend="numpy")
    array([1., 2.])
    >>> bk.asarray([[1.0, 2.0], [3.0]], backend="numpy")
    Traceback (most recent call last):
    ...
    backendkit.errors.ArgumentValueError: asarray: x[1] has shape (1,) but x[0] has shape (2,): nested lists must be rectangular (a ragged list makes no array); pad the rows to one length, or keep them as separate arrays
    """
    owner = backends.owner_of(x)
    if backend is None and backends.is_framework(owner):
        # the dispatch rule: a JAX or PyTorch array chooses its own backend
        target = backends.load(owner)
    else:
        target = _target(backend)
    if backends.is_framework(owner) and owner != target.name:
        raise BackendMismatchError(
            f"asarray got a {owner} array ({type(x).__module__}.{type(x).__name__}) for "
            f"the {target.name} backend; backendkit converts between frameworks only on "
            f"request: use backendkit.convert(x, to={target.name!r})"
        )
    host = not backends.is_framework(owner)
    if host and dtype is not None:
        _check_fits(x, dtype)  # torch would wrap -1 to 255 in uint8 silently
    try:
        out = target.asarray(
            x, dtype=_dtype_arg(target, dtype, x), device=_device_arg(target, device)
        )
    # Warning: one raised as an error (-W error) by a framework puzzled by the data
    except (TypeError, ValueError, RuntimeError, OverflowError, Warning) as exc:
        problem = None if not host or isinstance(exc, BackendError) else _problem(x, dtype)
        if problem is None and isinstance(exc, OverflowError):
            problem = _narrow_default(x, target.name)
        if problem is None:
            raise
        raise problem from exc
    if host and target.host and _odd_result(out, x, dtype):
        # NumPy makes object, string or uint64 arrays where the others raise
        problem = _problem(x, dtype)
        if problem is not None:
            raise problem
    return out


# ------------------------------------------------------------------ host data checks
# The frameworks answer data that makes no numeric array each in its own way (NumPy an
# object or string array, JAX a TypeError, PyTorch a RuntimeError), or not at all (a
# Python -1 becomes 255 in a PyTorch uint8). asarray converts first and looks for the
# reason only when something went wrong, so that good data pays nothing for the check.
_NUMERIC_KINDS = frozenset("biufc")
_INT64 = (-(2**63), 2**63)
_HOST_HELP = (
    "host data must be numbers, rectangular (nested) lists or tuples of numbers, or a "
    "numeric NumPy array"
)


def _odd_result(out: Any, x: Any, dtype: Any) -> bool:
    kind = out.dtype.kind
    if kind not in _NUMERIC_KINDS:
        return True
    # Python ints beyond int64: NumPy alone makes uint64 of them
    return out.dtype == np.uint64 and dtype is None and not isinstance(x, np.ndarray)


def _shown(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _problem(x: Any, dtype: Any, func: str = "asarray") -> BackendError | None:
    """Why ``x`` (with ``dtype``) makes no numeric array, as the error to raise; ``None``
    when no reason is found (the framework's own error then stands)."""
    problem = _dtype_problem(dtype) or _data_problem(x, "x")
    if problem is None and dtype is not None:
        problem = _complex_problem(x, dtype)
    if problem is not None:
        problem.args = (f"{func}: {problem.args[0]}",)
    return problem


def _dtype_problem(dtype: Any) -> BackendError | None:
    if dtype is None or isinstance(dtype, str):
        return None  # names are checked where they are resolved
    if type(dtype).__module__.partition(".")[0] in ("torch", "jax", "jaxlib"):
        return None  # a framework's own dtype object
    try:
        kind = np.dtype(dtype).kind
    except (TypeError, ValueError):
        return ArgumentTypeError(
            f"dtype must be a dtype name such as 'float32' or a NumPy, JAX or PyTorch "
            f"dtype, got {type(dtype).__name__} {_shown(dtype)}"
        )
    if kind not in _NUMERIC_KINDS:
        return UnknownDtypeError(
            f"dtype {_shown(dtype)} is not a numeric dtype; arrays hold booleans, integers, "
            f"floating or complex numbers"
        )
    return None


def _data_problem(x: Any, where: str) -> BackendError | None:
    if isinstance(x, (bool, np.bool_, float, complex, np.number)):
        return None
    if isinstance(x, int):
        if _INT64[0] <= x < _INT64[1]:
            return None
        return ArgumentValueError(
            f"{where} = {x} does not fit in int64, the widest integer every backend has; "
            f"give it as a float (float({where})) if an approximation will do"
        )
    if isinstance(x, np.ndarray):
        if x.dtype.kind in _NUMERIC_KINDS:
            return None
        return ArgumentTypeError(
            f"{where} is a NumPy array of dtype {x.dtype}, not numbers; {_HOST_HELP}"
        )
    if isinstance(x, (list, tuple)):
        for i, item in enumerate(x):
            problem = _data_problem(item, f"{where}[{i}]")
            if problem is not None:
                return problem
        if backends.is_framework(backends.single_owner(x)):
            return None  # framework arrays in a list: the dispatch rule's business
        shapes = [np.shape(item) for item in x]
        for i, shape in enumerate(shapes):
            if shape != shapes[0]:
                return ArgumentValueError(
                    f"{where}[{i}] has shape {shape} but {where}[0] has shape {shapes[0]}: "
                    f"nested lists must be rectangular (a ragged list makes no array); "
                    f"pad the rows to one length, or keep them as separate arrays"
                )
        return None
    if backends.owner_of(x) is not None:
        return None
    if x is None:
        return ArgumentTypeError(f"{where} is None; {_HOST_HELP} (use float('nan') for a gap)")
    if isinstance(x, Mapping):
        fix = f"e.g. list({where}.values())"
    elif isinstance(x, (set, frozenset)):
        fix = f"a set has no order: e.g. sorted({where})"
    elif isinstance(x, Iterator):
        fix = f"iterators are not read: e.g. list({where})"
    elif isinstance(x, (str, bytes)):
        fix = "parse the text first, e.g. float(s)"
    elif hasattr(x, "__array__") or hasattr(x, "__array_interface__"):
        try:
            kind = np.asarray(x).dtype.kind
        except Exception:  # noqa: BLE001 - any failure: the framework's error stands
            return None
        if kind in _NUMERIC_KINDS:
            return None
        fix = "it gives no numbers as an array"
    else:
        fix = "convert it to numbers first"
    return ArgumentTypeError(f"{where} is a {type(x).__name__} ({_shown(x)}); {_HOST_HELP}: {fix}")


def _narrow_default(x: Any, backend: str) -> BackendError | None:
    """The error for Python integers beyond the backend's default integer dtype (int32
    under JAX until its 64-bit mode is on)."""
    for where, value in _integers(x, "x"):
        if not -(2**31) <= value < 2**31:
            return ArgumentValueError(
                f"asarray: {where} = {value} does not fit in int32, the integer dtype "
                f"{backend} gives Python integers now (JAX's 64-bit mode is off); ask "
                f"for dtype='int64', which switches it on"
            )
    return None


@functools.lru_cache(maxsize=64)
def _integer_range(dtype: Any) -> tuple[str, int, int] | None:
    """``(name, min, max)`` of the integer dtype ``dtype`` stands for, else ``None``."""
    if isinstance(dtype, str):
        name = dtype
    else:
        try:
            name = np.dtype(dtype).name
        except (TypeError, ValueError):
            name = str(dtype).rpartition(".")[2]  # torch.int8
    if not name.startswith(("int", "uint")):
        return None
    try:
        info = np.iinfo(name)
    except ValueError:
        return None
    return name, int(info.min), int(info.max)


def _check_fits(x: Any, dtype: Any) -> None:
    """Raise if a Python integer in ``x`` does not fit in integer dtype ``dtype``."""
    if isinstance(x, (np.ndarray, np.generic)):
        return  # arrays are cast as the frameworks cast them, the same way everywhere
    try:
        found = _integer_range(dtype)
    except TypeError:  # unhashable: no dtype at all, said where it is resolved
        return
    if found is None:
        return
    name, low, high = found
    for where, value in _integers(x, "x"):
        if not low <= value <= high:
            raise ArgumentValueError(
                f"asarray: {where} = {value} does not fit in {name} ({low} to {high}); "
                f"ask for a wider dtype"
            )


def _integers(x: Any, where: str) -> Iterator[tuple[str, int]]:
    if isinstance(x, int) and not isinstance(x, bool):
        yield where, x
    elif isinstance(x, (list, tuple)):
        for i, item in enumerate(x):
            yield from _integers(item, f"{where}[{i}]")


def _complex_problem(x: Any, dtype: Any) -> BackendError | None:
    try:
        data_kind = np.asarray(x).dtype.kind
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
        target_kind = np.dtype(name).kind
    except (TypeError, ValueError):
        return None
    if data_kind == "c" and target_kind != "c":
        return ArgumentTypeError(
            f"x holds complex numbers, which {name} cannot hold; take x.real (or "
            f"abs(x)) first, or ask for a complex dtype"
        )
    return None


def to_numpy(x: Any) -> np.ndarray:
    """Any backend's array (or host data) as a NumPy array.

    On the CPU the result shares memory with ``x`` where the framework allows
    (PyTorch tensors, JAX arrays read-only); device arrays are copied to the host.

    Raises
    ------
    ArgumentTypeError, ArgumentValueError
        For host data that makes no numeric array, as :func:`asarray`.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.to_numpy([1, 2])
    array([1, 2])
    """
    owner = backends.owner_of(x)
    if owner is None:
        try:
            out = np.asarray(x)
        except (TypeError, ValueError, OverflowError) as exc:
            problem = _problem(x, None, "to_numpy")
            if problem is None:
                raise
            raise problem from exc
        if out.dtype.kind not in _NUMERIC_KINDS:
            problem = _problem(x, None, "to_numpy")
            if problem is not None:
                raise problem
        return out
    return backends.load(owner).to_numpy(x)


def convert(x: Any, to: str, device: Any = None) -> Any:
    """``x`` as an array of backend ``to``, through DLPack without a copy where possible.

    Parameters
    ----------
    x : array
        An array of any backend, or host data.
    to : str
        The target backend name.
    device : str, optional
        Move the result there (a copy when it is not there already). Default: the
        selected device (:func:`backendkit.set_device`) if one is, else where the
        data already is.

    Returns
    -------
    array
        On the CPU, NumPy <-> PyTorch results share memory with ``x``; JAX may copy
        when the buffer does not meet its alignment. Where DLPack cannot be used
        (read-only NumPy arrays, tensors that require grad), a copy is made.

    Notes
    -----
    A result that shares a JAX array's buffer must not be written to: JAX arrays are
    immutable and JAX assumes they never change. NumPy results are read-only for that
    reason; PyTorch has no read-only tensors, so ``convert(jax_array, to="torch")``
    returns a writable tensor on the same memory: ``.clone()`` it before writing.
    Likewise, a PyTorch tensor converted to JAX must not be written to afterwards.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> bk.convert(np.arange(3), to="numpy")
    array([0, 1, 2])
    """
    target = backends.load(backends.canonical_name(to, source="target backend"))
    owner = backends.owner_of(x)
    if owner is None:
        return asarray(x, backend=target.name, device=device)
    if owner != target.name:
        source = backends.load(owner)
        try:
            x = target.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError, ValueError):
            x = target.asarray(source.to_numpy(x))
    placed = _device_arg(target, device)  # device=None: the selected device, if any
    if placed is not None:
        x = target.asarray(x, device=placed)
    return x
