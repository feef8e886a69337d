"""Control flow: fori_loop, while_loop, cond, switch and scan with jax.lax semantics on
every backend (values, dtypes, structures, JAX's checks, bad input)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from conftest import skip_unless_installed

import backendkit as bk
from backendkit import xp


def host(x):
    return bk.to_numpy(x)


def assert_backend(x, backend):
    assert bk.backend_of(x) == backend, f"{type(x)} is not a {backend} array"


# ---------------------------------------------------------------------- DESC's bar
def test_fori_loop_fills_array_with_put_the_same_on_every_backend(backend):
    n = 7

    def body(i, x):
        return bk.put(x, i, i * i - 0.5)

    out = bk.fori_loop(0, n, body, xp.zeros(n, dtype=xp.float32))
    assert_backend(out, backend)
    assert host(out).dtype == np.float32
    np.testing.assert_array_equal(host(out), np.arange(n) ** 2 - 0.5)


def test_put_over_all_indices_and_sign_helpers_agree(backend):
    values = np.array([-2.0, -0.0, 0.0, 3.0, np.nan])
    x = bk.asarray(values, dtype="float32")
    filled = bk.put(xp.zeros(5, dtype=xp.float32), xp.arange(5), x)
    np.testing.assert_array_equal(host(filled), values.astype(np.float32))
    np.testing.assert_array_equal(host(xp.sign(x)), np.sign(values))
    # DESC's sign: 1 at zero
    np.testing.assert_array_equal(
        host(xp.where(x == 0, 1.0, xp.sign(x))), np.where(values == 0, 1.0, np.sign(values))
    )


# ---------------------------------------------------------------------- fori_loop
def test_fori_loop_values_and_pytree_carry(backend):
    State = collections.namedtuple("State", "total history")

    def body(i, s):
        return State(s.total + i, bk.put(s.history, i, s.total))

    out = bk.fori_loop(0, 5, body, State(bk.asarray(0), xp.zeros(5, dtype=xp.int32)))
    assert isinstance(out, State)
    assert int(out.total) == 10
    np.testing.assert_array_equal(host(out.history), [0, 0, 1, 3, 6])

    out = bk.fori_loop(
        2,
        4,
        lambda i, d: {"a": d["a"] * 2, "b": [d["b"][0] + i]},
        {"a": bk.asarray(1.0), "b": [bk.asarray(0.0)]},
    )
    assert float(out["a"]) == 4.0
    assert float(out["b"][0]) == 5.0


def test_fori_loop_empty_range_returns_init(backend):
    init = xp.ones(3)
    np.testing.assert_array_equal(host(bk.fori_loop(5, 5, lambda i, x: x * 0, init)), 1.0)
    np.testing.assert_array_equal(host(bk.fori_loop(5, 2, lambda i, x: x * 0, init)), 1.0)


def test_fori_loop_python_number_carry_becomes_backend_array(backend):
    out = bk.fori_loop(0, 4, lambda i, c: c + i, 0)
    assert_backend(out, backend)
    assert int(out) == 6
    out = bk.fori_loop(0, 3, lambda i, c: c + 0.5, 0)  # a Python int may become a float
    assert float(out) == 1.5


def test_fori_loop_accepts_integer_scalars_of_any_kind(backend):
    for upper in (np.int64(3), np.array(3), bk.asarray(3)):
        assert int(bk.fori_loop(0, upper, lambda i, c: c + 1, 0)) == 3


@pytest.mark.parametrize("bad", [3.0, True, "3", None, np.array([3]), np.float64(3)])
def test_fori_loop_bounds_must_be_integers(backend, bad):
    with pytest.raises(bk.ArgumentTypeError, match="fori_loop: upper must be an integer"):
        bk.fori_loop(0, bad, lambda i, c: c, 0.0)
    with pytest.raises(bk.ArgumentTypeError, match="fori_loop: lower must be an integer"):
        bk.fori_loop(bad, 3, lambda i, c: c, 0.0)


def test_fori_loop_carry_type_change_is_refused(backend):
    init = xp.zeros(3, dtype=xp.float32)
    with pytest.raises(bk.ControlFlowError, match=r"fori_loop.*shapes differ"):
        bk.fori_loop(0, 2, lambda i, x: xp.concat([x, x]), init)
    with pytest.raises(bk.ControlFlowError, match=r"fori_loop.*dtypes differ"):
        bk.fori_loop(0, 2, lambda i, x: xp.astype(x, xp.int32), init)
    with pytest.raises(bk.ControlFlowError, match="structures differ"):
        bk.fori_loop(0, 2, lambda i, x: (x,), init)
    with pytest.raises(TypeError):  # ControlFlowError is a TypeError, as JAX's is
        bk.fori_loop(0, 2, lambda i, x: (x,), init)


# ---------------------------------------------------------------------- while_loop
def test_while_loop_values(backend):
    out = bk.while_loop(lambda c: c[0] < 100, lambda c: (c[0] * 2, c[1] + 1), (bk.asarray(3), 0))
    assert int(out[0]) == 192
    assert int(out[1]) == 6
    assert_backend(out[1], backend)
    # a condition false from the start returns the carry as it is
    out = bk.while_loop(lambda v: xp.sum(v) > 10, lambda v: v * 2, xp.ones(2))
    np.testing.assert_array_equal(host(out), [1.0, 1.0])


def test_while_loop_condition_must_be_boolean_scalar(backend):
    with pytest.raises(bk.ControlFlowError, match=r"cond_fun.*boolean scalar"):
        bk.while_loop(lambda c: c, lambda c: c - 1, bk.asarray(3.0))
    with pytest.raises(bk.ControlFlowError, match=r"cond_fun.*boolean scalar"):
        bk.while_loop(lambda c: c > 0, lambda c: c - 1, xp.ones(2))


def test_while_loop_carry_type_change_is_refused(backend):
    with pytest.raises(bk.ControlFlowError, match=r"while_loop.*shapes differ"):
        bk.while_loop(lambda c: c.shape[0] < 4, lambda c: xp.concat([c, c]), xp.ones(1))


# ---------------------------------------------------------------------- cond
def test_cond_values_and_operands(backend):
    x = bk.asarray([1.0, 2.0])
    for pred, expected in ((True, [2.0, 3.0]), (False, [0.0, 1.0]), (1, [2.0, 3.0])):
        out = bk.cond(pred, lambda a, b: a + b, lambda a, b: a - b, x, 1.0)
        np.testing.assert_array_equal(host(out), expected)
    out = bk.cond(bk.asarray(True), lambda d: {"y": d["x"] * 2}, lambda d: {"y": d["x"]}, {"x": x})
    np.testing.assert_array_equal(host(out["y"]), [2.0, 4.0])


def test_cond_python_number_takes_the_other_branchs_dtype(backend):
    out = bk.cond(True, lambda: 1.0, lambda: xp.zeros((), dtype=xp.float32))
    assert_backend(out, backend)
    assert host(out).dtype == np.float32
    assert float(out) == 1.0


@pytest.mark.parametrize(
    ("other", "what"),
    [
        (lambda: xp.zeros(3, dtype=xp.float32), "shapes differ"),
        (lambda: xp.zeros(2, dtype=xp.int32), "dtypes differ"),
        (lambda: (xp.zeros(2, dtype=xp.float32),), "structures differ"),
    ],
)
def test_cond_branches_that_disagree_raise_the_same_error(backend, other, what):
    def first():
        return xp.zeros(2, dtype=xp.float32)

    for pred in (True, False):  # whichever branch is taken
        with pytest.raises(bk.ControlFlowError, match=rf"cond branches .*{what}"):
            bk.cond(pred, first, other)


def test_cond_python_numbers_of_different_kinds_disagree(backend):
    with pytest.raises(bk.ControlFlowError, match="dtypes differ"):
        bk.cond(True, lambda: 1, lambda: 1.0)


def test_cond_guard_pattern_with_out_of_range_index_works(backend):
    # the branch not taken would index out of range: JAX clamps, the fallbacks skip it
    x = bk.asarray([1.0, 2.0, 3.0])

    def value_or_zero(i):
        return bk.cond(i < 3, lambda: x[i], lambda: xp.zeros((), dtype=x.dtype))

    assert float(value_or_zero(1)) == 2.0
    assert float(value_or_zero(5)) == 0.0


@pytest.mark.parametrize("pred", [np.array([True, False]), 0.5, "yes", None])
def test_cond_pred_must_be_a_boolean_or_integer_scalar(backend, pred):
    with pytest.raises(bk.ArgumentTypeError, match="cond: pred must be a boolean or integer"):
        bk.cond(pred, lambda: 1.0, lambda: 2.0)


# ---------------------------------------------------------------------- switch
def test_switch_clamps_the_index_like_jax(backend):
    branches = [lambda v: v, lambda v: v * 10, lambda v: v * 100]
    got = [float(bk.switch(i, branches, bk.asarray(2.0))) for i in (-5, 0, 1, 2, 3, 99)]
    assert got == [2.0, 2.0, 20.0, 200.0, 200.0, 200.0]
    assert float(bk.switch(bk.asarray(1), branches, 2.0)) == 20.0


def test_switch_branches_that_disagree_raise(backend):
    with pytest.raises(bk.ControlFlowError, match=r"switch branches.*branch 2"):
        bk.switch(0, [lambda: xp.zeros(2), lambda: xp.ones(2), lambda: xp.zeros(3)])


@pytest.mark.parametrize(
    ("branches", "match"),
    [
        ([], "non-empty"),
        ("abc", "non-empty"),
        ([lambda: 1.0, 3], r"branches\[1\] must be a function"),
    ],
)
def test_switch_bad_branches(backend, branches, match):
    with pytest.raises(bk.ArgumentTypeError, match=match):
        bk.switch(0, branches)


@pytest.mark.parametrize("index", [1.0, True, np.array([0, 1])])
def test_switch_index_must_be_an_integer_scalar(backend, index):
    with pytest.raises(bk.ArgumentTypeError, match="switch: index must be an integer"):
        bk.switch(index, [lambda: 1.0, lambda: 2.0])


# ---------------------------------------------------------------------- scan
def test_scan_cumulative_sum(backend):
    xs = bk.asarray(np.arange(1.0, 6.0), dtype="float32")
    total, partial = bk.scan(lambda c, x: (c + x, c + x), bk.asarray(0.0, dtype="float32"), xs)
    assert_backend(partial, backend)
    assert float(total) == 15.0
    np.testing.assert_array_equal(host(partial), np.cumsum(np.arange(1.0, 6.0)))


def test_scan_reverse_keeps_ys_in_xs_order(backend):
    xs = bk.asarray([1.0, 2.0, 3.0])
    total, seen = bk.scan(lambda c, x: (c + x, c), bk.asarray(0.0), xs, reverse=True)
    assert float(total) == 6.0
    np.testing.assert_array_equal(host(seen), [5.0, 3.0, 0.0])


def test_scan_pytrees_and_no_xs(backend):
    xs = {"a": bk.asarray([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), "b": bk.asarray([1, 2, 3])}

    def f(c, x):
        return c + x["b"], {"sum": xp.sum(x["a"]), "pair": (x["b"], c)}

    carry, ys = bk.scan(f, bk.asarray(0), xs)
    assert int(carry) == 6
    np.testing.assert_array_equal(host(ys["sum"]), [3.0, 7.0, 11.0])
    np.testing.assert_array_equal(host(ys["pair"][0]), [1, 2, 3])
    np.testing.assert_array_equal(host(ys["pair"][1]), [0, 1, 3])

    carry, ys = bk.scan(lambda c, x: (c * 2, None), bk.asarray(1), None, length=4)
    assert int(carry) == 16
    assert ys is None


def test_scan_of_length_zero(backend):
    xs = xp.zeros((0, 2), dtype=xp.float32)
    carry, ys = bk.scan(lambda c, x: (c + xp.sum(x), x * 2), bk.asarray(1.0, dtype="float32"), xs)
    assert float(carry) == 1.0
    assert host(ys).shape == (0, 2)
    assert host(ys).dtype == np.float32


def test_scan_bad_input(backend):
    xs = xp.zeros(3)
    with pytest.raises(bk.ArgumentValueError, match="length"):
        bk.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(bk.ArgumentValueError, match="length=4 does not match"):
        bk.scan(lambda c, x: (c, x), 0.0, xs, length=4)
    with pytest.raises(bk.ArgumentValueError, match="different leading sizes"):
        bk.scan(lambda c, x: (c, x), 0.0, (xs, xp.zeros(4)))
    with pytest.raises(bk.ArgumentValueError, match="leading axis"):
        bk.scan(lambda c, x: (c, x), 0.0, bk.asarray(1.0))
    with pytest.raises(bk.ArgumentTypeError, match="scan: length must be an integer"):
        bk.scan(lambda c, x: (c, x), 0.0, None, length=2.0)
    with pytest.raises(bk.ControlFlowError, match="must return a pair"):
        bk.scan(lambda c, x: c + x, bk.asarray(0.0), xs)
    with pytest.raises(bk.ControlFlowError, match=r"scan.*dtypes differ"):
        bk.scan(lambda c, x: (xp.astype(c, xp.int32), x), xp.zeros((), dtype=xp.float32), xs)


# ---------------------------------------------------------------------- bad functions
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda f: bk.fori_loop(0, 2, f, 0.0), "fori_loop: body_fun"),
        (lambda f: bk.while_loop(f, lambda c: c, 0.0), "while_loop: cond_fun"),
        (lambda f: bk.while_loop(lambda c: c < 1, f, 0.0), "while_loop: body_fun"),
        (lambda f: bk.cond(True, f, lambda: 1.0), "cond: true_fun"),
        (lambda f: bk.cond(True, lambda: 1.0, f), "cond: false_fun"),
        (lambda f: bk.scan(f, 0.0, None, length=2), "scan: f"),
    ],
)
def test_functions_must_be_callable(backend, call, name):
    with pytest.raises(bk.ArgumentTypeError, match=f"{name} must be a function, got int 3"):
        call(3)


# ---------------------------------------------------------------------- dispatch
def test_backend_follows_the_arrays_not_the_selection():
    skip_unless_installed("torch")
    import torch

    with bk.use_backend("numpy"):
        out = bk.fori_loop(0, 3, lambda i, x: x + 1, torch.zeros(2))
    assert isinstance(out, torch.Tensor)
    with bk.use_backend("torch"):  # numpy arrays are host data: the selection runs
        out = bk.fori_loop(0, 3, lambda i, c: c + i, 0)
    assert isinstance(out, torch.Tensor)


def test_jax_and_torch_arrays_together_are_refused():
    skip_unless_installed("jax")
    skip_unless_installed("torch")
    import jax.numpy as jnp
    import torch

    with pytest.raises(bk.BackendMismatchError, match=r"jax.*torch"):
        bk.fori_loop(0, 2, lambda i, c: c, (jnp.zeros(2), torch.zeros(2)))


# ---------------------------------------------------------------------- under jax.jit
def test_control_flow_compiles_under_jax_jit():
    skip_unless_installed("jax")
    import jax
    import jax.numpy as jnp

    @jax.jit
    def fill(x, n):
        x = bk.fori_loop(0, n, lambda i, x: bk.put(x, i, 1.0 * i), x)
        x = bk.cond(n > 2, lambda v: v * 2, lambda v: v, x)
        x = bk.switch(n, [lambda v: v, lambda v: -v], x)  # n=4 clamps to the last
        total, _ = bk.scan(lambda c, v: (c + v, None), 0.0, x)
        steps = bk.while_loop(lambda c: c < total, lambda c: c + 1.0, 0.0)
        return x, steps

    x, steps = fill(jnp.zeros(4), 4)
    np.testing.assert_array_equal(np.asarray(x), [0.0, -2.0, -4.0, -6.0])
    assert float(steps) == 0.0


def test_errors_under_jax_jit_are_ours():
    skip_unless_installed("jax")
    import jax
    import jax.numpy as jnp

    with pytest.raises(bk.ControlFlowError, match="cond branches"):
        jax.jit(lambda p: bk.cond(p, lambda: jnp.zeros(2), lambda: jnp.zeros(3)))(True)
    with pytest.raises(bk.ControlFlowError, match="fori_loop"):
        jax.jit(lambda n: bk.fori_loop(0, n, lambda i, c: (c, c), jnp.zeros(2)))(3)
    with pytest.raises(bk.ArgumentTypeError, match="upper must be an integer"):
        jax.jit(lambda u: bk.fori_loop(0, u, lambda i, c: c, 0.0))(3.0)


def test_user_type_errors_inside_jax_bodies_pass_through():
    skip_unless_installed("jax")
    with bk.use_backend("jax"):

        def body(i, c):
            raise TypeError("my own mistake")

        with pytest.raises(TypeError, match="my own mistake") as info:
            bk.fori_loop(0, 2, body, bk.asarray(0.0))
        assert not isinstance(info.value, bk.ControlFlowError)
