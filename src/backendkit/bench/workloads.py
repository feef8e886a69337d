"""The workloads the benchmark times, each written once with backendkit.

Every workload is one function of backendkit's portable API (``xp``, ``put``,
``fori_loop``, ``jit``, ``random``), so the same code runs on NumPy, JAX and PyTorch
and the numbers compare like with like. A workload is a recipe in two steps:

``setup(size, seed)``
    runs first, untimed, with the backend and device already chosen: it makes the
    inputs (from :mod:`backendkit.random`, so that every backend gets the very same
    values) and returns the function to time and its arguments;
``fn(*args)``
    is what the engine times. Its result is compared across backends, to the
    workload's tolerance, before its time counts.

The kernels are wrapped in :func:`backendkit.jit`, as portable code would be: JAX
compiles them (the first call shows the cost), NumPy and PyTorch run them as written.

**Each framework's fastest idiomatic form.** A workload that times a framework's
operation (bind, bundle, similarity, encoding, copy, matrix product, FFT, the CNN's
``predict_on_batch``) must cost what the framework's own form of it costs, or the
table misjudges the framework: ``benchmarks/native_forms.py`` writes each again in
plain NumPy, JAX and PyTorch and times both, and ``tests/test_bench.py`` fails where
the engine's time of the workload is more than half as long again as :mod:`timeit`'s
of the native form. Three workloads time backendkit's own layer by design:
``fhrr_random`` (the counter-based generator that gives every backend the same
values, drawn on the host), ``fori_put`` (the portable loop and update; on NumPy and
PyTorch a Python loop of ``put`` calls, each checking its index) and ``scaling``.

**Tolerances** admit TF32, the default precision of JAX's float32 matrix products and
convolutions on NVIDIA GPUs since Ampere, and of PyTorch's cuDNN convolutions: about
ten bits of mantissa per operand. Emulated on the CPU (operands rounded to TF32,
products summed exactly), it moves the 1,000 similarities by up to 6e-6 (largest
value 0.023) and the CNN's 1,024 predictions by up to 1.7e-4 (largest 0.46): so these
workloads, like ``matmul``, are checked to ``2e-3 max|ref|``, well below the
differences a wrong result makes.

The FHRR operations are those of HoloVec's published backend table (random vector,
bind, bundle of 100, similarity of 1,000 queries, fractional power encoding of 1,000
scalars) at its dimension, 10,000; FHRR hypervectors are unit complex numbers
(phasors), bound by multiplication and compared by the mean cosine of their phase
differences. ``copy`` measures the memory bandwidth that bind, which reads two vectors
and writes one, should approach at large dimensions. Matrix products and FFTs cover
dense numerics, ``fori_put`` the loop-and-update pattern of DESC, ``cnn_predict`` a
Keras model (the flare CNN of the Keras tutorial, with fixed weights), ``scaling`` an
FHRR similarity search split over 1, 2, 4 and 8 devices (:mod:`backendkit.distributed`): JAX
needs that many devices (on a CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=8``
in the environment before the benchmark starts emulates them, sharing its cores: a
measure of overhead, not of speed-up); NumPy, and PyTorch on a CPU, run the shards as
threads on their one device.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import BenchmarkError

__all__ = ["WORKLOADS", "Workload", "get_workload"]

Setup = Callable[[int, int], tuple[Callable[..., Any], tuple[Any, ...]]]


@dataclass(frozen=True)
class Workload:
    """A computation to time on every backend, and how to check its result.

    Parameters
    ----------
    name : str
        What ``--workload`` and ``benchmark(workloads=...)`` call it.
    setup : callable
        ``setup(size, seed) -> (fn, args)``, run with the backend and device chosen;
        it makes the inputs (untimed) and returns the function to time. It must be
        picklable by cloudpickle (a module-level function, or one defined in a script
        or notebook), because it runs in a child process.
    sizes : tuple of int
        Sizes run when none are asked for.
    size_label : str
        What the size is (``dimension``, ``n``), for tables and plot axes.
    description : str
        One line for listings.
    rtol, atol : float
        The cross-backend check: results ``a`` and reference ``r`` agree when
        ``max|a - r| <= atol + rtol * max|r|`` (with equal shapes and dtypes).
    keras : bool
        The workload imports Keras: the engine configures the child's Keras backend
        to match, and skips the workload with a reason where Keras is not installed.
    bytes_per_item : int
        For a workload bound by memory bandwidth: the bytes one call must read and
        write per unit of size (a bind of complex64 vectors reads two and writes one:
        24), from which :func:`backendkit.bench.targets.bandwidth` gives bytes per
        second; 0 (the default) for the others.

    Examples
    --------
    >>> from backendkit import xp
    >>> from backendkit.bench import Workload
    >>> def setup(size, seed):
    ...     return (lambda x: xp.cumsum(x)), (xp.ones(size),)
    >>> w = Workload("cumsum", setup, sizes=(1000,), description="running sum")
    >>> fn, args = w.setup(4, 0)
    >>> fn(*args)
    array([1., 2., 3., 4.])
    """

    name: str
    setup: Setup
    sizes: tuple[int, ...] = (1000,)
    size_label: str = "size"
    description: str = ""
    rtol: float = 1e-5
    atol: float = 0.0
    keras: bool = False
    bytes_per_item: int = 0

    @property
    def tolerance(self) -> str:
        """The check's rule in words, as tables print it."""
        terms = [f"{self.atol:g}"] if self.atol else []
        terms += [f"{self.rtol:g} max|ref|"] if self.rtol else []
        return f"|diff| <= {' + '.join(terms)}" if terms else "exact"

    def info(self) -> dict[str, Any]:
        """What a result records about this workload."""
        return {
            "description": self.description,
            "size_label": self.size_label,
            "rtol": self.rtol,
            "atol": self.atol,
            "tolerance": self.tolerance,
            "bytes_per_item": self.bytes_per_item,
        }


def _random() -> Any:
    # backendkit.random shadows the standard library's module name inside this package
    from .. import random

    return random


# ------------------------------------------------------------------ FHRR (HoloVec table)
def _fhrr_random(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    random = _random()

    def random_vector() -> Any:
        return random.phasor(seed, (size,), dtype="complex64")

    return random_vector, ()


def _bind(a: Any, b: Any) -> Any:
    return a * b


#: the most phasors drawn for one vector; a longer one repeats them. At large sizes
#: bind and copy measure memory traffic, which repetition does not change, and drawing
#: 1e8 reproducible phasors on the host takes seconds per vector.
_DRAWN = 1 << 20


def _phasors(seed: int, size: int) -> Any:
    """``size`` random phasors (complex64) on the chosen backend and device."""
    random = _random()
    if size <= _DRAWN:
        return random.phasor(seed, (size,), dtype="complex64")
    import numpy as np

    from .. import asarray

    drawn = random.phasor(seed, (_DRAWN,), dtype="complex64", backend="numpy")
    return asarray(np.resize(drawn, size), dtype="complex64")


def _fhrr_bind(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import jit

    return jit(_bind), (_phasors(seed, size), _phasors(seed + 1, size))


def _bundle(vectors: Any) -> Any:
    from .. import xp

    # FHRR bundling: add, then bring every component back to the unit circle
    total = xp.sum(vectors, axis=0)
    return total / xp.abs(total)


def _fhrr_bundle(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import jit

    vectors = _random().phasor(seed, (100, size), dtype="complex64")
    return jit(_bundle), (vectors,)


def _similarity(queries: Any, target: Any) -> Any:
    from .. import xp

    # mean over components of cos(phase difference) = Re(q . conj(t)) / dimension
    return xp.real(queries @ xp.conj(target)) / target.shape[-1]


def _fhrr_similarity(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import jit

    random = _random()
    queries = random.phasor(seed, (1000, size), dtype="complex64")
    target = random.phasor(seed + 1, (size,), dtype="complex64")
    return jit(_similarity), (queries, target)


def _encode(values: Any, phases: Any) -> Any:
    from .. import xp

    # fractional power encoding: the base phasor exp(i*phases) raised to each value.
    # exp(i*theta) spelled cos + i sin: NumPy's and PyTorch's complex exp does not see
    # that the real part is zero, and took 13 and 10 times as long (XLA sees it).
    theta = values[:, None] * phases[None, :]
    return xp.cos(theta) + 1j * xp.sin(theta)


def _fhrr_encode(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import jit

    random = _random()
    values = random.uniform(seed, (1000,), dtype="float32")
    phases = random.uniform(seed + 1, (size,), low=-math.pi, high=math.pi, dtype="float32")
    return jit(_encode), (values, phases)


# ------------------------------------------------------------------ memory bandwidth
def _copy(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import xp

    x = _phasors(seed, size)
    # xp.copy is each framework's own copy (numpy.copy, jax.numpy.copy, Tensor.clone);
    # xp.asarray(x, copy=True) took 3 to 5 times as long at 10,000 values. Not jitted:
    # under jit, JAX may hand the input back instead of copying it.
    return xp.copy, (x,)


# ------------------------------------------------------------------ dense linear algebra
def _matmul_kernel(a: Any, b: Any) -> Any:
    return a @ b


def _matmul(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import jit

    random = _random()
    a = random.normal(seed, (size, size), dtype="float32")
    b = random.normal(seed + 1, (size, size), dtype="float32")
    return jit(_matmul_kernel), (a, b)


def _fft_kernel(x: Any) -> Any:
    from .. import xp

    return xp.fft.fft(x)


def _fft(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import jit

    x = _random().phasor(seed, (size,), dtype="complex64")
    return jit(_fft_kernel), (x,)


# ------------------------------------------------------------------ loops and updates
def _fori_put(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import fori_loop, jit, put, xp

    def body(i: Any, x: Any) -> Any:
        # copy=False: the loop holds the only reference, so NumPy and PyTorch may
        # write in place (JAX's jit reuses the buffer by itself)
        return put(x, i, 2.0 * i + 1.0, copy=False)

    def fill() -> Any:
        return fori_loop(0, size, body, xp.zeros(size, dtype=xp.float32))

    return jit(fill), ()


# ------------------------------------------------------------------ Keras
def _cnn_predict(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    from .. import to_numpy
    from .flare import flare_cnn

    random = _random()
    model = flare_cnn(window=200)
    # Keras' initialisers draw from each backend's own generator; weights from
    # backendkit.random are the same everywhere, so the predictions can be compared.
    weights = [
        0.1 * to_numpy(random.normal(seed + i, tuple(w.shape), dtype="float32"))
        for i, w in enumerate(model.get_weights())
    ]
    model.set_weights(weights)
    windows = to_numpy(random.normal(seed + len(weights), (size, 200, 1), dtype="float32"))
    return model.predict_on_batch, (windows,)


# ------------------------------------------------------------------ scaling out
#: the fixed problem of ``scaling``: FHRR hypervectors searched, and their dimension
_SCALING_PROBLEM = (4096, 1024)


def _scaling_kernel(memory: Any, query: Any) -> Any:
    from .. import xp
    from ..distributed import pmax

    # this device's part of the search, scaled by the best score over every device
    scores = xp.real(memory @ xp.conj(query)) / memory.shape[-1]
    return scores / pmax(xp.max(xp.abs(scores)), "data")


def _scaling(size: int, seed: int) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    import numpy as np

    from .. import to_numpy
    from ..distributed import mesh, pmap, replicate, shard

    random = _random()
    memory = random.phasor(seed, _SCALING_PROBLEM, dtype="complex64")
    query = random.phasor(seed + 1, _SCALING_PROBLEM[1:], dtype="complex64")
    devices = mesh(size)  # "size" devices; the problem stays the same (strong scaling)
    # laid out once, as data-parallel code keeps its data: the timed calls move nothing
    args = (shard(memory, devices), replicate(query, devices))
    fn = pmap(_scaling_kernel, "data", in_axes=(0, None), devices=devices)
    if size > 1:
        # checked here, untimed: the split computes what one device computes
        alone = pmap(_scaling_kernel, "data", in_axes=(0, None), devices=mesh(1))
        want = to_numpy(alone(memory, query))
        got = to_numpy(fn(*args))
        if not np.allclose(got, want, rtol=0.0, atol=1e-5):
            raise BenchmarkError(
                f"scaling: {size} devices scored the memory differently from one device "
                f"(largest difference {np.max(np.abs(got - want)):.3g})"
            )
    return fn, args


def _table(*workloads: Workload) -> dict[str, Workload]:
    return {w.name: w for w in workloads}


#: the built-in workloads by name, in the order tables list them
WORKLOADS: dict[str, Workload] = _table(
    Workload(
        "fhrr_random", _fhrr_random, (10_000,), "dimension",
        "FHRR: one random hypervector (reproducible backendkit.random.phasor)",
        rtol=0.0, atol=1e-6,
    ),
    Workload(
        "fhrr_bind", _fhrr_bind, (10_000,), "dimension",
        "FHRR: bind two hypervectors (elementwise product)",
        rtol=0.0, atol=1e-6, bytes_per_item=3 * 8,  # two complex64 read, one written
    ),
    Workload(
        "fhrr_bundle", _fhrr_bundle, (10_000,), "dimension",
        "FHRR: bundle 100 hypervectors (sum, back to unit phasors)",
        # a sum near zero amplifies float32 rounding when brought back to the circle
        rtol=0.0, atol=1e-3,
    ),
    Workload(
        "fhrr_similarity", _fhrr_similarity, (10_000,), "dimension",
        "FHRR: similarity of 1,000 queries with one hypervector",
        rtol=2e-3, atol=0.0,  # TF32 (see the module's docstring)
    ),
    Workload(
        "fhrr_encode", _fhrr_encode, (10_000,), "dimension",
        "FHRR: fractional power encoding of 1,000 scalars",
        rtol=0.0, atol=1e-5,
    ),
    Workload(
        "copy", _copy, (10_000, 1_000_000, 10_000_000), "n (complex64)",
        "copy of n complex64 values: the memory-bandwidth yardstick for bind",
        rtol=0.0, atol=0.0, bytes_per_item=2 * 8,  # one complex64 read, one written
    ),
    Workload(
        "matmul", _matmul, (128, 512, 2048), "n (n x n float32)",
        "matrix product of two n x n float32 matrices",
        # loose enough for TF32, JAX's default for float32 products on recent NVIDIA GPUs
        rtol=2e-3, atol=0.0,
    ),
    Workload(
        "fft", _fft, (1024, 16_384, 262_144), "n (complex64)",
        "FFT of n complex64 values",
        rtol=1e-5, atol=0.0,
    ),
    Workload(
        "fori_put", _fori_put, (100, 1000, 10_000), "n (loop steps = length)",
        "jitted fori_loop filling an n-element array with put, one element a step",
        rtol=0.0, atol=0.0,
    ),
    Workload(
        "scaling", _scaling, (1, 2, 4, 8), "devices (fixed problem)",
        "strong scaling: one FHRR query against 4,096 hypervectors (dimension 1,024) "
        "split over n devices by distributed.pmap; checked equal to one device",
        rtol=2e-3, atol=0.0,  # TF32 (see the module's docstring)
    ),
    Workload(
        "cnn_predict", _cnn_predict, (64, 1024), "windows (of 200 cadences)",
        "stella-style flare CNN (backendkit.bench.flare_cnn) predicting a batch of windows",
        rtol=2e-3, atol=0.0, keras=True,  # TF32 (see the module's docstring)
    ),
)  # fmt: skip


def get_workload(name: str | Workload) -> Workload:
    """The workload called ``name`` (a :class:`~backendkit.bench.Workload` is returned as it is).

    Raises
    ------
    BenchmarkError
        If no workload has that name; the message lists the valid names.

    Examples
    --------
    >>> get_workload("matmul").sizes
    (128, 512, 2048)
    """
    if isinstance(name, Workload):
        return name
    if isinstance(name, str) and name in WORKLOADS:
        return WORKLOADS[name]
    close = difflib.get_close_matches(str(name), WORKLOADS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise BenchmarkError(f"unknown workload {name!r}{hint}; valid names: {', '.join(WORKLOADS)}")


def resolve(names: str | Workload | Iterable[str | Workload] | None) -> list[Workload]:
    """The workloads for ``names`` (all of them for ``None``), duplicates dropped."""
    if names is None:
        return list(WORKLOADS.values())
    if isinstance(names, (str, Workload)):
        names = [names]
    chosen = [get_workload(n) for n in names]
    if not chosen:
        raise BenchmarkError(f"no workload given; valid names: {', '.join(WORKLOADS)}")
    return list({w.name: w for w in chosen}.values())
