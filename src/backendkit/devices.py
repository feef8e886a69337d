"""Devices: where backendkit puts the arrays it creates.

(Foundation part: naming the CPU. Device records, ``set_device``, ``use_device`` and
memory come with the devices issue.)
"""

from __future__ import annotations

from typing import Any

from .backends import Backend

__all__ = ["default_device", "framework_device"]


def default_device(backend: Backend) -> Any:
    """The framework device new arrays go to on ``backend``, or ``None`` for the
    framework's own default."""
    return None


def framework_device(backend: Backend, spec: Any) -> Any:
    """The framework's device object for ``spec`` (``"cpu"``)."""
    if spec != "cpu":
        raise ValueError(f"unknown device {spec!r}; valid: 'cpu'")
    if backend.name == "torch":
        return backend.module.device("cpu")
    if backend.name == "jax":
        return backend.module.devices("cpu")[0]
    return None
