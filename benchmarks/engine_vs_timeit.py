"""Does the benchmark engine measure what an independent timing measures?

For a matrix product on each installed backend, compare the engine's median
(``backendkit.benchmark``) with :mod:`timeit` of the same call in its own fresh process,
synchronised with the framework's own API (``jax.Array.block_until_ready``,
``torch.cuda.synchronize`` on a GPU; NumPy is synchronous), not with backendkit's. The
two should agree within 15%. On a shared machine single measurements wander, so both
are taken in alternation, backend by backend, ``ROUNDS`` times, and the medians of
the rounds compared.

Run: ``PYTHONPATH=src python benchmarks/engine_vs_timeit.py [--sizes 256 1024]
[--device cpu] [--rounds 5] [--single-thread]``
"""

from __future__ import annotations

import argparse
import os
import statistics

import backendkit as bk

ROUNDS = 5
REPEATS = 10
AGREE = 0.15


def timeit_matmul(n: int, device: str, repeats: int, min_time: float) -> float:
    """Median seconds per ``a @ b`` by :mod:`timeit`, synchronised natively (in a child)."""
    import timeit

    backend = bk.get_backend()
    with bk.use_device(device):
        a = bk.random.normal(0, (n, n), dtype="float32")
        b = bk.random.normal(1, (n, n), dtype="float32")
    matmul = bk.jit(lambda a, b: a @ b)
    if backend == "jax":

        def sync(x):
            x.block_until_ready()

    elif backend == "torch" and a.device.type != "cpu":
        import torch

        def sync(x):
            torch.cuda.synchronize(
                x.device
            ) if x.device.type == "cuda" else torch.mps.synchronize()

    else:

        def sync(x):
            pass

    timer = timeit.Timer(lambda: sync(matmul(a, b)))
    for _ in range(3):  # compile and warm up
        timer.timeit(1)
    number = 1
    while timer.timeit(number) < min_time:  # as many calls as make min_time
        number *= 2
    return statistics.median(t / number for t in timer.repeat(repeat=repeats, number=number))


def single_threaded() -> None:
    """Ask every framework of the child processes for one thread (they inherit this)."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument(
        "--single-thread",
        action="store_true",
        help="one thread per framework: on a shared machine, threads that wait for a "
        "descheduled partner make multi-threaded timings wander far more than 15%%",
    )
    args = parser.parse_args()
    if args.single_thread:
        single_threaded()
    min_time = 0.005
    engine: dict[tuple[str, int], list[float]] = {}
    independent: dict[tuple[str, int], list[float]] = {}
    backends = bk.available_backends()
    for _ in range(args.rounds):
        # one backend at a time, engine then timeit, so that both see the same load
        for name in backends:
            result = bk.benchmark(
                "matmul",
                backends=name,
                devices=args.device,
                sizes=args.sizes,
                repeats=REPEATS,
                min_sample_time=min_time,
                progress=False,
            )
            for m in result.measurements:
                engine.setdefault((m.backend, m.size), []).append(m.median_s)
            for n in args.sizes:
                t = bk.run_in_backend(name, timeit_matmul, n, args.device, REPEATS, min_time)
                independent.setdefault((name, n), []).append(t)

    print(result.table().split("\n\n")[0])  # the machine and versions
    threads = "one thread per framework" if args.single_thread else "default threads"
    print(f"\nmatmul, float32, on {args.device}, {threads}: medians of {args.rounds} rounds\n")
    print(f"{'backend':8} {'n':>5}  {'engine':>10}  {'timeit':>10}  {'ratio':>6}  agree"
          f"  | best round: {'engine':>10}  {'timeit':>10}  {'ratio':>6}")  # fmt: skip
    worst = worst_best = 0.0
    for (name, n), times in sorted(engine.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        others = independent[(name, n)]
        e, t = statistics.median(times), statistics.median(others)
        eb, tb = min(times), min(others)
        worst = max(worst, abs(e / t - 1))
        worst_best = max(worst_best, abs(eb / tb - 1))
        ok = "yes" if abs(e / t - 1) <= AGREE else "NO"
        print(f"{name:8} {n:5d}  {e * 1e3:8.3f}ms  {t * 1e3:8.3f}ms  {e / t:6.3f}  {ok:5}"
              f"  |             {eb * 1e3:8.3f}ms  {tb * 1e3:8.3f}ms  {eb / tb:6.3f}")  # fmt: skip
        pairs = zip(times, others, strict=True)
        rounds = ", ".join(f"{a * 1e3:.3g}/{b * 1e3:.3g}" for a, b in pairs)
        print(f"{'':8} {'':5}  rounds (engine/timeit, ms): {rounds}")
    print(
        f"\nlargest difference: {worst:.1%} between medians of rounds, {worst_best:.1%} "
        f"between best rounds (limit {AGREE:.0%})"
    )


if __name__ == "__main__":
    main()
