"""backendkit.distributed and ``python -m backendkit launch``: many devices, many processes.

* In this process, on every backend: ``pmap`` with every collective gives NumPy's
  results, a data-parallel gradient step gives the single-device one, meshes round trip,
  the process functions behave as one process, and every mistake is a clear error.
  NumPy, and PyTorch on the CPU, run ``devices=n`` shards as threads; JAX here has the
  one CPU device it starts with.
* JAX on eight emulated CPU devices, in a child process whose environment sets
  ``XLA_FLAGS`` before JAX is imported (``tests/distributed/jax_devices.py``).
* Several processes through ``python -m backendkit launch``: PyTorch with 2 and 4 gloo
  processes and JAX with 2 (``jax.distributed``, gloo collectives between CPU
  processes), each checking itself against NumPy (``tests/distributed/ranks.py``); a
  killed rank is an error in the others (``tests/distributed/dead_rank.py``).
* Keras: ``keras.distribution.DataParallel`` over eight emulated devices trains the
  flare CNN to the single-device weights; backends without it are refused clearly.

Child processes are bounded by timeouts and talk over 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import SRC, run_python, skip_unless_installed

import backendkit as bk
from backendkit import backends, xp
from backendkit import distributed as dist
from backendkit.bench.workloads import get_workload
from backendkit.distributed._frameworks import (
    Parallel,
    launched_runtime,
    register,
    runtimes,
    unregister,
)
from backendkit.launch import add_arguments, launch

HERE = Path(__file__).resolve().parent / "distributed"
EMULATED = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}


def _shards(backend: str) -> int:
    """Shards this process can run: JAX has its one CPU device, the others threads."""
    return 1 if backend == "jax" else 4


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKENDKIT_")}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "XLA_FLAGS"):
        env.pop(key, None)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


def _launch(*args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "backendkit", "launch", *args],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=timeout,
        check=False,
    )
    return proc, time.monotonic() - start


def collectives(x):
    return (
        x / dist.psum(x.sum(), "i"),
        dist.pmean(x, "i"),
        dist.pmax(x, "i"),
        dist.all_gather(x, "i"),
        dist.all_gather(x, "i", axis=1, tiled=True),
        x + dist.axis_index("i"),
        dist.psum(1, "i") + 0 * x,
    )


def _reference(n: int) -> tuple[np.ndarray, ...]:
    x = np.arange(32.0, dtype=np.float32).reshape(16, 2)
    with bk.use_backend("numpy"):
        return tuple(dist.pmap(collectives, axis_name="i", devices=n)(x))


# ---------------------------------------------------------------------- import
def test_importing_distributed_and_launch_imports_no_framework():
    out = run_python(
        """
        import sys
        import backendkit as bk
        import backendkit.distributed, backendkit.launch
        assert bk.pmap is backendkit.distributed.pmap
        print(sorted(m for m in ("jax", "torch", "keras") if m in sys.modules))
        """
    )
    assert out.stdout.strip() == "[]", out.stdout


# ---------------------------------------------------------------------- pmap on every backend
def test_pmap_collectives_give_numpy_results(backend):
    n = _shards(backend)
    x = bk.asarray(np.arange(32.0, dtype=np.float32).reshape(16, 2))
    got = dist.pmap(collectives, axis_name="i", devices=n)(x)
    for g, w in zip(got, _reference(n), strict=True):
        assert bk.backend_of(g) == backend
        np.testing.assert_allclose(bk.to_numpy(g), w, rtol=1e-6)


def test_numpy_collectives_by_hand():
    # 4 shards of [0..7]: shard i holds [2i, 2i+1]
    got = _reference(4)
    x = np.arange(32.0).reshape(16, 2)
    np.testing.assert_allclose(got[0], x / x.sum())
    np.testing.assert_allclose(got[1], np.tile(x.reshape(4, 4, 2).mean(0), (4, 1)))
    np.testing.assert_allclose(got[2], np.tile(x[12:], (4, 1)))
    assert got[3].shape == (16, 4, 2)  # every shard's (4, 4, 2) stack, joined
    assert got[4].shape == (16, 8)  # tiled along axis 1
    np.testing.assert_array_equal(got[5] - x, np.repeat(np.arange(4), 4)[:, None] + 0 * x)
    np.testing.assert_array_equal(got[6], np.full_like(x, 4))


def test_the_essays_pmap_example(backend):
    n = _shards(backend)
    normalize = dist.pmap(lambda v: v / dist.psum(v, "i"), axis_name="i", devices=n)
    out = normalize(bk.asarray(np.arange(1.0, 9.0, dtype=np.float32)))
    parts = np.arange(1.0, 9.0).reshape(n, -1)  # shard i holds row i; psum adds the rows
    np.testing.assert_allclose(bk.to_numpy(out), (parts / parts.sum(0)).ravel(), rtol=1e-6)


def test_out_axes_none_returns_one_copy_and_scalars_stack(backend):
    n = _shards(backend)
    total, parts = dist.pmap(
        lambda v: (dist.psum(v.sum(), "i"), v.sum()), axis_name="i", out_axes=(None, 0), devices=n
    )(bk.asarray(np.arange(8.0, dtype=np.float32)))
    assert float(bk.to_numpy(total)) == 28.0
    np.testing.assert_allclose(bk.to_numpy(parts), np.arange(8.0).reshape(n, -1).sum(1))


def _loss(w, xb, yb):
    return xp.mean((xb @ w - yb) ** 2)


def _step(w, xb, yb):
    return w - 0.1 * dist.pmean(bk.grad(_loss)(w, xb, yb), "data")


def test_data_parallel_gradient_step_equals_the_single_device_one(backend):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 3)).astype(np.float32)
    Y = rng.normal(size=16).astype(np.float32)
    w = np.zeros(3, dtype=np.float32)
    parallel = dist.pmap(_step, in_axes=(None, 0, 0), out_axes=None, devices=_shards(backend))
    got = parallel(w, X, Y)
    want = bk.asarray(w) - 0.1 * bk.grad(_loss)(bk.asarray(w), bk.asarray(X), bk.asarray(Y))
    tol = 1e-4 if backend == "numpy" else 1e-6  # NumPy differentiates by finite differences
    np.testing.assert_allclose(bk.to_numpy(got), bk.to_numpy(want), atol=tol)


def test_the_mapped_function_runs_with_the_arrays_backend_selected(backend):
    if backend == "numpy":
        pytest.skip("NumPy arrays are host data: they follow the selection")
    seen = []

    def f(v):
        seen.append(bk.get_backend())
        return v

    x = bk.asarray(np.ones(4))
    with bk.use_backend("numpy"):
        dist.pmap(f, devices=_shards(backend))(x)
    assert set(seen) == {backend}, seen


# ---------------------------------------------------------------------- mistakes
def test_a_leading_axis_that_does_not_split_is_an_error(backend):
    if backend == "jax":
        pytest.skip("one JAX device here: the eight-device child checks JAX")
    before = bk.get_backend()
    with pytest.raises(bk.ArgumentValueError, match=r"shape \(10,\).*10 does not split into 4"):
        dist.pmap(lambda v: v, devices=4)(bk.asarray(np.ones(10)))
    assert bk.get_backend() == before


def test_an_axis_name_outside_pmap_is_an_error(backend):
    x = bk.asarray(np.ones(2))
    for call in (
        lambda: dist.psum(x, "i"),
        lambda: dist.pmean(x, "i"),
        lambda: dist.pmax(x, "i"),
        lambda: dist.all_gather(x, "i"),
        lambda: dist.axis_index("i"),
    ):
        with pytest.raises(bk.AxisNameError, match="'i' is not bound here"):
            call()


def test_another_axis_name_inside_pmap_is_an_error(backend):
    with pytest.raises(bk.AxisNameError, match=r"'j' is not bound here.*maps over 'i'"):
        dist.pmap(lambda v: dist.psum(v, "j"), "i", devices=_shards(backend))(
            bk.asarray(np.ones(4))
        )


def test_out_axes_none_on_a_value_that_differs_between_shards_is_an_error(backend):
    if backend == "jax":
        pytest.skip("one JAX device here: the eight-device child checks JAX")
    with pytest.raises(bk.ArgumentValueError, match=r"out_axes=None.*differs between shards"):
        dist.pmap(lambda v: v, out_axes=None, devices=2)(bk.asarray(np.arange(4.0)))


@pytest.mark.parametrize(
    ("kwargs", "args", "error", "match"),
    [
        ({"in_axes": 1}, (np.ones(4),), bk.ArgumentValueError, "in_axes entries are 0"),
        ({"in_axes": "0"}, (np.ones(4),), bk.ArgumentTypeError, "in_axes must be 0, None"),
        ({"in_axes": (0, 0)}, (np.ones(4),), bk.ArgumentValueError, "2 entries for 1 arg"),
        ({"in_axes": None}, (np.ones(4),), bk.ArgumentValueError, "no argument is mapped"),
        ({}, (2.0,), bk.ArgumentValueError, "argument 0 is mapped.*no leading axis"),
        ({"devices": 0}, (np.ones(4),), bk.ArgumentValueError, "devices must be at least 1"),
        ({"devices": "gpu"}, (np.ones(4),), bk.ArgumentTypeError, "devices must be a number"),
        ({"axis_name": 3}, (np.ones(4),), bk.ArgumentTypeError, "axis_name must be a str"),
        ({"timeout": -1}, (np.ones(4),), bk.ArgumentValueError, "timeout must be a positive"),
    ],
)
def test_bad_pmap_arguments_are_errors(backend, kwargs, args, error, match):
    with pytest.raises(error, match=match):
        dist.pmap(lambda v: v, **kwargs)(*args)


def test_keywords_nesting_and_non_functions_are_errors(backend):
    f = dist.pmap(lambda v, w=None: v)
    with pytest.raises(bk.ArgumentTypeError, match="keyword arguments"):
        f(np.ones(1), w=1)
    with pytest.raises(bk.DistributedError, match="pmap inside pmap"):
        dist.pmap(lambda v: dist.pmap(lambda u: u)(v))(bk.asarray(np.ones(2)))
    with pytest.raises(bk.ArgumentTypeError, match="fun must be a function"):
        dist.pmap(3)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_thread_shards_that_call_different_collectives_are_an_error(backend):
    skip_unless_installed(backend)

    def uneven(v):
        if int(bk.to_numpy(dist.axis_index("i"))) == 0:
            v = dist.psum(v, "i")
        return v

    with bk.use_backend(backend), pytest.raises(bk.DistributedError, match="same collectives"):
        dist.pmap(uneven, "i", devices=3)(bk.asarray(np.ones(3)))


def test_an_exception_in_one_shard_reaches_the_caller_and_stops_the_others():
    def fails_on_shard_2(v):
        if int(dist.axis_index("i")) == 2:
            raise KeyError("shard 2's own error")
        return dist.psum(v, "i")

    start = time.monotonic()
    with pytest.raises(KeyError, match="shard 2's own error"):
        dist.pmap(fails_on_shard_2, "i", devices=4, timeout=60)(np.ones(4))
    assert time.monotonic() - start < 30  # the others stopped, nobody waited for shard 2


def test_a_shard_stuck_past_the_timeout_is_a_timeout_error():
    def slow_shard_1(v):
        if int(dist.axis_index("i")) == 1:
            time.sleep(0.5)
        return dist.psum(v, "i")

    with pytest.raises(bk.DistributedTimeoutError, match=r"waited more than 0.1 s in psum"):
        dist.pmap(slow_shard_1, "i", devices=2, timeout=0.1)(np.ones(2))


# ---------------------------------------------------------------------- meshes
def test_mesh_shard_replicate_gather_round_trip(backend):
    m = dist.mesh()
    assert m.backend == backend
    assert m.axis_names == ("data",)
    a = np.arange(12.0, dtype=np.float32).reshape(6, 2)
    for laid_out in (dist.shard(a, m), dist.shard(a, m, axis=-1), dist.replicate(a, m)):
        assert bk.backend_of(laid_out) == backend
        np.testing.assert_array_equal(bk.to_numpy(dist.gather(laid_out)), a)
        np.testing.assert_array_equal(bk.to_numpy(laid_out), a)
    assert repr(dist.mesh((2, 1), ("data", "model"), backend="numpy")) == (
        "Mesh(numpy: data=2, model=1)"
    )


def test_pmap_over_a_mesh_uses_its_size_and_axis_name():
    m = dist.mesh(4, "rows", backend="numpy")
    out = dist.pmap(lambda v: v + dist.axis_index("rows"), devices=m)(np.zeros(8))
    np.testing.assert_array_equal(out, np.repeat(np.arange(4.0), 2))
    with pytest.raises(bk.ArgumentValueError, match="not the mesh's axis"):
        dist.pmap(lambda v: v, "data", devices=m)
    with pytest.raises(bk.ArgumentValueError, match="maps over one axis"):
        dist.pmap(lambda v: v, devices=dist.mesh((2, 2), ("a", "b"), backend="numpy"))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: dist.shard(np.ones(5), dist.mesh(2, backend="numpy")), bk.ArgumentValueError,
         "length 5, which does not split into 2"),
        (lambda m: dist.shard(np.ones(4), m, axis=1), bk.ArgumentValueError, "out of range"),
        (lambda m: dist.shard(np.ones(4), m, mesh_axis="model"), bk.ArgumentValueError,
         "not an axis of"),
        (lambda m: dist.shard(np.ones(4), "data"), bk.ArgumentTypeError, "must be a backendkit"),
        (lambda m: dist.mesh((2, 2)), bk.ArgumentValueError, "2 axes but axis_names"),
        (lambda m: dist.mesh(None, ("a", "b")), bk.ArgumentValueError, "give shape="),
        (lambda m: dist.mesh(0), bk.ArgumentValueError, "positive integers"),
        (lambda m: dist.mesh(2, ("a", "a")), bk.ArgumentValueError, "distinct"),
        (lambda m: dist.mesh(2, (1,)), bk.ArgumentTypeError, "must be strings"),
    ],
)  # fmt: skip
def test_bad_mesh_and_shard_arguments_are_errors(call, error, match):
    with bk.use_backend("numpy"), pytest.raises(error, match=match):
        call(dist.mesh())


def test_an_array_of_another_framework_on_a_mesh_is_refused():
    skip_unless_installed("torch")
    import torch

    with pytest.raises(bk.BackendMismatchError, match="torch array but the mesh is a numpy"):
        dist.shard(torch.ones(2), dist.mesh(backend="numpy"))
    with pytest.raises(bk.BackendMismatchError, match="torch arrays but the mesh is a numpy"):
        dist.pmap(lambda v: v, devices=dist.mesh(backend="numpy"))(torch.ones(2))


# ---------------------------------------------------------------------- processes, alone
def test_one_process_without_a_launcher(backend, monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "JAX_COORDINATOR_ADDRESS"):
        monkeypatch.delenv(var, raising=False)
    assert dist.process_index() == 0
    assert dist.process_count() == 1
    x = bk.asarray(np.array([1.0, 2.0]))
    summed = dist.all_reduce(x)
    assert summed is not x  # a new array on every backend, as documented
    np.testing.assert_array_equal(bk.to_numpy(summed), [1.0, 2.0])
    assert bk.backend_of(summed) == backend
    host = np.array([3.0])
    assert dist.all_reduce(host) is not host  # a new array, never x itself
    assert dist.all_reduce({"n": 2, "a": host}, op="max")["n"] == 2
    dist.barrier()
    dist.shutdown()  # nothing to leave: nothing happens
    runtime = backend if backend != "numpy" else "torch"
    if runtime in bk.available_backends():
        with pytest.raises(bk.DistributedError, match="no launcher started this process"):
            dist.initialize(runtime)
    assert bk.get_backend() == backend


def test_process_functions_refuse_mistakes(monkeypatch):
    with pytest.raises(bk.ArgumentValueError, match="op must be one of sum, mean, max, min"):
        dist.all_reduce(np.ones(1), op="prod")
    with pytest.raises(bk.ArgumentValueError, match="NumPy has no multi-process runtime"):
        dist.initialize("numpy")
    with pytest.raises(bk.ArgumentValueError, match="all of coordinator_address"):
        dist.initialize("torch", num_processes=2)
    with pytest.raises(bk.ArgumentValueError, match="process 2 does not exist"):
        dist.initialize("torch", coordinator_address="127.0.0.1:1", num_processes=2, process_id=2)
    with pytest.raises(bk.ArgumentValueError, match="timeout must be a positive"):
        dist.initialize("torch", timeout=0)
    monkeypatch.setenv(dist.TIMEOUT_ENV_VAR, "soon")
    with pytest.raises(bk.ArgumentValueError, match="BACKENDKIT_DISTRIBUTED_TIMEOUT"):
        dist.pmap(lambda v: v)
    monkeypatch.delenv(dist.TIMEOUT_ENV_VAR)
    monkeypatch.setenv("WORLD_SIZE", "2")  # launched, but initialize() was forgotten
    with pytest.raises(bk.DistributedError, match="initialize\\(\\) was not called"):
        dist.all_reduce(np.ones(1))


@pytest.mark.slow
def test_initialize_twice_and_a_process_that_never_starts_are_errors():
    skip_unless_installed("torch")
    out = run_python(
        """
        import time
        import backendkit as bk
        from backendkit import distributed as dist
        from backendkit.launch import free_port

        where = f"127.0.0.1:{free_port()}"
        dist.initialize("torch", coordinator_address=where, num_processes=1, process_id=0)
        try:
            dist.initialize("torch", coordinator_address=where, num_processes=1, process_id=0)
        except bk.DistributedError as exc:
            print("twice:", type(exc).__name__, exc)
        print("reduced:", dist.all_reduce(2.0), dist.process_count())
        dist.shutdown()
        start = time.monotonic()
        try:  # process 1 of 2 never comes
            dist.initialize("torch", coordinator_address=f"127.0.0.1:{free_port()}",
                            num_processes=2, process_id=0, timeout=1)
        except bk.DistributedTimeoutError as exc:
            print(f"alone: {type(exc).__name__} after {time.monotonic() - start:.0f} s")
        """,
        env={"GLOO_SOCKET_IFNAME": "lo"} if sys.platform == "linux" else None,
    )
    assert "twice: DistributedError initialize() was already called" in out.stdout, out.stdout
    assert "reduced: 2.0 1" in out.stdout, out.stdout
    assert "alone: DistributedTimeoutError after" in out.stdout, out.stdout + out.stderr
    seconds = int(out.stdout.split("alone: DistributedTimeoutError after ")[1].split()[0])
    assert seconds <= 30


# ---------------------------------------------------------------------- JAX, 8 devices
@pytest.mark.slow
def test_jax_on_eight_emulated_devices(tmp_path):
    skip_unless_installed("jax")
    saved = tmp_path / "out.npz"
    proc = subprocess.run(
        [sys.executable, str(HERE / "jax_devices.py"), str(saved)],
        capture_output=True,
        text=True,
        env=_child_env(EMULATED),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    out = np.load(saved)
    assert report["devices"] == 8
    assert report["output_devices"] == 8
    for i, want in enumerate(_reference(8)):
        np.testing.assert_allclose(out[f"collective{i}"], want, rtol=1e-6)
    np.testing.assert_allclose(out["normalize"], np.arange(8.0) / 28.0, rtol=1e-6)
    np.testing.assert_array_equal(out["pmap_on_mesh"], np.repeat(np.arange(4.0), 2))
    np.testing.assert_allclose(out["step_parallel"], out["step_single"], atol=1e-6)
    assert report["mesh"] == "Mesh(jax: data=8)"
    assert report["shard0_devices"] == 8
    assert report["shard0_piece"] == [1, 8]  # each device: one row
    assert report["shard1_piece"] == [8, 1]  # each device: one column
    assert report["replicated_piece"] == [8, 8]  # each device: all of it
    assert report["round_trips"]
    assert report["gathered_devices"] == 1
    assert report["mesh2_piece"] == [2, 8]  # split 4 ways over "model", copied over "data"
    assert report["mesh2_round_trip"]
    assert report["errors"] == {
        "not_divisible": "ArgumentValueError",
        "outside_pmap": "AxisNameError",
        "wrong_name": "AxisNameError",
        "not_replicated": "ArgumentValueError",
        "too_many_devices": "DeviceError",
        "nested": "DistributedError",
        "shard_not_divisible": "ArgumentValueError",
        "initialize_without_launcher": "DistributedError",
    }


def test_too_few_jax_devices_says_how_to_emulate_more():
    skip_unless_installed("jax")
    n = len(bk.devices("jax")) + 1
    with bk.use_backend("jax"), pytest.raises(bk.DeviceError, match="xla_force_host_platform"):
        dist.pmap(lambda v: v, devices=n)(np.ones(n))


# ---------------------------------------------------------------------- launch
def _script(tmp_path: Path, code: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


def test_launch_prefixes_output_and_fails_as_a_whole(tmp_path):
    skip_unless_installed("jax")  # the JAX launcher: the script itself imports nothing
    script = _script(
        tmp_path,
        """
        import os, sys, time
        rank = int(os.environ["RANK"])
        print("hello from", rank, "of", os.environ["WORLD_SIZE"], os.environ["BACKENDKIT_BACKEND"])
        if rank == 1:
            sys.exit(5)
        time.sleep(60)  # stopped by the launcher once rank 1 has failed
        """,
    )
    proc, seconds = _launch("-n", "2", "--backend", "jax", "--grace", "0.5", str(script))
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "[rank0]:hello from 0 of 2 jax" in proc.stdout
    assert "[rank1]:hello from 1 of 2 jax" in proc.stdout
    assert "rank 1 exited with status 5" in proc.stderr
    assert seconds < 30


def test_launch_timeout_stops_every_process(tmp_path):
    skip_unless_installed("jax")
    script = _script(tmp_path, "import time\ntime.sleep(60)\n")
    proc, seconds = _launch("-n", "2", "--backend", "jax", "--timeout", "1", str(script))
    assert proc.returncode == 124, proc.stderr
    assert "passed its timeout of 1 s" in proc.stderr
    assert seconds < 30


def test_a_launcher_stopped_by_sigterm_stops_its_processes(tmp_path):
    skip_unless_installed("jax")
    script = _script(
        tmp_path,
        """
        import os, time
        print("pid", os.getpid(), flush=True)
        time.sleep(60)
        """,
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "backendkit", "launch", "-n", "2", "--backend", "jax",
         "--timeout", "120", str(script)],
        stdout=subprocess.PIPE, text=True, env=_child_env(),
    )  # fmt: skip
    try:
        pids = [int(launcher.stdout.readline().split()[-1]) for _ in range(2)]
        launcher.terminate()
        assert launcher.wait(timeout=30) == 128 + 15
    finally:
        if launcher.poll() is None:
            launcher.kill()
        launcher.stdout.close()
    for pid in pids:  # gone (a zombie is reaped by nobody here: ask /proc where there is one)
        status = Path(f"/proc/{pid}/status")
        alive = status.exists() and "zombie" not in status.read_text()
        if not Path("/proc").exists():
            try:
                os.kill(pid, 0)
                alive = True
            except ProcessLookupError:
                alive = False
        assert not alive, f"process {pid} outlived its launcher"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-n", "0", "x.py"], "number of processes must be >= 1"),
        (["-n", "2", "no_such_script.py"], "no script 'no_such_script.py'"),
        (["-n", "2", "--timeout", "-1", __file__], "timeout must be positive"),
    ],
)
def test_launch_refuses_bad_requests_before_starting_anything(argv, message, capsys):
    from backendkit.__main__ import main

    assert main(["launch", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("nproc", [2, 4])
def test_torch_processes_through_launch(nproc):
    skip_unless_installed("torch")
    proc, _ = _launch(
        "-n", str(nproc), "--backend", "torch", "--timeout", "200", "--grace", "3",
        "--collective-timeout", "60", str(HERE / "ranks.py"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in range(nproc):
        assert f"[rank{rank}]:rank {rank} of {nproc}: ok (torch" in proc.stdout, proc.stdout


@pytest.mark.slow
def test_jax_processes_through_launch():
    """JAX 0.10 on the CPU has multi-process collectives (gloo, its default CPU
    collectives since JAX 0.5): every check of ranks.py runs across 2 processes."""
    skip_unless_installed("jax")
    proc, _ = _launch(
        "-n", "2", "--backend", "jax", "--timeout", "200", "--grace", "3",
        "--collective-timeout", "60", str(HERE / "ranks.py"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in range(2):
        assert f"[rank{rank}]:rank {rank} of 2: ok (jax" in proc.stdout, proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["torch", "jax"])
def test_a_killed_rank_is_an_error_in_the_others_within_the_timeout(runtime):
    skip_unless_installed(runtime)
    proc, seconds = _launch(
        "-n", "2", "--backend", runtime, "--timeout", "200", "--grace", "3",
        "--collective-timeout", "20", str(HERE / "dead_rank.py"), "kill",
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "[rank0]:rank 0: DistributedError after" in proc.stdout, output
    assert "another process died" in proc.stdout, output
    waited = float(proc.stdout.split("[rank0]:rank 0: DistributedError after ")[1].split()[0])
    assert waited <= 20  # the collective timeout: nobody waits longer
    assert seconds < 120, output


# ---------------------------------------------------------------------- the runtimes' facts
def test_launch_backend_choices_are_the_runtimes_and_their_aliases():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert "{jax,torch,pytorch}" in parser.format_help()


class ToyParallel(Parallel):
    """A fourth framework's distributed plug-in, for the toy backend of
    tests/test_toy_backend.py: a runtime with no launcher of its own (``launch`` starts
    one process per rank), whose processes find their coordinator in ``TOY_COORDINATOR``.
    It stands for a real one (CuPy with NCCL, MLX's ``mx.distributed``): launch and
    initialize learn everything they need from this class."""

    name: ClassVar[str] = "toy"
    title: ClassVar[str] = "Toy"
    multiprocess: ClassVar[bool] = True
    runtime_module: ClassVar[str] = "toy.distributed"
    launch_rank: ClassVar[int] = 30
    launcher_variables: ClassVar[tuple[str, ...]] = ("TOY_COORDINATOR", "RANK", "WORLD_SIZE")
    launcher_marker: ClassVar[str | None] = "TOY_COORDINATOR"

    @classmethod
    def rank_environment(cls, rank, nproc, coordinator, environ):
        env = super().rank_environment(rank, nproc, coordinator, environ)
        return {**env, "TOY_COORDINATOR": coordinator}


@pytest.fixture
def toy_backend():
    from test_toy_backend import ToyBackend

    backends.register(ToyBackend)
    try:
        yield "toy"
    finally:
        backends.unregister("toy")


def test_a_fourth_runtime_is_one_class_and_its_registration(toy_backend, tmp_path, monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "TOY_COORDINATOR"):
        monkeypatch.delenv(var, raising=False)
    register(ToyParallel)
    try:
        assert runtimes()[-1] == "toy"  # ranked after torch and jax
        assert launched_runtime({"TOY_COORDINATOR": "127.0.0.1:1"}) == "toy"
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        assert "{jax,torch,toy,pytorch,toys}" in parser.format_help()
        with pytest.raises(
            bk.DistributedError,
            match=r"for toy: TOY_COORDINATOR, RANK, WORLD_SIZE not set.*--backend toy script",
        ):
            dist.initialize("toy")
        with pytest.raises(bk.ArgumentValueError, match=r"or 'toy' \(toy.distributed\)"):
            dist.initialize("numpy")
        script = _script(
            tmp_path,
            """
            import os
            print(os.environ["RANK"], os.environ["TOY_COORDINATOR"], os.environ["BACKENDKIT_BACKEND"])
            """,
        )
        out, err = io.StringIO(), io.StringIO()
        assert launch(script, 2, backend="toys", timeout=60, stdout=out, stderr=err) == 0, err
        lines = sorted(out.getvalue().splitlines())
        assert [line.split()[0] for line in lines] == ["[rank0]:0", "[rank1]:1"], lines
        coordinators = {line.split()[1] for line in lines}
        assert len(coordinators) == 1
        assert coordinators.pop().startswith("127.0.0.1:")
        assert all(line.endswith(" toy") for line in lines)
    finally:
        unregister("toy")
    assert "toy" not in runtimes()


def test_a_backend_without_distributed_support_is_refused_clearly(toy_backend):
    x = bk.asarray(np.ones(4), backend=toy_backend)
    with pytest.raises(bk.DistributedError, match="the toy backend has no distributed support"):
        dist.pmap(lambda v: v, devices=2)(x)
    with pytest.raises(bk.DistributedError, match="convert its arrays"):
        dist.mesh(backend=toy_backend)
    assert bk.get_backend() == "numpy"


# ---------------------------------------------------------------------- Keras
def _skip_without_keras() -> None:
    # found, never imported: importing keras here would fix its backend for every test
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (pip install 'backendkit[keras]')")


@pytest.mark.slow
def test_keras_data_parallel_on_eight_devices_trains_the_single_device_weights():
    skip_unless_installed("jax")
    _skip_without_keras()
    proc = subprocess.run(
        [sys.executable, str(HERE / "keras_data_parallel.py")],
        capture_output=True,
        text=True,
        env=_child_env({**EMULATED, "KERAS_BACKEND": "jax"}),
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["devices"] == 8
    assert report["moved"] > 1e-3  # training changed the weights...
    assert report["max_diff"] < 1e-5  # ...to the same values on 8 devices as on one
    assert abs(report["loss"][0] - report["loss"][1]) < 1e-5


@pytest.mark.slow
def test_keras_backends_without_distribution_are_refused_clearly():
    _skip_without_keras()
    out = run_python(
        """
        import keras
        import backendkit as bk
        from backendkit.distributed import keras_data_parallel
        try:
            keras_data_parallel()
        except bk.DistributedError as exc:
            print(exc)
        """,
        env={"KERAS_BACKEND": "numpy"},
    )
    assert "keras.distribution does not support the 'numpy' Keras backend" in out.stdout
    assert "KERAS_BACKEND=jax" in out.stdout


def test_keras_data_parallel_before_keras_is_imported_says_what_to_do():
    if "keras" in sys.modules:
        pytest.skip("keras is imported in this test process")
    with pytest.raises(bk.DistributedError, match="keras is not imported yet"):
        dist.keras_data_parallel()


# ---------------------------------------------------------------------- the benchmark workload
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_scaling_workload_gives_one_devices_result_on_every_count(backend):
    skip_unless_installed(backend)
    workload = get_workload("scaling")
    assert workload.sizes == (1, 2, 4, 8)
    with bk.use_backend(backend):
        results = []
        for n in (1, 2, 4):
            fn, args = workload.setup(n, 0)
            results.append(bk.to_numpy(fn(*args)))
    assert results[0].shape == (4096,)
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=workload.atol)


@pytest.mark.slow
def test_scaling_sizes_beyond_the_devices_there_are_are_skipped_not_failed(monkeypatch):
    skip_unless_installed("jax")
    monkeypatch.delenv("XLA_FLAGS", raising=False)  # the child gets JAX's one CPU device
    result = bk.benchmark(
        "scaling", backends="jax", sizes=[1, 2], repeats=2, warmup=0, min_sample_time=1e-4
    )
    one, two = result.find(workload="scaling")
    assert one.counts, one.error
    assert two.check == "skipped"
    assert "xla_force_host_platform_device_count" in two.error
    assert result.ok
