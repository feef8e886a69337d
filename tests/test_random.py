"""Random numbers: the same seed gives the same values on every backend (bitwise in
float64, after the cast in float32), keys split into independent streams, bad seeds are
refused clearly, native generators are opt-in."""

from __future__ import annotations

import math

import numpy as np
import pytest

import backendkit as bk
from backendkit import random as bkr

FUNCTIONS = {
    "normal": lambda seed, **kw: bkr.normal(seed, (4, 5), **kw),
    "uniform": lambda seed, **kw: bkr.uniform(seed, (4, 5), low=-2.0, high=3.0, **kw),
    "phasor": lambda seed, **kw: bkr.phasor(seed, (4, 5), **kw),
}


def host(x):
    return bk.to_numpy(x)


def reference(name, seed, dtype):
    """The values on the numpy backend, the reference every backend must equal."""
    return host(FUNCTIONS[name](seed, dtype=dtype, backend="numpy"))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_same_seed_same_bits_on_every_backend(backend, name):
    dtype = "complex128" if name == "phasor" else "float64"
    got = host(FUNCTIONS[name](123, dtype=dtype))
    assert bk.backend_of(FUNCTIONS[name](123, dtype=dtype)) == backend
    assert got.dtype == np.dtype(dtype)
    expected = reference(name, 123, dtype)
    assert got.tobytes() == expected.tobytes()  # bitwise


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_float32_values_are_the_rounded_float64_ones(backend, name):
    single, double = ("complex64", "complex128") if name == "phasor" else ("float32", "float64")
    got = host(FUNCTIONS[name](7, dtype=single))
    assert got.dtype == np.dtype(single)
    np.testing.assert_array_equal(got, reference(name, 7, double).astype(single))


def test_integers_and_permutations_agree_across_backends(backend):
    ints = host(bkr.integers(5, (3, 4), -10, 10))
    np.testing.assert_array_equal(ints, host(bkr.integers(5, (3, 4), -10, 10, backend="numpy")))
    assert ints.min() >= -10
    assert ints.max() < 10
    np.testing.assert_array_equal(
        host(bkr.integers(5, 6, 3, dtype="int8")), host(bkr.integers(5, 6, 3, backend="numpy"))
    )
    perm = host(bkr.permutation(9, 20))
    assert sorted(perm.tolist()) == list(range(20))
    np.testing.assert_array_equal(perm, host(bkr.permutation(9, 20, backend="numpy")))
    rows = bkr.permutation(9, bk.asarray(np.arange(40).reshape(20, 2)))
    assert bk.backend_of(rows) == backend
    np.testing.assert_array_equal(host(rows)[:, 0] // 2, perm)


def test_ranges_and_unit_modulus(backend):
    x = host(bkr.uniform(1, 10_000, low=-1.0, high=1.0, dtype="float32"))
    assert x.min() >= -1.0
    assert x.max() < 1.0
    z = host(bkr.phasor(1, 10_000, dtype="complex128"))
    np.testing.assert_allclose(np.abs(z), 1.0, rtol=1e-15)
    theta = np.angle(z)
    assert theta.min() >= -math.pi
    assert theta.max() <= math.pi
    n = host(bkr.normal(1, 100_000, dtype="float64"))
    assert abs(n.mean()) < 0.02
    assert abs(n.std() - 1) < 0.02


def test_uniform_never_returns_high_after_the_cast(monkeypatch):
    # a draw of 1 - 2**-30 rounds to 1.0 in float32 (one draw in 2**25 does): it must
    # come back as the largest float32 below high
    class Generator:
        def random(self, shape):
            return np.full(shape, 1.0 - 2.0**-30)

    monkeypatch.setattr(bkr.Key, "generator", lambda self: Generator())
    values = bkr.uniform(0, 3, dtype="float32", backend="numpy")
    np.testing.assert_array_equal(values, np.nextafter(np.float32(1), np.float32(0)))
    values = bkr.uniform(0, 3, low=-2.0, high=2.0, dtype="float32", backend="numpy")
    assert values.max() < 2.0


def test_fhrr_phasors_identical_and_similarities_agree_across_backends(backend):
    keys = bkr.key(3).split()
    a, b = (bkr.phasor(k, 512, dtype="complex128") for k in keys)
    a_np, b_np = (bkr.phasor(k, 512, dtype="complex128", backend="numpy") for k in keys)
    assert host(a).tobytes() == a_np.tobytes()  # the hypervectors themselves: bitwise
    bound = a * b  # FHRR binding; unbinding multiplies by the conjugate
    sim = float(bk.xp.mean(bk.xp.real(bound * bk.xp.conj(b) * bk.xp.conj(a))))
    expected = float(np.mean(np.real(a_np * b_np * np.conj(b_np) * np.conj(a_np))))
    # each library rounds its complex products and its mean its own way (fused
    # multiply-adds, summation order): agreement to the last digits, not the last bit
    assert sim == pytest.approx(expected, rel=1e-13)
    assert sim == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("policy", ["float32", "float64"])
def test_one_precision_policy_makes_default_dtypes_and_values_identical(policy):
    """HoloVec's "same seed, same values" without naming a dtype in every call: the
    default floating dtype applies to complex data too, on every backend."""
    complex_name = {"float32": "complex64", "float64": "complex128"}[policy]
    results = {}
    with bk.use_dtype(policy):
        for name in bk.available_backends():
            # the HoloVec size: 1000 hypervectors of dimension 10 000
            x = bkr.phasor(0, (1000, 10_000), backend=name)
            results[name] = host(x)
            assert results[name].dtype == complex_name
            assert host(bk.asarray([1j], backend=name)).dtype == complex_name
            assert host(bkr.normal(0, 3, backend=name)).dtype == policy
    reference = results["numpy"].view(np.uint8)
    for values in results.values():
        assert np.array_equal(values.view(np.uint8), reference)  # bitwise


def test_without_a_policy_the_frameworks_defaults_differ():
    """What the policy is for: left alone, NumPy defaults to complex128 and JAX and
    PyTorch to complex64 (their float32), so the values differ by about 4e-8."""
    dtypes = {n: host(bkr.phasor(0, 8, backend=n)).dtype for n in bk.available_backends()}
    assert dtypes["numpy"] == np.complex128
    for name in set(dtypes) - {"numpy"}:
        assert dtypes[name] == np.complex64


# ---------------------------------------------------------------------- keys
def test_keys_split_into_independent_reproducible_streams():
    k = bkr.key(11)
    assert k == bkr.Key(11)
    assert hash(k) == hash(bkr.Key(11))
    a, b, c = k.split(3)
    assert (a.seed, a.path, c.path) == (11, (0,), (2,))
    assert k.split(3) == (a, b, c)  # splitting does not change the key
    draws = [bkr.normal(x, 1000, dtype="float64", backend="numpy") for x in (k, a, b, c)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert abs(np.corrcoef(draws[i], draws[j])[0, 1]) < 0.15
    np.testing.assert_array_equal(draws[1], bkr.normal(a, 1000, dtype="float64", backend="numpy"))
    np.testing.assert_array_equal(
        bkr.normal(11, 5, backend="numpy"), bkr.normal(k, 5, backend="numpy")
    )
    # NumPy's SeedSequence.spawn scheme: the first child of 11 is spawn()[0]
    child = np.random.SeedSequence(11).spawn(1)[0]
    expected = np.random.Generator(np.random.Philox(child)).standard_normal(5)
    np.testing.assert_array_equal(bkr.normal(a, 5, dtype="float64", backend="numpy"), expected)
    (a2,) = a.split(1)
    assert a2.path == (0, 0)


@pytest.mark.parametrize(
    ("num", "error"), [(0, bk.ArgumentValueError), (1.0, bk.ArgumentTypeError)]
)
def test_bad_split_counts(num, error):
    with pytest.raises(error, match="split: num"):
        bkr.key(0).split(num)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("seed", "error", "match"),
    [
        (-1, bk.ArgumentValueError, "non-negative int, got -1"),
        (1.5, bk.ArgumentTypeError, "got float 1.5"),
        (np.float64(2.0), bk.ArgumentTypeError, "got float64"),
        (True, bk.ArgumentTypeError, "got bool True"),
        ("42", bk.ArgumentTypeError, "got str '42'"),
        (None, bk.ArgumentTypeError, "got NoneType None"),
        ([1], bk.ArgumentTypeError, "got list"),
    ],
)
def test_bad_seeds_are_refused_on_every_backend(backend, seed, error, match):
    for fn in (
        lambda s: bkr.normal(s, 2),
        lambda s: bkr.uniform(s, 2),
        lambda s: bkr.integers(s, 2, 5),
        lambda s: bkr.permutation(s, 3),
        lambda s: bkr.phasor(s, 2),
        bkr.key,
    ):
        with pytest.raises(error, match=match):
            fn(seed)


def test_numpy_integer_seeds_are_seeds():
    np.testing.assert_array_equal(
        bkr.normal(np.int32(3), 2, backend="numpy"), bkr.normal(3, 2, backend="numpy")
    )


def test_bad_shapes_dtypes_and_ranges(backend):
    with pytest.raises(bk.ArgumentTypeError, match="shape must be an int or a tuple"):
        bkr.normal(0, 2.0)
    with pytest.raises(bk.ArgumentValueError, match="negative sizes"):
        bkr.normal(0, (2, -1))
    with pytest.raises(bk.UnknownDtypeError, match="phasor gives complex64, complex128"):
        bkr.phasor(0, 2, dtype="float64")
    with pytest.raises(bk.UnknownDtypeError, match="integers gives"):
        bkr.integers(0, 2, 5, dtype="float32")
    with pytest.raises(bk.ArgumentValueError, match="low < high"):
        bkr.uniform(0, 2, low=1.0, high=1.0)
    with pytest.raises(bk.ArgumentValueError, match="within int8"):
        bkr.integers(0, 2, 0, 1000, dtype="int8")
    with pytest.raises(bk.ArgumentValueError, match="low < high"):
        bkr.integers(0, 2, 5, 5)
    with pytest.raises(bk.ArgumentTypeError, match="high must be an int"):
        bkr.integers(0, 2, 0, 5.0)
    with pytest.raises(bk.ArgumentValueError, match="permutation: x must be"):
        bkr.permutation(0, -3)


# ---------------------------------------------------------------------- native
@pytest.mark.parametrize("fn", ["normal", "uniform", "integers", "permutation", "phasor"])
def test_native_generators_are_reproducible_on_their_backend(backend, fn):
    call = {
        "normal": lambda: bkr.normal(4, 6, dtype="float32", native=True),
        "uniform": lambda: bkr.uniform(4, 6, low=2.0, high=3.0, dtype="float32", native=True),
        "integers": lambda: bkr.integers(4, 6, 0, 9, dtype="int32", native=True),
        "permutation": lambda: bkr.permutation(4, 6, dtype="int32", native=True),
        "phasor": lambda: bkr.phasor(4, 6, dtype="complex64", native=True),
    }[fn]
    first, second = call(), call()
    assert bk.backend_of(first) == backend
    np.testing.assert_array_equal(host(first), host(second))
    values = host(first)
    assert values.shape == (6,)
    assert values.dtype == {
        "integers": np.int32,
        "permutation": np.int32,
        "phasor": np.complex64,
    }.get(fn, np.float32)
    if fn == "uniform":
        assert values.min() >= 2.0
        assert values.max() < 3.0
    if fn == "permutation":
        assert sorted(values.tolist()) == list(range(6))
    if fn == "phasor":
        np.testing.assert_allclose(np.abs(values), 1.0, rtol=1e-6)
