"""Backends as plug-ins: one class per framework behind one interface (see ``_base``),
registered by name (see ``_registry``)."""

from ._base import Backend, DeviceEntry
from ._registry import (
    ALIASES,
    LOADED,
    NAMES,
    TYPE_CACHES,
    canonical_name,
    host_name,
    install_hint,
    is_framework,
    is_installed,
    load,
    owner_of,
    owner_of_module,
    plugin,
    register,
    single_owner,
    unregister,
)

__all__ = [
    "ALIASES",
    "LOADED",
    "NAMES",
    "TYPE_CACHES",
    "Backend",
    "DeviceEntry",
    "canonical_name",
    "host_name",
    "install_hint",
    "is_framework",
    "is_installed",
    "load",
    "owner_of",
    "owner_of_module",
    "plugin",
    "register",
    "single_owner",
    "unregister",
]
