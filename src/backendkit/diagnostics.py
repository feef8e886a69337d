"""Diagnostics: what backendkit runs on, for a user's question or a bug report.

:func:`backendkit.print_backend_info` prints a few aligned lines about the backend in use (as
DESC's does); :func:`backendkit.check_backend` returns a structured report of every backend and
of Keras (as stella's does), which ``python -m backendkit info [--json]`` prints.

Looking must not change what is looked at. stella's check imports keras, which fixes
Keras' backend for the rest of the process and writes ``keras.json`` where none exists;
importing jax or torch costs seconds and starts their runtimes. So
:func:`backendkit.check_backend` reads versions from the installed packages' metadata, finds
Keras' backend as Keras would (:func:`backendkit.keras.backend_and_source`), and lists
the devices of a framework only when it is imported already or the caller passes
``probe=True``. It never imports keras.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import platform
import sys
from collections.abc import Sequence
from typing import IO, Any

from . import backends
from ._devices import Device, MemoryInfo, device_source, devices, get_device
from ._host import package_version
from ._version import __version__
from .errors import ArgumentTypeError

__all__ = [
    "BackendReport",
    "BackendStatus",
    "KerasStatus",
    "add_arguments",
    "check_backend",
    "print_backend_info",
    "run",
]

# Backend (or Keras backend) name -> the module it imports; the distribution that
# installs it has the same name for every framework listed.
_MODULES = {"numpy": "numpy", "jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@dataclasses.dataclass(frozen=True)
class BackendStatus:
    """One backend in a :class:`~backendkit.diagnostics.BackendReport`.

    Attributes
    ----------
    name : str
        ``numpy``, ``jax`` or ``torch``.
    installed : bool
        Whether its framework can be imported (found without importing it).
    version : str or None
        The framework's version, ``None`` if not installed.
    imported : bool
        Whether the framework was imported when the report was made (before any
        probing).
    devices : tuple of Device, or None
        Its devices; ``None`` when not looked at (not imported, and ``probe=False``).
    accelerators : tuple of str, or None
        The platforms of its devices other than the CPU (``cuda``, ``rocm``, ``mps``,
        ``metal``, ``tpu``); empty for none, ``None`` when not looked at.
    error : str or None
        Why listing its devices failed, if it did.
    """

    name: str
    installed: bool
    version: str | None
    imported: bool
    devices: tuple[Device, ...] | None = None
    accelerators: tuple[str, ...] | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class KerasStatus:
    """Keras in a :class:`~backendkit.diagnostics.BackendReport`, found without importing keras.

    Attributes
    ----------
    installed : bool
    version : str or None
    imported : bool
        If so, its backend is fixed for this process.
    backend : str
        The backend Keras uses, or would use if imported now.
    source : str
        Why: ``keras imported``, ``KERAS_BACKEND``, ``keras.json <path>`` or
        ``Keras' default``.
    backend_installed : bool
        Whether that backend's framework is installed (else ``import keras`` fails).
    variable : str or None
        ``KERAS_BACKEND`` as set in the environment (``None`` if unset or empty).
    saved : str or None
        The backend saved in ``keras.json`` (by :func:`backendkit.keras.swap_backend`
        or by hand), ``None`` where it names none.
    """

    installed: bool
    version: str | None
    imported: bool
    backend: str
    source: str
    backend_installed: bool
    variable: str | None = None
    saved: str | None = None

    @property
    def overridden(self) -> bool:
        """Whether ``KERAS_BACKEND`` wins over another backend saved in ``keras.json``:
        every session started with the variable set ignores the saved choice."""
        return None not in (self.variable, self.saved) and self.variable != self.saved

    def override_note(self) -> str:
        """The sentence diagnostics print when :attr:`overridden`, else ``""``."""
        if not self.overridden:
            return ""
        return (
            f"KERAS_BACKEND={self.variable!r} in the environment overrides the "
            f"{self.saved!r} saved in keras.json in every session started with it; unset "
            f"it (and its export in your shell profile) for the saved choice to apply"
        )


@dataclasses.dataclass(frozen=True)
class BackendReport:
    """What :func:`backendkit.check_backend` found. ``str(report)`` is a readable table;
    :meth:`to_dict` gives the same as plain data (for JSON)."""

    backendkit_version: str
    python: str
    platform: str
    cpu_count: int | None
    #: the current backend (``None`` if its selection is invalid) and why
    selected: str | None
    selected_because: str
    #: where the current backend's new arrays go (``None`` if not looked at) and why
    device: Device | None
    device_because: str
    backends: tuple[BackendStatus, ...]
    keras: KerasStatus

    def to_dict(self) -> dict[str, Any]:
        """The report as nested dicts, lists and scalars (``json.dumps`` takes it)."""
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        lines = [
            (
                f"backendkit {self.backendkit_version} on Python {self.python} "
                f"({self.platform}, {self.cpu_count} CPUs)"
            ),
            f"selected: {self.selected or 'none'} ({self.selected_because})",
        ]
        if self.device is not None:
            lines.append(f"device:   {self.device} ({self.device_because})")
        else:
            lines.append(f"device:   {self.device_because}")
        rows = [("backend", "installed", "version", "imported", "accelerators", "devices")]
        for b in self.backends:
            looked = b.devices is not None
            rows.append(
                (
                    b.name + (" *" if b.name == self.selected else ""),
                    "yes" if b.installed else "no",
                    b.version or "-",
                    "yes" if b.imported else "no",
                    (", ".join(b.accelerators or ()) or "none") if looked else "-",
                    ", ".join(d.spec for d in b.devices)  # type: ignore[union-attr]
                    if looked
                    else b.error or ("not probed" if b.installed else "-"),
                )
            )
        k = self.keras
        would = "uses" if k.imported else "would use"
        missing = "" if k.backend_installed else ", which is not installed"
        rows.append(
            (
                "keras",
                "yes" if k.installed else "no",
                k.version or "-",
                "yes" if k.imported else "no",
                "-",
                f"{would} {k.backend}{missing} ({k.source})",
            )
        )
        lines += ["", *_table(rows)]
        if k.overridden:
            lines += ["", f"note: {k.override_note()}"]
        listed = [d for b in self.backends for d in (b.devices or ())]
        if listed:
            lines += ["", *_table([(d.backend, d.spec, d.name, _memory(d)) for d in listed])]
        if any(b.installed and b.devices is None for b in self.backends):
            lines += ["", "(check_backend(probe=True) or `python -m backendkit info` lists all)"]
        return "\n".join(lines)


def _memory(d: Device) -> str:
    return str(MemoryInfo(d.free_memory, d.total_memory))


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _backend_status(name: str, probe: bool) -> BackendStatus:
    module = _MODULES[name]
    installed = backends.is_installed(name)
    imported = module in sys.modules
    status = BackendStatus(
        name, installed, package_version(module) if installed else None, imported
    )
    if not installed or not (imported or probe):
        return status
    try:
        found = tuple(devices(name))
    # A broken install (CUDA that fails to start, a missing library) is what a bug
    # report needs to show, whatever it raises: report it rather than end the report.
    except Exception as exc:  # noqa: BLE001
        return dataclasses.replace(status, error=f"{type(exc).__name__}: {exc}")
    accelerators = tuple(sorted({d.platform for d in found if d.kind != "cpu"}))
    return dataclasses.replace(status, devices=found, accelerators=accelerators)


def _keras_status() -> KerasStatus:
    from .keras import backend_and_source, saved_backend

    backend, source = backend_and_source()
    return KerasStatus(
        installed=_installed("keras"),
        version=package_version("keras"),
        imported="keras" in sys.modules,
        backend=backend,
        source=source,
        backend_installed=_installed(_MODULES.get(backend, backend)),
        variable=os.environ.get("KERAS_BACKEND") or None,
        saved=saved_backend(),
    )


def check_backend(probe: bool = False) -> BackendReport:
    """A report of every backend backendkit knows, and of Keras.

    For each backend: installed or not, its version, whether it is imported, and its
    devices and accelerators; which backend is selected and why; the device new arrays
    go to; and for Keras, the backend it uses or would use and why. Nothing is
    imported that was not imported already, keras never, unless ``probe=True``.

    Parameters
    ----------
    probe : bool, default False
        Import every installed framework (never keras) to list its devices. Without
        it, only frameworks already imported have their devices listed.

    Returns
    -------
    backendkit.diagnostics.BackendReport
        ``print(report)`` shows a table; ``report.to_dict()`` gives plain data.

    Examples
    --------
    >>> import backendkit as bk
    >>> report = bk.check_backend()
    >>> [b.name for b in report.backends]
    ['numpy', 'jax', 'torch']
    >>> report.backends[0].installed
    True
    """
    from .errors import BackendError
    from .selection import get_backend, selection_source

    statuses = tuple(_backend_status(name, probe) for name in backends.NAMES)
    try:
        selected: str | None = get_backend()
        because = selection_source()
    except BackendError as exc:  # e.g. a BACKENDKIT_BACKEND that names no backend
        selected, because = None, f"invalid selection: {exc}"
    device, device_because = None, "not looked at (its framework is not imported)"
    status = next((s for s in statuses if s.name == selected), None)
    if status is not None and status.devices is not None:
        try:
            device, device_because = get_device(), device_source()
        except BackendError as exc:  # a chosen device this backend does not have
            device_because = f"unavailable: {exc}"
    return BackendReport(
        backendkit_version=__version__,
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        cpu_count=os.cpu_count(),
        selected=selected,
        selected_because=because,
        device=device,
        device_because=device_because,
        backends=statuses,
        keras=_keras_status(),
    )


def _default_dtype(backend: backends.Backend) -> str:
    from ._dtypes import float_name
    from .precision import get_default_dtype

    chosen = get_default_dtype() is not None
    return f"{float_name(backend)} ({'backendkit default' if chosen else 'framework default'})"


def print_backend_info(file: IO[str] | None = None) -> None:
    """Print backendkit's version, the backend in use, its dtype and device.

    One aligned line each: backendkit's version; the selected backend, its version
    and why it is selected; the default floating dtype; the device new arrays go to,
    with its free memory; every installed backend with its version; and the backend
    Keras uses or would use, and why, with a warning where ``KERAS_BACKEND`` overrides
    the one saved in ``keras.json``. Loads the selected backend (importing its
    framework), as using it would; never imports keras.

    Parameters
    ----------
    file : file-like, optional
        Where to print (an object with a ``write`` method); default ``sys.stdout``.

    Raises
    ------
    ArgumentTypeError
        If ``file`` has no ``write`` method (a path, say: open it first).

    Examples
    --------
    >>> import backendkit as bk
    >>> with bk.use_backend("numpy"):
    ...     bk.print_backend_info()  # doctest: +ELLIPSIS
    backendkit  ...
    backend     numpy ... (use_backend)
    dtype       float64...
    device      cpu:0 ...
    installed   numpy ...
    keras       ...
    """
    from .selection import current, selection_source

    if file is not None and not callable(getattr(file, "write", None)):
        raise ArgumentTypeError(
            f"print_backend_info: file must be a file-like object with a write method, "
            f"got {type(file).__name__} {file!r}; for a path: with open(path, 'w') as f: "
            f"print_backend_info(file=f)"
        )
    backend = current()
    device = get_device()
    memory = MemoryInfo(device.free_memory, device.total_memory)
    installed = ", ".join(
        f"{name} {package_version(_MODULES[name])}"
        for name in backends.NAMES
        if backends.is_installed(name)
    )
    lines = [
        ("backendkit", __version__),
        ("backend", f"{backend.name} {backend.version} ({selection_source()})"),
        ("dtype", _default_dtype(backend)),
        ("device", f"{device.spec} {device.name} ({device_source()}): {memory}"),
        ("installed", installed),
        ("keras", _keras_line(_keras_status())),
    ]
    for label, value in lines:
        print(f"{label:<12}{value}", file=file)


def _keras_line(k: KerasStatus) -> str:
    if not k.installed:
        return "not installed"
    would = "uses" if k.imported else "would use"
    line = f"{k.version}, {would} {k.backend} ({k.source})"
    return f"{line}; warning: {k.override_note()}" if k.overridden else line


# ------------------------------------------------------------------ command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m backendkit info``."""
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--no-probe",
        action="store_true",
        help="do not import the frameworks to list their devices (faster; devices omitted)",
    )


def run(args: argparse.Namespace) -> int:
    """``python -m backendkit info``: print :func:`backendkit.check_backend`'s report;
    exit 0."""
    # A fresh process has imported no framework: without probing it would list none.
    report = check_backend(probe=not args.no_probe)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0
