"""The benchmark of a saved Keras model: ``benchmark(model_path=...)`` and ``--model``.

The checks made before any child starts (the file, the input shapes) run on archives
written here without keras: a ``.keras`` file is a zip whose ``config.json`` states the
model, and that is all they read. Real models are saved, and timed, in child processes
(keras fixes its backend at import, and this session must not import it).
"""

from __future__ import annotations

import importlib.util
import json
import zipfile

import numpy as np
import pytest
from conftest import skip_unless_installed

import backendkit as bk
from backendkit.bench import (
    BenchmarkResult,
    ModelWorkload,
    benchmark,
    engine,
    model_workload,
)
from backendkit.bench import cli as bench_cli
from backendkit.errors import ArgumentTypeError, BenchmarkError, ModelFileError

QUICK = {"repeats": 2, "warmup": 1, "min_sample_time": 1e-4, "progress": False}


@pytest.fixture
def no_children(monkeypatch):
    """Fail the test if a child process would be started."""

    def refuse(*args, **kwargs):
        raise AssertionError("a child process was started for a request that is invalid")

    monkeypatch.setattr("backendkit.runner.run_in_backend", refuse)


def _input_layer(name, batch_shape):
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {"batch_shape": batch_shape, "dtype": "float32", "name": name},
        "name": name,
        "inbound_nodes": [],
    }


def archive(path, *batch_shapes, functional=True):
    """A ``.keras`` archive whose config states inputs of ``batch_shapes`` (as Keras 3
    writes them), and nothing else: enough for what is checked without keras."""
    names = [f"in{i}" for i in range(len(batch_shapes))]
    layers = [_input_layer(n, list(s)) for n, s in zip(names, batch_shapes, strict=True)]
    body = {"name": "m", "layers": layers}
    if functional:
        refs = [[n, 0, 0] for n in names]
        body["input_layers"] = refs[0] if len(refs) == 1 else refs
    spec = {"class_name": "Functional" if functional else "Sequential", "config": body}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(spec))
        z.writestr("metadata.json", '{"keras_version": "3.0.0"}')
    return path


# ------------------------------------------------------------------ the file
def test_a_missing_file_is_refused_before_any_child(no_children, tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        benchmark(model_path=tmp_path / "no.keras", backends="numpy", **QUICK)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("model.keras", b"not a zip", "is not a Keras model file"),
        ("model.h5", b"\x89HDF\r\n", "is not a Keras model file"),
        ("model.keras", None, "holds no Keras model"),
    ],
)
def test_a_corrupt_file_is_refused_before_any_child(no_children, tmp_path, name, content, match):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "no model here")
    else:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=match):
        benchmark(model_path=path, backends="numpy", **QUICK)


def test_a_path_that_is_no_path_is_an_argument_type_error(no_children):
    with pytest.raises(ArgumentTypeError, match=r"str or os\.PathLike"):
        benchmark(model_path=42, **QUICK)


# ------------------------------------------------------------------ input shapes
def test_the_input_shape_comes_from_the_file(tmp_path):
    w = model_workload(archive(tmp_path / "cnn.keras", [None, 200, 1]))
    assert isinstance(w, ModelWorkload)
    assert w.name == "model:cnn.keras"
    assert w.input_shapes == ((200, 1),)
    assert w.keras
    assert w.sizes == (64, 1024)
    assert w.size_label == "inputs of shape (200, 1)"
    info = w.info()
    assert info["model"] == str((tmp_path / "cnn.keras").resolve())
    assert info["input_shapes"] == [[200, 1]]
    assert json.loads(json.dumps(info)) == info


def test_a_sequential_archive_and_several_inputs(tmp_path):
    seq = model_workload(archive(tmp_path / "s.keras", [None, 8], functional=False))
    assert seq.input_shapes == ((8,),)
    two = model_workload(archive(tmp_path / "t.keras", [None, 4], [None, 5]))
    assert two.input_shapes == ((4,), (5,))
    assert model_workload(tmp_path / "t.keras", [(4,), (5,)]).input_shapes == ((4,), (5,))


def test_open_sizes_need_an_input_shape(no_children, tmp_path):
    path = archive(tmp_path / "open.keras", [None, None, 3])
    with pytest.raises(BenchmarkError, match=r"\(None, 3\).*input_shape=\(100, 3\)"):
        benchmark(model_path=path, backends="numpy", **QUICK)
    assert model_workload(path, (50, 3)).input_shapes == ((50, 3),)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((100, 1), r"input_shape \(100, 1\) does not fit .* \(200, 1\)"),
        ((200,), r"does not fit"),
        ([(200, 1), (3,)], "has 1 inputs"),
        ((0, 1), "positive integers"),
        ((200, 1.5), "positive integers"),
        ("200", "sequence of positive integers"),
        ((), "non-empty"),
        ((True, 1), "positive integers"),
    ],
)
def test_an_input_shape_that_does_not_fit_is_refused(no_children, tmp_path, shape, match):
    path = archive(tmp_path / "cnn.keras", [None, 200, 1])
    with pytest.raises(BenchmarkError, match=match):
        benchmark(model_path=path, input_shape=shape, backends="numpy", **QUICK)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"batch_size": 2.0}, "batch_size must be a positive integer"),
        ({"sizes": [0]}, "positive integer"),
    ],
)
def test_counts_must_be_positive(no_children, tmp_path, kwargs, match):
    path = archive(tmp_path / "cnn.keras", [None, 200, 1])
    with pytest.raises(BenchmarkError, match=match):
        benchmark(model_path=path, backends="numpy", **{**QUICK, **kwargs})


def test_an_input_shape_without_a_model_is_refused(no_children):
    with pytest.raises(BenchmarkError, match="pass model_path="):
        benchmark("matmul", input_shape=(200, 1), backends="numpy", **QUICK)


def test_the_model_runs_alone_or_with_workloads(monkeypatch, tmp_path):
    path = archive(tmp_path / "cnn.keras", [None, 200, 1])
    seen = []
    monkeypatch.setattr(engine, "_run_pair", lambda backend, l, k, items, *a: seen.append(items))
    benchmark(model_path=path, backends="numpy", sizes=[3], **QUICK)
    benchmark(["matmul"], model_path=path, backends="numpy", sizes=[3], **QUICK)
    assert [[(w.name, s) for w, s in items] for items in seen] == [
        [("model:cnn.keras", 3)],
        [("matmul", 3), ("model:cnn.keras", 3)],
    ]


# ------------------------------------------------------------------ the command line
def _parse(*argv):
    import argparse

    parser = argparse.ArgumentParser()
    bench_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], None),
        (["--input-shape", "200", "1"], [200, 1]),
        (["--input-shape", "4", "--input-shape", "5"], [[4], [5]]),
    ],
)
def test_cli_passes_the_model_on(monkeypatch, capsys, argv, expected):
    calls = []

    def fake(*args, **kwargs):
        calls.append(kwargs)
        return BenchmarkResult()

    monkeypatch.setattr(engine, "benchmark", fake)
    args = _parse("--model", "m.keras", "--batch-size", "8", "-q", *argv)
    assert bench_cli.run(args) == 0
    assert calls[0]["model_path"] == "m.keras"
    assert calls[0]["input_shape"] == expected
    assert calls[0]["batch_size"] == 8


def test_cli_refuses_a_missing_model_with_status_2(capsys, no_children, tmp_path):
    from backendkit.__main__ import main

    assert main(["bench", "--model", str(tmp_path / "no.keras"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "no Keras model at" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["0", "x"])
def test_cli_input_shape_must_be_positive_integers(capsys, value):
    from backendkit.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "--model", "m.keras", "--input-shape", "200", value])
    assert info.value.code == 2
    assert f"input shapes must be positive integers, got '{value}'" in capsys.readouterr().err


# ------------------------------------------------------------------ real models
def save_models(folder: str) -> None:
    """In a child on one Keras backend: the flare CNN, and a two-input model whose
    input leaves its length open, saved with fixed weights."""
    import keras

    from backendkit.bench import flare_cnn

    keras.utils.set_random_seed(0)
    flare_cnn(16).save(f"{folder}/cnn.keras")
    a, b = keras.Input((None, 3), name="a"), keras.Input((2,), name="b")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(4)(a))
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([pooled, b]))
    keras.Model([a, b], out).save(f"{folder}/two.keras")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    skip_unless_installed("jax")
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed (pip install 'backendkit[keras]')")
    folder = tmp_path_factory.mktemp("models")
    bk.run_in_backend("jax", save_models, str(folder))
    return folder


@pytest.mark.slow
def test_a_saved_model_is_timed_and_checked_on_every_backend(models):
    installed = bk.available_backends()
    result = benchmark(model_path=models / "cnn.keras", sizes=[5], **QUICK)
    assert [(r.backend, r.status) for r in result.runs] == [(b, "ok") for b in installed]
    assert [(m.workload, m.size, m.backend) for m in result.measurements] == [
        ("model:cnn.keras", 5, b) for b in installed
    ]
    for m in result.measurements:
        assert m.counts, (m.label, m.check, m.error)
        assert m.check == ("reference" if m.backend == "numpy" else "ok")
        assert m.max_diff is None or m.max_diff <= 1e-5
        assert m.count == QUICK["repeats"]
    assert result.ok
    assert result.workloads["model:cnn.keras"]["input_shapes"] == [[16, 1]]
    again = BenchmarkResult.from_json(result.to_json())
    assert again.to_dict() == result.to_dict()
    assert "model:cnn.keras" in result.table()


@pytest.mark.slow
def test_a_model_with_two_inputs_and_an_open_length(models):
    skip_unless_installed("torch")
    shapes = [(7, 3), (2,)]
    result = benchmark(
        model_path=models / "two.keras", input_shape=shapes, backends=["jax", "torch"],
        sizes=[4], batch_size=2, **QUICK,
    )  # fmt: skip
    assert [m.check for m in result.measurements] == ["reference", "ok"], result.table()
    assert result.workloads["model:two.keras"]["batch_size"] == 2


@pytest.mark.slow
def test_cli_times_a_model_and_writes_json(models, tmp_path, capsys):
    from backendkit.__main__ import main

    out = tmp_path / "model.json"
    argv = ["bench", "--model", str(models / "cnn.keras"), "-b", "numpy", "jax", "-s", "3"]
    argv += ["--repeats", "2", "--min-sample-time", "1e-4", "-q", "--json", str(out)]
    assert main(argv) == 0
    assert "model:cnn.keras" in capsys.readouterr().out
    saved = BenchmarkResult.from_json(out)
    assert [m.check for m in saved.measurements] == ["reference", "ok"]
    assert np.isfinite(saved.measurements[1].median_s)
