"""The full benchmark on a GPU machine, its GPU and its CPU in one run, for the record.

``benchmarks/gpu_run.sh`` calls this on a lent GPU machine; the JSON it writes is what
``docs/benchmarks/`` holds and the benchmark page shows. One run:

1. every built-in workload at its own sizes on every backend and device
   (``bk.benchmark(devices=["cpu", "gpu"])``), with bind and copy also at 1e6, 1e7
   and 3e7 values, where the launch of a kernel no longer hides the memory traffic;
2. the copy bandwidth of each device, measured natively (not a workload): a
   preallocated ``dst.copy_(src)`` of random data through PyTorch (every CPU thread
   on the CPU, CUDA events on the GPU), bytes read plus bytes written, median of the
   repeats; recorded in the result's environment under ``copy_bandwidth``, which
   :mod:`backendkit.bench.targets` reads;
3. the table, the plot and the targets' readings, printed and written.

``--dry-run`` does the same on the CPU alone, at small sizes, in a minute or so: the
plumbing checked where no GPU is (``nox -s gpu_dry_run``).

Run: ``PYTHONPATH=src python benchmarks/gpu_bench.py --out DIR [--dry-run]``; writes
``DIR/bench.json``, ``DIR/bench.txt`` and ``DIR/bench.png``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from a source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import backendkit as bk
from backendkit.bench import WORKLOADS, targets

#: bind and copy up to 3e7 complex64 values (240 MB a vector): bandwidth, not launches
BANDWIDTH_SIZES = [10_000, 1_000_000, 10_000_000, 30_000_000]

#: the dry run's sizes: every workload, each small
DRY_SIZES = {
    "fhrr_random": [1000],
    "fhrr_bind": [1000, 100_000],
    "fhrr_bundle": [1000],
    "fhrr_similarity": [1000],
    "fhrr_encode": [100],
    "copy": [1000, 100_000],
    "matmul": [64],
    "fft": [1024],
    "fori_put": [10],
    "scaling": [1],
    "cnn_predict": [8],
}


def sizes(dry_run: bool) -> dict[str, list[int]]:
    """Each workload's sizes for the run."""
    if dry_run:
        return DRY_SIZES
    chosen = {name: list(w.sizes) for name, w in WORKLOADS.items()}
    chosen["fhrr_bind"] = BANDWIDTH_SIZES
    chosen["copy"] = BANDWIDTH_SIZES
    return chosen


# ------------------------------------------------------------------ the copy ceiling
def _copy_ceiling(device: str, nbytes: int, repeats: int) -> dict[str, Any]:
    """In a torch child: bytes per second of ``dst.copy_(src)`` on ``device``."""
    import torch

    n = nbytes // 4
    if device == "cpu":
        src = torch.rand(n)
        dst = torch.empty_like(src)
        dst.copy_(src)  # the pages mapped before timing
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            dst.copy_(src)
            times.append(time.perf_counter() - start)
        name = bk.devices("torch")[0].name
        how = f"torch copy_ on {torch.get_num_threads()} threads, perf_counter"
    else:
        index = int(device.partition(":")[2] or 0)
        src = torch.rand(n, device=f"cuda:{index}")
        dst = torch.empty_like(src)
        for _ in range(3):
            dst.copy_(src)
        events = [
            (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            for _ in range(repeats)
        ]
        for begin, end in events:
            begin.record()
            dst.copy_(src)
            end.record()
        torch.cuda.synchronize(index)
        times = [begin.elapsed_time(end) / 1e3 for begin, end in events]
        name = torch.cuda.get_device_name(index)
        how = "torch copy_ between preallocated CUDA tensors, CUDA events"
    median = statistics.median(times)
    return {
        "name": name,
        "bytes": 2 * n * 4,
        "bytes_per_s": 2 * n * 4 / median,
        "samples_s": times,
        "how": f"{how}; {2 * n * 4 / 2**30:.0f} GiB read + written per copy, median of {repeats}",
    }


def copy_ceilings(devices: list[str], dry_run: bool) -> dict[str, dict[str, Any]]:
    """The copy bandwidth of each device label, measured in a torch child each; a
    device that cannot be measured is left out, with the reason printed."""
    out = {}
    nbytes = 64 * 2**20 if dry_run else 2**30
    for device in devices:
        try:
            out[device] = bk.run_in_backend(
                "torch", _copy_ceiling, device, nbytes * (1 if device == "cpu" else 2),
                5 if device == "cpu" else 20, timeout=300,
                accelerator="cpu" if device == "cpu" else "gpu",
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - no ceiling for that device: say so
            print(f"copy bandwidth of {device} not measured: {type(exc).__name__}: {exc}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    parser.add_argument("--dry-run", action="store_true", help="CPU only, small sizes")
    parser.add_argument("--timeout", type=float, default=600.0, help="per child process")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    devices = ["cpu"] if args.dry_run else ["cpu", "gpu"]
    start = time.perf_counter()
    result = bk.benchmark(
        sizes=sizes(args.dry_run),
        devices=devices,
        repeats=3 if args.dry_run else 10,
        warmup=1 if args.dry_run else 2,
        timeout=args.timeout,
        progress=False,
    )
    seconds = time.perf_counter() - start
    labels = dict.fromkeys(m.device for m in result.measurements if m.counts)
    result.environment["copy_bandwidth"] = copy_ceilings(list(labels), args.dry_run)
    result.settings["driver"] = "benchmarks/gpu_bench.py" + (" --dry-run" if args.dry_run else "")

    result.to_json(args.out / "bench.json")
    text = "\n\n".join([str(result), targets.report(result)])
    (args.out / "bench.txt").write_text(text + "\n", encoding="utf-8")
    try:
        result.plot(args.out / "bench.png", title=result.environment["cpu"]["model"])
    except ImportError as exc:
        print(f"no plot: {exc}")
    print(text)
    print(f"\nbenchmark ran in {seconds:.0f} s; wrote {args.out}/bench.json, bench.txt, bench.png")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
