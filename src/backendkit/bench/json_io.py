"""A benchmark result as JSON: written with its raw samples, read back whole.

The file carries everything needed to read a run later, on another machine: the raw
per-call times (so that any statistic can be recomputed), and, for readers who do not
recompute, the statistics too; the runs and why any was skipped or failed; the
workloads' descriptions and tolerances; the settings; the hardware and versions. Its
``schema`` field names the format, so that a file of something else is refused with
a message that says so, not with a ``KeyError``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BenchmarkError
from .records import Measurement, Run

if TYPE_CHECKING:
    from .result import BenchmarkResult

__all__ = ["SCHEMA", "dumps", "parse", "to_dict"]

#: the ``schema`` field of the JSON files this module writes and reads
SCHEMA = "backendkit-benchmark/1"

# statistics written for readers, recomputed from the samples when read back
_STATISTICS = {"median_s", "min_s", "max_s", "spread_s", "count"}


def to_dict(result: BenchmarkResult) -> dict[str, Any]:
    """Plain data for JSON: the raw samples, and for readers the statistics too."""
    measurements = []
    for m in result.measurements:
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
        "environment": result.environment,
        "settings": result.settings,
        "workloads": result.workloads,
        "runs": [asdict(r) for r in result.runs],
        "measurements": measurements,
    }


def dumps(result: BenchmarkResult) -> str:
    """``result`` as JSON text, indented, ending with a newline (no NaN: strict JSON)."""
    return json.dumps(to_dict(result), indent=2, allow_nan=False) + "\n"


def parse(source: str | os.PathLike[str]) -> dict[str, Any]:
    """The fields of a :class:`~backendkit.bench.BenchmarkResult` from JSON text or from
    the path of a file that :func:`dumps` wrote.

    Raises
    ------
    BenchmarkError
        If the file is missing, is not JSON, or is not a benchmark result; the
        message names the file.
    """
    is_text = isinstance(source, str) and source.lstrip().startswith("{")
    where = "the JSON text" if is_text else f"{os.fspath(source)!r}"
    try:
        text = os.fspath(source) if is_text else Path(source).read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise BenchmarkError(
            f"cannot read a benchmark result from {where}: {exc}; give a file that "
            f"BenchmarkResult.to_json() or `python -m backendkit bench --json` wrote"
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise BenchmarkError(
            f"{where} is not a backendkit benchmark result (schema {found!r}, expected {SCHEMA!r})"
        )
    try:
        measurements = [
            Measurement(**{k: v for k, v in m.items() if k not in _STATISTICS})
            for m in data["measurements"]
        ]
        runs = [Run(**r) for r in data["runs"]]
    except (KeyError, TypeError) as exc:
        raise BenchmarkError(f"{where} is a damaged benchmark result: {exc}") from exc
    return {
        "measurements": measurements,
        "runs": runs,
        "environment": data.get("environment", {}),
        "workloads": data.get("workloads", {}),
        "settings": data.get("settings", {}),
    }
