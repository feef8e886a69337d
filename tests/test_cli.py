"""``python -m backendkit``: the diagnostics report (``info``), and what ``bench`` does with
its output paths."""

from __future__ import annotations

import argparse
import json
import os
import re
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


def test_info_shows_a_keras_backend_variable_that_overrides_keras_json(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    proc = backendkit_cli("info", "--no-probe", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "would use jax (KERAS_BACKEND)" in proc.stdout
    assert "note: KERAS_BACKEND='jax' in the environment overrides the 'torch'" in proc.stdout
    proc = backendkit_cli("info", "--json", "--no-probe", tmp_path=tmp_path)
    keras = json.loads(proc.stdout)["keras"]
    assert (keras["variable"], keras["saved"]) == ("jax", "torch")


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


# ---------------------------------------------------------------- bench: output paths
def _bench_args(*argv: str) -> argparse.Namespace:
    from backendkit.bench import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(["-w", "matmul", "-b", "numpy", "-s", "8", *argv])


@pytest.fixture
def fake_benchmark(monkeypatch):
    """``benchmark`` replaced by one that records its calls and returns a small result."""
    from backendkit.bench import BenchmarkResult, Measurement, Run, engine

    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        for hook in calls_hooks:
            hook()
        return BenchmarkResult(
            measurements=[Measurement("matmul", 8, "numpy", "cpu", [1e-6, 2e-6], 1, 1e-5)],
            runs=[Run("numpy", "cpu", "ok")],
        )

    calls_hooks: list = []
    monkeypatch.setattr(engine, "benchmark", fake)
    fake.calls, fake.hooks = calls, calls_hooks
    return fake


@pytest.mark.parametrize(
    ("option", "path", "match"),
    [
        (
            "--json",
            "{tmp}/no/such/folder/out.json",
            r"--json .*out\.json: the folder .*folder does not exist",
        ),
        ("--json", "{tmp}", r"--json .*: is a folder"),
        (
            "--plot",
            "{tmp}/out.xyz",
            r"--plot .*out\.xyz: matplotlib cannot write '\.xyz' files; use one of .*png",
        ),
        ("--plot", "{tmp}/out", r"--plot .*out: give the file an extension"),
        ("--plot", "{tmp}/no/such/folder/out.png", r"--plot .*folder does not exist"),
    ],
)
def test_bench_checks_output_paths_before_running(
    fake_benchmark, capsys, tmp_path, option, path, match
):
    from backendkit.bench import cli

    path = path.format(tmp=tmp_path)
    assert cli.run(_bench_args(option, path)) == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert fake_benchmark.calls == []  # nothing ran


def test_bench_output_path_check_in_a_real_run(tmp_path):
    proc = backendkit_cli(
        "bench", "-w", "matmul", "-b", "numpy", "-s", "8", "--json", "/nonexistent/out.json",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "/nonexistent/out.json" in proc.stderr
    assert "matmul" not in proc.stdout  # no table: nothing was run


def test_bench_writes_json_and_plot(fake_benchmark, capsys, tmp_path):
    from backendkit.bench import BenchmarkResult, cli

    out, plot = tmp_path / "r.json", tmp_path / "r.png"
    assert cli.run(_bench_args("--json", str(out), "--plot", str(plot))) == 0
    assert BenchmarkResult.from_json(out).measurements[0].times_s == [1e-6, 2e-6]
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.png"]  # no leftovers


def _fallback_path(err: str) -> str:
    found = re.search(r"the result was written to (\S+) instead", err)
    assert found, err
    return found.group(1)


def test_bench_keeps_the_result_when_the_json_path_fails_late(fake_benchmark, capsys, tmp_path):
    from backendkit.bench import BenchmarkResult, cli

    folder = tmp_path / "out"
    folder.mkdir()
    # the folder is there when checked, and gone when the result is written
    fake_benchmark.hooks.append(lambda: folder.rmdir())
    assert cli.run(_bench_args("--json", str(folder / "r.json"))) == 1
    captured = capsys.readouterr()
    assert "matmul" in captured.out  # the table was printed
    kept = _fallback_path(captured.err)
    try:
        assert "r.json" in captured.err
        assert BenchmarkResult.from_json(kept).measurements[0].times_s == [1e-6, 2e-6]
    finally:
        os.unlink(kept)


def test_bench_keeps_the_result_when_the_plot_fails_late(
    fake_benchmark, capsys, tmp_path, monkeypatch
):
    from backendkit.bench import BenchmarkResult, cli

    def broken_plot(self, path=None, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(BenchmarkResult, "plot", broken_plot)
    assert cli.run(_bench_args("--plot", str(tmp_path / "r.png"))) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err
    kept = _fallback_path(err)
    try:
        assert BenchmarkResult.from_json(kept).runs[0].status == "ok"
    finally:
        os.unlink(kept)
    # with --json written, the plot failing needs no second copy
    out = tmp_path / "r.json"
    assert cli.run(_bench_args("--json", str(out), "--plot", str(tmp_path / "r.png"))) == 1
    err = capsys.readouterr().err
    assert "written to" not in err
    assert f"the result is in {out}" in err
    assert BenchmarkResult.from_json(out).runs[0].status == "ok"
