"""Does each benchmark workload time its framework's fastest idiomatic form?

The workloads (``backendkit.bench.workloads``) are written once with backendkit's
portable API. That is only honest if, on every backend, the portable form costs what
the framework's own idiomatic, fastest form of the same operation costs: a torch
"copy" written ``xp.asarray(x, copy=True)`` took 2.7 times as long as ``x.clone()``
and made PyTorch look slow at copying. This module writes every workload again in
plain NumPy, JAX and PyTorch (``NATIVE``: no backendkit call in the timed function)
and times, in one child process per backend and device, on the very same input arrays:

- ``engine``: the benchmark engine's own timing of the workload (``_time_one``);
- ``timeit``: :mod:`timeit` of the workload's function, synchronised with the
  framework's own API (``jax.block_until_ready``, ``torch.cuda.synchronize``);
- ``native``: :mod:`timeit` of the native form, synchronised the same way.

``engine`` against ``timeit`` checks the engine; ``engine`` against ``native`` checks the
workload's form. Rounds alternate the three, so that a change of load on a shared
machine hits them alike; the fastest sample of each round is compared (noise only ever
adds time).

Three workloads time backendkit's own layer by design, not a framework operation, and
are compared with the framework's form for information only (``BY_DESIGN``):
``fhrr_random`` (the counter-based generator that gives every backend the same
values), ``fori_put`` (the portable loop-and-update: on NumPy and PyTorch a Python loop
of ``put`` calls) and ``scaling`` (``distributed.pmap``; no native form here).

Run: ``PYTHONPATH=src python benchmarks/native_forms.py [--device cpu gpu]
[--workload NAME ...] [--rounds 3] [--quick]``. ``tests/test_bench.py`` runs
:func:`compare` on small sizes and fails where a form is slower than native.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script from a source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import backendkit as bk

Form = tuple[Callable[..., Any], tuple[Any, ...]]

#: workloads that time backendkit's own layer (not compared for pass/fail)
BY_DESIGN = {
    "fhrr_random": "backendkit.random.phasor: the same values on every backend, drawn on the host",
    "fori_put": "backendkit's portable fori_loop + put (a Python loop on NumPy and PyTorch)",
    "scaling": "backendkit.distributed.pmap",
}

#: the variables that ask NumPy's BLAS, PyTorch and XLA for one thread
SINGLE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}

#: sizes small enough for a test on a 2-core machine, large enough to be more than
#: dispatch overhead
QUICK_SIZES = {
    "fhrr_random": [10_000],
    "fhrr_bind": [100_000],
    "fhrr_bundle": [10_000],
    "fhrr_similarity": [1_000],
    "fhrr_encode": [1_000],
    "copy": [1_000_000],
    "matmul": [256],
    "fft": [65_536],
    "fori_put": [200],
    "cnn_predict": [64],
}


# ------------------------------------------------------------------ the native forms
def _jax_jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    import jax

    return jax.jit(fn)


def _module(backend: str) -> Any:
    if backend == "jax":
        import jax.numpy as jnp

        return jnp
    if backend == "torch":
        import torch

        return torch
    return np


def _elementwise(backend: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The form a framework user writes: jitted under JAX, called as is elsewhere."""
    return _jax_jit(fn) if backend == "jax" else fn


def _random(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    # each framework's own generator: different values on each backend, so the
    # workload itself uses backendkit's (BY_DESIGN)
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        draw = jax.jit(
            lambda k: jnp.exp(1j * jax.random.uniform(k, (size,), minval=-math.pi, maxval=math.pi))
        )
        return draw, (jax.random.key(0),)
    if backend == "torch":
        import torch

        device = torch.get_default_device()

        def draw_torch() -> Any:
            theta = torch.rand(size, device=device) * (2 * math.pi) - math.pi
            return torch.polar(torch.ones_like(theta), theta)

        return draw_torch, ()
    rng = np.random.default_rng(0)

    def draw_numpy() -> Any:
        theta = (rng.random(size, dtype=np.float32) * 2 - 1) * np.pi
        return np.cos(theta) + 1j * np.sin(theta)  # NumPy's complex exp is slower

    return draw_numpy, ()


def _bind(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    return _elementwise(backend, lambda a, b: a * b), args


def _bundle(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    m = _module(backend)

    def bundle(v: Any) -> Any:
        total = v.sum(0)
        return total / m.abs(total)

    return _elementwise(backend, bundle), args


def _similarity(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    return _elementwise(backend, lambda q, t: (q @ t.conj()).real / t.shape[-1]), args


def _encode(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    # each framework's fastest spelling of exp(i*theta): torch.polar; under jax.jit the
    # plain exp (XLA drops the zero real part); NumPy's exp of a complex array is
    # more than ten times slower than cos + i sin
    if backend == "torch":
        import torch

        def polar(v: Any, p: Any) -> Any:
            theta = v[:, None] * p[None, :]
            return torch.polar(torch.ones_like(theta), theta)

        return polar, args
    if backend == "jax":
        import jax.numpy as jnp

        return _jax_jit(lambda v, p: jnp.exp(1j * (v[:, None] * p[None, :]))), args

    def euler(v: Any, p: Any) -> Any:
        theta = v[:, None] * p[None, :]
        return np.cos(theta) + 1j * np.sin(theta)

    return euler, args


def _copy(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    if backend == "torch":
        return (lambda x: x.clone()), args
    if backend == "jax":
        import jax.numpy as jnp

        # not jitted: JAX may forward a jitted function's input as its output
        return jnp.copy, args
    return np.copy, args


def _matmul(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    return _elementwise(backend, lambda a, b: a @ b), args


def _fft(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    return _elementwise(backend, _module(backend).fft.fft), args


def _fori_put(backend: str, size: int, args: tuple[Any, ...]) -> Form:
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def fill_jax() -> Any:
            body = lambda i, x: x.at[i].set(2.0 * i + 1.0)
            return jax.lax.fori_loop(0, size, body, jnp.zeros(size, jnp.float32))

        return jax.jit(fill_jax), ()
    m = _module(backend)

    def fill() -> Any:
        x = m.zeros(size, dtype=m.float32)
        for i in range(size):
            x[i] = 2.0 * i + 1.0
        return x

    return fill, ()


def _cnn_predict(backend: str, size: int, args: tuple[Any, ...], fn: Any) -> Form:
    # the workload's model; Keras' own form for one batch whose result is needed
    return fn.__self__.predict_on_batch, args


NATIVE: dict[str, Callable[..., Form]] = {
    "fhrr_random": _random,
    "fhrr_bind": _bind,
    "fhrr_bundle": _bundle,
    "fhrr_similarity": _similarity,
    "fhrr_encode": _encode,
    "copy": _copy,
    "matmul": _matmul,
    "fft": _fft,
    "fori_put": _fori_put,
    "cnn_predict": _cnn_predict,
}


def native_form(name: str, backend: str, size: int, fn: Any, args: tuple[Any, ...]) -> Form:
    """The native form of workload ``name`` on ``backend``, on the workload's ``args``."""
    make = NATIVE[name]
    if name == "cnn_predict":
        return make(backend, size, args, fn)
    return make(backend, size, args)


# ------------------------------------------------------------------ timing, in the child
def _sync(backend: str) -> Callable[[Any], None]:
    """Wait for a result with the framework's own API (not backendkit's)."""
    if backend == "jax":
        import jax

        return jax.block_until_ready
    if backend == "torch":
        import torch

        if torch.get_default_device().type == "cuda":
            return lambda out: torch.cuda.synchronize()
    return lambda out: None


def _timeit(fn: Callable[..., Any], args: tuple[Any, ...], sync: Any, options: dict) -> list:
    """Seconds per call of ``repeats`` samples, each at least ``min_sample_time`` (the
    engine's rule: 1, 2, 5, 10, ... calls per sample)."""
    timer = timeit.Timer(lambda: sync(fn(*args)))
    timer.timeit(1 + options["warmup"])
    number = 1
    while timer.timeit(number) < options["min_sample_time"] and number < 100_000:
        number = number * 5 // 2 if str(number)[0] == "2" else number * 2
    return [t / number for t in timer.repeat(repeat=options["repeats"], number=number)]


def _compare_in_child(
    device: str, items: list[tuple[str, int]], options: dict, rounds: int
) -> list[dict]:
    from backendkit.bench import engine
    from backendkit.bench.workloads import get_workload

    backend = bk.get_backend()
    out = []
    with bk.use_device(device):
        if backend == "torch":
            import torch

            # native torch code makes its tensors on the default device, as a torch
            # user who picked the GPU would
            torch.set_default_device(_torch_device(device))
        sync = _sync(backend)
        for name, size in items:
            workload = get_workload(name)
            row: dict[str, Any] = {"workload": name, "size": size, "backend": backend}
            try:
                fn, args = workload.setup(size, options["seed"])
                bk.block_until_ready(args)
                native = native_form(name, backend, size, fn, args)
                engine_s, timeit_s, native_s = [], [], []
                for _ in range(rounds):
                    engine_s.append(min(engine._time_one(workload, size, options)["times_s"]))
                    timeit_s.append(min(_timeit(fn, args, sync, options)))
                    native_s.append(min(_timeit(*native, sync, options)))
                row.update(engine_s=engine_s, timeit_s=timeit_s, native_s=native_s)
            except Exception as exc:  # noqa: BLE001 - one workload's error is reported
                row["error"] = f"{type(exc).__name__}: {exc}"
            out.append(row)
    return out


def _torch_device(device: str) -> Any:
    import torch

    kind, _, index = device.partition(":")
    if kind == "cpu":
        return torch.device("cpu")
    return torch.device("cuda" if kind == "gpu" else kind, int(index or 0))


def compare(
    backend: str,
    device: str = "cpu",
    workloads: Sequence[str] | None = None,
    sizes: dict[str, list[int]] | None = None,
    *,
    rounds: int = 3,
    repeats: int = 5,
    min_sample_time: float = 0.002,
    timeout: float | None = 600.0,
    single_thread: bool = False,
) -> list[dict]:
    """Engine, timeit and native times of ``workloads`` on ``backend`` and ``device``,
    each a list of ``rounds`` fastest samples (seconds per call), in a fresh process.

    ``single_thread`` asks every framework for one thread: on a shared machine, threads
    that wait for a descheduled partner make multi-threaded timings wander far more
    than the differences looked for."""
    names = [w for w in (workloads or NATIVE) if w in NATIVE]
    sizes = sizes or QUICK_SIZES
    items = [(n, s) for n in names for s in sizes.get(n, [QUICK_SIZES[n][0]])]
    options = {"seed": 0, "warmup": 1, "repeats": repeats, "min_sample_time": min_sample_time}
    accelerator = device.partition(":")[0]
    return bk.run_in_backend(
        backend, _compare_in_child, device, items, options, rounds,
        timeout=timeout, accelerator=accelerator if accelerator in ("cpu", "gpu") else None,
        env=SINGLE_THREAD if single_thread else None,
    )  # fmt: skip


def ratios(row: dict) -> tuple[float, float]:
    """(engine / timeit, engine / native), each the best round's ratio: the round least
    disturbed by other processes."""
    engine = row["engine_s"]
    return (
        min(e / t for e, t in zip(engine, row["timeit_s"], strict=True)),
        min(e / n for e, n in zip(engine, row["native_s"], strict=True)),
    )


def table(rows: list[dict], device: str) -> str:
    """The comparison as text, one line per workload, size and backend."""
    head = (
        f"{'workload':16} {'size':>9} {'backend/device':15} {'engine':>10} {'timeit':>10} "
        f"{'native':>10} {'e/timeit':>8} {'e/native':>8}  note"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        label = f"{row['backend']}/{device}"
        start = f"{row['workload']:16} {row['size']:9d} {label:15}"
        if "error" in row:
            lines.append(f"{start} error: {row['error']}")
            continue
        e, t, n = (statistics.median(row[k]) for k in ("engine_s", "timeit_s", "native_s"))
        to_timeit, to_native = ratios(row)
        note = BY_DESIGN.get(row["workload"], "")
        lines.append(
            f"{start} {_ms(e)} {_ms(t)} {_ms(n)} {to_timeit:8.2f} {to_native:8.2f}  {note}"
        )
    return "\n".join(lines)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.4f}ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", nargs="+", default=["cpu"])
    parser.add_argument("--backend", nargs="+", default=None)
    parser.add_argument("--workload", nargs="+", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="the test's small sizes (default: the workloads')"
    )
    parser.add_argument("--single-thread", action="store_true", help="one thread per framework")
    args = parser.parse_args(argv)
    from backendkit.bench.workloads import WORKLOADS

    sizes = QUICK_SIZES if args.quick else {n: list(w.sizes) for n, w in WORKLOADS.items()}
    print(f"engine vs timeit vs native: fastest sample of each of {args.rounds} rounds; "
          "ratios are the best round's\n")  # fmt: skip
    for device in args.device:
        for backend in args.backend or bk.available_backends():
            if backend == "numpy" and device != "cpu":
                continue
            try:
                rows = compare(
                    backend, device, args.workload, sizes, rounds=args.rounds,
                    single_thread=args.single_thread,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - one backend's failure: say so, go on
                print(f"{backend}/{device}: {type(exc).__name__}: {exc}\n")
                continue
            print(table(rows, device), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
