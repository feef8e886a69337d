"""Devices: records, choosing (process, block, fallback), placement, memory, waiting.

This machine may have no accelerator: the GPU code paths are checked with the
frameworks' device functions replaced by fakes (``fake_torch_gpus``, ``fake_jax_gpus``),
and against a real GPU by the tests marked ``gpu``, skipped where none is visible.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
import threading
import warnings

import numpy as np
import pytest

import backendkit as bk
from backendkit import _host, _tree, backends
from backendkit.errors import BackendError, DeviceError, DeviceFallbackWarning

# the module: ``bk.devices`` is the function of the same name
D = importlib.import_module("backendkit._devices")

GIB = 2**30
KIND_OF_PLATFORM = {"cpu": "cpu", "cuda": "gpu", "gpu": "gpu", "mps": "mps", "tpu": "tpu"}


@pytest.fixture(autouse=True)
def _restore_device():
    """A test that calls set_device, or fakes devices, must not leak into the next."""
    saved = D._process
    D._entries.cache_clear()
    yield
    D._process = saved
    D._entries.cache_clear()


def kind_of(x) -> str:
    """The device kind an array lives on, read from the array itself."""
    if isinstance(x, np.ndarray):
        return "cpu"
    if hasattr(x, "devices"):  # jax
        (device,) = x.devices()
        return KIND_OF_PLATFORM[device.platform]
    return KIND_OF_PLATFORM[x.device.type]


def assert_sane_memory(free, total):
    assert isinstance(free, int)
    assert isinstance(total, int)
    assert 0 < free <= total


# ------------------------------------------------------------------ records
def test_device_records(backend):
    found = bk.devices(backend)
    cpu = found[0]
    assert isinstance(cpu, bk.Device)
    assert (cpu.backend, cpu.kind, cpu.index, cpu.platform, cpu.spec) == (
        backend,
        "cpu",
        0,
        "cpu",
        "cpu:0",
    )
    assert isinstance(cpu.name, str)
    assert cpu.name
    assert_sane_memory(cpu.free_memory, cpu.total_memory)
    assert all(d.backend == backend for d in found)
    assert len({d.spec for d in found}) == len(found)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cpu.index = 1  # type: ignore[misc]
    assert "cpu:0" in str(cpu)
    assert "free of" in str(cpu)


def test_numpy_has_only_the_cpu():
    assert [d.spec for d in bk.devices("numpy")] == ["cpu:0"]


def test_devices_of_every_installed_backend():
    found = bk.devices()
    assert [d.backend for d in found if d.kind == "cpu"] == bk.available_backends()


def test_devices_unknown_backend():
    with pytest.raises(bk.UnknownBackendError, match="nonsense"):
        bk.devices("nonsense")


# ------------------------------------------------------------------ specs
@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("cpu", ("cpu", 0)),
        ("CPU:0", ("cpu", 0)),
        ("gpu", ("gpu", 0)),
        ("gpu:1", ("gpu", 1)),
        ("cuda:0", ("gpu", 0)),
        ("cuda", ("gpu", 0)),
        (" rocm:2 ", ("gpu", 2)),
        ("mps", ("mps", 0)),
        ("metal", ("mps", 0)),
        ("tpu:3", ("tpu", 3)),
        (bk.Device("torch", "gpu", 2, "x", "cuda"), ("gpu", 2)),
    ],
)
def test_spec_parsing(spec, key):
    assert D._parse(spec) == key


@pytest.mark.parametrize("spec", ["gpu:x", "quantum", "gpu:-1", "", 3, 1.5, ["cpu"]])
def test_bad_specs_raise_and_list_the_valid_ones(spec):
    with pytest.raises(DeviceError, match="valid: 'cpu', 'gpu'") as info:
        bk.set_device(spec)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, BackendError)


def test_framework_device_objects_as_specs(backend):
    if backend == "numpy":
        pytest.skip("numpy has no device objects")
    native = D.framework_device(backends.load(backend), "cpu")
    with bk.use_device(native) as device:
        assert device.spec == "cpu:0"
        assert kind_of(bk.asarray([1.0])) == "cpu"


def test_a_device_object_of_another_framework_names_the_same_device():
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    import jax
    import torch

    with bk.use_backend("torch"), bk.use_device(jax.devices("cpu")[0]) as device:
        assert (device.backend, device.spec) == ("torch", "cpu:0")
        assert D.default_device(backends.load("torch")) == torch.device("cpu")


# ------------------------------------------------------------------ placement
def test_default_device_is_none_until_chosen(backend):
    assert D.default_device(backends.load(backend)) is None
    assert D.device_source() == "framework default"


def test_default_device_is_the_framework_cpu(backend):
    b = backends.load(backend)
    with bk.use_device("cpu"):
        native = D.default_device(b)
    if backend == "jax":
        import jax

        assert native == jax.devices("cpu")[0]
    elif backend == "torch":
        import torch

        assert native == torch.device("cpu")
    else:
        assert native is None  # numpy takes no device argument: never passed on


def test_arrays_land_on_the_chosen_cpu(backend):
    with bk.use_device("cpu") as device:
        assert device.kind == "cpu"
        made = {
            "asarray": bk.asarray([1.0, 2.0]),
            "asarray(device=)": bk.asarray([1.0], device="cpu"),
            "convert(numpy)": bk.convert(np.arange(3.0), to=backend),
            "xp.zeros": bk.xp.zeros(3),
            "xp.arange": bk.xp.arange(4),
            "xp.full": bk.xp.full((2,), 1.5),
            "xp.eye": bk.xp.eye(2),
            "xp.asarray": bk.xp.asarray([1, 2]),
            "random.normal": bk.random.normal(0, (3,)),
            "random.normal(native)": bk.random.normal(0, (3,), native=True),
        }
        for other in bk.available_backends():
            made[f"convert({other})"] = bk.convert(bk.asarray([1.0], backend=other), to=backend)
    for what, x in made.items():
        assert backends.owner_of(x) == backend, what
        assert kind_of(x) == "cpu", what
    np.testing.assert_array_equal(bk.to_numpy(made["xp.arange"]), np.arange(4))


def test_a_choice_applies_to_a_backend_first_used_later():
    bk.set_device("cpu")  # checked against numpy, the current backend
    for name in bk.available_backends():
        with bk.use_backend(name):
            assert kind_of(bk.asarray([1.0])) == "cpu"
            assert bk.get_device().spec == "cpu:0"


def test_set_device_none_goes_back_to_the_framework_default(backend):
    bk.set_device("cpu")
    assert D.device_source() == "set_device"
    device = bk.set_device(None)
    assert D.device_source() == "framework default"
    assert D.default_device(backends.load(backend)) is None
    assert device == bk.get_device()


# ------------------------------------------------------------------ scoping
def test_use_device_restores_on_exit_and_on_error(backend):
    bk.set_device("cpu")
    before = D._process
    with bk.use_device(None):
        assert D.device_source() == "use_device"
        assert D.default_device(backends.load(backend)) is None
        with bk.use_device("cpu"):
            assert D.device_source() == "use_device"
        assert D.default_device(backends.load(backend)) is None
    assert D.device_source() == "set_device"
    with pytest.raises(KeyError, match="inside"), bk.use_device(None):
        raise KeyError("inside")
    assert D.device_source() == "set_device"
    assert D._process is before


def test_use_device_belongs_to_its_thread():
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def worker():
        with bk.use_device("cpu"):
            seen["worker"] = D.device_source()
            entered.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=worker)
    thread.start()
    entered.wait(timeout=60)
    seen["main"] = D.device_source()
    release.set()
    thread.join()
    assert seen == {"worker": "use_device", "main": "framework default"}


def test_nothing_outside_backendkit_changes(backend):
    environ = dict(os.environ)
    b = backends.load(backend)
    framework_default = b.default_native_device()
    bk.set_device("cpu")
    with bk.use_device("cpu", fallback="cpu"):
        bk.asarray([1.0])
    assert dict(os.environ) == environ
    assert b.default_native_device() == framework_default


# ------------------------------------------------------------------ missing devices
def test_missing_gpu_raises_listing_what_is_there(backend):
    bk.set_device("cpu")
    before = D._process
    expected = "numpy backend has only the CPU" if backend == "numpy" else "available: cpu:0"
    with pytest.raises(DeviceError, match=expected) as info:
        bk.set_device("gpu:99")
    assert "gpu:99" in str(info.value)
    assert "fallback='cpu'" in str(info.value)
    with pytest.raises(DeviceError, match=expected), bk.use_device("gpu:99"):
        pass
    assert D._process is before  # the device stays as it was
    assert D.device_source() == "set_device"


def test_fallback_warns_and_uses_the_cpu(backend):
    with pytest.warns(DeviceFallbackWarning, match="gpu:99") as record:
        device = bk.set_device("gpu:99", fallback="cpu")
    assert record[0].filename == __file__  # the warning points at the caller
    assert device.kind == "cpu"
    assert kind_of(bk.asarray([1.0])) == "cpu"  # no second warning: filterwarnings=error
    with (
        pytest.warns(DeviceFallbackWarning, match="gpu:99") as record,
        bk.use_device("gpu:99", fallback="cpu") as device,
    ):
        assert device.kind == "cpu"
    assert record[0].filename == __file__


def test_fallback_that_is_missing_too():
    with pytest.raises(DeviceError, match="fallback tpu:5 is not there either"):
        bk.set_device("gpu:99", fallback="tpu:5")
    assert D._process is None


def test_explicit_device_argument_to_asarray_missing(backend):
    with pytest.raises(DeviceError, match="gpu:99"):
        bk.asarray([1.0], device="gpu:99")


# ------------------------------------------------------------------ memory
def test_memory_info(backend):
    info = bk.memory_info()
    assert isinstance(info, bk.MemoryInfo)
    assert_sane_memory(info.free, info.total)
    assert info.used == info.total - info.free
    assert "free of" in str(info)
    assert_sane_memory(*dataclasses.astuple(bk.memory_info("cpu")))
    record = bk.devices(backend)[0]
    assert_sane_memory(*dataclasses.astuple(bk.memory_info(record)))


def test_memory_info_of_another_backend_and_missing_device():
    assert_sane_memory(*dataclasses.astuple(bk.memory_info("cpu", backend="numpy")))
    with pytest.raises(DeviceError, match="only the CPU"):
        bk.memory_info("gpu:99", backend="numpy")


def test_memory_info_unknown():
    assert str(bk.MemoryInfo(None, None)) == "memory unknown"
    assert bk.MemoryInfo(None, 4 * GIB).used is None
    assert str(bk.MemoryInfo(None, 4 * GIB)) == "4.0 GiB in all"


def test_host_memory_without_psutil(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil now fails
    assert_sane_memory(*_host.host_memory())
    if os.path.exists("/proc/meminfo"):
        assert_sane_memory(*_host._meminfo())
    free, total = _host._sysconf_memory()
    if total is not None:
        assert total > 0
        assert free is None or 0 < free <= total


# ------------------------------------------------------------------ waiting
def test_block_until_ready_returns_its_input(backend):
    x = bk.asarray(np.arange(6.0).reshape(2, 3))
    y = x @ x.T
    assert bk.block_until_ready(y) is y
    tree = {"a": (x, [y, 3]), "b": None, "c": "text"}
    assert bk.block_until_ready(tree) is tree
    if backend == "jax":
        assert y.is_ready()
    np.testing.assert_allclose(
        bk.to_numpy(y), np.arange(6.0).reshape(2, 3) @ np.arange(6.0).reshape(2, 3).T
    )


def test_block_until_ready_mixed_pytree_without_jax_flattening(monkeypatch):
    leaves = [np.ones(2)] + [bk.asarray([1.0], backend=n) for n in bk.available_backends()]
    tree = {"x": leaves, "y": (leaves[-1], {"z": 1})}
    assert bk.block_until_ready(tree) is tree
    monkeypatch.delitem(sys.modules, "jax", raising=False)  # optree walks instead of jax
    assert _tree.leaves(tree) == [*leaves, leaves[-1], 1]  # dict keys sorted, as in jax
    assert bk.block_until_ready(tree) is tree


# ------------------------------------------------------------------ GPUs, faked
@pytest.fixture
def fake_torch_gpus(monkeypatch):
    """torch sees two CUDA GPUs (2 GiB free of 8 on each); nothing is run on them."""
    torch = pytest.importorskip("torch")
    synced = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Fake GPU {i}")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (2 * GIB, 8 * GIB))
    monkeypatch.setattr(torch.cuda, "synchronize", synced.append)
    monkeypatch.setattr(torch.version, "hip", None)
    D._entries.cache_clear()
    yield torch, synced
    D._entries.cache_clear()


def test_fake_torch_gpus_listed_with_memory(fake_torch_gpus):
    found = bk.devices("torch")
    assert [(d.spec, d.name, d.platform) for d in found] == [
        ("cpu:0", found[0].name, "cpu"),
        ("gpu:0", "Fake GPU 0", "cuda"),
        ("gpu:1", "Fake GPU 1", "cuda"),
    ]
    assert (found[2].free_memory, found[2].total_memory) == (2 * GIB, 8 * GIB)


def test_fake_torch_gpu_chosen(fake_torch_gpus):
    torch, _ = fake_torch_gpus
    b = backends.load("torch")
    with bk.use_backend("torch"):
        with bk.use_device("cuda:1") as device:
            assert (device.spec, device.name) == ("gpu:1", "Fake GPU 1")
            assert D.default_device(b) == torch.device("cuda", 1)
            assert bk.get_device() == device
            assert bk.memory_info() == bk.MemoryInfo(2 * GIB, 8 * GIB)
        with bk.use_device(torch.device("cuda")) as device:  # torch's current device
            assert device.spec == "gpu:1"
        with pytest.raises(DeviceError, match=r"available: cpu:0, gpu:0 \(Fake GPU 0\)"):
            bk.set_device("gpu:2")


def test_fake_torch_gpu_choice_refused_by_numpy_when_used(fake_torch_gpus):
    with bk.use_backend("torch"):
        bk.set_device("gpu:1")
    with bk.use_backend("numpy"), pytest.raises(DeviceError, match="numpy backend has only"):
        bk.asarray([1.0])
    with bk.use_backend("torch"):
        bk.set_device("gpu:1", fallback="cpu")  # torch has it: no warning
    with bk.use_backend("numpy"):
        with pytest.warns(DeviceFallbackWarning, match="numpy backend"):
            bk.asarray([1.0])
        bk.asarray([2.0])  # once per backend: a second warning would fail the test


def test_fake_torch_synchronize_once_per_device(fake_torch_gpus):
    torch, synced = fake_torch_gpus

    class FakeTensor:
        def __init__(self, device):
            self.device = device

    arrays = [FakeTensor(torch.device("cuda", 1)) for _ in range(3)]
    arrays.append(FakeTensor(torch.device("cpu")))
    backends.load("torch").block_until_ready(arrays)
    assert synced == [torch.device("cuda", 1)]


def test_fake_torch_mps_memory(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 16 * GIB)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 1 * GIB)
    D._entries.cache_clear()
    (mps,) = [d for d in bk.devices("torch") if d.kind == "mps"]
    assert (mps.spec, mps.platform) == ("mps:0", "mps")
    assert (mps.free_memory, mps.total_memory) == (15 * GIB, 16 * GIB)


class FakeJaxDevice:
    """Stands for a jax GPU: what backendkit reads of a jax device, nothing more."""

    def __init__(self, index, version="cuda 12.4", stats=None):
        self.platform = "gpu"
        self.device_kind = f"Fake H100 {index}"
        self.client = type("Client", (), {"platform_version": version})()
        self._stats = stats

    def memory_stats(self):
        if isinstance(self._stats, Exception):
            raise self._stats
        return self._stats


@pytest.fixture
def fake_jax_gpus(monkeypatch):
    jax = pytest.importorskip("jax")
    cpu = jax.local_devices(backend="cpu")
    stats = {"bytes_limit": 60 * GIB, "bytes_in_use": 20 * GIB}
    gpus = [FakeJaxDevice(0, stats=stats), FakeJaxDevice(1, stats=stats)]
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(
        jax, "local_devices", lambda backend=None: cpu if backend == "cpu" else gpus
    )
    D._entries.cache_clear()
    yield gpus
    D._entries.cache_clear()


def test_fake_jax_gpus_listed_with_memory(fake_jax_gpus):
    found = bk.devices("jax")
    assert [(d.spec, d.platform) for d in found] == [
        ("cpu:0", "cpu"),
        ("gpu:0", "cuda"),
        ("gpu:1", "cuda"),
    ]
    assert found[1].name == "Fake H100 0"
    assert (found[1].free_memory, found[1].total_memory) == (40 * GIB, 60 * GIB)
    with bk.use_backend("jax"), bk.use_device("gpu:1") as device:
        assert device.spec == "gpu:1"
        assert D.default_device(backends.load("jax")) is fake_jax_gpus[1]


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (FakeJaxDevice(0, stats=None), (None, None)),
        (FakeJaxDevice(0, stats={"bytes_in_use": 1}), (None, None)),
        (FakeJaxDevice(0, stats=NotImplementedError("no stats")), (None, None)),
        (FakeJaxDevice(0, stats={"bytes_limit": 10, "bytes_in_use": 4}), (6, 10)),
    ],
)
def test_jax_memory_stats(device, expected):
    pytest.importorskip("jax")
    assert backends.load("jax").memory(device) == expected


def test_fake_jax_rocm_platform(monkeypatch):
    jax = pytest.importorskip("jax")
    cpu = jax.local_devices(backend="cpu")
    gpu = FakeJaxDevice(0, version="rocm 6.1")
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(
        jax, "local_devices", lambda backend=None: cpu if backend == "cpu" else [gpu]
    )
    assert [e[3] for e in backends.load("jax").list_devices()] == ["cpu", "rocm"]


# ------------------------------------------------------------------ GPUs, real
@pytest.mark.gpu
def test_gpu_placement_memory_and_waiting(backend):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with bk.use_device("gpu") as device:
            assert device.kind == "gpu"
            assert_sane_memory(device.free_memory, device.total_memory)
            x = bk.asarray(np.ones((256, 256), dtype=np.float32))
            z = bk.xp.zeros(3)
            c = bk.convert(np.arange(3.0), to=backend)
            y = bk.block_until_ready(x @ x)
            for a in (x, z, c, y):
                assert kind_of(a) == "gpu"
            assert_sane_memory(*dataclasses.astuple(bk.memory_info()))
    np.testing.assert_allclose(bk.to_numpy(y), np.full((256, 256), 256.0))
    assert kind_of(bk.asarray([1.0], device="cpu")) == "cpu"
