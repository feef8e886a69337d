"""A benchmark result as an aligned text table, headed by the machine it ran on.

What :meth:`backendkit.bench.BenchmarkResult.table` and ``print(result)`` show: a line
per workload and size, under it a row per backend and device with times in the unit
that fits, the speed-up over NumPy on the CPU, and how each result compared with the
others; the runs that were skipped or failed are listed under it with their reasons.
Every line fits :data:`WIDTH` characters (the text column of the documentation) but a
long ``check`` at the end of a row; the fastest and slowest samples are in the JSON and
the plot.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import Measurement
    from .result import BenchmarkResult

__all__ = ["WIDTH", "format_bytes", "format_time", "header", "table"]

#: the widest line the table writes (the documentation's text column)
WIDTH = 88
COLUMNS = ("backend/device", "median", "spread", "n", "first call", "x numpy", "check")
# the columns of numbers, aligned right
_RIGHT = {1, 2, 3, 4, 5}
_INDENT = "  "


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
    return [wrapped for line in lines for wrapped in textwrap.wrap(line, WIDTH)]


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
        return [m.check, "", "", "", ""]
    if not m.counts:
        return ["not counted", "", str(m.count), format_time(m.first_s), ""]
    ratio = result.speedup(m)
    return [
        format_time(m.median_s),
        format_time(m.spread_s),
        str(m.count),
        format_time(m.first_s),
        "-" if ratio is None else f"{ratio:.3g}",
    ]


def table(result: BenchmarkResult) -> str:
    """``result``'s measurements as an aligned text table: a line per workload and size,
    a row per backend and device under it; see
    :meth:`backendkit.bench.BenchmarkResult.table` for the columns."""
    groups: list[tuple[str, list[list[str]]]] = []
    previous = None
    for m in result.measurements:
        if (m.workload, m.size) != previous:
            groups.append((f"{m.workload}, size {m.size}", []))
            previous = (m.workload, m.size)
        groups[-1][1].append([m.label, *_stats(result, m), _check(result, m)])
    # the last column (check) is left ragged
    widths = [len(c) for c in COLUMNS[:-1]]
    for _, rows in groups:
        for row in rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row[:-1], strict=False)]

    def line(cells: Iterable[str]) -> str:
        cells = list(cells)
        out = [
            c.rjust(w) if i in _RIGHT else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells[:-1], widths, strict=True))
        ]
        return (_INDENT + "  ".join([*out, cells[-1]])).rstrip()

    lines = header(result)
    if lines:
        lines.append("")
    lines += [line(COLUMNS), line(["-" * w for w in widths] + ["-----"])]
    for title, rows in groups:
        lines += [title, *(line(row) for row in rows)]
    notes = [r for r in result.runs if r.status != "ok"]
    if notes:
        lines.append("")
        for r in notes:
            lines += textwrap.wrap(f"{r.backend}/{r.device}: {r.status}: {r.reason}", WIDTH)
    return "\n".join(lines)
