"""``python -m backendkit info``: the diagnostics report on the command line, exit 0."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest
from conftest import SRC

import backendkit as bk
from backendkit import diagnostics

pytestmark = pytest.mark.slow


def backendkit_cli(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKENDKIT_")}
    env.update(PYTHONPATH=str(SRC), KERAS_HOME=str(tmp_path), KERAS_BACKEND="jax")
    return subprocess.run(
        [sys.executable, "-m", "backendkit", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_info_text(tmp_path):
    proc = backendkit_cli("info", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith(f"backendkit {bk.__version__} on Python")
    assert "selected: numpy (default)" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for name in bk.available_backends():
        assert "cpu:0" in rows[name]  # probed: every installed backend's devices listed
    assert "would use jax (KERAS_BACKEND)" in rows["keras"]


def test_info_json(tmp_path):
    proc = backendkit_cli("info", "--json", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["backendkit_version"] == bk.__version__
    assert report["selected"] == "numpy"
    for status in report["backends"]:
        if status["installed"]:
            assert status["devices"][0]["kind"] == "cpu"
    assert report["keras"]["backend"] == "jax"
    assert report["device"]["kind"] == "cpu"


def test_info_json_without_probing(tmp_path):
    proc = backendkit_cli("info", "--json", "--no-probe", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    for status in report["backends"]:
        if status["name"] != "numpy":
            assert status["imported"] is False
            assert status["devices"] is None


def test_run_in_process(capsys):
    parser = argparse.ArgumentParser()
    diagnostics.add_arguments(parser)
    assert diagnostics.run(parser.parse_args(["--json", "--no-probe"])) == 0
    assert json.loads(capsys.readouterr().out)["backends"][0]["name"] == "numpy"
    assert diagnostics.run(parser.parse_args([])) == 0
    assert "keras" in capsys.readouterr().out
