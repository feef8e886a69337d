"""``python -m backendkit bench``: the benchmark on the command line.

::

    python -m backendkit bench [--workload NAME ...] [--backend NAME ...]
                               [--device SPEC ...] [--sizes N ...]
                               [--json FILE] [--plot FILE] [--list]

prints the table (:meth:`backendkit.bench.BenchmarkResult.table`), writes the JSON and the plot when
asked, and exits with 0 when every run that could start finished and every result
agreed across backends, 1 when a run failed or a result disagreed, and 2 for a request
that names nothing valid. Skipped backends (not installed) and devices (not present)
are listed under the table and do not change the exit status.

Importing this module imports nothing heavy (no framework, matplotlib or tqdm):
``python -m backendkit`` builds every command's parser before it knows which one runs.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_arguments", "run"]


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` command's options to ``parser``."""
    parser.add_argument(
        "--workload",
        "-w",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="workloads to run (default: all; --list shows them)",
    )
    parser.add_argument(
        "--backend",
        "-b",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="numpy, jax, torch (default: all; those not installed are skipped)",
    )
    parser.add_argument(
        "--device",
        "-d",
        nargs="+",
        action="extend",
        metavar="SPEC",
        help="cpu, gpu, gpu:1, mps, ... (default: the CPU and each accelerator kind seen)",
    )
    parser.add_argument(
        "--sizes",
        "-s",
        nargs="+",
        action="extend",
        type=_size,
        metavar="N",
        help="sizes for every workload chosen (default: each workload's own)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="timed samples (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls (default 2)")
    parser.add_argument(
        "--min-sample-time",
        type=float,
        default=0.005,
        metavar="SECONDS",
        help="shortest sample; fast calls are repeated within one (default 0.005)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="limit per (backend, device) process (default 1800)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (default 0)")
    parser.add_argument("--json", metavar="FILE", help="write the result as JSON")
    parser.add_argument("--plot", metavar="FILE", help="save the plot (needs matplotlib)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")


def _list() -> str:
    from .workloads import WORKLOADS

    width = max(map(len, WORKLOADS))
    lines = []
    for w in WORKLOADS.values():
        sizes = ", ".join(map(str, w.sizes))
        lines.append(f"{w.name:<{width}}  {w.description}")
        lines.append(f"{'':<{width}}  {w.size_label}: {sizes}; check: {w.tolerance}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the ``bench`` command for parsed ``args``; return the exit status."""
    from ..errors import BackendError

    if args.list:
        print(_list())
        return 0
    from .engine import benchmark

    try:
        result = benchmark(
            args.workload,
            backends=args.backend,
            devices=args.device,
            sizes=args.sizes,
            repeats=args.repeats,
            warmup=args.warmup,
            min_sample_time=args.min_sample_time,
            seed=args.seed,
            timeout=args.timeout,
            progress=False if args.quiet else None,
        )
    except BackendError as exc:
        print(f"python -m backendkit bench: error: {exc}", file=sys.stderr)
        return 2
    print(result.table())
    if args.json:
        result.to_json(args.json)
        print(f"\nwrote {args.json}")
    if args.plot:
        result.plot(args.plot)
        print(f"wrote {args.plot}")
    return 0 if result.ok else 1
