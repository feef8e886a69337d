"""What backendkit's layer costs over calling the frameworks directly, and over its peers.

Four measurements, side by side in one run, each printed as a table:

1. ``import numpy, backendkit`` against ``import numpy`` (and ``import backendkit`` with
   its first ``xp`` call), each timed inside a fresh interpreter
   (the interpreter's own start-up is not counted), several times, median;
2. one call through ``xp`` (chosen at each call by the dispatch rule), through
   ``bk.namespace(x)`` and through array-api-compat's ``array_namespace(x)`` against
   the native call, on small arrays, with the NumPy selection (so JAX and PyTorch
   arrays choose their backend themselves), per call;
3. ``put``/``at().set`` and ``at().add`` against the hand-written native update
   (NumPy copy and setitem / ``ufunc.at``, JAX ``.at[]``, PyTorch ``clone`` and
   ``index_put_``/``index_add_``) and against array-api-extra's ``at`` (with
   ``copy=True``, which is what ``put`` promises) at 1e2, 1e4 and 1e6 elements, as
   ratios to the native update;
4. a transformed function's per-call cost after compilation: ``bk.jit(f)`` against
   ``jax.jit(f)`` (and ``f`` itself where jit is the identity), ``bk.grad(f)``
   against ``jax.grad(f)`` and ``torch.func.grad(f)``.

Targets (issues 2 and 10): import within 20 ms of NumPy's; ``xp`` within 0.5 µs of the
native call and cheaper than ``array_namespace``; ``put`` and ``at().add`` within 1.2x
native at 1e4 elements on NumPy and JAX, and on PyTorch no slower than array-api-extra;
transforms within 2 µs of the framework's own.

Run: ``PYTHONPATH=src python benchmarks/overhead.py`` (``--quick`` for fewer repeats).
Times are medians of ``--repeat`` timeit runs, each long enough (``autorange``) to
make the clock's resolution irrelevant; the functions compared take turns in each
round, so that a change of load on this shared machine hits all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

import backendkit as bk

TARGET_IMPORT_MS = 20.0
TARGET_DISPATCH_NS = 500.0
TARGET_PUT_RATIO = 1.2
TARGET_TRANSFORM_US = 2.0


def per_call(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds per call of each of ``fns``.

    The functions take turns within each of ``repeat`` rounds, so that a change of
    machine load (this machine is shared) hits all of them alike.
    """
    numbers = {key: timeit.Timer(fn).autorange()[0] for key, fn in fns.items()}
    samples: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(repeat):
        for key, fn in fns.items():
            n = numbers[key]
            samples[key].append(timeit.Timer(fn).timeit(number=n) / n)
    return {key: statistics.median(values) for key, values in samples.items()}


# ---------------------------------------------------------------- 1. import
IMPORT_CHILD = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
#: what each row times, in a fresh interpreter: ``import backendkit`` imports no
#: framework, not even NumPy (it is lazy), so what it adds to a program is the second
#: row against the first, and the last row is the first call, which loads NumPy's plug-in
IMPORTS = {
    "numpy": "import numpy",
    "numpy, backendkit": "import numpy, backendkit",
    "backendkit": "import backendkit",
    "backendkit, first xp call": "import backendkit; backendkit.xp.zeros(3)",
}


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKENDKIT_")}
    env["PYTHONPATH"] = str(SRC)
    return env


def import_seconds(statement: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_CHILD.format(statement=statement)],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
    )
    return float(out.stdout)


def import_breakdown() -> dict[str, float]:
    """Milliseconds each direct submodule of backendkit adds, NumPy already imported
    (``python -X importtime``; a module is charged to the first submodule that imports it)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import numpy; import backendkit"],
        capture_output=True,
        text=True,
        env=child_env(),
        check=True,
    )
    parts: dict[str, float] = {}
    for line in out.stderr.splitlines():
        fields = line.split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        name = fields[2][1:].rstrip()  # after the separator's space, two per level
        if name == "backendkit" or (
            name.startswith("  backendkit.") and not name.startswith("   ")
        ):
            parts[name.strip()] = int(fields[1]) / 1e3
    return parts


def bench_import(repeat: int) -> None:
    times: dict[str, list[float]] = {row: [] for row in IMPORTS}
    for _ in range(repeat):  # interleaved, so that machine load hits all alike
        for row, samples in times.items():
            samples.append(import_seconds(IMPORTS[row]))
    med = {m: statistics.median(t) * 1e3 for m, t in times.items()}
    print(f"\n## import, fresh interpreter, median of {repeat} (ms)\n")
    print("| import | median | min | max |")
    print("| --- | ---: | ---: | ---: |")
    for m, t in times.items():
        print(f"| {m} | {med[m]:.1f} | {min(t) * 1e3:.1f} | {max(t) * 1e3:.1f} |")
    extra = med["numpy, backendkit"] - med["numpy"]
    verdict = "met" if extra <= TARGET_IMPORT_MS else "MISSED"
    print(
        f"\nwhat importing backendkit adds to a NumPy program: {extra:+.1f} ms"
        f" (target <= {TARGET_IMPORT_MS:.0f} ms: {verdict}); the first xp call then"
        f" costs {med['backendkit, first xp call'] - med['backendkit']:.1f} ms"
        " (NumPy and its plug-in)"
    )
    parts = import_breakdown()
    total = parts.pop("backendkit", sum(parts.values()))
    print(
        f"\nwhere the time goes, numpy already imported (one -X importtime run, {total:.1f} ms):\n"
    )
    shown = {name: ms for name, ms in parts.items() if ms >= 0.5}
    if not shown:
        print("no submodule takes 0.5 ms or more: the package imports its parts at first use")
        return
    print("| submodule | ms |")
    print("| --- | ---: |")
    for name, ms in sorted(shown.items(), key=lambda item: -item[1]):
        print(f"| {name} | {ms:.1f} |")


# ---------------------------------------------------------------- 2. xp dispatch
def bench_dispatch(repeat: int) -> None:
    import array_api_compat

    print(
        "\n## one call: native against xp, namespace(x) and array-api-compat's "
        "array_namespace(x), 8-element float32 arrays, NumPy selected (ns per call; "
        "the last three as overhead over native)\n"
    )
    print("| arrays | native | xp | namespace(x) | array_namespace(x) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    worst, beaten = 0.0, True
    bk.set_backend("numpy")
    xp = bk.xp
    for name in bk.available_backends():
        native = bk.namespace(name)
        a = bk.asarray(np.arange(8, dtype=np.float32), backend=name)
        b = bk.asarray(np.ones(8, dtype=np.float32), backend=name)
        # the peer's namespace for NumPy is its compat wrapper, whose add is NumPy's own
        t = per_call(
            {
                "native": lambda native=native, a=a, b=b: native.add(a, b),
                "xp": lambda a=a, b=b: xp.add(a, b),
                "namespace": lambda a=a, b=b: bk.namespace(a, b).add(a, b),
                "peer": lambda a=a, b=b: array_api_compat.array_namespace(a, b).add(a, b),
            },
            repeat,
        )
        over = {k: (v - t["native"]) * 1e9 for k, v in t.items()}
        worst = max(worst, over["xp"])
        beaten = beaten and over["xp"] < over["peer"]
        print(
            f"| {name} | {t['native'] * 1e9:.0f} | {over['xp']:+.0f} | "
            f"{over['namespace']:+.0f} | {over['peer']:+.0f} |"
        )
    verdict = "met" if worst <= TARGET_DISPATCH_NS and beaten else "MISSED"
    print(
        f"\nworst xp overhead: {worst:.0f} ns (target <= {TARGET_DISPATCH_NS:.0f} ns and "
        f"below array_namespace on every backend: {verdict})"
    )


# ---------------------------------------------------------------- 3. put / at
def native_updates(name: str, x, idx, repeats, values) -> dict[str, Callable[[], object]]:
    """The hand-written update each framework's user would write, and ours: ``set`` at
    the unique positions ``idx``, ``add`` at ``repeats``."""
    if name == "numpy":

        def native_set():
            y = x.copy()
            y[idx] = values
            return y

        def native_add():
            y = x.copy()
            np.add.at(y, repeats, values)
            return y

    elif name == "jax":

        def native_set():
            return x.at[idx].set(values).block_until_ready()

        def native_add():
            return x.at[repeats].add(values).block_until_ready()

    else:

        def native_set():
            return x.clone().index_put_((idx,), values)

        def native_add():
            return x.clone().index_add_(0, repeats, values)

    import array_api_extra as xpx

    sync = (lambda y: y.block_until_ready()) if name == "jax" else (lambda y: y)
    return {
        "set": native_set,
        "put": lambda: sync(bk.put(x, idx, values)),
        "at().set": lambda: sync(bk.at(x, idx).set(values)),
        "xpx set": lambda: sync(xpx.at(x, idx).set(values, copy=True)),
        "add": native_add,
        "at().add": lambda: sync(bk.at(x, repeats).add(values)),
        "xpx add": lambda: sync(xpx.at(x, repeats).add(values, copy=True)),
    }


def bench_put(repeat: int, sizes: list[int]) -> None:
    print(
        "\n## put/at against the native update and array-api-extra's at (copy=True): x of "
        "n float32; set at n/10 distinct random positions, add at n/10 random positions "
        "with repeats; indices in the framework's own array type. Ratios to native. "
        "(array-api-extra's add does not accumulate repeated indices on NumPy and "
        "PyTorch: its result differs there; its time is shown for the cost alone.)\n"
    )
    print(
        "| backend | n | native set (µs) | put | at().set | xpx set | native add (µs) "
        "| at().add | xpx add |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    missed = []
    rng = np.random.default_rng(0)
    for name in bk.available_backends():
        for n in sizes:
            host_x = rng.standard_normal(n).astype(np.float32)
            k = max(n // 10, 1)
            host_unique = rng.permutation(n)[:k]  # set: which of repeated values wins varies
            host_repeats = rng.integers(0, n, size=k)
            host_v = rng.standard_normal(k).astype(np.float32)
            with bk.use_backend(name):
                x, unique, repeats, v = map(
                    bk.asarray, (host_x, host_unique, host_repeats, host_v)
                )
                fns = native_updates(name, x, unique, repeats, v)
                for ours, theirs in (("put", "set"), ("at().set", "set"), ("at().add", "add")):
                    np.testing.assert_allclose(
                        bk.to_numpy(fns[ours]()), bk.to_numpy(fns[theirs]()), rtol=1e-5
                    )
                t = per_call(fns, repeat)
            r = {k: t[k] / t["set" if "set" in k or k == "put" else "add"] for k in t}
            print(
                f"| {name} | {n:.0e} | {t['set'] * 1e6:.2f} | {r['put']:.2f}x | "
                f"{r['at().set']:.2f}x | {r['xpx set']:.2f}x | {t['add'] * 1e6:.2f} | "
                f"{r['at().add']:.2f}x | {r['xpx add']:.2f}x |"
            )
            if n != 10_000:
                continue
            for ours, peer in (("put", "xpx set"), ("at().add", "xpx add")):
                if name == "torch":
                    if r[ours] > r[peer]:
                        missed.append(f"torch {ours} {r[ours]:.2f}x > xpx {r[peer]:.2f}x")
                elif r[ours] > TARGET_PUT_RATIO:
                    missed.append(f"{name} {ours} {r[ours]:.2f}x > {TARGET_PUT_RATIO}x")
    if 10_000 in sizes:
        verdict = "met" if not missed else "MISSED: " + "; ".join(missed)
        print(
            f"\nat 1e4 (put and at().add within {TARGET_PUT_RATIO}x native on numpy and "
            f"jax, no slower than array-api-extra on torch): {verdict}"
        )


# ---------------------------------------------------------------- 4. transforms
def _energy(x):
    return bk.xp.sum(bk.xp.sin(x) * x)


def _transform_calls(name: str) -> dict[str, Callable[[], object]]:
    """The calls bench_transforms compares on backend ``name``: f itself, the
    framework's jit and grad of f (where it has them), backendkit's."""
    x = bk.asarray(np.linspace(0.0, 1.0, 8, dtype=np.float32), backend=name)
    sync = (lambda y: y.block_until_ready()) if name == "jax" else (lambda y: y)
    fns: dict[str, Callable[[], object]] = {"f": lambda: _energy(x)}
    if name == "jax":
        import jax

        jitted, grad = jax.jit(_energy), jax.grad(_energy)
        fns["jit"] = lambda: sync(jitted(x))
        fns["grad"] = lambda: sync(grad(x))
    elif name == "torch":
        import torch

        torch_grad = torch.func.grad(_energy)
        fns["jit"] = fns["f"]  # bk.jit is the identity on torch unless asked
        fns["grad"] = lambda: torch_grad(x)
    else:
        fns["jit"] = fns["f"]  # and on numpy; grad is finite differences (no peer)
    bk_jit, bk_grad = bk.jit(_energy), bk.grad(_energy)
    fns["bk.jit"] = lambda: sync(bk_jit(x))
    fns["bk.grad"] = lambda: sync(bk_grad(x))
    return fns


def bench_transforms(repeat: int) -> None:
    print(
        "\n## transformed functions after compilation: f(x) = sum(sin(x) * x) of 8 float32 "
        "(µs per call; backendkit's overhead over the framework's own in brackets)\n"
    )
    print("| backend | f | framework jit | bk.jit | framework grad | bk.grad |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    bk.set_backend("numpy")
    worst = 0.0
    for name in bk.available_backends():
        fns = _transform_calls(name)
        for fn in fns.values():
            fn()  # compile first
        t = per_call(fns, repeat)
        cells = [f"{t['f'] * 1e6:.2f}", f"{t['jit'] * 1e6:.2f}"]
        jit_over = (t["bk.jit"] - t["jit"]) * 1e6
        cells.append(f"{t['bk.jit'] * 1e6:.2f} ({jit_over:+.2f})")
        worst = max(worst, jit_over)
        if "grad" in t:
            grad_over = (t["bk.grad"] - t["grad"]) * 1e6
            worst = max(worst, grad_over)
            cells += [f"{t['grad'] * 1e6:.2f}", f"{t['bk.grad'] * 1e6:.2f} ({grad_over:+.2f})"]
        else:
            cells += ["-", f"{t['bk.grad'] * 1e6:.2f} (finite differences)"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    verdict = "met" if worst <= TARGET_TRANSFORM_US else "MISSED"
    print(
        f"\nworst transform overhead: {worst:.2f} µs (target <= {TARGET_TRANSFORM_US:.0f} µs: "
        f"{verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timeit rounds (median)")
    parser.add_argument("--import-repeat", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 repeats, 5 import runs")
    parser.add_argument(
        "--markdown",
        type=Path,
        help="also write the report to this file (docs/benchmarks/overhead-cpu.md is the"
        " one the site shows: commit it as the run wrote it)",
    )
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.import_repeat = 3, 5
    if args.markdown is not None:
        if not args.markdown.parent.is_dir():
            parser.error(f"--markdown {args.markdown}: the folder does not exist")
        with (
            args.markdown.open("w", encoding="utf-8") as file,
            contextlib.redirect_stdout(_Tee(sys.stdout, file)),
        ):
            report(args)
    else:
        report(args)


class _Tee(io.TextIOBase):
    """Writes to several streams: the console and the report file."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
            stream.flush()
        return len(text)


def report(args: argparse.Namespace) -> None:
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in bk.available_backends()[1:]:
        versions[name] = bk.backends.load(name).version
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print("# backendkit overhead\n")
    print(f"Run {started}: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ";")
    print(
        f"{' '.join(filter(None, [platform.machine(), platform.processor()]))},"
        f" {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.2f} at start."
    )
    bench_import(args.import_repeat)
    bench_dispatch(args.repeat)
    bench_put(args.repeat, [100, 10_000, 1_000_000])
    bench_transforms(args.repeat)


if __name__ == "__main__":
    main()
