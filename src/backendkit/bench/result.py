"""What a benchmark run found, as one object: :class:`BenchmarkResult`.

It holds the records (:mod:`backendkit.bench.records`: one
:class:`~backendkit.bench.Measurement` per workload, size, backend and device, one
:class:`~backendkit.bench.Run` per process), the machine, the workloads and the
settings, and answers questions about them
(:meth:`~backendkit.bench.BenchmarkResult.find`,
:meth:`~backendkit.bench.BenchmarkResult.speedup`,
:attr:`~backendkit.bench.BenchmarkResult.ok`). Its other faces are modules of their
own: the text table (:mod:`backendkit.bench.table`), JSON
(:mod:`backendkit.bench.json_io`) and the plot (:mod:`backendkit.bench.plot`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import json_io
from . import plot as plotting
from . import table as text_table
from .records import Measurement, Run

__all__ = ["BenchmarkResult"]


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

    # ------------------------------------------------------------------ its faces
    def table(self) -> str:
        """The measurements as an aligned text table: a line per workload and size, a
        row per backend and device under it, every line 88 characters at most.

        Times are per call: the median over the samples, the interquartile range
        (``spread``), the number of samples (``n``) and the first call alone
        (compilation included). ``x numpy`` is how many times faster than NumPy on the
        CPU. A result that disagreed with the other backends shows ``not counted`` and
        the difference found. The fastest and slowest samples are in
        :meth:`to_json` and :meth:`plot`.
        """
        return text_table.table(self)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the raw samples, and for readers the statistics too."""
        return json_io.to_dict(self)

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The result as JSON text, also written to ``path`` when one is given.

        Examples
        --------
        >>> from backendkit.bench import BenchmarkResult
        >>> '"schema": "backendkit-benchmark/1"' in BenchmarkResult().to_json()
        True
        """
        text = json_io.dumps(self)
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
        return cls(**json_io.parse(source))

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
        return plotting.plot(self, path, title=title)
