"""Random numbers that are the same on every backend for the same seed.

NumPy, JAX and PyTorch each have their own generators, so the same seed gives three
different streams, and code that is meant to agree across backends cannot be compared.
Here every function draws on the host, with NumPy's counter-based Philox generator
seeded through a :class:`numpy.random.SeedSequence`, and moves the result to the
backend with :func:`backendkit.asarray` (so the selected device and default dtype
apply). Hence:

* the same seed gives **bitwise the same float64 values on every backend**, and the
  same float32 values after the (correctly rounded) cast, done once on the host;
* the cost is a draw on the host's CPU plus a copy to the device: about as fast as
  NumPy's own generator, far slower than a GPU's for large arrays. Where speed matters
  more than agreement across backends, ``native=True`` uses the backend's own
  generator (``numpy.random.default_rng``, ``jax.random``, ``torch.Generator``), seeded
  from the same seed: reproducible on one backend, different across backends.

A seed is a non-negative int or a :class:`Key`. A function called twice with the same
seed or key returns the same values (as in JAX, keys are values, not stateful
generators); :meth:`Key.split` gives independent streams.

Bad seeds (negative, float, bool, other types) raise
:class:`~backendkit.ArgumentValueError` or :class:`~backendkit.ArgumentTypeError`
naming the value; a dtype a function cannot give raises
:class:`~backendkit.UnknownDtypeError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _dtypes, backends
from .arrays import asarray
from .backends import Backend
from .errors import ArgumentTypeError, ArgumentValueError, UnknownDtypeError
from .selection import current

__all__ = ["Key", "integers", "key", "normal", "permutation", "phasor", "uniform"]

_FLOATS = ("float16", "float32", "float64")
_COMPLEX = ("complex64", "complex128")
_INTS = ("int8", "int16", "int32", "int64", "uint8")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class Key:
    """A seed and a path of splits: one independent random stream.

    ``Key(seed)`` is the stream of the int ``seed``; ``key.split(n)`` gives ``n`` new
    keys whose streams are independent of each other and of ``key``'s (NumPy's
    :meth:`~numpy.random.SeedSequence.spawn` scheme). Keys are immutable values.

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Raises
    ------
    ArgumentTypeError, ArgumentValueError
        If ``seed`` is not a non-negative int.

    Examples
    --------
    >>> import backendkit as bk
    >>> a, b = bk.random.key(7).split()
    >>> a
    Key(seed=7, path=(0,))
    >>> bool((bk.random.normal(a, 3, backend="numpy") != bk.random.normal(b, 3, backend="numpy")).all())
    True
    """

    __slots__ = ("_path", "_seed")

    def __init__(self, seed: int, path: tuple[int, ...] = ()) -> None:
        self._seed = _check_seed(seed)
        self._path = tuple(int(p) for p in path)

    @property
    def seed(self) -> int:
        """The int this key's streams come from."""
        return self._seed

    @property
    def path(self) -> tuple[int, ...]:
        """Which split of which split... of ``Key(seed)`` this is."""
        return self._path

    def split(self, num: int = 2) -> tuple[Key, ...]:
        """``num`` new keys with independent streams.

        Raises
        ------
        ArgumentTypeError, ArgumentValueError
            If ``num`` is not a positive int.
        """
        if not _is_int(num):
            raise ArgumentTypeError(f"split: num must be an int, got {type(num).__name__} {num!r}")
        if num < 1:
            raise ArgumentValueError(f"split: num must be at least 1, got {num}")
        return tuple(Key(self._seed, (*self._path, i)) for i in range(int(num)))

    def _sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self._seed, spawn_key=self._path)

    def generator(self) -> np.random.Generator:
        """A fresh NumPy Philox generator at the start of this key's stream."""
        return np.random.Generator(np.random.Philox(self._sequence()))

    def native_seed(self) -> int:
        """A 32-bit int derived from this key, to seed a framework's own generator."""
        return int(self._sequence().generate_state(1, np.uint32)[0])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and (self._seed, self._path) == (other._seed, other._path)

    def __hash__(self) -> int:
        return hash((Key, self._seed, self._path))

    def __repr__(self) -> str:
        return f"Key(seed={self._seed}, path={self._path})"


def _check_seed(seed: Any) -> int:
    if not _is_int(seed):
        raise ArgumentTypeError(
            f"seed must be a non-negative int or a backendkit.random.Key, got "
            f"{type(seed).__name__} {seed!r}"
        )
    if seed < 0:
        raise ArgumentValueError(f"seed must be a non-negative int, got {seed}")
    return int(seed)


def key(seed: int) -> Key:
    """The :class:`Key` of int ``seed`` (the same stream as passing ``seed`` itself).

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.random.key(0)
    Key(seed=0, path=())
    """
    return Key(seed)


def _key(seed: Any) -> Key:
    return seed if isinstance(seed, Key) else Key(seed)


def _shape(shape: Any) -> tuple[int, ...]:
    dims = (shape,) if _is_int(shape) else shape
    if not isinstance(dims, (tuple, list)) or not all(_is_int(d) for d in dims):
        raise ArgumentTypeError(
            f"shape must be an int or a tuple of ints, got {type(shape).__name__} {shape!r}"
        )
    if any(d < 0 for d in dims):
        raise ArgumentValueError(f"shape must not have negative sizes, got {shape!r}")
    return tuple(int(d) for d in dims)


def _backend(name: str | None) -> Backend:
    return current() if name is None else backends.load(backends.canonical_name(name))


def _dtype(dtype: Any, allowed: tuple[str, ...], default: str, what: str) -> str:
    if dtype is None:
        return default
    if isinstance(dtype, str):
        name = dtype
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:  # a torch dtype
            name = str(dtype).rpartition(".")[2]
    if name not in allowed:
        raise UnknownDtypeError(f"{what} gives {', '.join(allowed)}; got dtype {dtype!r}")
    return name


def _deliver(host: np.ndarray, backend: Backend, dtype: str) -> Any:
    # cast on the host (one correctly rounded cast, the same for every backend), move once
    return asarray(np.asarray(host, dtype=dtype), backend=backend.name, dtype=dtype)


def _native(draw: Callable[..., Any], k: Key, backend: Backend, dtype: str, *args: Any) -> Any:
    """``draw(seed, ..., framework dtype, *args)``: one of the backend's ``random_*``
    methods, its result placed on the selected device."""
    out = draw(k.native_seed(), *args[:1], _dtypes.framework_dtype(backend, dtype), *args[1:])
    return asarray(out, backend=backend.name)  # onto the selected device


def normal(
    seed: int | Key,
    shape: int | tuple[int, ...] = (),
    *,
    dtype: Any = None,
    backend: str | None = None,
    native: bool = False,
) -> Any:
    """Standard normal values (mean 0, standard deviation 1).

    Parameters
    ----------
    seed : int or Key
        The stream.
    shape : int or tuple of ints, default ()
        The result's shape.
    dtype : {"float16", "float32", "float64"}, optional
        Default: the default dtype (:func:`backendkit.set_default_dtype`), else the
        backend's own floating dtype.
    backend : str, optional
        Default: the current backend.
    native : bool, default False
        Use the backend's own generator: faster on accelerators, not the same values
        across backends (see :mod:`backendkit.random`).

    Returns
    -------
    array
        An array of ``backend``; the same values on every backend for one seed.

    Raises
    ------
    ArgumentTypeError, ArgumentValueError
        For a bad seed or shape.
    UnknownDtypeError
        For a dtype that is not floating.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.random.normal(0, 3, dtype="float64", backend="numpy")
    array([-0.20597403, -0.12884495, -0.28978988])
    """
    k, dims, b = _key(seed), _shape(shape), _backend(backend)
    name = _dtype(dtype, _FLOATS, _dtypes.float_name(b), "normal")
    if native:
        return _native(b.random_normal, k, b, name, dims)
    return _deliver(k.generator().standard_normal(dims), b, name)


def uniform(
    seed: int | Key,
    shape: int | tuple[int, ...] = (),
    *,
    low: float = 0.0,
    high: float = 1.0,
    dtype: Any = None,
    backend: str | None = None,
    native: bool = False,
) -> Any:
    """Values uniform in ``[low, high)``.

    Parameters are as in :func:`normal`, plus ``low`` and ``high`` (Python numbers,
    ``low < high``). After the cast to float32 a value that would round to ``high`` is
    set to the largest float32 below it, so ``high`` is never returned.

    Raises
    ------
    ArgumentValueError
        If ``low >= high`` or either is not finite.

    Examples
    --------
    >>> import backendkit as bk
    >>> x = bk.random.uniform(0, (2, 2), low=-1.0, high=1.0, backend="numpy")
    >>> bool((x >= -1).all() and (x < 1).all())
    True
    """
    k, dims, b = _key(seed), _shape(shape), _backend(backend)
    name = _dtype(dtype, _FLOATS, _dtypes.float_name(b), "uniform")
    low, high = _bounds(low, high)
    if native:
        return _native(b.random_uniform, k, b, name, dims, low, high)
    values = np.asarray(low + (high - low) * k.generator().random(dims), dtype=name)
    below_high = np.nextafter(np.asarray(high, dtype=name), np.asarray(low, dtype=name))
    return _deliver(np.minimum(values, below_high), b, name)


def _bounds(low: Any, high: Any) -> tuple[float, float]:
    for label, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ArgumentTypeError(f"uniform: {label} must be a number, got {v!r}")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ArgumentValueError(f"uniform: needs finite low < high, got low={low}, high={high}")
    return float(low), float(high)


def integers(
    seed: int | Key,
    shape: int | tuple[int, ...] = (),
    low: int = 0,
    high: int | None = None,
    *,
    dtype: Any = None,
    backend: str | None = None,
    native: bool = False,
) -> Any:
    """Integers uniform in ``[low, high)`` (``[0, low)`` when ``high`` is not given).

    Drawn as int64 on the host, so the values do not depend on ``dtype``.

    Parameters
    ----------
    seed, shape, backend, native
        As in :func:`normal`.
    low, high : int
        The range; ``high`` is excluded.
    dtype : {"int8", "int16", "int32", "int64", "uint8"}, optional
        Default: the backend's own integer dtype (int32 under JAX without 64-bit mode).

    Raises
    ------
    ArgumentTypeError
        If a bound is not an int.
    ArgumentValueError
        If ``low >= high`` or the range does not fit ``dtype``.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.random.integers(0, 5, 10, dtype="int64", backend="numpy")
    array([1, 0, 9, 2, 3])
    """
    k, dims, b = _key(seed), _shape(shape), _backend(backend)
    name = _dtype(dtype, _INTS, b.default_int_name(), "integers")
    if high is None:
        low, high = 0, low
    for label, v in (("low", low), ("high", high)):
        if not _is_int(v):
            raise ArgumentTypeError(f"integers: {label} must be an int, got {v!r}")
    low, high = int(low), int(high)
    info = np.iinfo(name)
    if low >= high or low < info.min or high - 1 > info.max:
        raise ArgumentValueError(
            f"integers: needs low < high within {name} ({info.min}..{info.max}), got "
            f"low={low}, high={high}"
        )
    if native:
        return _native(b.random_integers, k, b, name, dims, low, high)
    return _deliver(k.generator().integers(low, high, size=dims, dtype=np.int64), b, name)


def permutation(
    seed: int | Key,
    x: Any,
    *,
    dtype: Any = None,
    backend: str | None = None,
    native: bool = False,
) -> Any:
    """A random permutation of ``range(x)`` (an int), or of ``x``'s rows (an array).

    Parameters
    ----------
    seed, native
        As in :func:`normal`.
    x : int or array
        An int ``n`` gives a permutation of ``0 .. n-1``; an array gives a copy with
        its first axis shuffled, of ``x``'s backend (host data: ``backend``'s).
    dtype : integer dtype name, optional
        For an int ``x``; default the backend's own integer dtype.
    backend : str, optional
        Default: ``x``'s backend, else the current one.

    Examples
    --------
    >>> import backendkit as bk
    >>> bk.random.permutation(0, 5, backend="numpy")
    array([0, 3, 4, 2, 1])
    """
    k = _key(seed)
    if _is_int(x):
        b = _backend(backend)
        name = _dtype(dtype, _INTS, b.default_int_name(), "permutation")
        if x < 0:
            raise ArgumentValueError(f"permutation: x must be >= 0 or an array, got {x}")
        if native:
            return _native(b.random_permutation, k, b, name, int(x))
        return _deliver(k.generator().permutation(int(x)), b, name)
    owner = backends.owner_of(x)
    if backends.is_framework(owner):
        if backend is not None and backends.canonical_name(backend) != owner:
            raise ArgumentValueError(
                f"permutation: x is a {owner} array but backend={backend!r}; convert it "
                f"first with backendkit.convert(x, to={backend!r})"
            )
        backend = owner
    x = asarray(x, backend=backend)
    if not getattr(x, "ndim", 0):
        raise ArgumentValueError("permutation: x must be an int or an array with an axis")
    n = int(x.shape[0])
    if native:
        b = backends.load(backends.owner_of(x) or backends.host_name())
        order = b.to_numpy(_native(b.random_permutation, k, b, "int64", n))
    else:
        order = k.generator().permutation(n)
    return x[order]


def phasor(
    seed: int | Key,
    shape: int | tuple[int, ...] = (),
    *,
    dtype: Any = None,
    backend: str | None = None,
    native: bool = False,
) -> Any:
    """Unit complex numbers ``exp(i theta)``, ``theta`` uniform in ``[-pi, pi)``.

    The random phasors of FHRR hypervectors (binding is the elementwise product,
    similarity the mean real part of ``a * conj(b)``).

    Parameters
    ----------
    seed, shape, backend, native
        As in :func:`normal`.
    dtype : {"complex64", "complex128"}, optional
        Default: complex64 for a default (or backend) float dtype of float32,
        complex128 for float64.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> z = bk.random.phasor(0, 1000, dtype="complex128", backend="numpy")
    >>> bool(np.allclose(abs(z), 1.0))
    True
    """
    k, dims, b = _key(seed), _shape(shape), _backend(backend)
    name = _dtype(dtype, _COMPLEX, _dtypes.complex_name(b), "phasor")
    if native:
        real = "float32" if name == "complex64" else "float64"
        theta = _native(b.random_uniform, k, b, real, dims, -math.pi, math.pi)
        return asarray(b.namespace.exp(1j * theta), backend=b.name, dtype=name)
    theta = -math.pi + 2 * math.pi * k.generator().random(dims)
    # cos + i sin written into one array: the bits of exp(1j * theta) (NumPy's complex
    # exp of a purely imaginary number is exactly that), in half its time
    unit = np.empty(theta.shape, dtype=np.complex128)
    np.cos(theta, out=unit.real)
    np.sin(theta, out=unit.imag)
    return _deliver(unit, b, name)
