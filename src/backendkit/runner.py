"""Run a function in a fresh interpreter configured for one backend.

Some choices can only be made before a framework is imported: Keras fixes its backend
at ``import keras``, JAX its platforms at first use. To use another backend in the same
program, or to time backends without one disturbing the other, the code must run in a
new process. :func:`run_in_backend` is that process, written once for the Keras module,
the tutorials and the benchmarks.

How it works, and why:

- The child is ``sys.executable -m backendkit._child``, so it is the same Python with
  the same ``backendkit`` (the package's folder is put first on ``PYTHONPATH``) and the
  parent's ``sys.path``, so that functions of the caller's modules import there too.
- The function and its arguments travel pickled with ``cloudpickle``, which sends
  functions defined in ``__main__`` or a notebook by value.
- The result comes back through a file, never through standard output: whatever the
  function prints cannot corrupt it. The child's output is captured (in files, not
  pipes) and written to this process's ``sys.stdout`` and ``sys.stderr`` once it ends,
  so prints show up in a notebook cell too.
- The call returns when the child exits. A process the function started and left
  running (a server, a daemon) inherits the child's output files, not a pipe this
  process would wait on, so it cannot hold the call up; it keeps running.
- An exception raised in the child is raised here with its type, and the child's
  formatted traceback as its ``__cause__`` (a :class:`~backendkit.runner.RemoteTraceback`), as
  :mod:`concurrent.futures` does. A child that dies or times out raises
  :class:`~backendkit.RunnerError`, with the exit status and the end of its
  standard error.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import pickle
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import backends
from .errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BackendNotInstalledError,
    RunnerError,
    RunnerTimeoutError,
)
from .keras._environment import framework_environment, keras_backend_name
from .selection import ENV_VAR

__all__ = ["RemoteTraceback", "run_in_backend"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
# How much of the child's standard error an error message quotes.
_STDERR_TAIL = 3000


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in a child interpreter.

    Attached as the ``__cause__`` of the re-raised exception, so that the traceback
    printed here shows where in the child the error happened.
    """

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb.rstrip()}\n"""'


def _child_environment(
    backend: str,
    keras_backend: str,
    accelerator: str | None,
    env: Mapping[str, str] | None,
) -> dict[str, str]:

    chosen = framework_environment(keras_backend, accelerator)
    if backend != keras_backend and backend != "numpy":
        chosen = {**framework_environment(backend, accelerator), **chosen}
    chosen[ENV_VAR] = backend
    user = dict(env or {})
    for key, value in chosen.items():
        if key in user and user[key] != value:
            raise ArgumentValueError(
                f"env sets {key}={user[key]!r} but the backend arguments need "
                f"{key}={value!r}; drop {key} from env or change the arguments"
            )
    full = {**os.environ, **user, **chosen}
    paths = full.get("PYTHONPATH", "").split(os.pathsep)
    full["PYTHONPATH"] = os.pathsep.join([_PACKAGE_ROOT, *filter(None, paths)])
    return full


def _check_timeout(timeout: Any) -> float | None:
    """``timeout`` as seconds, ``None`` for no limit (``math.inf`` too)."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise ArgumentTypeError(
            f"timeout must be a number of seconds or None, got "
            f"{type(timeout).__name__} {timeout!r}"
        )
    value = float(timeout)
    if not value > 0:  # NaN included
        raise ArgumentValueError(
            f"timeout must be a positive number of seconds or None, got {timeout!r}"
        )
    return None if math.isinf(value) else value


def _check_env(env: Any) -> dict[str, str]:
    """``env`` as a dict, checked as the operating system will take it."""
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise ArgumentTypeError(
            f"env must be a mapping of str to str, got {type(env).__name__} {env!r}; "
            f"e.g. env={{'OMP_NUM_THREADS': '1'}}"
        )
    for key, value in env.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"env keys must be str, got {type(key).__name__} {key!r}")
        if not key or "=" in key or "\0" in key:
            raise ArgumentValueError(
                f"env key {key!r} is not a variable name: it must be non-empty and hold "
                f"no '=' or NUL character"
            )
        if not isinstance(value, str):
            raise ArgumentTypeError(
                f"env[{key!r}] must be a str, got {type(value).__name__} {value!r}; "
                f"e.g. str({value!r})"
            )
        if "\0" in value:
            raise ArgumentValueError(f"env[{key!r}] holds a NUL character, which no variable can")
    return dict(env)


def _tail(text: str) -> str:
    text = text.rstrip()
    return text if len(text) <= _STDERR_TAIL else "..." + text[-_STDERR_TAIL:]


def _describe(func: Any) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def _read(file: Any) -> str:
    file.seek(0)
    data: bytes = file.read()
    return data.decode(errors="replace")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # The child leads its own session, so the whole group goes, helpers it started too.
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except ProcessLookupError:
        pass


def _died(name: str, backend: str, returncode: int, stderr: str) -> RunnerError:
    if returncode < 0:
        try:
            how = f"was killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"was killed by signal {-returncode}"
    else:
        how = f"exited with status {returncode}"
    tail = _tail(stderr)
    return RunnerError(
        f"the child interpreter running {name} on backend {backend!r} {how} without "
        f"returning a result (a crash, os._exit or sys.exit in the function); "
        + (f"its standard error ends with:\n{tail}" if tail else "it wrote nothing to stderr"),
        returncode=returncode,
        stderr=tail,
    )


def run_in_backend(
    backend: str,
    func: Callable[..., Any],
    /,
    *args: Any,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    keras_backend: str | None = None,
    accelerator: str | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``func(*args, **kwargs)`` in a fresh interpreter using ``backend``; return
    its result.

    The child is a new ``python`` process whose environment selects ``backend`` for
    backendkit (``BACKENDKIT_BACKEND``) and for Keras (``KERAS_BACKEND``), so that even
    code which imports keras runs on that backend, whatever this process has imported.

    Parameters
    ----------
    backend : str
        ``numpy``, ``jax``, ``torch`` (alias ``pytorch``) or ``auto``.
    func : callable
        Any function cloudpickle can send: one of a module, or one defined in
        ``__main__`` or a notebook. It runs in the child with ``*args`` and ``**kwargs``.
    timeout : float, optional
        Seconds after which the child, and every process it started, is killed and
        :class:`~backendkit.RunnerTimeoutError` raised; a positive number (``math.inf``
        or ``None``: no limit).
    env : mapping of str to str, optional
        Environment variables to set in the child, on top of this process's.
    keras_backend : str, optional
        The child's Keras backend when it should differ from ``backend``
        (``jax``, ``torch``, ``numpy``; ``tensorflow`` if installed).
    accelerator : {'cpu', 'gpu', 'mps'}, optional
        The device the child's frameworks should use, set through the variables they
        read (see :func:`backendkit.keras.configure`); by default their own choice.

    Returns
    -------
    object
        What ``func`` returned, unpickled here. Return plain data (NumPy arrays,
        numbers): a framework's array would import that framework in this process.

    Raises
    ------
    UnknownBackendError, BackendNotInstalledError
        For a backend name that is not one, or is not installed; nothing is started.
    ArgumentTypeError, ArgumentValueError
        For a ``func`` that is not callable, a ``timeout`` that is not a positive
        number, an ``env`` that is not a mapping of variable names to strings, or one
        that contradicts the backend arguments; nothing is started.
    Exception
        Whatever ``func`` raised, with the child's traceback as its ``__cause__``
        (a :class:`~backendkit.runner.RemoteTraceback`).
    RunnerTimeoutError
        If the child ran longer than ``timeout``.
    RunnerError
        If the child died without a result (a crash, a signal, ``os._exit``), or the
        function, its arguments, its result or its exception could not be pickled.

    Notes
    -----
    Every call starts a new interpreter, which costs what importing the frameworks
    costs (a second or more for jax and torch): run whole pieces of work, not small
    steps. The child's prints appear here once it has finished. Processes the function
    starts and leaves running outlive the call (unless it times out); their output
    after the child's exit is not shown.

    Examples
    --------
    >>> import math
    >>> from backendkit import run_in_backend
    >>> run_in_backend("numpy", math.hypot, 3.0, 4.0)
    5.0
    """
    name = backends.canonical_name(backend)
    if not callable(func):
        raise ArgumentTypeError(
            f"run_in_backend({backend!r}, func, ...): func must be callable, got "
            f"{type(func).__name__} {func!r}"
        )
    timeout = _check_timeout(timeout)
    env = _check_env(env)
    if not backends.is_installed(name):
        raise BackendNotInstalledError(
            f"run_in_backend({backend!r}, ...) needs {name}, which is not installed: "
            f"{backends.install_hint(name)}"
        )

    keras_name = name if keras_backend is None else keras_backend_name(keras_backend)
    full_env = _child_environment(name, keras_name, accelerator, env)
    label = _describe(func)

    import cloudpickle

    try:
        payload = cloudpickle.dumps((func, args, kwargs))
    except Exception as exc:
        raise RunnerError(
            f"cannot send {label} and its arguments to a child interpreter: {exc}; "
            "pass a function and arguments that can be pickled (module-level or "
            "notebook functions, NumPy arrays, plain data)"
        ) from exc

    # A helper the function left running may still hold files there: no cleanup error.
    with tempfile.TemporaryDirectory(prefix="backendkit-run-", ignore_cleanup_errors=True) as tmp:
        in_path, out_path = Path(tmp, "call.pkl"), Path(tmp, "result.pkl")
        with open(in_path, "wb") as f:
            # Accelerators are checked in the child, where the frameworks get imported.
            message = {
                "sys_path": list(sys.path),
                "call": payload,
                "frameworks": [keras_name, *([name] if name not in (keras_name, "numpy") else [])],
                "accelerator": accelerator,
            }
            pickle.dump(message, f)
        # The child's output goes to files, not pipes: a process the function starts
        # inherits them, and reading a pipe to its end would wait for that process too.
        with (
            open(Path(tmp, "stdout"), "w+b") as out_file,
            open(Path(tmp, "stderr"), "w+b") as err_file,
        ):
            proc = subprocess.Popen(
                [sys.executable, "-m", "backendkit._child", str(in_path), str(out_path)],
                stdin=subprocess.DEVNULL,
                stdout=out_file,
                stderr=err_file,
                env=full_env,
                start_new_session=hasattr(os, "killpg"),
            )
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill(proc)
                proc.wait()
            finally:
                if proc.poll() is None:  # interrupted (KeyboardInterrupt): leave no orphan
                    _kill(proc)
                    proc.wait()
            stdout = _read(out_file)
            stderr = _read(err_file)
        if stdout:
            sys.stdout.write(stdout)
        if stderr:
            sys.stderr.write(stderr)
        # A complete result file means the function finished, even if the interpreter
        # failed afterwards while shutting down: the result is written atomically.
        if not out_path.exists():
            if timed_out:
                raise RunnerTimeoutError(
                    f"{label} on backend {name!r} did not finish within {timeout} s and "
                    f"was killed; raise timeout= or give it less work",
                    returncode=proc.returncode,
                    stderr=_tail(stderr),
                )
            raise _died(label, name, proc.returncode, stderr)
        try:
            with open(out_path, "rb") as f:
                outcome = pickle.load(f)
        except Exception as exc:
            raise RunnerError(
                f"the result of {label} on backend {name!r} could not be unpickled here "
                f"({type(exc).__name__}: {exc}); return plain data such as NumPy arrays",
                returncode=proc.returncode,
                stderr=_tail(stderr),
            ) from exc
    return _unpack(outcome, label, name, proc.returncode, stderr)


def _unpack(outcome: dict[str, Any], label: str, name: str, returncode: int, stderr: str) -> Any:
    if outcome["ok"]:
        return outcome["value"]
    cause = RemoteTraceback(outcome["traceback"])
    exc = outcome.get("exception")
    if exc is None:
        exc = RunnerError(
            f"{label} on backend {name!r} raised {outcome['type']}: {outcome['message']} "
            f"(the exception could not be pickled back, so it is reported as this "
            f"error; its traceback follows)",
            returncode=returncode,
            stderr=_tail(stderr),
        )
    with contextlib.suppress(AttributeError):
        exc.__cause__ = cause
    raise exc
