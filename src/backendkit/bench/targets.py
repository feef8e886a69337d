"""The targets a benchmark result is read against, computed from the result alone.

Two claims about accelerators are worth checking on every GPU run, and neither is
asserted: a target missed is a finding to report, with the honest ratio.

- **Speed-up**: HoloVec's guide promised GPUs "5-10x faster than NumPy"; the target
  here is the FHRR similarity of 1,000 queries with one hypervector of dimension
  10,000 at least 10 times as fast as NumPy on the same machine's CPU.
- **Bandwidth**: a workload bound by memory bandwidth (FHRR bind, a plain copy:
  ``Workload.bytes_per_item`` is not 0) should move at least
  half the bytes per second that the device's own copy moves. That ceiling is not a
  workload: ``benchmarks/gpu_bench.py`` measures it in the same run (a preallocated
  copy of a gigabyte or more, bytes read plus bytes written) and records it in the
  result's environment under ``copy_bandwidth``, by device.

Everything is read from a :class:`~backendkit.bench.BenchmarkResult`, so that a JSON
file committed from a GPU machine gives the same readings on any machine.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .records import Measurement
    from .result import BenchmarkResult

__all__ = ["TARGETS", "Reading", "Target", "bandwidth", "copy_bandwidth", "read", "report"]


@dataclass(frozen=True)
class Target:
    """A claim to read a result against.

    ``kind`` is ``speedup`` (times faster than NumPy on the CPU, for ``workload`` at
    ``size``, on each accelerator) or ``bandwidth`` (fraction of the device's copy
    bandwidth, for every bandwidth-bound workload at its largest size that counts);
    ``threshold`` is the least value that meets it.
    """

    name: str
    description: str
    kind: Literal["speedup", "bandwidth"]
    threshold: float
    workload: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Reading:
    """One target read on one backend and device: ``value`` (a speed-up, or a fraction
    of the copy bandwidth) and ``detail``, the numbers behind it in words."""

    target: Target
    label: str
    workload: str
    size: int
    value: float
    detail: str

    @property
    def met(self) -> bool:
        """Whether ``value`` reaches the target's threshold."""
        return self.value >= self.target.threshold


#: issue 16's targets
TARGETS = (
    Target(
        "similarity speed-up",
        "FHRR similarity of 1,000 queries at dimension 10,000, at least 10x NumPy on "
        "the CPU of the same machine",
        "speedup",
        10.0,
        workload="fhrr_similarity",
        size=10_000,
    ),
    Target(
        "bandwidth",
        "bandwidth-bound workloads (bind, copy) at their largest size, at least 50% of "
        "the device's measured copy bandwidth",
        "bandwidth",
        0.5,
    ),
)


def bandwidth(result: BenchmarkResult, m: Measurement) -> float | None:
    """Bytes read and written per second by ``m`` (its median call), or ``None`` where
    its workload is not bandwidth-bound or its time does not count.

    Examples
    --------
    >>> from backendkit.bench import BenchmarkResult, Measurement
    >>> m = Measurement("copy", 1000, "numpy", "cpu", times_s=[1e-6], number=1)
    >>> r = BenchmarkResult([m], workloads={"copy": {"bytes_per_item": 16}})
    >>> bandwidth(r, m)
    16000000000.0
    """
    per_item = result.workloads.get(m.workload, {}).get("bytes_per_item") or 0
    if not per_item or not m.counts or not m.median_s:
        return None
    return float(per_item * m.size / m.median_s)


def copy_bandwidth(result: BenchmarkResult) -> dict[str, dict[str, Any]]:
    """The copy bandwidth measured beside the workloads, by device label (``cpu``,
    ``gpu:0``): each a dict with ``bytes_per_s`` and ``how`` it was measured; empty
    where the run measured none (``python -m backendkit bench`` does not)."""
    found = result.environment.get("copy_bandwidth") or {}
    return {k: v for k, v in found.items() if isinstance(v, dict) and v.get("bytes_per_s")}


def _gbs(bytes_per_s: float) -> str:
    return (
        f"{bytes_per_s / 1e9:,.0f} GB/s"
        if bytes_per_s >= 1e10
        else f"{bytes_per_s / 1e9:.3g} GB/s"
    )


def _speedups(result: BenchmarkResult, target: Target) -> list[Reading]:
    readings = []
    for m in result.find(workload=target.workload, size=target.size):
        ratio = result.speedup(m)
        if m.device == "cpu" or ratio is None:
            continue
        base = result.find(m.workload, m.size, "numpy", "cpu")[0].median_s or 0.0
        detail = f"{(m.median_s or 0) * 1e3:.3g} ms against NumPy's {base * 1e3:.3g} ms"
        readings.append(Reading(target, m.label, m.workload, m.size, ratio, detail))
    return readings


def _bandwidths(result: BenchmarkResult, target: Target) -> list[Reading]:
    ceilings = copy_bandwidth(result)
    readings = []
    labels = dict.fromkeys(m.label for m in result.measurements)
    for name, info in result.workloads.items():
        if not info.get("bytes_per_item"):
            continue
        for label in labels:
            ms = [m for m in result.find(workload=name) if m.label == label and m.counts]
            if not ms or ms[0].device not in ceilings:
                continue
            m = max(ms, key=lambda m: m.size)
            moved = bandwidth(result, m)
            ceiling = float(ceilings[m.device]["bytes_per_s"])
            if moved is None:
                continue
            detail = f"{_gbs(moved)} of the device's {_gbs(ceiling)}"
            readings.append(Reading(target, label, name, m.size, moved / ceiling, detail))
    return readings


def read(result: BenchmarkResult, targets: tuple[Target, ...] = TARGETS) -> list[Reading]:
    """Every reading of ``targets`` that ``result`` allows: speed-ups on each
    accelerator that ran the workload and size, bandwidth fractions on each device
    whose copy bandwidth was measured.

    Examples
    --------
    >>> from backendkit.bench import BenchmarkResult, Measurement
    >>> ms = [Measurement("fhrr_similarity", 10_000, "numpy", "cpu", [8e-3], 1),
    ...       Measurement("fhrr_similarity", 10_000, "torch", "gpu:0", [2e-4], 1)]
    >>> [(r.label, round(r.value), r.met) for r in read(BenchmarkResult(ms))]
    [('torch/gpu:0', 40, True)]
    """
    readings: list[Reading] = []
    for target in targets:
        readings += _speedups(result, target) if target.kind == "speedup" else []
        readings += _bandwidths(result, target) if target.kind == "bandwidth" else []
    return readings


def report(result: BenchmarkResult, targets: tuple[Target, ...] = TARGETS) -> str:
    """The readings as text, one target at a time, saying plainly what could not be
    read (no accelerator in the result, no copy bandwidth measured)."""
    readings = read(result, targets)
    lines = []
    for target in targets:
        title = f"{target.name}: {target.description}"
        lines += textwrap.wrap(title, 88, subsequent_indent="    ")
        mine = [r for r in readings if r.target is target]
        for r in mine:
            value = f"{r.value:.3g}x" if target.kind == "speedup" else f"{r.value:.0%}"
            verdict = "met" if r.met else "NOT met"
            lines.append(
                f"  {r.label:14} {r.workload} {r.size:,}: {value} ({r.detail}): {verdict}"
            )
        if not mine and target.kind == "speedup":
            lines.append("  no reading: no accelerator ran this workload and size here")
        elif not mine:
            lines.append(
                "  no reading: no copy bandwidth recorded with this result "
                "(benchmarks/gpu_run.sh measures it)"
            )
    return "\n".join(lines)
