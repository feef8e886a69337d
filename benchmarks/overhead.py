"""What backendkit's layer costs over calling the frameworks directly.

Three measurements, side by side in one run, each printed as a table:

1. ``import backendkit`` against ``import numpy``, each timed inside a fresh interpreter
   (the interpreter's own start-up is not counted), several times, median;
2. one ``xp`` call against the native call on small arrays, and the look-up
   ``xp.add`` alone against ``numpy.add`` (the dispatch cost itself), per call;
3. ``put``/``at().set`` and ``at().add`` against the hand-written native update
   (NumPy copy and setitem / ``ufunc.at``, JAX ``.at[]``, PyTorch ``clone`` and
   ``index_put_``/``index_add_``) at 1e2, 1e4 and 1e6 elements, as ratios.

Targets (issue 2): import within 20 ms of NumPy's; ``xp`` dispatch under 0.5 µs;
``put`` within 1.2x native at 1e4 elements.

Run: ``PYTHONPATH=src python benchmarks/overhead.py`` (``--quick`` for fewer repeats).
Times are medians of ``--repeat`` timeit runs, each long enough (``autorange``) to
make the clock's resolution irrelevant.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

import backendkit as bk

TARGET_IMPORT_MS = 20.0
TARGET_DISPATCH_NS = 500.0
TARGET_PUT_RATIO = 1.2


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
IMPORT_CHILD = (
    "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKENDKIT_")}
    env["PYTHONPATH"] = str(SRC)
    return env


def import_seconds(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_CHILD.format(module=module)],
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
    times: dict[str, list[float]] = {"numpy": [], "backendkit": [], "numpy, backendkit": []}
    for _ in range(repeat):  # interleaved, so that machine load hits all alike
        for module, samples in times.items():
            samples.append(import_seconds(module))
    med = {m: statistics.median(t) * 1e3 for m, t in times.items()}
    print(f"\n## import, fresh interpreter, median of {repeat} (ms)\n")
    print("| import | median | min | max |")
    print("| --- | ---: | ---: | ---: |")
    for m, t in times.items():
        print(f"| {m} | {med[m]:.1f} | {min(t) * 1e3:.1f} | {max(t) * 1e3:.1f} |")
    extra = med["backendkit"] - med["numpy"]
    verdict = "met" if extra <= TARGET_IMPORT_MS else "MISSED"
    print(
        f"\nbackendkit - numpy: {extra:+.1f} ms (target <= {TARGET_IMPORT_MS:.0f} ms: {verdict})"
    )
    parts = import_breakdown()
    total = parts.pop("backendkit", sum(parts.values()))
    print(
        f"\nwhere the time goes, numpy already imported (one -X importtime run, {total:.1f} ms):\n"
    )
    print("| submodule | ms |")
    print("| --- | ---: |")
    for name, ms in sorted(parts.items(), key=lambda item: -item[1]):
        if ms >= 0.5:
            print(f"| {name} | {ms:.1f} |")


# ---------------------------------------------------------------- 2. xp dispatch
def bench_dispatch(repeat: int) -> None:
    print("\n## xp against the native namespace, 8-element float32 arrays (ns per call)\n")
    print("| backend | native add | xp.add | overhead | native lookup | xp lookup | dispatch |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for name in bk.available_backends():
        with bk.use_backend(name):
            native = bk.namespace(name)
            xp = bk.xp
            a = bk.asarray(np.arange(8, dtype=np.float32))
            b = bk.asarray(np.ones(8, dtype=np.float32))
            t = per_call(
                {
                    "native call": lambda native=native, a=a, b=b: native.add(a, b),
                    "xp call": lambda xp=xp, a=a, b=b: xp.add(a, b),
                    "native lookup": lambda native=native: native.add,
                    "xp lookup": lambda xp=xp: xp.add,
                },
                repeat,
            )
        call_native, call_xp = t["native call"], t["xp call"]
        look_native, look_xp = t["native lookup"], t["xp lookup"]
        dispatch = look_xp - look_native
        worst = max(worst, dispatch)
        cells = [call_native, call_xp, call_xp - call_native, look_native, look_xp, dispatch]
        print(f"| {name} | " + " | ".join(f"{c * 1e9:.0f}" for c in cells) + " |")
    verdict = "met" if worst * 1e9 <= TARGET_DISPATCH_NS else "MISSED"
    print(
        f"\nworst dispatch (xp lookup - native lookup): {worst * 1e9:.0f} ns "
        f"(target < {TARGET_DISPATCH_NS:.0f} ns: {verdict})"
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

    sync = (lambda y: y.block_until_ready()) if name == "jax" else (lambda y: y)
    return {
        "set": native_set,
        "put": lambda: sync(bk.put(x, idx, values)),
        "at().set": lambda: sync(bk.at(x, idx).set(values)),
        "add": native_add,
        "at().add": lambda: sync(bk.at(x, repeats).add(values)),
    }


def bench_put(repeat: int, sizes: list[int]) -> float:
    print(
        "\n## put/at against the native update: x of n float32; set at n/10 distinct random "
        "positions, add at n/10 random positions with repeats; indices in the framework's "
        "own array type\n"
    )
    print("| backend | n | native set (µs) | put | at().set | native add (µs) | at().add |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    ratio_at_1e4 = 0.0
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
            put_ratio = t["put"] / t["set"]
            if n == 10_000:
                ratio_at_1e4 = max(ratio_at_1e4, put_ratio)
            print(
                f"| {name} | {n:.0e} | {t['set'] * 1e6:.2f} | {put_ratio:.2f}x | "
                f"{t['at().set'] / t['set']:.2f}x | {t['add'] * 1e6:.2f} | "
                f"{t['at().add'] / t['add']:.2f}x |"
            )
    if 10_000 in sizes:
        verdict = "met" if ratio_at_1e4 <= TARGET_PUT_RATIO else "MISSED"
        print(
            f"\nworst put/native at 1e4: {ratio_at_1e4:.2f}x "
            f"(target <= {TARGET_PUT_RATIO}x: {verdict})"
        )
    return ratio_at_1e4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timeit rounds (median)")
    parser.add_argument("--import-repeat", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 repeats, 5 import runs")
    args = parser.parse_args()
    if args.quick:
        args.repeat, args.import_repeat = 3, 5
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in bk.available_backends()[1:]:
        versions[name] = bk.backends.load(name).version
    print("# backendkit overhead")
    print(", ".join(f"{k} {v}" for k, v in versions.items()), f"| {platform.processor()}")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    bench_import(args.import_repeat)
    bench_dispatch(args.repeat)
    bench_put(args.repeat, [100, 10_000, 1_000_000])


if __name__ == "__main__":
    main()
