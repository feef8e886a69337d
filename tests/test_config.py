"""backendkit's persisted settings and the atomic JSON update behind them (and keras.json)."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest
from conftest import run_python

from backendkit import config
from backendkit.errors import BackendError, ConfigError


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
    assert json.loads((tmp_path / "config.json").read_text()) == {"backend": "numpy"}
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
