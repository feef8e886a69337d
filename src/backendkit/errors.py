"""backendkit's exceptions: one small hierarchy under :class:`BackendError`.

Every error says what was given and what to do about it. Each class also derives from
the built-in exception a user would expect (``ValueError`` for a bad name,
``ImportError`` for a missing framework, ``TypeError`` for mixed arrays), so code that
already catches those keeps working.
"""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "ArgumentValueError",
    "AxisNameError",
    "BackendError",
    "BackendMismatchError",
    "BackendNotInstalledError",
    "BenchmarkError",
    "ConfigError",
    "ControlFlowError",
    "DeviceError",
    "DeviceFallbackWarning",
    "DistributedError",
    "DistributedTimeoutError",
    "DtypeUnavailableError",
    "IndexOutOfBoundsError",
    "KerasBackendError",
    "ModelFileError",
    "RunnerError",
    "RunnerTimeoutError",
    "UnknownBackendError",
    "UnknownDtypeError",
]


class BackendError(Exception):
    """Base class of every error backendkit raises on purpose."""


class UnknownBackendError(BackendError, ValueError):
    """A backend name that backendkit does not know (the message lists the valid ones)."""


class BackendNotInstalledError(BackendError, ImportError):
    """A known backend whose framework is not installed (the message names the extra)."""


class BackendMismatchError(BackendError, TypeError):
    """Arrays of two backends met in one call; nothing is converted silently."""


class BenchmarkError(BackendError, ValueError):
    """A benchmark request that names no workload or device there is, or sizes and
    counts that are not positive integers (the message lists the valid choices)."""


class KerasBackendError(BackendError, RuntimeError):
    """Keras is already imported with another backend than the one asked for.

    Keras fixes its backend when it is imported; the message names the loaded and the
    requested backend and the two ways out (restart, or :func:`run_in_backend`).
    """


class ModelFileError(BackendError, ValueError):
    """A model path that does not exist or is not a ``.keras`` file."""


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


class DeviceError(BackendError, ValueError):
    """A device that the backend does not have, or a device spec that names none (the
    message lists the devices that are there and the ``fallback=`` way out)."""


class DeviceFallbackWarning(UserWarning):
    """The device asked for is not there and ``fallback=`` named the one used instead."""


class ArgumentTypeError(BackendError, TypeError):
    """An argument of the wrong kind: a function that is not callable, a loop bound or
    seed that is not an integer, a ``vmap`` keyword argument (the message names it)."""


class ArgumentValueError(BackendError, ValueError):
    """An argument of the right kind but an unusable value: ``argnums`` or ``in_axes``
    out of range or not matching the arguments, a negative seed (the message names it)."""


class ControlFlowError(BackendError, TypeError):
    """Branches of ``cond``/``switch`` that return different structures, shapes or
    dtypes, or a loop body that changes its carry's type: JAX refuses these when it
    traces, and backendkit refuses them on every backend alike."""


class IndexOutOfBoundsError(BackendError, IndexError):
    """An index of :func:`~backendkit.put` or :func:`~backendkit.at` outside the
    array, refused in eager code on every backend (JAX alone would clamp or drop it);
    the message gives NumPy's reason, the index and the array's shape."""


class UnknownDtypeError(BackendError, ValueError):
    """A dtype name backendkit does not know, or one not allowed where it was given
    (the message lists the valid ones)."""


class DtypeUnavailableError(BackendError, RuntimeError):
    """A dtype the framework cannot give here, e.g. float64 under JAX when its 64-bit
    mode cannot be switched on (the message says why and what to do)."""


class AxisNameError(BackendError, NameError):
    """A collective (``psum``, ``pmean``, ``pmax``, ``all_gather``, ``axis_index``)
    given an axis name that no enclosing :func:`~backendkit.distributed.pmap` binds:
    called outside ``pmap``, or with another name than ``pmap``'s ``axis_name``."""


class DistributedError(BackendError, RuntimeError):
    """A run over several devices or processes that cannot go on: ``initialize()``
    called twice or without a launcher, shards or processes that disagree, a
    collective whose other processes died (the message names the process and the fix)."""


class DistributedTimeoutError(DistributedError, TimeoutError):
    """A collective, or the start of a multi-process run, that did not complete within
    its timeout: another process hangs, died unnoticed, or never started."""
