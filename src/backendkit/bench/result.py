"""What a benchmark run found: timings, checks, skipped runs and the machine.

A :class:`~backendkit.bench.BenchmarkResult` holds everything needed to read a run later, on another
machine: the raw per-call times (so that any statistic can be recomputed), the first
call apart, how each result compared with the other backends, why a backend or device
was skipped or failed, and the hardware and versions it ran on. It prints as a text
table, round-trips through JSON (:meth:`~backendkit.bench.BenchmarkResult.to_json`,
:meth:`~backendkit.bench.BenchmarkResult.from_json`) and plots time against size
(:meth:`~backendkit.bench.BenchmarkResult.plot`).

Statistics are robust ones: the median (not the mean, which one descheduled sample can
drag far off) and the interquartile range as the spread.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BenchmarkError

__all__ = ["BenchmarkResult", "Measurement", "Run"]

#: the ``schema`` field of the JSON files this module writes and reads
SCHEMA = "backendkit-benchmark/1"

# checks under which a time counts; "mismatch" and "failed" do not
_COUNTED = ("ok", "reference", "unchecked")


@dataclass
class Measurement:
    """The timings of one workload at one size on one backend and device.

    ``times_s`` are seconds per call, one per sample (a sample times ``number`` calls,
    each ended by ``block_until_ready``); ``first_s`` is the first call alone,
    compilation included. ``check`` is ``reference`` (the result others were compared
    with), ``ok``, ``mismatch`` (the time does not count), ``unchecked`` (no other
    backend ran it), ``failed`` or ``skipped`` (``error`` says why).
    """

    workload: str
    size: int
    backend: str
    device: str
    times_s: list[float] = field(default_factory=list)
    number: int = 0
    first_s: float | None = None
    check: str = "unchecked"
    max_diff: float | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        """``backend/device``, as in the table and the plot legend."""
        return f"{self.backend}/{self.device}"

    @property
    def counts(self) -> bool:
        """Whether the time counts: it ran, and its result agreed with the others."""
        return self.check in _COUNTED and bool(self.times_s)

    @property
    def count(self) -> int:
        """Number of timed samples."""
        return len(self.times_s)

    def _stat(self, fn: Any) -> float | None:
        return float(fn(self.times_s)) if self.times_s else None

    @property
    def median_s(self) -> float | None:
        """Median seconds per call over the samples."""
        return self._stat(np.median)

    @property
    def min_s(self) -> float | None:
        """Fastest sample, seconds per call."""
        return self._stat(np.min)

    @property
    def max_s(self) -> float | None:
        """Slowest sample, seconds per call."""
        return self._stat(np.max)

    @property
    def spread_s(self) -> float | None:
        """Interquartile range of the samples, seconds per call."""
        if not self.times_s:
            return None
        q25, q75 = np.percentile(self.times_s, [25, 75])
        return float(q75 - q25)


@dataclass
class Run:
    """One (backend, device) pair: its own process, and what became of it.

    ``status`` is ``ok``, ``skipped`` (``reason`` says why: not installed, no such
    device) or ``failed`` (``reason`` holds the error, e.g. a child that died).
    ``device_info`` is the device's record (name, memory) as the child saw it.
    """

    backend: str
    device: str
    status: str
    reason: str | None = None
    device_info: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None


def _format_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3)):
        value = float(f"{seconds / scale:.3g}")  # 999.6 ns rounds to 1 µs, not 1e+03 ns
        if value < 1000:
            return f"{value:.3g} {unit}"
    return f"{seconds:.3g} s"


def _format_bytes(n: Any) -> str:
    return f"{n / 2**30:.1f} GiB" if isinstance(n, (int, float)) else "?"


@dataclass
class BenchmarkResult:
    """The outcome of :func:`backendkit.benchmark`: print it, save it, plot it.

    Attributes
    ----------
    measurements : list of Measurement
        One per workload, size, backend and device that was asked for and could run.
    runs : list of Run
        One per (backend, device) pair, with why it was skipped or failed.
    environment : dict
        CPU, accelerators, memory and versions (see
        :func:`backendkit.bench.environment.collect`).
    workloads : dict
        Per workload: description, what its size means and the check's tolerance.
    settings : dict
        Repeats, warm-up, sample time and seed of the run.

    Examples
    --------
    >>> from backendkit.bench import BenchmarkResult, Measurement
    >>> m = Measurement("matmul", 64, "numpy", "cpu", times_s=[2e-5, 1e-5, 3e-5], number=10)
    >>> result = BenchmarkResult(measurements=[m])
    >>> m.median_s
    2e-05
    >>> BenchmarkResult.from_json(result.to_json()).measurements[0].median_s
    2e-05
    """

    measurements: list[Measurement] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    workloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ reading
    def find(
        self,
        workload: str | None = None,
        size: int | None = None,
        backend: str | None = None,
        device: str | None = None,
    ) -> list[Measurement]:
        """The measurements matching every argument given.

        Examples
        --------
        >>> from backendkit.bench import BenchmarkResult, Measurement
        >>> r = BenchmarkResult([Measurement("fft", 8, "numpy", "cpu", [1e-6], 1)])
        >>> [m.label for m in r.find(workload="fft")]
        ['numpy/cpu']
        """
        wanted = {"workload": workload, "size": size, "backend": backend, "device": device}
        return [
            m
            for m in self.measurements
            if all(v is None or getattr(m, k) == v for k, v in wanted.items())
        ]

    def speedup(self, m: Measurement, baseline: str = "numpy/cpu") -> float | None:
        """How many times faster ``m`` ran than ``baseline`` on the same workload and
        size (``None`` where either time does not count)."""
        base = [x for x in self.find(m.workload, m.size) if x.label == baseline and x.counts]
        if not base or not m.counts or not m.median_s:
            return None
        return base[0].median_s / m.median_s  # type: ignore[operator]

    @property
    def ok(self) -> bool:
        """No run failed and every result agreed across backends (skips are fine)."""
        return all(r.status != "failed" for r in self.runs) and all(
            m.check not in ("mismatch", "failed") for m in self.measurements
        )

    # ------------------------------------------------------------------ the table
    def _header(self) -> list[str]:
        env = self.environment
        if not env:
            return []
        cpu = env.get("cpu", {})
        cores = f"{cpu.get('usable_cores', '?')} usable of {cpu.get('logical_cores', '?')}"
        memory = _format_bytes(env.get("memory_bytes"))
        lines = [f"CPU: {cpu.get('model', '?')} ({cores} logical cores), memory {memory}"]
        load = env.get("load_average")
        if load is not None:
            lines[0] += f", load average {load:.2f} at the start"
        accelerators = env.get("accelerators") or []
        if accelerators:
            for acc in accelerators:
                lines.append(
                    f"accelerator: {acc.get('name', '?')} ({acc.get('kind', '?')}, "
                    f"{_format_bytes(acc.get('memory_total'))})"
                )
        else:
            lines.append("accelerator: none seen")
        versions = env.get("versions", {})
        lines.append(
            f"python {env.get('python', '?')}; "
            + ", ".join(f"{k} {v if v else 'not installed'}" for k, v in versions.items())
        )
        return lines

    def table(self) -> str:
        """The measurements as an aligned text table, one row per backend and device.

        Times are per call: the median over the samples, the fastest and slowest
        sample, the interquartile range (``spread``), the number of samples (``n``)
        and the first call alone (compilation included). ``x numpy`` is how many
        times faster than NumPy on the CPU. A result that disagreed with the other
        backends shows ``not counted`` and the difference found.
        """
        columns = ("workload", "size", "backend/device", "median", "min", "max", "spread")
        columns += ("n", "first call", "x numpy", "check")
        rows = []
        previous = None
        for m in self.measurements:
            if previous is not None and (m.workload, m.size) != previous:
                rows.append(None)
            previous = (m.workload, m.size)
            if m.check in ("failed", "skipped"):
                stats = [m.check, "", "", "", "", "", ""]
            elif not m.counts:
                stats = ["not counted", "", "", "", str(m.count), _format_time(m.first_s), ""]
            else:
                ratio = self.speedup(m)
                stats = [
                    _format_time(m.median_s),
                    _format_time(m.min_s),
                    _format_time(m.max_s),
                    _format_time(m.spread_s),
                    str(m.count),
                    _format_time(m.first_s),
                    "-" if ratio is None else f"{ratio:.3g}",
                ]
            check = m.check
            if m.check == "mismatch" and m.error:
                check = f"mismatch: {m.error}"
            elif m.check == "mismatch" and m.max_diff is not None:
                tol = self.workloads.get(m.workload, {}).get("tolerance", "")
                check = f"mismatch: max |diff| {m.max_diff:.2g} ({tol})"
            elif m.check == "ok" and m.max_diff:
                check = f"ok (|diff| {m.max_diff:.1g})"
            elif m.check == "ok":
                check = "ok (exact)"
            elif m.check in ("failed", "skipped"):
                check = f"{m.check}: {m.error}"
            rows.append([m.workload, str(m.size), m.label, *stats, check])
        widths = [len(c) for c in columns]
        for row in rows:
            if row is not None:
                widths = [
                    max(w, len(cell)) for w, cell in zip(widths[:-1], row[:-1], strict=True)
                ] + [0]
        right = {1, 3, 4, 5, 6, 7, 8, 9}

        def line(cells: Any) -> str:
            out = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(out).rstrip()

        lines = self._header()
        if lines:
            lines.append("")
        lines += [line(columns), line("-" * w if w else "-----" for w in widths)]
        lines += ["" if row is None else line(row) for row in rows]
        notes = [r for r in self.runs if r.status != "ok"]
        if notes:
            lines.append("")
            lines += [f"{r.backend}/{r.device}: {r.status}: {r.reason}" for r in notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the raw samples, and for readers the statistics too."""
        measurements = []
        for m in self.measurements:
            d = asdict(m)
            d.update(
                median_s=m.median_s,
                min_s=m.min_s,
                max_s=m.max_s,
                spread_s=m.spread_s,
                count=m.count,
            )
            measurements.append(d)
        return {
            "schema": SCHEMA,
            "environment": self.environment,
            "settings": self.settings,
            "workloads": self.workloads,
            "runs": [asdict(r) for r in self.runs],
            "measurements": measurements,
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The result as JSON text, also written to ``path`` when one is given.

        Examples
        --------
        >>> from backendkit.bench import BenchmarkResult
        >>> '"schema": "backendkit-benchmark/1"' in BenchmarkResult().to_json()
        True
        """
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> BenchmarkResult:
        """A result from JSON text or from the path of a file ``to_json`` wrote.

        Raises
        ------
        BenchmarkError
            If the file is missing, is not JSON, or is not a benchmark result; the
            message names the file.
        """
        is_text = isinstance(source, str) and source.lstrip().startswith("{")
        where = "the JSON text" if is_text else f"{os.fspath(source)!r}"
        try:
            data = json.loads(source if is_text else Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BenchmarkError(
                f"cannot read a benchmark result from {where}: {exc}; give a file that "
                f"BenchmarkResult.to_json() or `python -m backendkit bench --json` wrote"
            ) from exc
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            found = data.get("schema") if isinstance(data, dict) else type(data).__name__
            raise BenchmarkError(
                f"{where} is not a backendkit benchmark result (schema {found!r}, "
                f"expected {SCHEMA!r})"
            )
        stats = {"median_s", "min_s", "max_s", "spread_s", "count"}
        try:
            measurements = [
                Measurement(**{k: v for k, v in m.items() if k not in stats})
                for m in data["measurements"]
            ]
            runs = [Run(**r) for r in data["runs"]]
        except (KeyError, TypeError) as exc:
            raise BenchmarkError(f"{where} is a damaged benchmark result: {exc}") from exc
        return cls(
            measurements=measurements,
            runs=runs,
            environment=data.get("environment", {}),
            workloads=data.get("workloads", {}),
            settings=data.get("settings", {}),
        )

    # ------------------------------------------------------------------ the plot
    def plot(self, path: str | os.PathLike[str] | None = None, *, title: str | None = None) -> Any:
        """Time per call against size, one panel per workload, one line per backend and
        device, both axes logarithmic; saved to ``path`` when one is given.

        Bars span the fastest to the slowest sample around the median. Results that did
        not agree with the other backends are left out. Needs matplotlib
        (``pip install 'backendkit[bench]'``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        try:
            from matplotlib.figure import Figure
            from matplotlib.ticker import NullFormatter
        except ImportError as exc:
            raise ImportError(
                "BenchmarkResult.plot needs matplotlib: pip install 'backendkit[bench]'"
            ) from exc
        names = list(dict.fromkeys(m.workload for m in self.measurements))
        labels = list(dict.fromkeys(m.label for m in self.measurements))
        ncols = min(3, max(1, len(names)))
        nrows = max(1, -(-len(names) // ncols))
        fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows + 0.6), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        markers = "osD^v<>ph*"
        for ax, name in zip(axes, names, strict=False):
            for i, label in enumerate(labels):
                ms = [m for m in self.measurements if m.workload == name and m.label == label]
                ms = sorted((m for m in ms if m.counts), key=lambda m: m.size)
                if not ms:
                    continue
                x = [m.size for m in ms]
                y = np.array([m.median_s for m in ms])
                err = [y - [m.min_s for m in ms], [m.max_s for m in ms] - y]
                ax.errorbar(
                    x,
                    y,
                    yerr=err,
                    marker=markers[i % len(markers)],
                    capsize=3,
                    label=label,
                    color=f"C{i}",
                )
            info = self.workloads.get(name, {})
            ax.set_title(name, fontsize="medium")
            ax.set_xlabel(info.get("size_label", "size"))
            ax.set_ylabel("seconds per call")
            ax.set_xscale("log")
            ax.set_yscale("log")
            # sizes less than a decade apart would get crowded minor-tick labels
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
        for ax in axes[len(names) :]:
            ax.set_visible(False)
        handles, legend_labels = [], []
        for ax in axes[: len(names)]:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in legend_labels:
                    handles.append(h)
                    legend_labels.append(lab)
        if handles:
            fig.legend(handles, legend_labels, loc="outside lower center", ncols=len(handles))
        if title:
            fig.suptitle(title)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig
