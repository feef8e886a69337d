"""The records a benchmark run produces: one :class:`Measurement` per workload, size,
backend and device, and one :class:`Run` per (backend, device) process.

A measurement keeps the raw per-call times, so that any statistic can be recomputed
later, on another machine; the statistics it offers are robust ones: the median (not
the mean, which one descheduled sample can drag far off) and the interquartile range
as the spread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["COUNTED", "Measurement", "Run"]

#: checks under which a time counts; ``mismatch``, ``failed`` and ``skipped`` do not
COUNTED = ("ok", "reference", "unchecked")


@dataclass
class Measurement:
    """The timings of one workload at one size on one backend and device.

    ``times_s`` are seconds per call, one per sample (a sample times ``number`` calls,
    each ended by ``block_until_ready``); ``first_s`` is the first call alone,
    compilation included. ``check`` is ``reference`` (the result others were compared
    with), ``ok``, ``mismatch`` (the time does not count), ``unchecked`` (no other
    backend ran it), ``failed`` or ``skipped`` (``error`` says why).

    Examples
    --------
    >>> from backendkit.bench import Measurement
    >>> m = Measurement("fft", 1024, "numpy", "cpu", times_s=[3e-6, 1e-6, 2e-6], number=100)
    >>> m.label, m.median_s, m.counts
    ('numpy/cpu', 2e-06, True)
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
        return self.check in COUNTED and bool(self.times_s)

    @property
    def count(self) -> int:
        """Number of timed samples."""
        return len(self.times_s)

    def _stat(self, fn: Callable[[Sequence[float]], Any]) -> float | None:
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
