"""``backendkit.bench``: time workloads on every backend and device, honestly.

:func:`backendkit.benchmark` runs each (backend, device) pair in its own fresh process, times the
first call (compilation included) apart from the steady state, waits for every result
with :func:`backendkit.block_until_ready`, checks that every backend computed the same
thing before its time counts, and records the machine. A saved Keras model is timed
the same way (``benchmark(model_path="model.keras")``, :mod:`backendkit.bench.model`).
``python -m backendkit bench`` is the same on the command line
(:mod:`backendkit.bench.cli`).

Importing this package imports no framework and no plotting or progress library; those
are imported when a run or a plot needs them.
"""

from .engine import benchmark
from .flare import flare_cnn
from .model import ModelWorkload, model_workload
from .records import Measurement, Run
from .result import BenchmarkResult
from .workloads import WORKLOADS, Workload, get_workload

__all__ = [
    "WORKLOADS",
    "BenchmarkResult",
    "Measurement",
    "ModelWorkload",
    "Run",
    "Workload",
    "benchmark",
    "flare_cnn",
    "get_workload",
    "model_workload",
]
