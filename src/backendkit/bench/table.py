"""A benchmark result as an aligned text table, headed by the machine it ran on.

What :meth:`backendkit.bench.BenchmarkResult.table` and ``print(result)`` show: one row
per workload, size, backend and device, times in the unit that fits, the speed-up over
NumPy on the CPU, and how each result compared with the others; the runs that were
skipped or failed are listed under it with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import Measurement
    from .result import BenchmarkResult

__all__ = ["format_bytes", "format_time", "header", "table"]

COLUMNS = (
    "workload", "size", "backend/device", "median", "min", "max", "spread",
    "n", "first call", "x numpy", "check",
)  # fmt: skip
# the columns of numbers, aligned right
_RIGHT = {1, 3, 4, 5, 6, 7, 8, 9}


def format_time(seconds: float | None) -> str:
    """Seconds in the unit that keeps three significant digits under 1000.

    Examples
    --------
    >>> format_time(2.5e-5), format_time(0.9996e-6), format_time(12.0), format_time(None)
    ('25 µs', '1 µs', '12 s', '-')
    """
    if seconds is None:
        return "-"
    for unit, scale in (("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3)):
        value = float(f"{seconds / scale:.3g}")  # 999.6 ns rounds to 1 µs, not 1e+03 ns
        if value < 1000:
            return f"{value:.3g} {unit}"
    return f"{seconds:.3g} s"


def format_bytes(n: Any) -> str:
    """A byte count in GiB, ``?`` where it is not a number."""
    return f"{n / 2**30:.1f} GiB" if isinstance(n, (int, float)) else "?"


def header(result: BenchmarkResult) -> list[str]:
    """The machine's lines: CPU, memory and load, accelerators, versions."""
    env = result.environment
    if not env:
        return []
    cpu = env.get("cpu", {})
    cores = f"{cpu.get('usable_cores', '?')} usable of {cpu.get('logical_cores', '?')}"
    memory = format_bytes(env.get("memory_bytes"))
    lines = [f"CPU: {cpu.get('model', '?')} ({cores} logical cores), memory {memory}"]
    load = env.get("load_average")
    if load is not None:
        lines[0] += f", load average {load:.2f} at the start"
    accelerators = env.get("accelerators") or []
    if accelerators:
        for acc in accelerators:
            lines.append(
                f"accelerator: {acc.get('name', '?')} ({acc.get('kind', '?')}, "
                f"{format_bytes(acc.get('memory_total'))})"
            )
    else:
        lines.append("accelerator: none seen")
    versions = env.get("versions", {})
    lines.append(
        f"python {env.get('python', '?')}; "
        + ", ".join(f"{k} {v if v else 'not installed'}" for k, v in versions.items())
    )
    return lines


def _check(result: BenchmarkResult, m: Measurement) -> str:
    """The ``check`` cell: how the result compared, or why the time does not count."""
    if m.check == "mismatch" and m.error:
        return f"mismatch: {m.error}"
    if m.check == "mismatch" and m.max_diff is not None:
        tol = result.workloads.get(m.workload, {}).get("tolerance", "")
        return f"mismatch: max |diff| {m.max_diff:.2g} ({tol})"
    if m.check == "ok" and m.max_diff:
        return f"ok (|diff| {m.max_diff:.1g})"
    if m.check == "ok":
        return "ok (exact)"
    if m.check in ("failed", "skipped"):
        return f"{m.check}: {m.error}"
    return str(m.check)


def _stats(result: BenchmarkResult, m: Measurement) -> list[str]:
    if m.check in ("failed", "skipped"):
        return [m.check, "", "", "", "", "", ""]
    if not m.counts:
        return ["not counted", "", "", "", str(m.count), format_time(m.first_s), ""]
    ratio = result.speedup(m)
    return [
        format_time(m.median_s),
        format_time(m.min_s),
        format_time(m.max_s),
        format_time(m.spread_s),
        str(m.count),
        format_time(m.first_s),
        "-" if ratio is None else f"{ratio:.3g}",
    ]


def table(result: BenchmarkResult) -> str:
    """``result``'s measurements as an aligned text table, one row per backend and
    device, a blank line between workloads and sizes; see
    :meth:`backendkit.bench.BenchmarkResult.table` for the columns."""
    rows: list[list[str] | None] = []
    previous = None
    for m in result.measurements:
        if previous is not None and (m.workload, m.size) != previous:
            rows.append(None)
        previous = (m.workload, m.size)
        rows.append([m.workload, str(m.size), m.label, *_stats(result, m), _check(result, m)])
    # the last column (check) is left ragged
    widths = [len(c) for c in COLUMNS]
    for row in rows:
        if row is not None:
            widths = [max(w, len(cell)) for w, cell in zip(widths[:-1], row[:-1], strict=True)] + [
                0
            ]

    def line(cells: Iterable[str]) -> str:
        out = [
            c.rjust(w) if i in _RIGHT else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    lines = header(result)
    if lines:
        lines.append("")
    lines += [line(COLUMNS), line("-" * w if w else "-----" for w in widths)]
    lines += ["" if row is None else line(row) for row in rows]
    notes = [r for r in result.runs if r.status != "ok"]
    if notes:
        lines.append("")
        lines += [f"{r.backend}/{r.device}: {r.status}: {r.reason}" for r in notes]
    return "\n".join(lines)
