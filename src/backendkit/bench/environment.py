"""The machine and software a benchmark ran on, recorded next to its numbers.

A time means little without the hardware and the versions behind it, so every result
carries them. Everything here is read without importing a framework: versions come
from the installed packages' metadata, the CPU from the operating system (the same
readings as the device records, ``backendkit._host``). Accelerators are seen only by
the child processes that run on them (importing jax or torch here would start their
runtimes in this process, and on a GPU take device memory the children need); the
engine adds their records afterwards.
"""

from __future__ import annotations

import datetime
import os
import platform
from typing import Any

from .._host import cpu_name, host_memory, package_version

__all__ = ["PACKAGES", "collect", "package_versions"]

#: the distributions whose versions every result records
PACKAGES = ("numpy", "jax", "jaxlib", "torch", "keras", "backendkit")


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` where it is not installed).

    backendkit run from a source tree without being installed reports its own
    ``__version__``.

    Examples
    --------
    >>> versions = package_versions(("numpy",))
    >>> list(versions)
    ['numpy']
    """
    return {name: package_version(name) for name in packages}


def collect() -> dict[str, Any]:
    """Where a benchmark runs: CPU model and cores, memory, Python and package versions.

    Returns
    -------
    dict
        ``cpu`` (``model``, ``logical_cores``, ``usable_cores``: those this process
        may run on), ``load_average`` (processes wanting a core over the last minute,
        where the system tells: more than the cores means a busy machine and noisy
        times), ``memory_bytes``, ``python``, ``platform``, ``versions`` (see
        ``PACKAGES``), ``time`` (UTC) and ``accelerators``, empty here and filled
        by the engine from what its child processes saw.

    Examples
    --------
    >>> env = collect()
    >>> sorted(env["cpu"])
    ['logical_cores', 'model', 'usable_cores']
    """
    logical = os.cpu_count()
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = logical
    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    return {
        "cpu": {"model": cpu_name(), "logical_cores": logical, "usable_cores": usable},
        "load_average": load,
        "memory_bytes": host_memory()[1],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "accelerators": [],
    }
