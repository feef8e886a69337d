"""Diagnostics: ``print_backend_info`` and ``check_backend``, which look without touching.

What ``check_backend`` must not import is checked in a fresh interpreter: this test
session has imported every framework long ago.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import io
import json

import pytest
from conftest import run_python

import backendkit as bk
from backendkit import diagnostics

D = importlib.import_module("backendkit._devices")
NOT_IMPORTED = ["jax", "jaxlib", "torch", "keras", "tensorflow"]


@pytest.fixture(autouse=True)
def _restore_device():
    saved = D._process, D._process_set
    yield
    D._process, D._process_set = saved


# ------------------------------------------------------------------ print_backend_info
def test_print_backend_info(backend):
    out = io.StringIO()
    bk.print_backend_info(file=out)
    lines = out.getvalue().splitlines()
    labels = [line.split()[0] for line in lines]
    assert labels == ["backendkit", "backend", "dtype", "device", "installed", "keras"]
    starts = {
        len(line) - len(line[len(label) :].lstrip())
        for line, label in zip(lines, labels, strict=True)
    }
    assert len(starts) == 1  # one aligned column of values
    version = backends_version(backend)
    assert lines[0].endswith(bk.__version__)
    assert f"backend     {backend} {version} (use_backend)" in lines[1]
    expected_dtype = {"numpy": "float64", "jax": "float32", "torch": "float32"}[backend]
    assert expected_dtype in lines[2]
    assert "cpu:0" in lines[3]
    assert "(framework default)" in lines[3]
    assert "free of" in lines[3]
    for name in bk.available_backends():
        assert f"{name} {backends_version(name)}" in lines[4]
    keras = diagnostics._keras_status()
    if keras.installed:
        assert f"{keras.version}, would use {keras.backend} ({keras.source})" in lines[5]
    else:
        assert lines[5].endswith("not installed")


def backends_version(name):
    return bk.backends.load(name).version


def test_print_backend_info_shows_the_chosen_device_and_dtype(backend, capsys):
    with bk.use_device("cpu"), bk.use_dtype("float64"):
        bk.print_backend_info()
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split(maxsplit=1)[1] == "float64 (backendkit default)"
    assert "cpu:0" in lines[3]
    assert "(use_device)" in lines[3]


# ------------------------------------------------------------------ check_backend
def test_report_of_every_backend():
    report = bk.check_backend()
    assert isinstance(report, diagnostics.BackendReport)
    assert [b.name for b in report.backends] == ["numpy", "jax", "torch"]
    for status in report.backends:
        installed = bk.backends.is_installed(status.name)
        assert status.installed == installed
        if installed:
            assert status.version == bk.backends.load(status.name).version
    assert report.backendkit_version == bk.__version__
    assert report.keras.installed == (importlib.util.find_spec("keras") is not None)


def test_report_probe_lists_devices_and_accelerators():
    report = bk.check_backend(probe=True)
    for status in report.backends:
        if not status.installed:
            assert status.devices is None
            continue
        assert status.devices[0].spec == "cpu:0"
        assert status.accelerators == tuple(
            sorted({d.platform for d in status.devices if d.kind != "cpu"})
        )
        assert status.error is None


def test_report_selection_and_device(backend):
    with bk.use_device("cpu"):
        report = bk.check_backend(probe=True)
    assert (report.selected, report.selected_because) == (backend, "use_backend")
    assert report.device is not None
    assert (report.device.backend, report.device.spec) == (backend, "cpu:0")
    assert report.device_because == "use_device"


def test_report_to_dict_and_table(backend):
    report = bk.check_backend(probe=True)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["selected"] == backend
    assert [b["name"] for b in data["backends"]] == ["numpy", "jax", "torch"]
    numpy_status = data["backends"][0]
    assert numpy_status["devices"][0]["kind"] == "cpu"
    assert {"backend", "source", "installed", "version"} <= set(data["keras"])
    table = str(report)
    header = next(line for line in table.splitlines() if line.startswith("backend "))
    assert header.split() == [
        "backend",
        "installed",
        "version",
        "imported",
        "accelerators",
        "devices",
    ]
    assert f"{backend} *" in table  # the selected backend is marked
    assert "keras" in table


def test_a_broken_backend_is_reported_not_raised(monkeypatch):
    def broken(name=None):
        raise RuntimeError("CUDA driver failed to start")

    monkeypatch.setattr(diagnostics, "devices", broken)
    report = bk.check_backend(probe=True)
    for status in report.backends:
        if status.installed:
            assert status.error == "RuntimeError: CUDA driver failed to start"
            assert status.devices is None
    assert "CUDA driver failed to start" in str(report)


def test_a_chosen_device_the_backend_lacks_is_reported(monkeypatch):
    bk.set_device("cpu")
    monkeypatch.setattr(D, "_process", D._Choice("gpu", 99, None, "set_device"))
    report = bk.check_backend()
    assert report.device is None
    assert report.device_because.startswith("unavailable: ")
    assert "gpu:99" in report.device_because


# ------------------------------------------------------------------ in a fresh process
CHECK = f"""
import json, sys
import backendkit as bk
report = bk.check_backend()
print(json.dumps({{
    "report": report.to_dict(),
    "imported": sorted(m for m in {NOT_IMPORTED!r} if m in sys.modules),
}}))
"""


def fresh_check(tmp_path, **env):
    home = tmp_path / "keras-home"
    home.mkdir(exist_ok=True)
    full = {"KERAS_HOME": str(home), "HOME": str(tmp_path)}
    full.update(env)
    proc = run_python(CHECK, env=full)
    return json.loads(proc.stdout), home


def test_check_backend_imports_nothing(tmp_path):
    out, home = fresh_check(tmp_path, KERAS_BACKEND="jax")
    assert out["imported"] == []
    report = out["report"]
    for status in report["backends"]:
        if status["name"] != "numpy":
            assert status["imported"] is False
            assert status["devices"] is None  # not looked at without probe=True
        if status["installed"]:
            assert status["version"] == importlib.metadata.version(status["name"])
    assert (report["keras"]["backend"], report["keras"]["source"]) == ("jax", "KERAS_BACKEND")
    assert list(home.iterdir()) == []  # no keras.json written


def test_check_backend_reads_keras_json_without_keras(tmp_path):
    home = tmp_path / "keras-home"
    home.mkdir()
    (home / "keras.json").write_text(json.dumps({"backend": "torch"}))
    out, _ = fresh_check(tmp_path, KERAS_BACKEND="")
    keras = out["report"]["keras"]
    assert keras["backend"] == "torch"
    assert keras["source"] == f"keras.json {home / 'keras.json'}"
    assert out["imported"] == []


def test_check_backend_keras_default(tmp_path):
    out, home = fresh_check(tmp_path, KERAS_BACKEND="")
    keras = out["report"]["keras"]
    assert (keras["backend"], keras["source"]) == ("tensorflow", "Keras' default")
    assert keras["backend_installed"] == (importlib.util.find_spec("tensorflow") is not None)
    assert list(home.iterdir()) == []


def test_check_backend_selection_from_the_environment(tmp_path):
    out, _ = fresh_check(tmp_path, BACKENDKIT_BACKEND="torch")
    report = out["report"]
    assert (report["selected"], report["selected_because"]) == (
        "torch",
        "env BACKENDKIT_BACKEND=torch",
    )
    assert report["device"] is None  # torch is not imported: not looked at
    assert out["imported"] == []


def test_check_backend_invalid_selection(tmp_path):
    out, _ = fresh_check(tmp_path, BACKENDKIT_BACKEND="nonsense")
    report = out["report"]
    assert report["selected"] is None
    assert report["selected_because"].startswith("invalid selection: ")
    assert "nonsense" in report["selected_because"]


@pytest.mark.slow
def test_probe_imports_frameworks_but_never_keras(tmp_path):
    code = CHECK.replace("bk.check_backend()", "bk.check_backend(probe=True)")
    proc = run_python(code, env={"KERAS_HOME": str(tmp_path), "KERAS_BACKEND": "jax"})
    out = json.loads(proc.stdout)
    assert "keras" not in out["imported"]
    for status in out["report"]["backends"]:
        if status["installed"]:
            assert status["devices"][0]["kind"] == "cpu"


# ------------------------------------------------------------------ KERAS_BACKEND
OVERRIDE = """
import io, json
import backendkit as bk
out = io.StringIO()
bk.print_backend_info(file=out)
report = bk.check_backend()
print(json.dumps({"keras": report.to_dict()["keras"], "table": str(report),
                  "info": out.getvalue(), "overridden": report.keras.overridden}))
"""


def _keras_home(tmp_path, saved):
    home = tmp_path / "keras-home"
    home.mkdir()
    if saved is not None:
        (home / "keras.json").write_text(json.dumps({"backend": saved}))
    return home


@pytest.mark.skipif(importlib.util.find_spec("keras") is None, reason="keras is not installed")
def test_a_keras_backend_variable_that_overrides_keras_json_is_shown(tmp_path):
    home = _keras_home(tmp_path, "torch")
    proc = run_python(OVERRIDE, env={"KERAS_HOME": str(home), "KERAS_BACKEND": "jax"})
    out = json.loads(proc.stdout)
    assert (out["keras"]["variable"], out["keras"]["saved"]) == ("jax", "torch")
    assert out["overridden"] is True
    note = (
        "KERAS_BACKEND='jax' in the environment overrides the 'torch' saved in keras.json "
        "in every session started with it; unset it"
    )
    assert f"note: {note}" in out["table"]
    keras_line = out["info"].splitlines()[-1]
    assert keras_line.startswith("keras ")
    assert "would use jax (KERAS_BACKEND); warning: " + note in keras_line


@pytest.mark.parametrize(("variable", "saved"), [("torch", "torch"), ("", "torch"), ("jax", None)])
def test_no_override_is_shown_where_there_is_none(tmp_path, variable, saved):
    home = _keras_home(tmp_path, saved)
    proc = run_python(OVERRIDE, env={"KERAS_HOME": str(home), "KERAS_BACKEND": variable})
    out = json.loads(proc.stdout)
    assert out["overridden"] is False
    assert "overrides" not in out["table"]
    assert "overrides" not in out["info"]
    assert out["keras"]["saved"] == saved
    assert out["keras"]["variable"] == (variable or None)
