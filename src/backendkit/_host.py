"""The host machine, read from the operating system: CPU name, RAM, package versions.

Shared by the device records (:mod:`backendkit._devices`), the diagnostics report and
the benchmark's environment record, so that all three describe the machine the same
way. Nothing here imports a framework or shells out; ``importlib.metadata`` (tens of
milliseconds to import) is imported only when a version is asked for.
"""

from __future__ import annotations

import functools
import os
import sys

__all__ = ["cpu_name", "host_memory", "package_version"]


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform  # 2 ms to import: only where /proc/cpuinfo says nothing

    return platform.processor() or platform.machine() or "cpu"


def _meminfo(path: str = "/proc/meminfo") -> tuple[int | None, int | None]:
    fields = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = int(value.split()[0]) * 1024
    return fields.get("MemAvailable"), fields.get("MemTotal")


def _sysconf_memory() -> tuple[int | None, int | None]:
    def pages(name: str) -> int | None:
        try:
            return int(os.sysconf(name)) * int(os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):  # unknown name, or no sysconf
            return None

    # SC_AVPHYS_PAGES counts free pages only (no reclaimable cache): an underestimate
    return pages("SC_AVPHYS_PAGES"), pages("SC_PHYS_PAGES")


def host_memory() -> tuple[int | None, int | None]:
    """(available, total) bytes of RAM: psutil if installed, else the OS directly."""
    try:
        import psutil
    except ImportError:
        pass
    else:
        vm = psutil.virtual_memory()
        return int(vm.available), int(vm.total)
    try:
        return _meminfo()
    except (OSError, ValueError, IndexError):
        return _sysconf_memory()


def package_version(name: str) -> str | None:
    """The version of distribution ``name``, without importing it; ``None`` if absent.

    A module already imported reports its own ``__version__`` (the one running, should
    the metadata disagree, e.g. backendkit run from a source tree).
    """
    loaded = sys.modules.get(name)
    if loaded is not None and hasattr(loaded, "__version__"):
        return str(loaded.__version__)
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
