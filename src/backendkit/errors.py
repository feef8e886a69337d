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
    "ConfigError",
    "KerasBackendError",
    "RunnerError",
    "RunnerTimeoutError",
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


class KerasBackendError(BackendError, RuntimeError):
    """Keras is already imported with another backend than the one asked for.

    Keras fixes its backend when it is imported; the message names the loaded and the
    requested backend and the two ways out (restart, or :func:`run_in_backend`).
    """


class RunnerError(BackendError, ChildProcessError):
    """A function run in a child interpreter gave no result back: the child died,
    timed out, or its result or exception could not be sent back.

    Attributes
    ----------
    returncode : int or None
        The child's exit status (negative: killed by that signal), ``None`` if no child
        ran or it had to be killed.
    stderr : str
        The end of what the child wrote to standard error.
    """

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


class RunnerTimeoutError(RunnerError, TimeoutError):
    """A child interpreter did not finish within its ``timeout`` and was killed."""


class ConfigError(BackendError, ValueError):
    """A settings file (``keras.json``, backendkit's ``config.json``) that cannot be
    read or is not a JSON object; it is left untouched."""
