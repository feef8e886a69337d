"""Backends as plug-ins: one class per framework behind one interface (see ``_base``)."""

from ._base import Backend
from ._registry import (
    ALIASES,
    NAMES,
    backend_name_of,
    canonical_name,
    check_same_backend,
    is_installed,
    load,
)

__all__ = [
    "ALIASES",
    "NAMES",
    "Backend",
    "backend_name_of",
    "canonical_name",
    "check_same_backend",
    "is_installed",
    "load",
]
