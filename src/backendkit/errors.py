"""backendkit's exceptions: one small hierarchy under :class:`BackendError`.

Every error says what was given and what to do about it. Each class also derives from
the built-in exception a user would expect (``ValueError`` for a bad name,
``ImportError`` for a missing framework, ``TypeError`` for mixed arrays), so code that
already catches those keeps working.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendMismatchError",
    "BackendNotInstalledError",
    "UnknownBackendError",
]


class BackendError(Exception):
    """Base class of every error backendkit raises on purpose."""


class UnknownBackendError(BackendError, ValueError):
    """A backend name that backendkit does not know (the message lists the valid ones)."""


class BackendNotInstalledError(BackendError, ImportError):
    """A known backend whose framework is not installed (the message names the extra)."""


class BackendMismatchError(BackendError, TypeError):
    """Arrays of two backends met in one call; nothing is converted silently."""
