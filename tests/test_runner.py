"""run_in_backend: results, errors and output across the process boundary."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import run_python, skip_unless_installed

import backendkit as bk
from backendkit import runner
from backendkit.errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BackendError,
    DeviceError,
    RunnerError,
    RunnerTimeoutError,
    UnknownBackendError,
)

pytestmark = pytest.mark.slow  # every test starts at least one interpreter


def child_state(*args, **kwargs):
    import backendkit

    keys = ("BACKENDKIT_BACKEND", "KERAS_BACKEND", "JAX_PLATFORMS", "KERAS_TORCH_DEVICE")
    return {
        "backend": backendkit.get_backend(),
        "env": {k: os.environ.get(k) for k in keys},
        "pid": os.getpid(),
        "args": args,
        "kwargs": kwargs,
        "keras_imported": "keras" in sys.modules,
    }


def raise_key_error():
    raise KeyError("missing-key")


class TwoArgError(Exception):
    """Pickles, but will not unpickle: __init__ needs two arguments, args holds one."""

    def __init__(self, a, b):
        super().__init__(f"{a}-{b}")


def raise_two_arg_error():
    raise TwoArgError("x", "y")


def print_noise_then_return():
    print("stdout noise: \x00\x80 not a pickle")
    sys.stdout.flush()
    os.write(1, b"\x80\x04raw bytes on fd 1\n")
    print("stderr noise", file=sys.stderr)
    return np.arange(5.0)


def exit_hard(code):
    print("last words", file=sys.stderr, flush=True)
    os._exit(code)


def exit_soft(code):
    sys.exit(code)


def kill_self(sig):
    os.kill(os.getpid(), sig)


def sleep(seconds):
    time.sleep(seconds)


def return_generator():
    return (i for i in range(3))


def test_returns_result_and_selects_backend(backend):
    state = bk.run_in_backend(backend, child_state, 1, np.ones(2), key="v")
    assert state["backend"] == backend
    assert state["env"]["BACKENDKIT_BACKEND"] == backend
    assert state["env"]["KERAS_BACKEND"] == backend
    assert state["pid"] != os.getpid()
    assert state["args"][0] == 1
    np.testing.assert_array_equal(state["args"][1], np.ones(2))
    assert state["kwargs"] == {"key": "v"}
    assert not state["keras_imported"]


def test_reexported():
    assert bk.run_in_backend is runner.run_in_backend


def test_alias_and_keras_backend_override():
    skip_unless_installed("torch")
    state = bk.run_in_backend("pytorch", child_state, keras_backend="numpy")
    assert state["backend"] == "torch"
    assert state["env"]["KERAS_BACKEND"] == "numpy"


def test_closure_and_lambda_are_sent_by_value():
    offset = 10
    assert bk.run_in_backend("numpy", lambda x: x + offset, 5) == 15


def test_function_of_main_module(tmp_path):
    # Functions of a script (or notebook) exist only in the parent's __main__.
    proc = run_python(
        """
        import backendkit as bk

        def square(x):
            return x * x

        if __name__ == "__main__":
            print("result", bk.run_in_backend("numpy", square, 7))
        """
    )
    assert "result 49" in proc.stdout


def test_output_does_not_corrupt_result_and_is_forwarded(capfd):
    result = bk.run_in_backend("numpy", print_noise_then_return)
    np.testing.assert_array_equal(result, np.arange(5.0))
    out, err = capfd.readouterr()
    assert "stdout noise" in out
    assert "raw bytes on fd 1" in out
    assert "stderr noise" in err


def test_exception_comes_back_with_type_and_traceback():
    with pytest.raises(KeyError, match="missing-key") as info:
        bk.run_in_backend("numpy", raise_key_error)
    cause = info.value.__cause__
    assert isinstance(cause, runner.RemoteTraceback)
    assert "raise_key_error" in str(cause)
    assert 'raise KeyError("missing-key")' in cause.tb


def test_exception_that_does_not_unpickle_becomes_runner_error():
    with pytest.raises(RunnerError, match=r"TwoArgError: x-y") as info:
        bk.run_in_backend("numpy", raise_two_arg_error)
    assert "raise_two_arg_error" in str(info.value.__cause__)


def test_unpicklable_result_comes_back_as_type_error():
    with pytest.raises(TypeError, match="cannot be pickled back") as info:
        bk.run_in_backend("numpy", return_generator)
    assert isinstance(info.value.__cause__, runner.RemoteTraceback)


def test_unpicklable_argument_is_refused_before_starting(monkeypatch):
    monkeypatch.setattr(subprocess, "Popen", _no_child)
    with pytest.raises(RunnerError, match="cannot send"):
        bk.run_in_backend("numpy", child_state, threading.Lock())


@pytest.mark.parametrize("code", [0, 3])
def test_child_that_exits_without_result(code):
    with pytest.raises(RunnerError, match=f"exited with status {code}") as info:
        bk.run_in_backend("numpy", exit_hard, code)
    assert info.value.returncode == code
    assert "last words" in str(info.value)
    assert "last words" in info.value.stderr
    assert isinstance(info.value, ChildProcessError)
    assert isinstance(info.value, BackendError)


def test_sys_exit_in_child():
    with pytest.raises(RunnerError, match="exited with status 4") as info:
        bk.run_in_backend("numpy", exit_soft, 4)
    assert info.value.returncode == 4


@pytest.mark.skipif(not hasattr(signal, "SIGSEGV"), reason="POSIX signals")
def test_child_killed_by_signal():
    with pytest.raises(RunnerError, match="killed by signal SIGSEGV") as info:
        bk.run_in_backend("numpy", kill_self, signal.SIGSEGV)
    assert info.value.returncode == -signal.SIGSEGV


def test_timeout_kills_child():
    with pytest.raises(RunnerTimeoutError, match=r"within 0.5 s") as info:
        bk.run_in_backend("numpy", sleep, 60, timeout=0.5)
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, RunnerError)


def _no_child(*args, **kwargs):
    raise AssertionError("a child was started")


@pytest.mark.parametrize("name", ["tensorflow", "nump", 3])
def test_unknown_backend_starts_nothing(monkeypatch, name):
    monkeypatch.setattr(subprocess, "Popen", _no_child)
    with pytest.raises(UnknownBackendError):
        bk.run_in_backend(name, child_state)


def test_unknown_keras_backend_starts_nothing(monkeypatch):
    monkeypatch.setattr(subprocess, "Popen", _no_child)
    with pytest.raises(UnknownBackendError, match="unknown Keras backend 'theano'"):
        bk.run_in_backend("numpy", child_state, keras_backend="theano")


def test_env_is_passed_and_conflicts_are_refused(monkeypatch):
    monkeypatch.setenv("BACKENDKIT_TEST_INHERITED", "yes")
    state = bk.run_in_backend("numpy", _read_env, "BACKENDKIT_TEST_INHERITED", env={"X_NEW": "1"})
    assert state == {"BACKENDKIT_TEST_INHERITED": "yes", "X_NEW": "1"}
    monkeypatch.setattr(subprocess, "Popen", _no_child)
    with pytest.raises(ValueError, match="KERAS_BACKEND"):
        bk.run_in_backend("numpy", child_state, env={"KERAS_BACKEND": "jax"})


def _read_env(name):
    return {name: os.environ.get(name), "X_NEW": os.environ.get("X_NEW")}


def test_cpu_accelerator_sets_framework_variables():
    skip_unless_installed("jax")
    state = bk.run_in_backend("jax", child_state, accelerator="cpu")
    assert state["env"]["JAX_PLATFORMS"] == "cpu"


def test_accelerator_errors(monkeypatch):
    with pytest.raises(DeviceError, match="numpy"):
        bk.run_in_backend("numpy", child_state, accelerator="gpu")
    with pytest.raises(DeviceError, match="unknown accelerator 'tpu9'"):
        bk.run_in_backend("numpy", child_state, accelerator="tpu9")


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_missing_gpu_is_reported_from_the_child():
    skip_unless_installed("torch")
    with pytest.raises(DeviceError, match=r"accelerator 'gpu' is not available to torch"):
        bk.run_in_backend("torch", child_state, accelerator="gpu")


# ---------------------------------------------------------------- issue 12: hardening
def start_helper_and_return(seconds):
    # the helper inherits the child's standard output and error
    helper = subprocess.Popen(["sleep", str(seconds)])
    print("helper started", flush=True)
    return helper.pid


@pytest.mark.skipif(shutil.which("sleep") is None, reason="needs the sleep program")
def test_returns_when_the_child_exits_though_a_helper_keeps_its_pipes(capfd):
    started = time.monotonic()
    pid = bk.run_in_backend("numpy", start_helper_and_return, 25)
    elapsed = time.monotonic() - started
    try:
        # the helper sleeps 25 s; waiting for it would take all of them
        assert elapsed < 20, f"run_in_backend waited {elapsed:.1f} s for the helper"
        assert "helper started" in capfd.readouterr().out
        os.kill(pid, 0)  # the helper is left running: it is the function's own business
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("timeout", "error", "match"),
    [
        (-1, ArgumentValueError, r"timeout must be a positive number of seconds or None, got -1"),
        (0, ArgumentValueError, "got 0"),
        (float("nan"), ArgumentValueError, "got nan"),
        ("abc", ArgumentTypeError, r"timeout must be a number of seconds or None, got str 'abc'"),
        (True, ArgumentTypeError, "got bool True"),
        ([5], ArgumentTypeError, r"got list \[5\]"),
    ],
)
def test_bad_timeout_starts_nothing(monkeypatch, timeout, error, match):
    monkeypatch.setattr(subprocess, "Popen", _no_child)
    with pytest.raises(error, match=match):
        bk.run_in_backend("numpy", child_state, timeout=timeout)


@pytest.mark.parametrize(
    ("env", "error", "match"),
    [
        ({"FOO": 1}, ArgumentTypeError, r"env\['FOO'\] must be a str, got int 1"),
        ({"FOO": None}, ArgumentTypeError, r"env\['FOO'\] must be a str, got NoneType"),
        ({1: "a"}, ArgumentTypeError, r"env keys must be str, got int 1"),
        (["FOO"], ArgumentTypeError, r"env must be a mapping of str to str, got list"),
        ("FOO=1", ArgumentTypeError, r"env must be a mapping of str to str, got str"),
        ({"": "x"}, ArgumentValueError, r"env key '' is not a variable name"),
        ({"A=B": "x"}, ArgumentValueError, r"env key 'A=B' is not a variable name"),
        ({"FOO": "a\0b"}, ArgumentValueError, r"env\['FOO'\] holds a NUL character"),
        ({"KERAS_BACKEND": "jax"}, ArgumentValueError, "KERAS_BACKEND"),
    ],
)
def test_bad_env_starts_nothing(monkeypatch, env, error, match):
    monkeypatch.setattr(subprocess, "Popen", _no_child)
    with pytest.raises(error, match=match):
        bk.run_in_backend("numpy", child_state, env=env)


@pytest.mark.parametrize("func", [5, None, "math.hypot"])
def test_not_a_function_starts_nothing(monkeypatch, func):
    monkeypatch.setattr(subprocess, "Popen", _no_child)
    with pytest.raises(ArgumentTypeError, match="func must be callable"):
        bk.run_in_backend("numpy", func)


def test_infinite_timeout_is_no_limit():
    assert bk.run_in_backend("numpy", abs, -3, timeout=float("inf")) == 3
