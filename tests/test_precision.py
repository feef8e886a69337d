"""Precision: set_default_dtype and use_dtype decide what asarray, the xp creation
functions and random return on every backend; float64 really is float64; JAX's 64-bit
mode is switched on only when float64 is asked for."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import run_python, skip_unless_installed

import backendkit as bk
from backendkit import xp

TINY = 2.0**-40  # lost in float32, kept in float64


def dtype_of(x) -> str:
    return bk.to_numpy(x).dtype.name


@pytest.mark.parametrize("name", ["float32", "float64"])
def test_default_dtype_decides_floating_results(backend, name):
    complex_name = {"float32": "complex64", "float64": "complex128"}[name]
    bk.set_default_dtype(name)
    assert bk.get_default_dtype() == name
    floats = [
        bk.asarray(1.0),
        bk.asarray([1.0, 2.0]),
        bk.asarray(np.ones(2, dtype=np.float16)),  # host floats of any width
        xp.zeros(2),
        xp.ones((2, 2)),
        xp.empty(3),
        xp.eye(2),
        xp.linspace(0, 1, 5),
        xp.full(2, 1.5),
        xp.arange(0.0, 1.0, 0.25),
        xp.asarray([0.5]),
        bk.random.normal(0, 3),
        bk.random.uniform(0, 3),
    ]
    assert [dtype_of(x) for x in floats] == [name] * len(floats)
    assert dtype_of(bk.asarray([1 + 2j])) == complex_name
    assert dtype_of(bk.random.phasor(0, 2)) == complex_name


def test_integers_and_booleans_keep_their_dtype(backend):
    bk.set_default_dtype("float64")
    assert dtype_of(xp.arange(3)).startswith("int")
    assert dtype_of(xp.full(2, 7)).startswith("int")
    assert dtype_of(bk.asarray([1, 2])).startswith("int")
    assert dtype_of(bk.asarray(np.array([True]))) == "bool"
    assert dtype_of(xp.zeros(2, dtype=xp.int32)) == "int32"  # an explicit dtype wins


def test_an_array_of_the_backend_keeps_its_dtype(backend):
    x = bk.asarray([1.0], dtype="float32")
    with bk.use_dtype("float64"):
        # NumPy arrays are host data, on the numpy backend too: the same on every backend
        assert dtype_of(bk.asarray(x)) == ("float64" if backend == "numpy" else "float32")
        assert dtype_of(bk.asarray(np.float32([1.0]))) == "float64"
        assert dtype_of(bk.asarray(x, dtype="float64")) == "float64"


def test_float64_really_is_float64(backend):
    with bk.use_dtype("float64"):
        x = bk.asarray([1.0 + TINY])
        y = xp.ones(3) * (1.0 + TINY)
        z = bk.random.uniform(0, 1000)
    assert bk.to_numpy(x)[0] == 1.0 + TINY
    assert float(xp.sum(y)) == 3 * (1.0 + TINY)
    assert bk.to_numpy(z).dtype == np.float64
    # float64 values that float32 cannot hold come through bit for bit
    host = bk.random.uniform(0, 1000, dtype="float64", backend="numpy")
    assert (host.astype(np.float32).astype(np.float64) != host).any()
    np.testing.assert_array_equal(bk.to_numpy(z), host)


def test_float32_rounds_host_data(backend):
    with bk.use_dtype("float32"):
        x = bk.asarray([1.0 + TINY])
    assert bk.to_numpy(x)[0] == np.float32(1.0)


def test_without_a_default_each_framework_keeps_its_rule(backend):
    assert bk.get_default_dtype() is None
    own = {"numpy": "float64", "torch": "float32", "jax": None}[backend]
    if own is not None:
        assert dtype_of(xp.zeros(2)) == own


def test_use_dtype_is_scoped_and_restored_on_error(backend):
    bk.set_default_dtype("float32")
    with bk.use_dtype("float64"):
        assert bk.get_default_dtype() == "float64"
        with bk.use_dtype("float32"):
            assert dtype_of(xp.zeros(1)) == "float32"
        assert dtype_of(xp.zeros(1)) == "float64"
        bk.set_default_dtype(None)  # the block still wins
        assert bk.get_default_dtype() == "float64"
    assert bk.get_default_dtype() is None
    with pytest.raises(RuntimeError, match="inside"), bk.use_dtype("float64"):
        raise RuntimeError("inside")
    assert bk.get_default_dtype() is None


def test_use_dtype_belongs_to_its_thread():
    bk.set_default_dtype("float32")
    seen = []
    with bk.use_dtype("float64"):
        worker = threading.Thread(target=lambda: seen.append(bk.get_default_dtype()))
        worker.start()
        worker.join()
    assert seen == ["float32"]


@pytest.mark.parametrize("bad", ["float16", "double", "f8", "Float64", 64, np.float64, None])
def test_unknown_default_dtype_names_raise_and_change_nothing(bad):
    bk.set_default_dtype("float32")
    if bad is not None:
        with pytest.raises(bk.UnknownDtypeError, match="takes 'float32' or 'float64'"):
            bk.set_default_dtype(bad)
    with pytest.raises(bk.UnknownDtypeError, match="use_dtype takes"), bk.use_dtype(bad):
        pass
    assert bk.get_default_dtype() == "float32"
    with pytest.raises(ValueError, match="float128"):  # UnknownDtypeError is a ValueError
        bk.set_default_dtype("float128")


def test_unknown_dtype_names_in_calls_raise(backend):
    with pytest.raises(bk.UnknownDtypeError, match="unknown dtype name 'float128'"):
        bk.asarray([1.0], dtype="float128")
    with pytest.raises(bk.UnknownDtypeError, match="normal gives float16, float32, float64"):
        bk.random.normal(0, 2, dtype="int32")


# ---------------------------------------------------------------------- jax x64
def test_jax_x64_switched_on_only_when_float64_is_asked_for():
    skip_unless_installed("jax")
    out = run_python(
        """
        import warnings
        warnings.simplefilter("error")
        import backendkit as bk
        import jax
        assert not jax.config.jax_enable_x64
        bk.set_default_dtype("float64")          # chosen, not yet used under jax
        with bk.use_backend("jax"):
            assert not jax.config.jax_enable_x64
            bk.asarray([1.0], dtype="float32")
            assert not jax.config.jax_enable_x64
            x = bk.xp.zeros(2)                    # now float64 is asked for
            assert jax.config.jax_enable_x64
            print(x.dtype, bk.asarray([1.0]).dtype, bk.random.normal(0, 2).dtype)
        """
    )
    assert out.stdout.split() == ["float64"] * 3


def test_jax_float64_refused_clearly_where_jax_cannot_give_it():
    skip_unless_installed("jax")
    import jax

    with bk.use_backend("jax"), jax.enable_x64(False):
        assert not jax.config.jax_enable_x64
        with pytest.raises(bk.DtypeUnavailableError, match="float64 was asked for under JAX"):
            bk.asarray([1.0], dtype="float64")
        with bk.use_dtype("float64"), pytest.raises(bk.DtypeUnavailableError):
            xp.zeros(2)
        assert dtype_of(bk.asarray([1.0], dtype="float32")) == "float32"
    assert not jax.config.jax_enable_x64  # the failed calls switched nothing on
    jax.config.update("jax_enable_x64", True)  # on for the process, off in a block:
    with bk.use_backend("jax"), jax.enable_x64(False), pytest.raises(bk.DtypeUnavailableError):
        bk.asarray([1.0], dtype="float64")
    assert jax.config.jax_enable_x64  # still on for the process after the failure
