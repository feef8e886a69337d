"""``xp`` and ``namespace``: one function, written once, gives NumPy's numbers everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS, skip_unless_installed

import backendkit as bk
from backendkit import xp

# float32 on every backend (JAX's default); the tolerances are float32's, looser for
# the linear-algebra results whose kernels differ between frameworks.
EXACT = {"rtol": 0, "atol": 0}
ELEMENTWISE = {"rtol": 1e-6, "atol": 1e-6}
LINALG = {"rtol": 1e-5, "atol": 1e-5}

A = np.array([[4.0, 1.0, 0.5], [2.0, 3.0, -1.0], [0.0, 1.5, 5.0]], dtype=np.float32)
B = np.array([1.0, -2.0, 0.5], dtype=np.float32)


def creation(a, b) -> dict[str, object]:
    del a, b  # creation starts from nothing
    return {
        "zeros": xp.zeros((2, 3), dtype=xp.float32),
        "ones": xp.ones(4, dtype=xp.float32),
        "full": xp.full((2,), 7.0, dtype=xp.float32),
        "eye": xp.eye(3, dtype=xp.float32),
        "arange": xp.arange(5),
        "linspace": xp.linspace(0.0, 1.0, 5, dtype=xp.float32),
    }


def arithmetic(a, b) -> dict[str, object]:
    return {
        "combined": (a + 1.0) * 2.0 - a / 4.0,
        "power": a**2,
        "broadcast": a * b,
        "exp": xp.exp(b),
        "sqrt-abs": xp.sqrt(xp.abs(b)),
        "where": xp.where(b > 0, b, 0.0 * b),
        "transpose": a.T,
        "reshape": xp.reshape(a, (9,)),
        "concat": xp.concatenate([b, b]),
        "stack": xp.stack([b, b]),
    }


def reductions(a, b) -> dict[str, object]:
    del b
    return {
        "sum": xp.sum(a),
        "sum axis 0": xp.sum(a, axis=0),
        "mean axis 1": xp.mean(a, axis=1),
        "max axis 0": xp.max(a, axis=0),
        "min axis 1": xp.min(a, axis=1),
        "prod axis 0": xp.prod(a, axis=0),
        "std axis 0": xp.std(a, axis=0),
        "argmax axis 1": xp.argmax(a, axis=1),
        "cumsum axis 0": xp.cumsum(a, axis=0),
    }


def linalg(a, b) -> dict[str, object]:
    return {
        "matmul": xp.matmul(a, a),
        "@": a @ b,
        "solve": xp.linalg.solve(a, b),
        "inv": xp.linalg.inv(a),
        "det": xp.linalg.det(a),
        "norm": xp.linalg.norm(a),
        "norm of vector": xp.linalg.norm(b),
    }


def numbers(results: dict[str, object]) -> dict[str, np.ndarray]:
    out = {}
    for key, value in results.items():
        assert bk.backend_of(value) == bk.get_backend(), key  # no silent fall-back to numpy
        out[key] = bk.to_numpy(value)
    return out


def expected(fn, *args) -> dict[str, np.ndarray]:
    with bk.use_backend("numpy"):
        return {k: np.asarray(v) for k, v in fn(*args).items()}


@pytest.mark.parametrize(
    ("fn", "tolerance"),
    [(creation, EXACT), (arithmetic, ELEMENTWISE), (reductions, ELEMENTWISE), (linalg, LINALG)],
    ids=["creation", "arithmetic", "reductions", "linalg"],
)
def test_same_function_same_numbers(backend, fn, tolerance):
    reference = expected(fn, A, B)
    got = numbers(fn(bk.asarray(A), bk.asarray(B)))
    assert got.keys() == reference.keys()
    for key, value in got.items():
        assert value.shape == reference[key].shape, key
        if value.dtype.kind == "f":
            assert value.dtype == np.float32, key
        np.testing.assert_allclose(value, reference[key], err_msg=key, **tolerance)


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("numpy", "numpy"),
        ("jax", "jax.numpy"),
        ("torch", "backendkit.backends._torch_numpy"),
        ("pytorch", "backendkit.backends._torch_numpy"),
    ],
)
def test_namespace_by_name(name, module):
    skip_unless_installed(bk.backends.canonical_name(name))
    assert bk.namespace(name).__name__ == module


def test_namespace_default_is_current_and_fixed(backend):
    ns = bk.namespace()
    assert ns is bk.namespace(backend)
    with bk.use_backend("numpy"):
        # the module returned does not follow the selection; xp does
        assert type(ns.zeros(2)) is type(bk.asarray([0.0], backend=backend))
        assert isinstance(xp.zeros(2), np.ndarray)


def test_namespace_unknown_name():
    with pytest.raises(bk.UnknownBackendError, match="valid names"):
        bk.namespace("cupy")


def test_xp_follows_use_backend():
    seen = {}
    for name in bk.available_backends():
        with bk.use_backend(name):
            seen[name] = bk.backend_of(xp.ones(2))
            assert name in repr(xp)
            assert "zeros" in dir(xp)
    assert seen == {name: name for name in bk.available_backends()}


@pytest.mark.parametrize("name", BACKENDS)
def test_xp_follows_set_backend(name):
    skip_unless_installed(name)
    bk.set_backend(name)
    assert bk.backend_of(xp.arange(3)) == name


def test_xp_unknown_attribute(backend):
    with pytest.raises(AttributeError, match="no_such_function"):
        xp.no_such_function  # noqa: B018
