"""A benchmark result as a figure: time per call against size, one panel per workload.

What :meth:`backendkit.bench.BenchmarkResult.plot` draws. matplotlib is imported when
a plot is made, not with this module: the benchmark runs without it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .result import BenchmarkResult

__all__ = ["plot"]

_MARKERS = "osD^v<>ph*"


def plot(
    result: BenchmarkResult,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
) -> Any:
    """Time per call against size, one panel per workload, one line per backend and
    device, both axes logarithmic; saved to ``path`` when one is given.

    Bars span the fastest to the slowest sample around the median. Results that did
    not agree with the other backends are left out.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ImportError
        Without matplotlib; the message says how to install it.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.ticker import NullFormatter
    except ImportError as exc:
        raise ImportError(
            "BenchmarkResult.plot needs matplotlib: pip install 'backendkit[bench]'"
        ) from exc
    names = list(dict.fromkeys(m.workload for m in result.measurements))
    labels = list(dict.fromkeys(m.label for m in result.measurements))
    ncols = min(3, max(1, len(names)))
    nrows = max(1, -(-len(names) // ncols))
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        for i, label in enumerate(labels):
            ms = [m for m in result.measurements if m.workload == name and m.label == label]
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
                marker=_MARKERS[i % len(_MARKERS)],
                capsize=3,
                label=label,
                color=f"C{i}",
            )
        info = result.workloads.get(name, {})
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
