"""asarray, to_numpy and convert: host data onto any backend, arrays between backends
only on request, and memory shared where the frameworks allow."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS, skip_unless_installed

import backendkit as bk

PAIRS = [(a, b) for a in BACKENDS for b in BACKENDS]
PAIR_IDS = [f"{a}-{b}" for a, b in PAIRS]
# the dtypes every backend holds as they are (JAX without x64 narrows 64-bit ones)
DTYPES = ["float32", "int32", "bool", "complex64", "uint8"]


def sample(dtype: str) -> np.ndarray:
    return (np.arange(12).reshape(3, 4) % 3).astype(dtype)


# ---------------------------------------------------------------- asarray
@pytest.mark.parametrize("data", [[1.0, 2.0], [[1, 2], [3, 4]], 3.5, np.arange(3.0)], ids=str)
def test_asarray_host_data(backend, data):
    x = bk.asarray(data)
    assert bk.backend_of(x) == backend
    np.testing.assert_array_equal(bk.to_numpy(x), np.asarray(data))


@pytest.mark.parametrize("dtype", DTYPES)
def test_asarray_dtype_by_name(backend, dtype):
    x = bk.asarray([0, 1, 2], dtype=dtype)
    assert bk.to_numpy(x).dtype == np.dtype(dtype)


def test_asarray_framework_dtype(backend):
    x = bk.asarray([1, 2], dtype=bk.namespace().float32)
    assert bk.to_numpy(x).dtype == np.float32


def test_asarray_own_array_and_backend_argument(backend):
    x = bk.asarray([1.0, 2.0])
    assert bk.backend_of(bk.asarray(x)) == backend
    with bk.use_backend("numpy"):
        y = bk.asarray([1.0], backend=backend)  # the argument wins over the selection
    assert bk.backend_of(y) == backend


@pytest.mark.parametrize(("source", "target"), [p for p in PAIRS if p[0] not in ("numpy", p[1])])
def test_asarray_refuses_another_framework(source, target):
    skip_unless_installed(source)
    skip_unless_installed(target)
    x = bk.asarray([1.0, 2.0], backend=source)
    with pytest.raises(bk.BackendMismatchError) as info:
        bk.asarray(x, backend=target)
    message = str(info.value)
    assert f"got a {source} array" in message
    assert f"backendkit.convert(x, to={target!r})" in message


def test_asarray_unknown_backend_and_dtype():
    with pytest.raises(bk.UnknownBackendError, match="valid names"):
        bk.asarray([1.0], backend="tf")
    with pytest.raises(ValueError, match="unknown dtype name 'float128x'"):
        bk.asarray([1.0], backend="numpy", dtype="float128x")


# Host data that makes no numeric array: the same error class on every backend, raised
# by backendkit, naming where in ``x`` the problem is (issue 12).
BAD_HOST_DATA = [
    ([[1, 2], [3]], bk.ArgumentValueError, r"x\[1\] has shape \(1,\) but x\[0\] has shape \(2,\)"),
    ([[[1], [2]], [[3], [4, 5]]], bk.ArgumentValueError, r"x\[1\]\[1\] has shape \(2,\)"),
    ([1.0, [2.0]], bk.ArgumentValueError, r"x\[1\] has shape \(1,\) but x\[0\] has shape \(\)"),
    ({"a": 1}, bk.ArgumentTypeError, r"x is a dict"),
    ("abc", bk.ArgumentTypeError, r"x is a str"),
    (b"ab", bk.ArgumentTypeError, r"x is a bytes"),
    (None, bk.ArgumentTypeError, r"x is None"),
    (object(), bk.ArgumentTypeError, r"x is a object"),
    ({1, 2}, bk.ArgumentTypeError, r"x is a set"),
    ([1, "a"], bk.ArgumentTypeError, r"x\[1\] is a str"),
    ([1.0, None], bk.ArgumentTypeError, r"x\[1\] is None"),
    ([[1.0], [{"a": 1}]], bk.ArgumentTypeError, r"x\[1\]\[0\] is a dict"),
    (np.array(["a", "b"]), bk.ArgumentTypeError, r"x is a NumPy array of dtype <U1"),
    (np.array([1, 2], dtype=object), bk.ArgumentTypeError, r"x is a NumPy array of dtype object"),
    ((i for i in range(3)), bk.ArgumentTypeError, r"x is a generator.*list\(x\)"),
    ([2**70], bk.ArgumentValueError, r"x\[0\] = 1180591620717411303424 does not fit in int64"),
    ([2**63], bk.ArgumentValueError, r"does not fit in int64"),
    (-(2**63) - 1, bk.ArgumentValueError, r"does not fit in int64"),
]


@pytest.mark.parametrize(
    ("data", "error", "match"),
    BAD_HOST_DATA,
    # without memory addresses: pytest-xdist's workers must collect the same ids
    ids=lambda value: repr(value).split(" at 0x")[0],
)
def test_asarray_refuses_data_that_makes_no_numeric_array(backend, data, error, match):
    with pytest.raises(error, match=match) as info:
        bk.asarray(data)
    assert isinstance(info.value, bk.BackendError)
    assert "asarray" in str(info.value)


@pytest.mark.parametrize(
    ("data", "dtype", "error", "match"),
    [
        ([1.0], 42, bk.ArgumentTypeError, r"dtype must be a dtype name.*got int 42"),
        ([1.0], ["float32"], bk.ArgumentTypeError, r"dtype must be a dtype name.*got list"),
        ([1.0], np.str_, bk.UnknownDtypeError, r"not a numeric dtype"),
        ([-1], "uint8", bk.ArgumentValueError, r"x\[0\] = -1 does not fit in uint8"),
        ([0, 300], "int8", bk.ArgumentValueError, r"x\[1\] = 300 does not fit in int8"),
        (2**40, "int32", bk.ArgumentValueError, r"x = 1099511627776 does not fit in int32"),
        ([1 + 2j], "float32", bk.ArgumentTypeError, r"complex.*float32.*\.real"),
    ],
    ids=repr,
)
def test_asarray_refuses_a_dtype_the_data_cannot_take(backend, data, dtype, error, match):
    with pytest.raises(error, match=match):
        bk.asarray(data, dtype=dtype)


def test_asarray_host_data_that_is_fine(backend):
    # the checks refuse nothing that every backend takes
    for data, expected in [
        ([True, False], np.array([True, False])),
        ([[1, 2.5], [3, 4j]], np.array([[1, 2.5], [3, 4j]])),
        ((1, 2, 3), np.array([1, 2, 3])),
        ([], np.array([])),
        ([[], []], np.zeros((2, 0))),
        (np.float32(2.5), np.array(2.5, np.float32)),
        ([np.int16(3), 4], np.array([3, 4])),
    ]:
        got = bk.to_numpy(bk.asarray(data))
        np.testing.assert_array_equal(got, expected)
    assert bk.to_numpy(bk.asarray([255], dtype="uint8"))[0] == 255


def test_asarray_of_64_bit_integers(backend):
    if backend == "jax" and bk.to_numpy(bk.asarray([1])).dtype != np.int64:
        # JAX gives Python integers int32 until its 64-bit mode is on: asked for, not
        # switched on behind the caller's back
        with pytest.raises(bk.ArgumentValueError, match=r"does not fit in int32.*'int64'"):
            bk.asarray([1, 2**62])
    else:
        assert bk.to_numpy(bk.asarray([1, 2**62]))[1] == 2**62
    assert bk.to_numpy(bk.asarray([1, 2**62], dtype="int64"))[1] == 2**62


@pytest.mark.parametrize(
    ("data", "error"),
    [({"a": 1}, bk.ArgumentTypeError), ([[1], [2, 3]], bk.ArgumentValueError)],
    ids=repr,
)
def test_convert_refuses_bad_host_data(backend, data, error):
    with pytest.raises(error):
        bk.convert(data, to=backend)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ({"a": 1}, bk.ArgumentTypeError, r"to_numpy: x is a dict"),
        (None, bk.ArgumentTypeError, r"to_numpy: x is None"),
        ("abc", bk.ArgumentTypeError, r"to_numpy: x is a str"),
        ([[1], [2, 3]], bk.ArgumentValueError, r"to_numpy: x\[1\] has shape"),
    ],
    ids=repr,
)
def test_to_numpy_refuses_host_data_that_makes_no_numeric_array(data, error, match):
    with pytest.raises(error, match=match):
        bk.to_numpy(data)


# ---------------------------------------------------------------- to_numpy
def test_to_numpy(backend):
    x = bk.asarray(sample("float32"))
    out = bk.to_numpy(x)
    assert type(out) is np.ndarray
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, sample("float32"))


def test_to_numpy_host_data():
    np.testing.assert_array_equal(bk.to_numpy([[1, 2]]), np.array([[1, 2]]))
    assert bk.to_numpy(2.0).shape == ()


# ---------------------------------------------------------------- convert
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("source", "target"), PAIRS, ids=PAIR_IDS)
def test_convert_every_pair(source, target, dtype):
    skip_unless_installed(source)
    skip_unless_installed(target)
    data = sample(dtype)
    for host in (data, data[:, ::2], data[0, 0]):  # contiguous, strided, 0-d
        x = bk.asarray(host, backend=source)
        y = bk.convert(x, to=target)
        assert bk.backend_of(y) == target
        out = bk.to_numpy(y)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out, host)


@pytest.mark.parametrize("target", BACKENDS)
def test_convert_host_data(target):
    skip_unless_installed(target)
    y = bk.convert([1.0, 2.0], to=target)
    assert bk.backend_of(y) == target


def test_convert_unknown_target():
    with pytest.raises(bk.UnknownBackendError, match="target backend 'tf'"):
        bk.convert(np.ones(2), to="tf")


# ---------------------------------------------------------------- shared memory
@pytest.fixture
def torch_mod():
    skip_unless_installed("torch")
    import torch

    return torch


def test_numpy_to_torch_shares_memory(torch_mod):
    a = np.arange(4.0)
    t = bk.convert(a, to="torch")
    t[0] = 100.0
    assert a[0] == 100.0
    a[1] = -1.0
    assert t[1].item() == -1.0
    # asarray of host NumPy data shares too
    u = bk.asarray(a, backend="torch")
    u[2] = 7.0
    assert a[2] == 7.0


def test_torch_to_numpy_shares_memory(torch_mod):
    t = torch_mod.arange(4.0)
    for a in (bk.convert(t, to="numpy"), bk.to_numpy(t)):
        a[0] += 1.0
        t[3] = 9.0
        assert a[3] == 9.0
    assert t[0].item() == 2.0


def test_read_only_numpy_to_torch_is_copied(torch_mod):
    a = np.broadcast_to(np.arange(3.0), (2, 3))
    for t in (bk.convert(a, to="torch"), bk.asarray(a, backend="torch")):  # no warning
        t[0, 0] = 5.0
        assert a[0, 0] == 0.0


def test_numpy_and_torch_keep_64_bit_dtypes(torch_mod):
    for dtype in ("int64", "float64", "complex128"):
        data = sample(dtype)
        t = bk.convert(data, to="torch")
        assert bk.to_numpy(t).dtype == np.dtype(dtype)
        assert bk.convert(t, to="numpy").dtype == np.dtype(dtype)


def test_jax_to_numpy_is_read_only():
    skip_unless_installed("jax")
    a = bk.convert(bk.asarray([1.0, 2.0], backend="jax"), to="numpy")
    with pytest.raises(ValueError, match="read-only"):
        a[0] = 3.0


def test_tensor_that_requires_grad_converts(torch_mod):
    t = torch_mod.ones(3, requires_grad=True)
    np.testing.assert_array_equal(bk.convert(t, to="numpy"), np.ones(3))
    np.testing.assert_array_equal(bk.to_numpy(t), np.ones(3))
