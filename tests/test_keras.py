"""backendkit.keras: choosing Keras' backend in time, persisting it, and models.

Everything that imports keras runs in a child interpreter (``run_python`` or
``run_in_backend``): keras fixes its backend at import, and this session must not.
``KERAS_HOME`` and backendkit's config folder always point into ``tmp_path``.
"""

from __future__ import annotations

import builtins
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from conftest import run_python, skip_unless_installed

import backendkit as bk
import backendkit.keras as bkeras
from backendkit import config
from backendkit.bench import flare_cnn
from backendkit.errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BackendNotInstalledError,
    ConfigError,
    DeviceError,
    KerasBackendError,
    ModelFileError,
    UnknownBackendError,
)

_FRAMEWORK_VARS = ("KERAS_BACKEND", "JAX_PLATFORMS", "KERAS_TORCH_DEVICE", "CUDA_VISIBLE_DEVICES")
_KERAS_JSON = {
    "floatx": "float32",
    "epsilon": 1e-07,
    "backend": "jax",
    "image_data_format": "channels_last",
    "mine": {"nested": [1, 2, 3]},
}


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.fixture(autouse=True)
def homes(tmp_path, monkeypatch):
    """Keras' and backendkit's settings folders in tmp_path; no framework variables;
    keras looking unimported (it is imported only in children here)."""
    keras_home, config_dir = tmp_path / "keras-home", tmp_path / "bk-config"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv(config.CONFIG_DIR_VAR, str(config_dir))
    for name in (*_FRAMEWORK_VARS, "BACKENDKIT_BACKEND"):
        # set first, so that monkeypatch restores the variable's absence too
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    monkeypatch.setattr(bkeras._choice, "_configured", {})  # no configure() of another test
    return keras_home, config_dir


def child_env(homes) -> dict[str, str]:
    # run_python drops BACKENDKIT_* variables; the config folder must still be ours.
    return {"KERAS_HOME": str(homes[0]), config.CONFIG_DIR_VAR: str(homes[1])}


# ---------------------------------------------------------------- current_backend
def test_current_backend_follows_keras_order(homes, monkeypatch):
    path = bkeras.keras_config_path()
    assert path == homes[0] / "keras.json"
    assert bkeras.current_backend() == "tensorflow"  # keras' own default
    path.parent.mkdir()
    path.write_text(json.dumps({"backend": "torch"}))
    assert bkeras.backend_and_source() == ("torch", f"keras.json {path}")
    monkeypatch.setenv("KERAS_BACKEND", "")  # keras ignores an empty variable
    assert bkeras.current_backend() == "torch"
    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    assert bkeras.backend_and_source() == ("numpy", "KERAS_BACKEND")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "saved"),
    [("jax", "torch"), (None, "numpy"), ("", "jax")],
    ids=["variable-over-file", "file", "empty-variable-ignored"],
)
def test_the_lookup_agrees_with_keras_itself(homes, monkeypatch, variable, saved):
    """current_backend() answers without importing keras; Keras itself, imported in a
    fresh interpreter with the same variable and keras.json, must say the same."""
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (pip install 'backendkit[keras]')")
    path = bkeras.keras_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"backend": saved}))
    if variable is not None:
        monkeypatch.setenv("KERAS_BACKEND", variable)
    predicted = bkeras.current_backend()
    skip_unless_installed(predicted)
    env = {"KERAS_HOME": str(homes[0])}
    if variable is not None:
        env["KERAS_BACKEND"] = variable
    child = run_python("import keras; print(keras.backend.backend())", env=env)
    assert child.stdout.strip().splitlines()[-1] == predicted
    assert "keras" not in sys.modules  # the prediction imported nothing here


def test_current_backend_with_corrupt_keras_json_is_keras_default(homes):
    path = bkeras.keras_config_path()
    path.parent.mkdir()
    path.write_text("{not json")
    name, source = bkeras.backend_and_source()
    assert name == "tensorflow"
    assert "unreadable" in source


def test_keras_config_path_without_keras_home(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert bkeras.keras_config_path() == tmp_path / ".keras" / "keras.json"


def test_lookups_leave_keras_unimported(homes):
    proc = run_python(
        """
        import sys
        from backendkit.keras import current_backend, keras_config_path, backend_and_source
        print(current_backend(), backend_and_source()[1], keras_config_path().name)
        print(sorted(m for m in ("keras", "jax", "torch") if m in sys.modules))
        """,
        env={**child_env(homes), "KERAS_BACKEND": "jax"},
    )
    assert proc.stdout.split("\n")[:2] == ["jax KERAS_BACKEND keras.json", "[]"]
    assert not homes[0].exists()  # keras would have written keras.json


# ---------------------------------------------------------------- configure
@pytest.mark.slow
def test_configure_before_import(homes):
    skip_unless_installed("jax")
    proc = run_python(
        """
        from backendkit.keras import configure
        assert configure("jax", accelerator="cpu") == "jax"
        import keras, jax, os
        print(keras.backend.backend(), os.environ["JAX_PLATFORMS"], jax.devices()[0].platform)
        """,
        env={**child_env(homes), "KERAS_BACKEND": "torch"},
    )
    assert proc.stdout.split() == ["jax", "cpu", "cpu"]


@pytest.mark.slow
def test_configure_too_late_names_both_backends_and_the_ways_out(homes):
    proc = run_python(
        """
        import os, keras
        from backendkit.keras import configure
        from backendkit.errors import KerasBackendError
        assert configure("numpy") == "numpy"  # the loaded backend: nothing to do
        try:
            configure("jax")
        except KerasBackendError as exc:
            print(exc)
        print(os.environ["KERAS_BACKEND"], keras.backend.backend())
        """,
        env={**child_env(homes), "KERAS_BACKEND": "numpy"},
    )
    message, state = proc.stdout.strip().split("\n")
    assert "already imported with the 'numpy' backend" in message
    assert "configure('jax')" in message
    assert "restart" in message
    assert "run_in_backend('jax'" in message
    assert state == "numpy numpy"


def test_configure_sets_only_the_variables_keras_reads(monkeypatch):
    before = dict(os.environ)
    assert bkeras.configure("PyTorch", accelerator="CPU") == "torch"
    changed = {k: v for k, v in os.environ.items() if before.get(k) != v}
    assert changed == {"KERAS_BACKEND": "torch", "KERAS_TORCH_DEVICE": "cpu"}


@pytest.mark.parametrize(
    ("backend", "accelerator", "error", "match"),
    [
        ("theano", None, UnknownBackendError, "unknown Keras backend 'theano'; valid names"),
        (None, None, UnknownBackendError, "unknown Keras backend None"),
        ("tensorflow", None, BackendNotInstalledError, "pip install tensorflow"),
        ("jax", "tpu9", DeviceError, "unknown accelerator 'tpu9'"),
        ("numpy", "gpu", DeviceError, "numpy backend runs on the CPU only"),
    ],
)
def test_configure_errors_change_nothing(backend, accelerator, error, match):
    if backend == "tensorflow" and _installed("tensorflow"):
        pytest.skip("tensorflow is installed")
    before = dict(os.environ)
    with pytest.raises(error, match=match):
        bkeras.configure(backend, accelerator)
    assert dict(os.environ) == before


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_configure_missing_gpu(backend):
    skip_unless_installed(backend)
    before = dict(os.environ)
    with pytest.raises(DeviceError, match=f"'gpu' is not available to {backend}.*'cpu' or None"):
        bkeras.configure(backend, accelerator="cuda")
    assert dict(os.environ) == before


# ---------------------------------------------------------------- swap_backend
def test_swap_creates_missing_files_and_takes_effect_now(homes):
    changes = bkeras.swap_backend("torch", accelerator="cpu")
    assert changes == {
        "keras.json": {"backend": (None, "torch")},
        "config.json": {"backend": (None, "torch"), "accelerator": (None, "cpu")},
        "environment": {"KERAS_BACKEND": (None, "torch"), "KERAS_TORCH_DEVICE": (None, "cpu")},
    }
    assert json.loads((homes[0] / "keras.json").read_text()) == {"backend": "torch"}
    assert config.persisted_backend() == "torch"
    assert os.environ["KERAS_BACKEND"] == "torch"
    assert bkeras.current_backend() == "torch"


def test_swap_keeps_every_other_key(homes):
    path = bkeras.keras_config_path()
    path.parent.mkdir()
    path.write_text(json.dumps(_KERAS_JSON))
    changes = bkeras.swap_backend("numpy")
    assert changes["keras.json"] == {"backend": ("jax", "numpy")}
    assert json.loads(path.read_text()) == {**_KERAS_JSON, "backend": "numpy"}
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    again = bkeras.swap_backend("numpy")
    assert again["keras.json"] == {}
    assert again["config.json"] == {}


@pytest.mark.parametrize("which", ["keras", "config"])
@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe\x00",
    ],
)
def test_swap_refuses_a_corrupt_file_and_touches_nothing(homes, which, content):
    keras_path, config_path = bkeras.keras_config_path(), config.config_path()
    bad, other = (keras_path, config_path) if which == "keras" else (config_path, keras_path)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)
    before = dict(os.environ)
    with pytest.raises(ConfigError, match=r"left untouched|cannot read|not valid"):
        bkeras.swap_backend("torch")
    assert bad.read_bytes() == content
    assert not other.exists()
    assert dict(os.environ) == before


def test_swap_refuses_bad_input_before_writing(homes):
    with pytest.raises(UnknownBackendError):
        bkeras.swap_backend("theano")
    with pytest.raises(DeviceError):
        bkeras.swap_backend("numpy", accelerator="mps")
    assert not homes[0].exists()
    assert not homes[1].exists()


@pytest.mark.parametrize(
    ("backend", "accelerator"), [("torch", "tpu9"), ("jax", "gpx"), ("torch", 5), ("jax", "")]
)
def test_swap_rejects_an_accelerator_that_is_no_device_kind(homes, backend, accelerator):
    skip_unless_installed(backend)
    before = dict(os.environ)
    with pytest.raises(DeviceError, match=r"it is no device kind; valid: cpu, gpu, mps"):
        bkeras.swap_backend(backend, accelerator=accelerator)
    assert not homes[0].exists()
    assert not homes[1].exists()
    assert dict(os.environ) == before


def _torch_has_mps() -> bool:
    import torch

    return bool(torch.backends.mps.is_available())


def test_swap_saves_an_absent_accelerator_with_a_fallback_warning(homes):
    skip_unless_installed("torch")
    if _torch_has_mps():
        pytest.skip("this machine has an MPS device")
    with pytest.warns(bk.DeviceFallbackWarning) as caught:
        changes = bkeras.swap_backend("torch", accelerator="metal")
    (warning,) = caught
    message = str(warning.message)
    assert "'mps' is not available to torch on this machine" in message
    assert "saved in" in message
    assert str(config.config_path()) in message
    assert "uses the CPU instead" in message
    assert warning.filename == __file__  # points at the caller
    assert changes["config.json"] == {"backend": (None, "torch"), "accelerator": (None, "mps")}
    assert config.persisted_accelerator() == "mps"
    assert os.environ["KERAS_TORCH_DEVICE"] == "cpu"  # what runs here, now


def test_swap_without_an_accelerator_clears_the_saved_one(homes):
    bkeras.swap_backend("numpy", accelerator="cpu")
    assert config.persisted_accelerator() == "cpu"
    changes = bkeras.swap_backend("numpy")
    assert changes["config.json"] == {"accelerator": ("cpu", None)}
    assert config.persisted_accelerator() is None


@pytest.mark.parametrize("value", ['"tpu"', "3", '["gpu"]'])
def test_a_persisted_accelerator_that_is_no_device_kind_names_the_file(homes, value):
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(f'{{"backend": "torch", "accelerator": {value}}}')
    with pytest.raises(ConfigError, match=r"'accelerator' to .* which is no device kind"):
        config.persisted_accelerator()
    assert path.read_text() == f'{{"backend": "torch", "accelerator": {value}}}'


NEXT_SESSION = """
import warnings, json
import backendkit as bk
from backendkit import device_source
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    seen = {}
    for name in ("torch", "numpy"):
        with bk.use_backend(name):
            x = bk.asarray([1.0, 2.0])
            seen[name] = [bk.get_device().spec, device_source(), str(getattr(x, "device", "cpu"))]
    bk.set_device("cpu")
    seen["set_device"] = [bk.get_device().spec, device_source()]
print(json.dumps({"seen": seen, "backend": bk.get_backend(),
                  "warnings": [(w.category.__name__, str(w.message)) for w in caught]}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("accelerator", ["cpu", "mps"])
def test_the_next_session_takes_the_persisted_accelerator_as_its_device(homes, accelerator):
    skip_unless_installed("torch")
    if accelerator == "mps" and _torch_has_mps():
        pytest.skip("this machine has an MPS device")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bk.DeviceFallbackWarning)
        bkeras.swap_backend("torch", accelerator=accelerator)
    out = json.loads(run_python(NEXT_SESSION, env=child_env(homes)).stdout)
    source = f"config {config.config_path()}"
    assert out["backend"] == "torch"
    assert out["seen"]["torch"] == ["cpu:0", source, "cpu"]
    assert out["seen"]["numpy"] == ["cpu:0", "framework default", "cpu"]  # not for NumPy
    assert out["seen"]["set_device"] == ["cpu:0", "set_device"]
    if accelerator == "cpu":
        assert out["warnings"] == []
    else:  # once, for torch; NumPy has only the CPU and is not warned about
        ((kind, message),) = out["warnings"]
        assert kind == "DeviceFallbackWarning"
        assert "no device mps:0 on the torch backend: using cpu:0 instead" in message
        assert f"persisted in {config.config_path()}" in message


@pytest.mark.slow
def test_keras_functions_point_keras_at_the_persisted_accelerator(homes):
    skip_unless_installed("torch")
    bkeras.swap_backend("torch", accelerator="cpu")
    proc = run_python(
        """
        import os
        from backendkit.bench import flare_cnn
        before = os.environ.get("KERAS_TORCH_DEVICE")
        flare_cnn(8)
        import keras
        print(repr(before), os.environ.get("KERAS_TORCH_DEVICE"), keras.backend.backend())
        """,
        # a new session: keras.json and config.json decide, no variable chose a device
        env={**child_env(homes), "KERAS_BACKEND": "", "KERAS_TORCH_DEVICE": ""},
    )
    assert proc.stdout.split() == ["''", "cpu", "torch"]


# ---------------------------------------------------------------- KERAS_BACKEND
def test_swap_warns_when_keras_backend_in_the_environment_overrides_it(homes, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.warns(UserWarning, match=r"KERAS_BACKEND='jax' is set in the environment") as w:
        bkeras.swap_backend("numpy")
    (warning,) = w
    assert "unset KERAS_BACKEND" in str(warning.message)
    assert str(bkeras.keras_config_path()) in str(warning.message)
    assert warning.filename == __file__
    assert json.loads(bkeras.keras_config_path().read_text()) == {"backend": "numpy"}
    assert bkeras.environment_override() is None  # this process now uses numpy
    monkeypatch.setenv("KERAS_BACKEND", "jax")  # a new session from that shell
    assert bkeras.environment_override() == ("jax", "numpy")


@pytest.mark.parametrize("value", ["numpy", ""])
def test_no_warning_when_the_variable_agrees_or_is_empty(homes, monkeypatch, value):
    monkeypatch.setenv("KERAS_BACKEND", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bkeras.swap_backend("numpy")


def test_no_warning_for_a_keras_backend_that_configure_set(homes):
    bkeras.configure("jax")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bkeras.swap_backend("numpy")
    assert os.environ["KERAS_BACKEND"] == "numpy"


def test_swap_warns_when_backendkit_backend_overrides_config_json(homes, monkeypatch):
    monkeypatch.setenv("BACKENDKIT_BACKEND", "jax")
    with pytest.warns(UserWarning, match=r"BACKENDKIT_BACKEND='jax' is set") as w:
        bkeras.swap_backend("numpy")
    assert str(config.config_path()) in str(w[0].message)


@pytest.mark.slow
def test_swap_after_import_warns_and_applies_later(homes):
    proc = run_python(
        """
        import os, warnings, keras
        from backendkit.keras import swap_backend, current_backend
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            changes = swap_backend("jax")
        print(caught[-1].category.__name__, "|", caught[-1].message)
        print(changes["environment"], os.environ["KERAS_BACKEND"], current_backend())
        """,
        env={**child_env(homes), "KERAS_BACKEND": "numpy"},
    )
    warning, state = proc.stdout.strip().split("\n")
    assert warning.startswith("UserWarning | keras is already imported with the 'numpy'")
    assert "applies after a restart" in warning
    assert state == "{} numpy numpy"
    assert json.loads((homes[0] / "keras.json").read_text())["backend"] == "jax"


@pytest.mark.slow
def test_eight_processes_swapping_at_once(homes):
    path = bkeras.keras_config_path()
    path.parent.mkdir()
    path.write_text(json.dumps(_KERAS_JSON))
    code = (
        "from backendkit.keras import swap_backend\n"
        "import sys\n"
        "names = ['jax', 'torch', 'numpy']\n"
        "for i in range(25):\n"
        "    swap_backend(names[(i + int(sys.argv[1])) % 3])\n"
    )
    env = {**os.environ, **child_env(homes), "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(i)], env=env, stderr=subprocess.PIPE)
        for i in range(8)
    ]
    seen, problems = set(), []

    def read_until_done():
        while any(p.poll() is None for p in procs) or not seen:
            for target in (path, config.config_path()):
                try:
                    data = json.loads(target.read_text())
                except FileNotFoundError:
                    continue
                except ValueError as exc:  # a reader must never see a partial write
                    problems.append(f"{target.name}: {exc}")
                    continue
                if target == path:
                    if set(data) != set(_KERAS_JSON) or data["mine"] != _KERAS_JSON["mine"]:
                        problems.append(f"keys changed: {data}")
                    seen.add(data["backend"])
            time.sleep(0.001)

    reader = threading.Thread(target=read_until_done)
    reader.start()
    errors = [p.communicate()[1].decode() for p in procs]
    reader.join()
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert problems == []
    final = json.loads(path.read_text())
    assert final == {**_KERAS_JSON, "backend": final["backend"]}
    assert final["backend"] in {"jax", "torch", "numpy"}
    assert config.persisted_backend() in {"jax", "torch", "numpy"}
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def _writes_refused_under(folder):
    """Make every write under ``folder`` fail with PermissionError, as a read-only
    folder does for a normal user (the tests may run as root, whom chmod does not stop)."""
    folder = str(folder)
    real = {"open": builtins.open, "os_open": os.open, "replace": os.replace, "mkdir": os.mkdir}

    def inside(path) -> bool:
        try:
            path = os.fspath(path)
        except TypeError:  # a file descriptor
            return False
        return os.path.abspath(path).startswith(folder + os.sep) or path == folder

    def refuse(path):
        raise PermissionError(13, "Permission denied", os.fspath(path))

    def fake_open(file, mode="r", *args, **kwargs):
        if inside(file) and any(c in mode for c in "wax+"):
            refuse(file)
        return real["open"](file, mode, *args, **kwargs)

    def fake_os_open(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real["os_open"](path, flags, *args, **kwargs)

    def fake_replace(src, dst, *args, **kwargs):
        if inside(dst):
            refuse(dst)
        return real["replace"](src, dst, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        if inside(path):
            refuse(path)
        return real["mkdir"](path, *args, **kwargs)

    return {
        (builtins, "open"): fake_open,
        (os, "open"): fake_os_open,
        (os, "replace"): fake_replace,
        (os, "mkdir"): fake_mkdir,
    }


@pytest.mark.parametrize("config_exists", [True, False])
def test_swap_with_a_read_only_config_folder_changes_neither_file(
    homes, monkeypatch, config_exists
):
    keras_path, config_path = bkeras.keras_config_path(), config.config_path()
    keras_path.parent.mkdir()
    keras_path.write_text(json.dumps(_KERAS_JSON))
    config_path.parent.mkdir()
    if config_exists:
        config_path.write_text('{"backend": "jax"}')
    before = {p: p.read_bytes() for p in (keras_path, config_path) if p.exists()}
    env_before = dict(os.environ)
    with monkeypatch.context() as patch:
        for (owner, name), fake in _writes_refused_under(config_path.parent).items():
            patch.setattr(owner, name, fake)
        with pytest.raises(ConfigError) as info:
            bkeras.swap_backend("torch")
    message = str(info.value)
    assert str(config_path.parent) in message
    assert "Permission denied" in message
    assert not isinstance(info.value, PermissionError)
    assert {p: p.read_bytes() for p in (keras_path, config_path) if p.exists()} == before
    assert {k: v for k, v in os.environ.items() if k in _FRAMEWORK_VARS} == {
        k: v for k, v in env_before.items() if k in _FRAMEWORK_VARS
    }
    assert not [p for p in keras_path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_swap_with_a_really_read_only_config_folder(homes):
    keras_path, config_path = bkeras.keras_config_path(), config.config_path()
    keras_path.parent.mkdir()
    keras_path.write_text(json.dumps(_KERAS_JSON))
    config_path.parent.mkdir()
    config_path.parent.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="Permission denied"):
            bkeras.swap_backend("torch")
    finally:
        config_path.parent.chmod(0o755)
    assert json.loads(keras_path.read_text()) == _KERAS_JSON


def test_swap_when_the_config_folder_cannot_be_made_changes_neither_file(homes):
    keras_path = bkeras.keras_config_path()
    keras_path.parent.mkdir()
    keras_path.write_text(json.dumps(_KERAS_JSON))
    homes[1].write_text("a file where backendkit's config folder should be")
    with pytest.raises(ConfigError, match="bk-config"):
        bkeras.swap_backend("torch")
    assert json.loads(keras_path.read_text()) == _KERAS_JSON


def test_swap_keeps_keras_json_mode_and_symlink(homes):
    real = homes[0].parent / "dotfiles" / "keras.json"
    real.parent.mkdir()
    real.write_text(json.dumps(_KERAS_JSON))
    real.chmod(0o644)
    link = bkeras.keras_config_path()
    link.parent.mkdir()
    link.symlink_to(real)
    bkeras.swap_backend("numpy")
    assert link.is_symlink()
    assert json.loads(real.read_text()) == {**_KERAS_JSON, "backend": "numpy"}
    assert real.stat().st_mode & 0o7777 == 0o644
    assert config.config_path().stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_in_rounds(keras_home, config_dir, index, rounds, barrier) -> None:
    os.environ["KERAS_HOME"] = keras_home
    os.environ[config.CONFIG_DIR_VAR] = config_dir
    from backendkit.keras import swap_backend

    names = ("jax", "torch", "numpy")
    for r in range(rounds):
        barrier.wait()
        swap_backend(names[(r + index) % 3])
        barrier.wait()


def _pair(homes) -> tuple[str, str]:
    keras_json = json.loads((homes[0] / "keras.json").read_text())
    return keras_json["backend"], config.read_json(homes[1] / "config.json")["backend"]


@pytest.mark.slow
def test_eight_concurrent_swaps_leave_both_files_agreeing_processes(homes):
    import multiprocessing

    rounds, workers = 30, 8
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers + 1, timeout=120)
    procs = [
        ctx.Process(
            target=_swap_in_rounds, args=(str(homes[0]), str(homes[1]), i, rounds, barrier)
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    disagreements = []
    try:
        for r in range(rounds):
            barrier.wait()  # all swap at once
            barrier.wait()  # all done
            keras_name, ours = _pair(homes)
            if keras_name != ours:
                disagreements.append((r, keras_name, ours))
    finally:
        for p in procs:
            p.join(120)
    assert [p.exitcode for p in procs] == [0] * workers
    assert disagreements == []


@pytest.mark.slow
def test_eight_concurrent_swaps_leave_both_files_agreeing_threads(homes):
    rounds, workers = 30, 8
    barrier = threading.Barrier(workers + 1, timeout=120)
    failures = []

    def work(index):
        names = ("jax", "torch", "numpy")
        try:
            for r in range(rounds):
                barrier.wait()
                bkeras.swap_backend(names[(r + index) % 3])
                barrier.wait()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(repr(exc))
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    disagreements = []
    try:
        for r in range(rounds):
            barrier.wait()
            barrier.wait()
            keras_name, ours = _pair(homes)
            if keras_name != ours:
                disagreements.append((r, keras_name, ours))
    finally:
        for t in threads:
            t.join(120)
    assert failures == []
    assert disagreements == []


# ---------------------------------------------------------------- models
def test_model_path_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        bkeras.load_model(tmp_path / "missing.keras")
    text = tmp_path / "notes.keras"
    text.write_text("not a zip archive")
    with pytest.raises(ModelFileError, match=r"notes.keras' is not a Keras model file"):
        bkeras.load_model(text)
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n")
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        bkeras.predict(h5, np.zeros((1, 8, 1)))
    assert "keras" not in sys.modules


@pytest.mark.parametrize(
    ("window", "error"),
    [
        (3, ArgumentValueError),
        (-1, ArgumentValueError),
        (2.5, ArgumentTypeError),
        (True, ArgumentTypeError),
        ("200", ArgumentTypeError),
        (None, ArgumentTypeError),
    ],
)
def test_flare_cnn_rejects_bad_window(window, error):
    with pytest.raises(error, match="window must be an integer of at least 4"):
        flare_cnn(window)
    assert "keras" not in sys.modules


def _zip(path, members: dict[str, bytes]):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ({}, r"holds no Keras model \(no config\.json"),
        ({"notes.txt": b"hello"}, r"holds no Keras model \(no config\.json.*notes\.txt"),
        ({"config.json": b"{not json", "metadata.json": b"{}"}, r"config\.json.*not valid JSON"),
        ({"config.json": b"[1, 2]", "metadata.json": b"{}"}, r"config\.json.*not a JSON object"),
    ],
)
def test_load_model_of_a_zip_without_a_model(tmp_path, members, match):
    path = _zip(tmp_path / "empty.keras", members)
    with pytest.raises(ModelFileError, match=match) as info:
        bkeras.load_model(path)
    assert "empty.keras" in str(info.value)
    assert "model.save" in str(info.value)
    with pytest.raises(ModelFileError, match=match):
        bkeras.predict(path, np.zeros((1, 8, 1)))
    assert "keras" not in sys.modules  # refused before keras was imported


def test_load_model_of_a_damaged_zip(tmp_path):
    path = _zip(tmp_path / "model.keras", {"config.json": b"{}", "model.weights.h5": b"x" * 64})
    data = bytearray(path.read_bytes())
    data[30:60] = b"\0" * 30  # the first member's header: unreadable, the index intact
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"model\.keras.*damaged"):
        bkeras.load_model(path)
    assert "keras" not in sys.modules


@pytest.mark.parametrize("path", [42, None, 3.5, ["model.keras"]])
def test_load_model_of_a_path_that_is_no_path(path):
    with pytest.raises(ArgumentTypeError, match=r"path must be a str or os\.PathLike"):
        bkeras.load_model(path)


@pytest.mark.slow
def test_keras_failure_while_loading_is_a_model_file_error(homes, tmp_path):
    # a well-formed archive whose config names no layer class keras knows
    config_json = json.dumps({"class_name": "NoSuchLayer", "config": {}, "module": "nowhere"})
    path = _zip(
        tmp_path / "odd.keras",
        {"config.json": config_json.encode(), "metadata.json": b'{"keras_version": "3.0.0"}'},
    )
    proc = run_python(
        f"""
        from backendkit.keras import configure, load_model
        from backendkit.errors import ModelFileError
        configure("numpy")
        try:
            load_model({str(path)!r})
        except ModelFileError as exc:
            print("ModelFileError", type(exc.__cause__).__name__)
        """,
        env=child_env(homes),
    )
    assert proc.stdout.startswith("ModelFileError"), proc.stdout + proc.stderr


@pytest.mark.skipif(_installed("tensorflow"), reason="tensorflow is installed")
def test_keras_default_without_tensorflow_is_refused():
    with pytest.raises(KerasBackendError, match=r"configure\('jax'\)"):
        flare_cnn()
    assert "keras" not in sys.modules


def build_and_save(path: str, window: int) -> list:
    import keras

    keras.utils.set_random_seed(0)
    model = flare_cnn(window)
    model.save(path)
    return [
        (layer.__class__.__name__, {k: layer.get_config().get(k) for k in _LAYER_KEYS})
        for layer in model.layers
    ]


_LAYER_KEYS = ("filters", "kernel_size", "activation", "padding", "pool_size", "rate", "units")


@pytest.mark.slow
def test_saved_model_predicts_the_same_on_every_backend(tmp_path):
    for name in ("jax", "torch"):
        skip_unless_installed(name)
    window, path = 16, str(tmp_path / "tiny.keras")
    layers = bk.run_in_backend("jax", build_and_save, path, window)
    kinds = [kind for kind, _ in layers]
    assert kinds == [
        "Conv1D", "MaxPooling1D", "Dropout", "Conv1D", "MaxPooling1D", "Dropout",
        "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert layers[0][1]["filters"] == 16
    assert layers[0][1]["kernel_size"] == (7,)
    assert layers[3][1]["filters"] == 64
    assert layers[3][1]["padding"] == "same"
    assert layers[7][1]["units"] == 32
    assert layers[9][1]["activation"] == "sigmoid"
    x = np.random.default_rng(0).normal(size=(6, window, 1)).astype("float32")
    results = {
        name: bk.run_in_backend(name, bkeras.predict, path, x)
        for name in ("jax", "torch", "numpy")
    }
    for name, y in results.items():
        assert y.shape == (6, 1), name
        assert y.dtype == np.float32, name
        np.testing.assert_allclose(y, results["jax"], atol=1e-5, rtol=0, err_msg=name)
    assert np.ptp(results["jax"]) > 0  # the model does depend on its input
