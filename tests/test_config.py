"""backendkit's persisted settings and the atomic JSON update behind them (and keras.json)."""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os

import pytest
from conftest import run_python

import backendkit as bk
from backendkit import config
from backendkit.errors import BackendError, ConfigError

D = importlib.import_module("backendkit._devices")  # bk.devices: the function


def test_read_missing_file_is_empty(tmp_path):
    assert config.read_json(tmp_path / "nope.json") == {}


def test_update_creates_file_and_folder(tmp_path):
    path = tmp_path / "a" / "b" / "settings.json"
    changed = config.update_json(path, {"backend": "jax"})
    assert changed == {"backend": (None, "jax")}
    assert json.loads(path.read_text()) == {"backend": "jax"}


def test_update_keeps_other_keys_and_reports_changes(tmp_path):
    path = tmp_path / "keras.json"
    path.write_text(json.dumps({"floatx": "float32", "epsilon": 1e-07, "backend": "jax"}))
    assert config.update_json(path, {"backend": "torch"}) == {"backend": ("jax", "torch")}
    assert json.loads(path.read_text()) == {
        "floatx": "float32",
        "epsilon": 1e-07,
        "backend": "torch",
    }
    assert config.update_json(path, {"backend": "torch"}) == {}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", ""])
def test_corrupt_file_is_refused_and_left_untouched(tmp_path, content):
    path = tmp_path / "keras.json"
    path.write_text(content)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=r"keras\.json") as info:
        config.update_json(path, {"backend": "torch"})
    assert isinstance(info.value, BackendError)
    assert "left untouched" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "keras.json"
    ]


def _swap_many(path: str, key: str, rounds: int) -> None:
    for i in range(rounds):
        config.update_json(path, {key: i, "backend": key})
        data = config.read_json(path)  # a reader never sees a half-written file
        assert "floatx" in data


def test_concurrent_writers_lose_no_key(tmp_path):
    path = tmp_path / "keras.json"
    path.write_text(json.dumps({"floatx": "float32"}))
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_swap_many, args=(str(path), f"w{i}", 20)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * 8
    data = json.loads(path.read_text())
    assert data["floatx"] == "float32"
    assert {f"w{i}" for i in range(8)} <= set(data)
    assert all(data[f"w{i}"] == 19 for i in range(8))


def test_persisted_backend_is_read_at_first_use(tmp_path):
    env = {config.CONFIG_DIR_VAR: str(tmp_path)}
    run_python("from backendkit import config; config.persist_backend('numpy')", env=env)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved == {"backend": "numpy", "accelerator": None}
    out = run_python(
        "import backendkit as bk; from backendkit import selection;"
        "print(bk.get_backend(), selection.selection_source())",
        env=env,
    ).stdout.split()
    assert out[0] == "numpy"
    assert out[1:] == ["config", str(tmp_path / "config.json")]


def test_env_var_wins_over_persisted_backend(tmp_path):
    (tmp_path / "config.json").write_text('{"backend": "not-a-backend"}')
    out = run_python(
        "import backendkit as bk; print(bk.get_backend())",
        env={config.CONFIG_DIR_VAR: str(tmp_path), "BACKENDKIT_BACKEND": "numpy"},
    )
    assert out.stdout.strip() == "numpy"


def test_bad_persisted_backend_names_the_file(tmp_path):
    (tmp_path / "config.json").write_text('{"backend": "tensorflowish"}')
    proc = run_python(
        "import backendkit as bk; bk.get_backend()",
        env={config.CONFIG_DIR_VAR: str(tmp_path)},
        check=False,
    )
    assert proc.returncode != 0
    assert "UnknownBackendError" in proc.stderr
    assert str(tmp_path / "config.json") in proc.stderr
    assert "tensorflowish" in proc.stderr


def test_config_path_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv(config.CONFIG_DIR_VAR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.config_path() == tmp_path / "backendkit" / "config.json"
    monkeypatch.setenv(config.CONFIG_DIR_VAR, os.fspath(tmp_path / "x"))
    assert config.config_path() == tmp_path / "x" / "config.json"


# ---------------------------------------------------------------- issue 12: hardening
@pytest.mark.parametrize("value", [42, None, 1.5, ["jax"], {"name": "jax"}, True])
def test_persisted_backend_of_the_wrong_type_names_file_and_key(tmp_path, monkeypatch, value):
    monkeypatch.setenv(config.CONFIG_DIR_VAR, str(tmp_path))
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"backend": value}))
    with pytest.raises(ConfigError) as info:
        config.persisted_backend()
    message = str(info.value)
    assert str(path) in message
    assert "'backend'" in message
    assert json.dumps(value) in message  # what was found, as the file spells it


def test_persisted_backend_of_the_wrong_type_fails_at_first_use(tmp_path):
    (tmp_path / "config.json").write_text('{"backend": null}')
    proc = run_python(
        "import backendkit as bk; bk.get_backend()",
        env={config.CONFIG_DIR_VAR: str(tmp_path)},
        check=False,
    )
    assert proc.returncode != 0
    assert "ConfigError" in proc.stderr
    assert str(tmp_path / "config.json") in proc.stderr


def test_missing_backend_key_is_no_error(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CONFIG_DIR_VAR, str(tmp_path))
    (tmp_path / "config.json").write_text('{"other": 1}')
    assert config.persisted_backend() is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600, 0o664])
def test_update_keeps_the_file_mode(tmp_path, mode):
    path = tmp_path / "keras.json"
    path.write_text('{"backend": "jax"}')
    path.chmod(mode)
    config.update_json(path, {"backend": "torch"})
    assert json.loads(path.read_text()) == {"backend": "torch"}
    assert path.stat().st_mode & 0o7777 == mode


def test_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        config.update_json(tmp_path / "new.json", {"backend": "jax"})
        os.umask(0o027)
        config.update_json(tmp_path / "other.json", {"backend": "jax"})
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "other.json").stat().st_mode & 0o777 == 0o640


def test_update_follows_a_symlink_and_writes_its_target(tmp_path):
    target_dir = tmp_path / "dotfiles"
    target_dir.mkdir()
    target = target_dir / "keras.json"
    target.write_text('{"backend": "jax", "floatx": "float32"}')
    target.chmod(0o644)
    link = tmp_path / "home" / "keras.json"
    link.parent.mkdir()
    link.symlink_to(target)
    config.update_json(link, {"backend": "torch"})
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    assert json.loads(target.read_text()) == {"backend": "torch", "floatx": "float32"}
    assert target.stat().st_mode & 0o7777 == 0o644
    # the temporary file went beside the target, where os.replace is atomic
    assert sorted(p.name for p in link.parent.iterdir()) == ["keras.json"]
    assert not [p for p in target_dir.iterdir() if p.name.endswith(".tmp")]


def test_update_through_a_dangling_symlink_creates_the_target(tmp_path):
    target = tmp_path / "real" / "keras.json"
    target.parent.mkdir()
    link = tmp_path / "keras.json"
    link.symlink_to(target)
    config.update_json(link, {"backend": "numpy"})
    assert link.is_symlink()
    assert json.loads(target.read_text()) == {"backend": "numpy"}


def test_update_of_several_files_is_all_or_nothing(tmp_path, monkeypatch):
    a, b = tmp_path / "a" / "keras.json", tmp_path / "b" / "config.json"
    a.parent.mkdir()
    a.write_text('{"backend": "jax"}')
    real_replace = os.replace

    def failing_replace(src, dst, *args, **kwargs):
        if os.fspath(dst) == str(b):
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ConfigError, match=r"b/config\.json.*Permission denied") as info:
        config.update_json_files({a: {"backend": "torch"}, b: {"backend": "torch"}})
    assert "neither file was changed" in str(info.value)
    monkeypatch.setattr(os, "replace", real_replace)
    assert json.loads(a.read_text()) == {"backend": "jax"}
    assert not b.exists()
    assert sorted(p.name for p in a.parent.iterdir() if not p.name.endswith(".lock")) == [
        "keras.json"
    ]
    assert not [p for p in b.parent.iterdir() if p.name.endswith(".tmp")]


def test_update_of_several_files_reports_each(tmp_path):
    a, b = tmp_path / "keras.json", tmp_path / "sub" / "config.json"
    a.write_text('{"backend": "jax", "floatx": "float32"}')
    changed = config.update_json_files({a: {"backend": "torch"}, b: {"backend": "torch"}})
    assert changed == {a: {"backend": ("jax", "torch")}, b: {"backend": (None, "torch")}}
    assert json.loads(a.read_text()) == {"backend": "torch", "floatx": "float32"}
    assert json.loads(b.read_text()) == {"backend": "torch"}


def test_folder_that_cannot_be_created_is_a_config_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ConfigError, match="not-a-folder"):
        config.update_json(blocker / "config.json", {"backend": "jax"})


# ------------------------------------------------------------------ the accelerator
def test_persisted_accelerator_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CONFIG_DIR_VAR, str(tmp_path))
    assert config.persisted_accelerator() is None  # no file
    assert config.persist_backend("torch", accelerator="gpu") == {
        "backend": (None, "torch"),
        "accelerator": (None, "gpu"),
    }
    assert config.persisted_accelerator() == "gpu"
    config.persist_backend("torch")
    assert config.persisted_accelerator() is None  # null: the framework's own choice


@pytest.fixture
def persisted(tmp_path, monkeypatch):
    """Persist an accelerator in tmp_path and make this process read it afresh, as a
    new session would (no set_device so far)."""

    def persist(kind):
        monkeypatch.setenv(config.CONFIG_DIR_VAR, str(tmp_path))
        config.persist_backend("numpy", accelerator=kind)
        monkeypatch.setattr(D, "_persisted", D._UNSET)
        monkeypatch.setattr(D, "_process", None)
        monkeypatch.setattr(D, "_process_set", False)
        return f"config {config.config_path()}"

    return persist


def test_a_persisted_cpu_is_the_default_device(backend, persisted):
    source = persisted("cpu")
    assert bk.get_device().spec == "cpu:0"
    assert D.device_source() == ("framework default" if backend == "numpy" else source)
    assert bk.backend_of(bk.asarray([1.0])) == backend
    bk.set_device(None)  # the user's own choice wins, None included
    assert D.device_source() == "framework default"


def test_a_persisted_accelerator_this_machine_lacks_falls_back_to_the_cpu(backend, persisted):
    if any(d.kind == "gpu" for d in bk.devices(backend)):
        pytest.skip(f"{backend} sees a GPU here")
    source = persisted("gpu")
    if backend == "numpy":  # only the CPU, by design: nothing to warn about
        assert bk.get_device().spec == "cpu:0"
        return
    with pytest.warns(bk.DeviceFallbackWarning, match=r"persisted in .*config\.json") as w:
        assert bk.get_device().spec == "cpu:0"
    assert "no device gpu:0 on the" in str(w[0].message)
    assert D.device_source() == source
    with bk.use_device("cpu"):
        assert D.device_source() == "use_device"
