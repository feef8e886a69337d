"""Transformations: jit, vmap, grad, value_and_grad and jacobian on every backend, against
exact derivatives, with bad input refused alike."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import skip_unless_installed

import backendkit as bk
from backendkit import finite_differences, xp

#: Tolerances (relative, absolute) of derivatives against the exact ones, in float64.
#: JAX and PyTorch differentiate exactly (to rounding); NumPy uses central differences
#: with h = eps**(1/3) max(|x|, 1), whose error is of order eps**(2/3) ~ 4e-11 for the
#: functions and points below (|x| <= 7; the error grows as |x|**2 |f'''| for larger
#: points, see backendkit.transforms): 1e-8 leaves room.
#: by how the backend differentiates: finite differences (no autodiff) or autodiff
TOLERANCE = {"fd": (1e-8, 1e-9), "autodiff": (1e-13, 1e-14)}
#: In float32 finite differences reach eps32**(2/3) ~ 2e-5 at best.
TOLERANCE32 = {"fd": (2e-3, 2e-4), "autodiff": (1e-6, 1e-7)}


def host(x):
    return bk.to_numpy(x)


def close(got, expected, backend, table=TOLERANCE):
    method = "autodiff" if bk.backends.load(backend).has_autodiff else "fd"
    rtol, atol = table[method]
    np.testing.assert_allclose(host(got), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------- jit
def test_jit_gives_the_same_values_on_every_backend(backend):
    @bk.jit
    def f(x, y):
        return xp.sum(xp.sin(x) * y)

    x = bk.asarray([0.5, 1.0, 2.0], dtype="float32")
    expected = np.sum(np.sin([0.5, 1.0, 2.0]) * 3.0)
    np.testing.assert_allclose(host(f(x, 3.0)), expected, rtol=1e-6)
    np.testing.assert_allclose(host(f(x, 3.0)), expected, rtol=1e-6)  # the kept build


def test_jit_compiles_once_per_backend_under_jax():
    skip_unless_installed("jax")
    traced = []

    def f(x, n):
        traced.append(1)
        return x * n

    g = bk.jit(f, static_argnums=1)
    with bk.use_backend("jax"):
        x = bk.asarray([1.0, 2.0])
        for _ in range(3):
            np.testing.assert_array_equal(host(g(x, 2)), [2.0, 4.0])
    assert len(traced) == 1
    with bk.use_backend("numpy"):  # the same function object runs eagerly on numpy
        np.testing.assert_array_equal(g(np.array([1.0]), 3), [3.0])
    assert len(traced) == 2


def test_jit_with_options_as_a_decorator(backend):
    @bk.jit(static_argnames="power")
    def f(x, power):
        return x**power

    np.testing.assert_array_equal(host(f(bk.asarray([2.0]), power=3)), [8.0])


def test_jit_torch_compile_on_request():
    skip_unless_installed("torch")
    import torch

    # the "eager" backend runs torch.compile's graph capture without a C++ build
    f = bk.jit(lambda x: torch.sin(x) * 2, torch_compile={"backend": "eager"})
    x = torch.linspace(0, 1, 5)
    torch.testing.assert_close(f(x), torch.sin(x) * 2)
    assert bk.jit(lambda x: x)(x) is x  # identity by default


def test_jit_refuses_non_callables():
    with pytest.raises(bk.ArgumentTypeError, match="jit: fun must be a function"):
        bk.jit(3)


# ---------------------------------------------------------------------- vmap
def test_vmap_out_axes_1_as_desc_tests_it(backend):
    a = bk.asarray(np.arange(6.0).reshape(3, 2))
    out = bk.vmap(lambda row: row * 2, out_axes=1)(a)
    np.testing.assert_array_equal(host(out), (np.arange(6.0).reshape(3, 2) * 2).T)


def test_vmap_in_axes_with_none_and_negative(backend):
    a = bk.asarray(np.arange(6.0).reshape(2, 3))
    b = bk.asarray([1.0, 10.0])
    out = bk.vmap(lambda col, v: col * v, in_axes=(1, None))(a, b)  # over a's columns
    np.testing.assert_array_equal(host(out), (np.arange(6.0).reshape(2, 3).T * [1.0, 10.0]))
    out = bk.vmap(lambda col: xp.sum(col), in_axes=-1)(a)
    np.testing.assert_array_equal(host(out), [3.0, 5.0, 7.0])


def test_vmap_pytrees_and_out_axes_none(backend):
    d = {"x": bk.asarray([1.0, 2.0, 3.0]), "y": bk.asarray([[1.0], [2.0], [3.0]])}
    k = bk.asarray(5.0)

    def f(d, k):
        return {"s": d["x"] + d["y"][0], "k": k}, d["x"] * k

    out, prod = bk.vmap(f, in_axes=({"x": 0, "y": 0}, None), out_axes=({"s": 0, "k": None}, 0))(
        d, k
    )
    np.testing.assert_array_equal(host(out["s"]), [2.0, 4.0, 6.0])
    assert float(out["k"]) == 5.0
    assert host(out["k"]).shape == ()
    np.testing.assert_array_equal(host(prod), [5.0, 10.0, 15.0])


def test_vmap_takes_numpy_arguments_on_every_backend(backend):
    out = bk.vmap(lambda r: xp.sum(r))(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(host(out), [1.0, 5.0, 9.0])


@pytest.mark.parametrize(
    ("in_axes", "args", "error", "match"),
    [
        ((0,), 2, bk.ArgumentValueError, r"in_axes \(0,\) has 1 entries but .* 2 positional"),
        ((0, 0, 0), 2, bk.ArgumentValueError, "has 3 entries"),
        (2, 1, bk.ArgumentValueError, "in_axes entry 2 for argument 0 is out of range"),
        ((None, None), 2, bk.ArgumentValueError, "maps no argument"),
        ("0", 1, bk.ArgumentTypeError, "in_axes must be an int, None or a tuple"),
        ((0.5,), 1, bk.ArgumentTypeError, "in_axes must hold ints and None"),
        (({"a": 0},), 1, bk.ArgumentValueError, "does not match the argument's structure"),
    ],
)
def test_vmap_in_axes_that_do_not_match_are_refused(backend, in_axes, args, error, match):
    with pytest.raises(error, match=match):
        bk.vmap(lambda *a: a[0], in_axes=in_axes)(*[xp.zeros(3)] * args)


def test_vmap_other_bad_input(backend):
    with pytest.raises(bk.ArgumentValueError, match="different sizes"):
        bk.vmap(lambda a, b: a + b)(xp.zeros(3), xp.zeros(4))
    with pytest.raises(bk.ArgumentTypeError, match="keyword arguments"):
        bk.vmap(lambda a, b=1: a)(xp.zeros(3), b=2)
    with pytest.raises(bk.ArgumentTypeError, match="vmap: fun must be a function"):
        bk.vmap("f")
    with pytest.raises(bk.ArgumentTypeError, match="out_axes must hold ints"):
        bk.vmap(lambda a: a, out_axes="1")


# ---------------------------------------------------------------------- derivatives
def f_scalar(x):
    return xp.sum(xp.sin(x) * x**2)


def df_scalar(x):
    return np.cos(x) * x**2 + 2 * x * np.sin(x)


X = np.array([-1.5, 0.3, 2.0, 7.0])


def test_grad_against_the_exact_derivative(backend):
    with bk.use_dtype("float64"):
        g = bk.grad(f_scalar)(bk.asarray(X))
    assert host(g).dtype == np.float64
    close(g, df_scalar(X), backend)


def test_grad_in_float32(backend):
    with bk.use_dtype("float32"):
        g = bk.grad(f_scalar)(bk.asarray(X))
    assert host(g).dtype == np.float32
    close(g, df_scalar(X), backend, TOLERANCE32)


def test_grad_argnums_has_aux_and_value_and_grad(backend):
    def f(a, b, scale):
        value = xp.sum(a * a * b) * scale
        return value, {"scaled": scale}

    a, b = bk.asarray([1.0, 2.0], dtype="float64"), bk.asarray([3.0, 4.0], dtype="float64")
    (ga, gb), aux = bk.grad(f, argnums=(0, 1), has_aux=True)(a, b, 2.0)
    close(ga, [12.0, 32.0], backend)  # 2 a b scale
    close(gb, [2.0, 8.0], backend)  # a**2 scale
    assert aux["scaled"] == 2.0

    gb_only = bk.grad(lambda a, b: xp.sum(a * b), argnums=-1)(a, b)
    close(gb_only, [1.0, 2.0], backend)

    (value, aux), ga = bk.value_and_grad(f, has_aux=True)(a, b, 1.0)
    close(value, 19.0, backend)
    close(ga, [6.0, 16.0], backend)
    value, (ga, gb) = bk.value_and_grad(lambda a, b: xp.sum(a * b), argnums=(0, 1))(a, b)
    close(value, 11.0, backend)
    close(gb, [1.0, 2.0], backend)


def test_grad_of_python_numbers_and_pytrees(backend):
    with bk.use_dtype("float64"):
        g = bk.grad(lambda x: x**3)(2.0)
        assert bk.backend_of(g) == backend
        close(g, 12.0, backend)
        tree = {"w": bk.asarray([1.0, 2.0]), "b": (bk.asarray(0.5),)}
        g = bk.grad(lambda p: xp.sum(p["w"] ** 2) + p["b"][0] ** 2)(tree)
    close(g["w"], [2.0, 4.0], backend)
    close(g["b"][0], 1.0, backend)


def test_jacobian_against_the_exact_one(backend):
    def f(x):
        return xp.stack([x[0] * x[1], xp.sin(x[0]), x[1] ** 3])

    x = np.array([0.7, -1.3])
    exact = np.array([[x[1], x[0]], [np.cos(x[0]), 0.0], [0.0, 3 * x[1] ** 2]])
    with bk.use_dtype("float64"):
        J = bk.jacobian(f)(bk.asarray(x))
    assert host(J).shape == (3, 2)
    close(J, exact, backend)


def test_jacobian_layout_with_argnums_and_aux(backend):
    with bk.use_dtype("float64"):
        a, b = bk.asarray([1.0, 2.0]), bk.asarray([3.0, 4.0, 5.0])

        def f(a, b):
            return {"outer": a[:, None] * b[None, :]}, "aux"

        J, aux = bk.jacobian(f, argnums=(0, 1), has_aux=True)(a, b)
    assert aux == "aux"
    ja, jb = J["outer"]  # JAX's layout: the output's structure outside, argnums inside
    assert host(ja).shape == (2, 3, 2)
    assert host(jb).shape == (2, 3, 3)
    expected_ja = np.einsum("ik,j->ijk", np.eye(2), [3.0, 4.0, 5.0])
    close(ja, expected_ja, backend)


def test_derivatives_through_backendkit_control_flow(backend):
    def f(x):
        return bk.fori_loop(0, 3, lambda i, c: c * x, bk.asarray(1.0, dtype="float64"))

    with bk.use_dtype("float64"):
        g = bk.grad(f)(bk.asarray(1.5))
    close(g, 3 * 1.5**2, backend)


def test_grad_inside_jit_under_jax():
    skip_unless_installed("jax")
    with bk.use_backend("jax"):
        g = bk.jit(bk.grad(lambda x: xp.sum(x**2)))
        np.testing.assert_allclose(host(g(bk.asarray([1.0, 2.0]))), [2.0, 4.0])


def test_finite_difference_step_rule():
    eps = np.finfo(np.float64).eps
    assert finite_differences.step_size(0.25, np.float64) == eps ** (1 / 3)
    assert finite_differences.step_size(-8.0, np.float64) == pytest.approx(8 * eps ** (1 / 3))
    assert finite_differences.step_size(1.0, np.float32) == pytest.approx(
        np.finfo(np.float32).eps ** (1 / 3)
    )


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("transform", [bk.grad, bk.value_and_grad, bk.jacobian])
def test_derivatives_bad_input(backend, transform):
    name = transform.__name__
    x = bk.asarray([1.0, 2.0])
    with pytest.raises(bk.ArgumentTypeError, match=f"{name}: fun must be a function"):
        transform(None)
    with pytest.raises(bk.ArgumentValueError, match=f"{name}: argnums 2 is out of range"):
        transform(lambda a, b: xp.sum(a * b), argnums=2)(x, x)
    with pytest.raises(bk.ArgumentValueError, match="argnums"):
        transform(lambda a, b: xp.sum(a * b), argnums=(0, -2))(x, x)
    for bad in (True, "0", 1.0, ()):
        with pytest.raises(bk.ArgumentTypeError, match=f"{name}: argnums must be an int"):
            transform(lambda a: a, argnums=bad)
    with pytest.raises(bk.ArgumentTypeError, match="floating-point inputs"):
        transform(lambda a: xp.sum(a))(bk.asarray([1, 2]))
    with pytest.raises(bk.ArgumentTypeError, match="must return a pair"):
        transform(lambda a: xp.sum(a), has_aux=True)(x)


def test_grad_needs_a_scalar_output(backend):
    with pytest.raises(bk.ArgumentTypeError, match="grad: the function's output must be a real"):
        bk.grad(lambda a: a * 2)(bk.asarray([1.0, 2.0]))


# ---------------------------------------------------------------------- method="fd"
#: central differences in float64 on every backend: eps64**(2/3) ~ 4e-11, scaled by f'''
FD64 = {"fd": (1e-7, 1e-8), "autodiff": (1e-7, 1e-8)}


def test_finite_differences_on_request_on_every_backend(backend):
    """DESC tests its derivatives both ways: method="fd" on any backend, compared with
    autodiff (where there is one) in the same process."""
    with bk.use_dtype("float64"):
        x = bk.asarray(X)
        fd = bk.grad(f_scalar, method="fd")(x)
        auto = bk.grad(f_scalar)(x)
        value, fd_vg = bk.value_and_grad(f_scalar, method="fd")(x)
        jac = bk.jacobian(lambda v: xp.sin(v) * v, method="fd")(x)
    assert bk.backend_of(fd) == bk.backend_of(jac) == backend
    assert host(fd).dtype == np.float64
    close(fd, df_scalar(X), backend, FD64)
    close(fd, host(auto), backend, FD64)
    np.testing.assert_array_equal(host(fd_vg), host(fd))
    close(value, np.sum(np.sin(X) * X**2), backend)
    close(jac, np.diag(np.cos(X) * X + np.sin(X)), backend, FD64)
    if backend == "numpy":
        np.testing.assert_array_equal(host(fd), host(auto))  # numpy's auto *is* fd
    else:
        assert not np.array_equal(host(fd), host(auto))  # really another method


def test_finite_differences_give_the_same_numbers_on_every_backend():
    """One step rule: the same evaluations, the same numbers, whatever runs f."""
    results = {}
    for name in bk.available_backends():
        with bk.use_dtype("float64"):
            g = bk.grad(f_scalar, method="fd")(bk.asarray(X, backend=name))
        results[name] = host(g)
    for g in results.values():
        np.testing.assert_allclose(g, results["numpy"], rtol=1e-12, atol=1e-13)


def test_method_bad_input(backend):
    before = bk.get_backend()
    for transform in (bk.grad, bk.value_and_grad, bk.jacobian):
        with pytest.raises(bk.ArgumentValueError, match="method must be one of"):
            transform(f_scalar, method="forward")
    if backend == "numpy":
        with pytest.raises(bk.ArgumentValueError, match="no autodiff; use method='fd'"):
            bk.grad(f_scalar, method="autodiff")(np.array([1.0]))
    else:
        g = bk.grad(f_scalar, method="autodiff")(bk.asarray([1.0], dtype="float32"))
        close(g, [df_scalar(1.0)], backend, TOLERANCE32)
    assert bk.get_backend() == before


def test_finite_differences_refuse_jax_tracing():
    skip_unless_installed("jax")
    import jax

    g = bk.grad(f_scalar, method="fd")
    with pytest.raises(bk.ArgumentValueError, match=r"cannot run while JAX traces"):
        jax.jit(g)(np.ones(2, np.float32))
