"""``python -m backendkit bench``: the benchmark on the command line.

::

    python -m backendkit bench [--workload NAME ...] [--backend NAME ...]
                               [--device SPEC ...] [--sizes N ...]
                               [--model FILE [--input-shape N ...] [--batch-size N]]
                               [--json FILE] [--plot FILE] [--list]

prints the table (:meth:`backendkit.bench.BenchmarkResult.table`), writes the JSON and
the plot when asked, and exits with 0 when every run that could start finished and
every result agreed across backends, 1 when a run failed or a result disagreed (or an
output could not be written in the end), and 2 for a request that names nothing valid.
Skipped backends (not installed) and devices (not present) are listed under the table
and do not change the exit status.

``--model FILE`` times ``predict`` of a saved Keras model (alone, or with the
``--workload`` ones), its ``--sizes`` being inputs per call; a missing or damaged file
is refused with status 2 before anything runs.

The ``--json`` and ``--plot`` paths are checked before anything runs (the folder exists
and takes a file, matplotlib writes that format). A finished result is never lost: if
writing an output still fails at the end (the folder went away, the disk is full), the
JSON goes to a file in the temporary folder, and the error says where.

Importing this module imports nothing heavy (no framework, matplotlib or tqdm):
``python -m backendkit`` builds every command's parser before it knows which one runs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["add_arguments", "run"]


def _positive(what: str) -> Callable[[str], int]:
    """An argparse ``type`` that takes positive integers and names ``what`` otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{what} must be positive integers, got {text!r}")
        return value

    return parse


_size = _positive("sizes")


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
    parser.add_argument(
        "--model",
        metavar="FILE",
        help="a saved Keras model (.keras) whose predict to time on each backend",
    )
    parser.add_argument(
        "--input-shape",
        nargs="+",
        action="append",
        type=_positive("input shapes"),
        metavar="N",
        help="shape of one model input without the batch axis, e.g. 200 1 (default: the "
        "model's own; repeat the option for each input of a model with several)",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive("batch sizes"),
        metavar="N",
        help="predict's batch_size for --model (default: Keras' own, 32)",
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


def _folder_problem(path: Path) -> str | None:
    """Why no file can be written at ``path``, or ``None``."""
    if path.is_dir():
        return "is a folder; give a file name"
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist; create it first"
    try:  # really try: permission bits do not stop root, a read-only mount does
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".backendkit-check-"):
            pass
        if path.exists():
            with open(path, "ab"):
                pass
    except OSError as exc:
        return f"cannot write there ({exc})"
    return None


def _plot_problem(path: Path) -> str | None:
    """Why ``BenchmarkResult.plot`` cannot save to ``path``, or ``None``."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return "plotting needs matplotlib: pip install 'backendkit[bench]'"
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    suffix = path.suffix.lower().lstrip(".")
    if not suffix:
        return f"give the file an extension that names its format: {', '.join(formats)}"
    if suffix not in formats:
        return f"matplotlib cannot write '.{suffix}' files; use one of {', '.join(formats)}"
    return _folder_problem(path)


def _output_problems(args: argparse.Namespace) -> list[str]:
    problems = []
    if args.json:
        problem = _folder_problem(Path(args.json))
        if problem:
            problems.append(f"--json {args.json}: {problem}")
    if args.plot:
        problem = _plot_problem(Path(args.plot))
        if problem:
            problems.append(f"--plot {args.plot}: {problem}")
    return problems


def _write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it: a failure leaves no
    half-written file, and whatever was at ``path`` stays."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _keep(text: str) -> str | None:
    """Save the result's JSON in the temporary folder; its path, or ``None``."""
    try:
        fd, path = tempfile.mkstemp(prefix="backendkit-bench-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError:
        return None
    return path


def run(args: argparse.Namespace) -> int:
    """Run the ``bench`` command for parsed ``args``; return the exit status."""
    from ..errors import BackendError

    if args.list:
        print(_list())
        return 0
    problems = _output_problems(args)
    if problems:
        for problem in problems:
            print(f"python -m backendkit bench: error: {problem}", file=sys.stderr)
        return 2
    from . import engine

    try:
        shapes = args.input_shape
        result = engine.benchmark(
            args.workload,
            model_path=args.model,
            input_shape=shapes[0] if shapes and len(shapes) == 1 else shapes,
            batch_size=args.batch_size,
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
    text = result.to_json()
    failed, saved = [], None
    if args.json:
        try:
            _write_atomically(args.json, text)
            saved = args.json
            print(f"\nwrote {args.json}")
        except OSError as exc:
            failed.append(f"cannot write --json {args.json} ({exc})")
    if args.plot:
        try:
            result.plot(args.plot)
            print(f"wrote {args.plot}")
        except Exception as exc:  # noqa: BLE001 - any failure: say so, keep the result
            failed.append(f"cannot write --plot {args.plot} ({type(exc).__name__}: {exc})")
    if not failed:
        return 0 if result.ok else 1
    if saved is not None:
        where = f"the result is in {saved}"
    else:
        kept = _keep(text)
        if kept is not None:
            where = f"the result was written to {kept} instead"
        else:
            print(text)
            where = "the temporary folder is not writable either: the result is printed above"
    for failure in failed:
        print(f"python -m backendkit bench: error: {failure}; {where}", file=sys.stderr)
    return 1
