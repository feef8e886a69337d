"""``python -m backendkit launch -n N [--backend jax|torch] script.py [args]``: run a
script as N processes on this machine, the way a cluster would run it.

Each process calls :func:`backendkit.distributed.initialize`, which reads what this
launcher put in its environment; then :func:`~backendkit.distributed.pmap`,
:func:`~backendkit.distributed.all_reduce` and the rest span every process.

* **PyTorch**: the launcher is PyTorch's own, ``torchrun``
  (``python -m torch.distributed.run``), with a static rendezvous on
  ``127.0.0.1`` at a free port, no restarts, and each line of each process's output
  prefixed ``[rankN]:`` (torchrun's ``--role rank --tee 3``). It sets ``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.
* **JAX**: JAX has no launcher of its own, so this module starts the N processes, with
  ``JAX_COORDINATOR_ADDRESS=127.0.0.1:<free port>`` (read by ``jax.distributed``),
  ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``, and prefixes their
  output lines with ``[rankN]:`` itself. With several processes each one gets the GPU
  of its rank (``JAX_LOCAL_DEVICE_IDS``, unless set; JAX applies it to GPUs only), as
  with torchrun.

Both select the backend for the script (``BACKENDKIT_BACKEND``), keep the traffic on
the loopback interface (``GLOO_SOCKET_IFNAME``), make the processes' output unbuffered
(so that nothing is lost when one is killed), share the CPU cores between them
(``OMP_NUM_THREADS``, unless set), and pass ``--collective-timeout`` on as
``BACKENDKIT_DISTRIBUTED_TIMEOUT``.

**The run fails as a whole.** When one process fails, the others get ``--grace``
seconds to finish (time to report their own error: a collective with a dead peer fails
at once), then are stopped (SIGTERM, then SIGKILL); the launcher exits with the failed
process's status (128 + the signal for a killed one; torchrun's own status for
PyTorch). ``--timeout`` bounds the whole run (exit status 124, as ``timeout(1)``).

On a cluster, start the same script with the cluster's tools instead: ``torchrun
--nnodes=M --nproc-per-node=N --rdzv-backend=c10d --rdzv-endpoint=HOST:PORT
script.py`` on every node for PyTorch; for JAX, one process per GPU with
``JAX_COORDINATOR_ADDRESS=HOST:PORT``, ``RANK`` and ``WORLD_SIZE`` set (or under
SLURM or Open MPI, whose variables ``jax.distributed`` reads itself).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from . import backends
from .distributed import TIMEOUT_ENV_VAR
from .distributed._frameworks import Parallel, parallel_class, runtimes, runtimes_install_hint
from .errors import ArgumentValueError, BackendNotInstalledError
from .selection import ENV_VAR

__all__ = ["add_arguments", "free_port", "launch", "run", "worker_environment"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
#: the exit status of a run stopped by --timeout (as the timeout command's)
TIMED_OUT = 124
_POLL = 0.05
#: seconds a framework's own launcher gets, beyond the grace period, to stop its
#: processes itself before it is stopped
_LAUNCHER_SHUTDOWN = 5.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now.

    Examples
    --------
    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _loopback_interface() -> str | None:
    names = (
        {name for _, name in socket.if_nameindex()} if hasattr(socket, "if_nameindex") else set()
    )
    return next((n for n in ("lo", "lo0") if n in names), None)


def worker_environment(
    backend: str, nproc: int, collective_timeout: float | None = None
) -> dict[str, str]:
    """The variables every process of a launch gets on top of this process's.

    Examples
    --------
    >>> env = worker_environment("torch", 2)
    >>> env["BACKENDKIT_BACKEND"], env["PYTHONUNBUFFERED"]
    ('torch', '1')
    """
    env = {ENV_VAR: backend, "PYTHONUNBUFFERED": "1"}
    # the script imports the backendkit that launched it, wherever its folder is
    paths = [_PACKAGE_ROOT, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if "OMP_NUM_THREADS" not in os.environ:
        # N processes share the cores (torchrun would set 1 and warn about it)
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // nproc))
    loopback = _loopback_interface()
    if loopback is not None and "GLOO_SOCKET_IFNAME" not in os.environ:
        env["GLOO_SOCKET_IFNAME"] = loopback
    if collective_timeout is not None:
        env[TIMEOUT_ENV_VAR] = f"{collective_timeout:g}"
    return env


def _default_backend() -> str:
    from .selection import get_backend

    name = get_backend()
    if name in runtimes():
        return name
    for name in runtimes():
        if backends.is_installed(name):
            return name
    host = parallel_class(backends.host_name()).title
    raise BackendNotInstalledError(
        f"launch needs {' or '.join(runtimes())} for several processes ({host} has no "
        f"multi-process runtime): {runtimes_install_hint()}"
    )


class _Output:
    """Copies child streams line by line to ours, prefixed, whole lines at a time."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out, self.err = out, err
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def follow(self, stream: IO[bytes], prefix: str, to_err: bool) -> None:
        def pump() -> None:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace")
                target = self.err if to_err else self.out
                with self._lock:
                    target.write(prefix + line if line.endswith("\n") else prefix + line + "\n")
                    target.flush()
            stream.close()

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        self._threads.append(thread)

    def note(self, text: str) -> None:
        with self._lock:
            self.err.write(f"backendkit launch: {text}\n")
            self.err.flush()

    def wait(self) -> None:
        for thread in self._threads:
            thread.join(timeout=10)


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=hasattr(os, "killpg"),  # its own group: stopped with its children
    )


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, sig)
        else:  # pragma: no cover - Windows
            proc.kill()


def _stop(procs: Sequence[subprocess.Popen[bytes]], patience: float = 3.0) -> None:
    """SIGTERM every process still running, SIGKILL those left after ``patience``."""
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        _signal(p, signal.SIGTERM)
    end = time.monotonic() + patience
    while any(p.poll() is None for p in alive) and time.monotonic() < end:
        time.sleep(_POLL)
    for p in alive:
        if p.poll() is None:
            _signal(p, getattr(signal, "SIGKILL", signal.SIGTERM))
        p.wait()


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def _status(code: int) -> int:
    return 128 - code if code < 0 else code


def _supervise(
    procs: list[subprocess.Popen[bytes]],
    names: list[str],
    timeout: float | None,
    grace: float,
    output: _Output,
    summary: bool = True,
) -> int:
    """Wait for ``procs``; stop them all once one fails (after ``grace``) or the run
    passes ``timeout``. The run's exit status; ``summary``: say which failed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    failed: tuple[int, int, float] | None = None  # (process, code, when)
    try:
        while True:
            codes = [p.poll() for p in procs]
            for i, code in enumerate(codes):
                if code not in (None, 0) and failed is None:
                    failed = (i, code, time.monotonic())
            if all(code is not None for code in codes):
                break
            now = time.monotonic()
            if failed is not None and now - failed[2] >= grace:
                running = [names[i] for i, c in enumerate(codes) if c is None]
                output.note(
                    f"{names[failed[0]]} {_how(failed[1])}; stopping {', '.join(running)} "
                    f"after the {grace:g} s grace period"
                )
                _stop(procs)
                break
            if deadline is not None and now >= deadline:
                output.note(f"the run passed its timeout of {timeout:g} s; stopping every process")
                _stop(procs)
                output.wait()
                return TIMED_OUT
            time.sleep(_POLL)
    except BaseException:  # Ctrl-C or an error here: leave no process behind
        _stop(procs)
        raise
    output.wait()
    if failed is None:
        return 0
    if not summary:
        return _status(failed[1])
    others = [
        f"{names[i]} {_how(p.returncode)}"
        for i, p in enumerate(procs)
        if i != failed[0] and p.returncode not in (0, None)
    ]
    tail = f" ({'; '.join(others)})" if others else ""
    output.note(f"the run failed: {names[failed[0]]} {_how(failed[1])} first{tail}")
    return _status(failed[1])


def launch(
    script: str | os.PathLike[str],
    nproc: int,
    *,
    backend: str | None = None,
    args: Sequence[str] = (),
    timeout: float | None = None,
    grace: float = 10.0,
    collective_timeout: float | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """Run ``script`` as ``nproc`` processes of one distributed run; its exit status.

    What ``python -m backendkit launch`` does (see the module notes), as a function:
    the processes' output, each line prefixed ``[rankN]:``, goes to ``stdout`` and
    ``stderr`` (default this process's ``sys.stdout`` and ``sys.stderr``, so a
    notebook cell shows it).

    Parameters
    ----------
    script : path
        The Python script every process runs.
    nproc : int
        Number of processes.
    backend : {'torch', 'jax'}, optional
        The runtime; default the selected backend if it is one of them, else torch if
        installed, else jax.
    args : sequence of str
        The script's arguments.
    timeout : float, optional
        Seconds the whole run may take before every process is stopped (status 124).
    grace : float
        Seconds the other processes may go on after one failed, before being stopped.
    collective_timeout : float, optional
        Seconds a collective waits for the other processes
        (``BACKENDKIT_DISTRIBUTED_TIMEOUT``); default :func:`initialize`'s, 300.

    Returns
    -------
    int
        0 if every process succeeded; else the first failure's status (see the module
        notes).

    Raises
    ------
    ArgumentValueError
        For ``nproc`` below 1, times that are not positive, or a script that is not a
        file. Nothing is started then.
    UnknownBackendError, BackendNotInstalledError
        For a backend that is not jax or torch, or is not installed.

    Examples
    --------
    >>> import sys, tempfile, pathlib
    >>> from backendkit.launch import launch
    >>> script = pathlib.Path(tempfile.mkdtemp(), "hello.py")
    >>> _ = script.write_text("import os; print('hello from', os.environ['RANK'])")
    >>> launch(script, 2, backend="jax", timeout=120, stdout=sys.stdout)  # doctest: +SKIP
    [rank0]:hello from 0
    [rank1]:hello from 1
    0
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ArgumentValueError(f"launch: the number of processes must be >= 1, got {nproc!r}")
    for value, what in ((timeout, "timeout"), (collective_timeout, "collective timeout")):
        if value is not None and not value > 0:
            raise ArgumentValueError(f"launch: the {what} must be positive seconds, got {value!r}")
    if not grace >= 0:
        raise ArgumentValueError(f"launch: the grace period must be >= 0 seconds, got {grace!r}")
    path = Path(script)
    if not path.is_file():
        raise ArgumentValueError(f"launch: no script {str(path)!r} (not a file)")
    name = _default_backend() if backend is None else backends.canonical_name(backend)
    if name not in runtimes():
        host = parallel_class(backends.host_name()).title
        raise ArgumentValueError(
            f"launch: --backend must be {' or '.join(sorted(runtimes()))} (the multi-process "
            f"runtimes), got {backend!r}; a {host} script can use either to reduce its arrays"
        )
    if not backends.is_installed(name):
        raise BackendNotInstalledError(
            f"launch --backend {name}: {name} is not installed: {backends.install_hint(name)}"
        )
    output = _Output(stdout or sys.stdout, stderr or sys.stderr)
    env = {**os.environ, **worker_environment(name, nproc, collective_timeout)}
    port = free_port()
    runtime = parallel_class(name)
    start = _launch_own if runtime.own_launcher is not None else _launch_ranks
    return start(runtime, path, nproc, list(args), env, port, timeout, grace, output)


def _launch_ranks(
    runtime: type[Parallel],
    path: Path,
    nproc: int,
    args: list[str],
    env: dict[str, str],
    port: int,
    timeout: float | None,
    grace: float,
    output: _Output,
) -> int:
    """One process per rank, started and watched here (JAX's way: it has no launcher)."""
    procs, names = [], []
    try:
        for rank in range(nproc):
            extra = runtime.rank_environment(rank, nproc, f"127.0.0.1:{port}", env)
            proc = _start([sys.executable, str(path), *args], {**env, **extra})
            procs.append(proc)
            names.append(f"rank {rank}")
            output.follow(proc.stdout, f"[rank{rank}]:", to_err=False)  # type: ignore[arg-type]
            output.follow(proc.stderr, f"[rank{rank}]:", to_err=True)  # type: ignore[arg-type]
    except BaseException:
        _stop(procs)
        raise
    return _supervise(procs, names, timeout, grace, output)


def _launch_own(
    runtime: type[Parallel],
    path: Path,
    nproc: int,
    args: list[str],
    env: dict[str, str],
    port: int,
    timeout: float | None,
    grace: float,
    output: _Output,
) -> int:
    """The framework's own launcher (torchrun), which starts, prefixes and watches the
    processes itself."""
    launcher = str(runtime.own_launcher)
    with tempfile.TemporaryDirectory(prefix="backendkit-launch-") as logs:
        argv = [*runtime.launcher_command(nproc, port, grace, logs), str(path), *args]
        proc = _start(argv, env)
        output.follow(proc.stdout, "", to_err=False)  # type: ignore[arg-type]
        output.follow(proc.stderr, "", to_err=True)  # type: ignore[arg-type]
        # the launcher stops the other processes itself when one fails; give it the
        # grace period plus its own shutdown time before stopping it
        patience = grace + _LAUNCHER_SHUTDOWN
        code = _supervise([proc], [launcher], timeout, patience, output, summary=False)
    if code not in (0, TIMED_OUT):
        output.note(f"the run failed: {runtime.own_launcher_failure}; exit status {code}")
    return code


# ---------------------------------------------------------------------- the command
def _backend_choices() -> list[str]:
    """The names ``--backend`` takes: the multi-process runtimes, then their aliases."""
    names = sorted(runtimes())
    return [*names, *(alias for alias, name in backends.ALIASES.items() if name in names)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``launch`` command's arguments (see ``python -m backendkit launch --help``)."""
    parser.add_argument("-n", "--nproc", type=int, required=True, help="number of processes")
    parser.add_argument(
        "--backend",
        choices=_backend_choices(),
        help="the multi-process runtime (default: the selected backend, else torch, else jax)",
    )
    parser.add_argument("--timeout", type=float, help="seconds the whole run may take")
    parser.add_argument(
        "--grace",
        type=float,
        default=10.0,
        help="seconds the others may go on after one process failed (default 10)",
    )
    parser.add_argument(
        "--collective-timeout",
        type=float,
        help="seconds a collective waits for the other processes (default 300)",
    )
    parser.add_argument("script", help="the Python script every process runs")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through _supervise, which stops the processes


def run(args: argparse.Namespace) -> int:
    """Run the ``launch`` command; its exit status."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        # a launcher stopped by SIGTERM stops its processes rather than orphaning them
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return launch(
            args.script,
            args.nproc,
            backend=args.backend,
            args=args.args,
            timeout=args.timeout,
            grace=args.grace,
            collective_timeout=args.collective_timeout,
        )
    except (ArgumentValueError, BackendNotInstalledError) as exc:
        print(f"backendkit launch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
