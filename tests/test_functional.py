"""put and at: the same results as NumPy's reference on every backend.

The reference for ``add``/``multiply``/``min``/``max`` is NumPy's ``ufunc.at``, which
applies the operation once per occurrence of a repeated index; for ``set`` it is
``ref[idx] = values`` on indices that select every position at most once (which value
wins on a repeated ``set`` is unspecified). Values are small integers stored as
float32, so every backend's result is exact and compared with ``array_equal``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BACKENDS, run_python, skip_unless_installed
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from index_strategies import index_and_shape, selects_unique

import backendkit as bk

REFERENCE = {"add": np.add, "multiply": np.multiply, "min": np.minimum, "max": np.maximum}
OPS = ["set", *REFERENCE]

# The backend fixture is a name and a use_backend block: sharing it between examples
# is what we want, so hypothesis' function-scoped-fixture check does not apply.
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@st.composite
def case(draw, unique: bool):
    shape, idx = draw(index_and_shape(unique))
    x = np.array(
        draw(
            st.lists(
                st.integers(-4, 4), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
            )
        ),
        dtype=np.float32,
    ).reshape(shape)
    target = x[idx].shape
    if draw(st.booleans()):
        values: object = float(draw(st.integers(-3, 3)))
    else:
        # values of the selection's shape, or of its trailing axes only (broadcast)
        vshape = target[draw(st.integers(0, len(target))) :]
        count = int(np.prod(vshape))
        values = np.array(
            draw(st.lists(st.integers(-3, 3), min_size=count, max_size=count)), dtype=np.float32
        ).reshape(vshape)
    return x, idx, values


def reference(x: np.ndarray, idx: object, op: str, values: object) -> np.ndarray:
    out = x.copy()
    if op == "set":
        out[idx] = values
    else:
        REFERENCE[op].at(out, idx, values)
    return out


def on_backend(value: object) -> object:
    """NumPy index and value arrays as the current backend's (host lists stay lists)."""
    return bk.asarray(value) if isinstance(value, np.ndarray) else value


def backend_index(idx: object) -> object:
    if isinstance(idx, tuple):
        return tuple(on_backend(i) for i in idx)
    return on_backend(idx)


def check_update(op: str, x_np, idx, values, *, spelling: str, own_arrays: bool) -> None:
    x = bk.asarray(x_np)
    saved = bk.to_numpy(x).copy()
    if own_arrays:
        idx, values = backend_index(idx), on_backend(values)
    if spelling == "put":
        out = bk.put(x, idx, values)
    elif spelling == "at":
        out = getattr(bk.at(x, idx), op)(values)
    else:
        out = getattr(bk.at(x)[idx], op)(values)
    expected = reference(x_np, _host(idx), op, _host(values))
    assert bk.backend_of(out) == bk.get_backend()
    got = bk.to_numpy(out)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(bk.to_numpy(x), saved)  # the input is unchanged


def _host(value: object) -> object:
    if isinstance(value, tuple):
        return tuple(_host(v) for v in value)
    return bk.to_numpy(value) if bk.backends.owner_of(value) else value


# ---------------------------------------------------------------- property checks
@PROPERTY
@given(
    data=case(unique=True),
    spelling=st.sampled_from(["put", "at", "at[]"]),
    own_arrays=st.booleans(),
)
def test_set_matches_numpy(backend, data, spelling, own_arrays):
    x, idx, values = data
    assume(selects_unique(x.shape, idx))
    check_update("set", x, idx, values, spelling=spelling, own_arrays=own_arrays)


@pytest.mark.parametrize("op", list(REFERENCE))
@PROPERTY
@given(data=case(unique=False), spelling=st.sampled_from(["at", "at[]"]), own_arrays=st.booleans())
def test_accumulating_update_matches_ufunc_at(backend, op, data, spelling, own_arrays):
    x, idx, values = data
    check_update(op, x, idx, values, spelling=spelling, own_arrays=own_arrays)


# ---------------------------------------------------------------- fixed cases
def test_duplicates_accumulate_on_every_backend(backend):
    x = bk.asarray(np.zeros(4, dtype=np.float32))
    idx = [0, 0, 2, 0, -1, 3]
    assert bk.to_numpy(bk.at(x, idx).add(1.0)).tolist() == [3.0, 0.0, 1.0, 2.0]
    ones = bk.asarray(np.ones(3, dtype=np.float32))
    assert bk.to_numpy(bk.at(ones, [1, 1, 1]).multiply(2.0)).tolist() == [1.0, 8.0, 1.0]
    vals = np.array([5.0, -2.0, 3.0], dtype=np.float32)
    assert bk.to_numpy(bk.at(ones, [2, 2, 2]).min(vals)).tolist() == [1.0, 1.0, -2.0]
    assert bk.to_numpy(bk.at(ones, [2, 2, 2]).max(vals)).tolist() == [1.0, 1.0, 5.0]


@pytest.mark.parametrize("op", OPS)
def test_scalar_index_and_2d_mask(backend, op):
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    for idx in [1, -1, (2, -1), (slice(None), 0), data > 5, (slice(None, None, -1), [0, 0])]:
        check_update(op, data, idx, 2.0, spelling="at", own_arrays=False)


def test_values_cast_to_x_dtype(backend):
    x = bk.asarray(np.arange(4, dtype=np.int32))
    out = bk.put(x, [1, 2], np.array([2.7, -1.2]))
    assert bk.to_numpy(out).dtype == np.int32
    assert bk.to_numpy(out).tolist() == [0, 2, -1, 3]
    y = bk.asarray(np.zeros(3, dtype=np.float32))
    out = bk.at(y, 0).add(np.float64(0.5))
    assert bk.to_numpy(out).dtype == np.float32
    assert bk.to_numpy(out).tolist() == [0.5, 0.0, 0.0]


def test_read_only_and_unsigned_host_inputs(backend):
    x = bk.asarray(np.zeros(4, dtype=np.float32))
    idx = np.broadcast_to(np.uint8(1), (2,))  # read-only, unsigned, repeated
    values = np.broadcast_to(np.float32(3.0), (2,))
    assert bk.to_numpy(bk.put(x, idx, values)).tolist() == [0.0, 3.0, 0.0, 0.0]
    assert bk.to_numpy(bk.at(x, idx).add(values)).tolist() == [0.0, 6.0, 0.0, 0.0]
    assert bk.to_numpy(bk.put(x, np.array([1, 3], np.uint8), 1.0)).tolist() == [0, 1, 0, 1]


def test_empty_index(backend):
    x = bk.asarray(np.ones(3, dtype=np.float32))
    for idx in ([], np.array([], dtype=np.int64), np.zeros(3, dtype=bool)):
        assert bk.to_numpy(bk.at(x, idx).add(1.0)).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(
    "idx",
    [3, -4, [0, 3], [-4], np.array([1, 7]), (0, 4), (slice(None), [0, -5]), np.ones(4, bool)],
    ids=["int", "negative-int", "list", "negative-list", "array", "tuple", "slice+list", "mask"],
)
def test_out_of_range_raises_index_error(backend, op, idx):
    x = bk.asarray(np.zeros((3, 4), dtype=np.float32) if isinstance(idx, tuple) else np.zeros(3))
    saved = bk.to_numpy(x).copy()
    with pytest.raises(IndexError):
        getattr(bk.at(x, idx), op)(1.0)
    with pytest.raises(IndexError):
        getattr(bk.at(x, idx), op)(1.0, copy=False)
    np.testing.assert_array_equal(bk.to_numpy(x), saved)


def test_index_array_of_the_same_backend(backend):
    x = bk.asarray(np.zeros(5, dtype=np.float32))
    idx = bk.asarray(np.array([4, 4, -5]))
    mask = bk.asarray(np.array([True, False, True, False, False]))
    assert bk.to_numpy(bk.at(x, idx).add(1.0)).tolist() == [1.0, 0.0, 0.0, 0.0, 2.0]
    assert bk.to_numpy(bk.put(x, mask, 2.0)).tolist() == [2.0, 0.0, 2.0, 0.0, 0.0]
    with pytest.raises(IndexError):
        bk.put(x, bk.asarray(np.array([5])), 1.0)


@pytest.mark.parametrize("op", OPS)
def test_copy_false(backend, op):
    x = bk.asarray(np.arange(4, dtype=np.float32))
    out = getattr(bk.at(x, [1, 1]), op)(3.0, copy=False)
    expected = reference(np.arange(4, dtype=np.float32), [1, 1], op, 3.0)
    np.testing.assert_array_equal(bk.to_numpy(out), expected)
    if backend == "jax":
        # JAX arrays are immutable: copy=False is ignored and x stays as it was
        assert bk.to_numpy(x).tolist() == [0.0, 1.0, 2.0, 3.0]
    else:
        assert out is x
        np.testing.assert_array_equal(bk.to_numpy(x), expected)


def test_copy_false_on_a_strided_view(backend):
    if backend == "jax":
        pytest.skip("JAX arrays have no views to write through")
    base = bk.asarray(np.zeros((3, 3), dtype=np.float32))
    view = base.T  # not contiguous: the torch scatter route must write back
    bk.at(view, ([0, 0, 2], [1, 1, 0])).add(1.0, copy=False)
    assert bk.to_numpy(base).tolist() == [[0, 0, 1], [2, 0, 0], [0, 0, 0]]


def test_at_spellings(backend):
    x = bk.asarray(np.zeros(3, dtype=np.float32))
    a = bk.to_numpy(bk.at(x)[[0, 2]].set(1.0))
    b = bk.to_numpy(bk.at(x, [0, 2]).set(1.0))
    c = bk.to_numpy(bk.put(x, [0, 2], 1.0))
    assert a.tolist() == b.tolist() == c.tolist() == [1.0, 0.0, 1.0]
    assert bk.to_numpy(bk.at(x)[1:].add(2.0)).tolist() == [0.0, 2.0, 2.0]
    assert repr(bk.at(x, 1)).startswith("at(")


@pytest.mark.parametrize("op", OPS)
def test_at_without_index_raises_type_error(backend, op):
    x = bk.asarray(np.zeros(3))
    with pytest.raises(TypeError, match=r"needs an index: write at\(x\)\[idx\]"):
        getattr(bk.at(x), op)(1.0)


def test_at_with_two_indices_raises_type_error(backend):
    with pytest.raises(TypeError, match="already has an index"):
        bk.at(bk.asarray(np.zeros(3)), 0)[1]


@pytest.mark.parametrize("x", [[1.0, 2.0], 3.0, None], ids=["list", "float", "None"])
def test_non_array_x_raises_type_error(x):
    with pytest.raises(TypeError, match=r"backendkit.asarray\(x\)"):
        bk.put(x, 0, 1.0)


@pytest.mark.parametrize("other", BACKENDS)
def test_values_or_index_of_another_framework_raise(backend, other):
    skip_unless_installed(other)
    x = bk.asarray(np.zeros(3, dtype=np.float32))
    foreign = bk.asarray(np.array([1, 2]), backend=other)
    foreign_values = bk.asarray(np.array([1.0, 2.0], dtype=np.float32), backend=other)
    if other in ("numpy", backend):
        # NumPy arrays are host data, welcome on every backend; x's own arrays too
        assert bk.to_numpy(bk.put(x, foreign, foreign_values)).tolist() == [0.0, 1.0, 2.0]
        return
    if backend == "numpy":
        # x is host data: the other framework's arrays choose, and x becomes theirs
        for out in (bk.put(x, [1, 2], foreign_values), bk.at(x, foreign).add(1.0)):
            assert bk.backend_of(out) == other
        assert bk.to_numpy(bk.put(x, foreign, foreign_values)).tolist() == [0.0, 1.0, 2.0]
        assert x.tolist() == [0.0, 0.0, 0.0]
        return
    for call in (
        lambda: bk.put(x, [1, 2], foreign_values),
        lambda: bk.at(x, foreign).add(1.0),
        lambda: bk.at(x, (foreign,)).max(1.0),
    ):
        with pytest.raises(bk.BackendMismatchError, match=f"{backend}.*{other}"):
            call()


# ---------------------------------------------------------------- jax.jit
@pytest.fixture
def jax_mod():
    skip_unless_installed("jax")
    import jax

    return jax


def test_put_and_at_under_jit(jax_mod):
    jnp = jax_mod.numpy

    @jax_mod.jit
    def step(x, i, v):
        y = bk.put(x, i, v)
        return bk.at(y, i).add(v), bk.at(y)[i].max(10 * v)

    x = jnp.zeros(5)
    i = jnp.array([1, 1, -1])
    added, maxed = step(x, i, 2.0)
    assert added.tolist() == [0.0, 6.0, 0.0, 0.0, 4.0]
    assert maxed.tolist() == [0.0, 20.0, 0.0, 0.0, 20.0]
    assert x.tolist() == [0.0] * 5


def test_jit_path_uses_scatter(jax_mod):
    # .at[] lowers to a scatter; a copy-and-rebuild path would not
    jaxpr = jax_mod.make_jaxpr(lambda x, i: bk.at(x, i).add(1.0))(
        jax_mod.numpy.zeros(4), jax_mod.numpy.array([0, 0])
    )
    assert "scatter-add" in str(jaxpr)
    jaxpr = jax_mod.make_jaxpr(lambda x: bk.put(x, 1, 2.0))(jax_mod.numpy.zeros(4))
    assert "scatter" in str(jaxpr)


@pytest.mark.parametrize("other", ["jax", "torch"])
@pytest.mark.parametrize("op", ["set", "add"])
def test_host_update_follows_a_selection_not_imported_yet(other: str, op: str) -> None:
    """The first call of a process whose variable selects a framework: host data follow
    it, and the framework is imported then (the put/at fast path's look-up falls back)."""
    skip_unless_installed(other)
    proc = run_python(
        f"""
        import sys
        import numpy as np
        import backendkit as bk
        assert bk.get_backend() == {other!r}  # the choice read, the framework not imported
        assert {other!r} not in sys.modules
        x = np.zeros(3)
        y = bk.put(x, 1, 5.0) if {op!r} == "set" else bk.at(x)[1].add(5.0)
        print(bk.backend_of(y), np.asarray(bk.to_numpy(y)).tolist(), x.tolist())
        """,
        env={"BACKENDKIT_BACKEND": other},
    )
    assert proc.stdout.split() == [other, "[0.0,", "5.0,", "0.0]", "[0.0,", "0.0,", "0.0]"]
