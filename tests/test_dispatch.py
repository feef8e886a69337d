"""The dispatch rule, line by line, on every pair of backends (backendkit/_dispatch.py).

1. a call's JAX or PyTorch arrays choose its backend (inside containers and pytrees,
   tracers included);
2. NumPy arrays and Python numbers are host data that follow the selection;
3. JAX and PyTorch arrays in one call raise BackendMismatchError naming both;
4. nothing is converted to the host or to another framework silently;
5. transforms and control flow run the user's function with the chosen backend
   selected (so ``xp``, ``asarray``, ``put`` and ``random`` inside follow the caller),
   and restore the selection afterwards, also when the function raises.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from typing import NamedTuple

import numpy as np
import pytest
from conftest import BACKENDS, run_python, skip_unless_installed

import backendkit as bk
from backendkit import xp

FRAMEWORKS = ["jax", "torch"]  # the backends whose arrays choose


def array(name, values=(1.0, 2.0, 3.0)):
    """A float32 array of backend ``name`` (NumPy: host data)."""
    return bk.asarray(np.asarray(values, dtype=np.float32), backend=name)


def pairs():
    """(selection, arrays' backend) for every pair, skipped where one is missing."""
    return [pytest.param(s, a, id=f"selected-{s}-arrays-{a}") for s in BACKENDS for a in BACKENDS]


def need(*names):
    for name in names:
        skip_unless_installed(name)


# ---------------------------------------------------------------- 1. arrays decide
@pytest.mark.parametrize(("selected", "owner"), pairs())
def test_xp_follows_the_arrays_not_the_selection(selected, owner):
    need(selected, owner)
    x = array(owner)
    expect = owner if owner != "numpy" else selected  # NumPy arrays are host data
    with bk.use_backend(selected):
        for out in (
            xp.exp(x),
            xp.sum(x),
            xp.sum(x, axis=0),
            xp.concatenate([x, x]),
            xp.stack((x, x)),
            xp.where(x > 1.5, x, 0.0 * x),
            xp.linalg.norm(x),
            xp.asarray(x),
        ):
            assert bk.backend_of(out) == expect
            assert bk.get_backend() == selected
        np.testing.assert_allclose(bk.to_numpy(xp.exp(x)), np.exp([1.0, 2.0, 3.0]), rtol=1e-6)


@pytest.mark.parametrize("owner", FRAMEWORKS)
def test_the_four_calls_of_the_issue(owner):
    """The calls that failed or copied to the host under a NumPy selection."""
    need("jax", "torch")
    import jax.numpy as jnp
    import torch

    bk.set_backend("numpy")
    g = bk.grad(lambda x: xp.sum(x**2))(jnp.ones(2))
    assert bk.backend_of(g) == "jax"
    np.testing.assert_allclose(bk.to_numpy(g), [2.0, 2.0])
    s = bk.jit(lambda x: xp.sum(x))(torch.ones(2))
    assert isinstance(s, torch.Tensor)
    assert float(s) == 2.0
    e = xp.exp(jnp.ones(2))
    assert bk.backend_of(e) == "jax"  # not a numpy.ndarray: no hidden copy
    t = xp.sum(torch.ones(2))
    assert isinstance(t, torch.Tensor)
    assert float(t) == 2.0


@pytest.mark.parametrize("owner", FRAMEWORKS)
def test_arrays_inside_containers_and_keywords_choose(owner):
    need(owner)
    x = array(owner)
    bk.set_backend("numpy")
    assert bk.backend_of(xp.concatenate([np.ones(1, np.float32), x])) == owner
    assert bk.namespace({"a": [1.0, (x,)]}) is bk.namespace(owner)
    assert bk.backend_of(bk.jit(lambda *, a: a * 2)(a=x)) == owner  # keywords choose too
    assert bk.backend_of(bk.asarray(x)) == owner  # asarray without backend= follows x
    with pytest.raises(bk.BackendMismatchError):
        bk.asarray(x, backend="numpy")  # named explicitly: refused, never converted


def test_jax_tracers_are_jax_arrays():
    need("jax")
    import jax

    seen = []

    def f(x):
        seen.append(bk.namespace(x).__name__)
        return xp.sum(xp.sin(x))

    bk.set_backend("numpy")
    jax.jit(f)(np.ones(3, np.float32))
    jax.grad(f)(np.ones(3, np.float32))
    jax.vmap(f)(np.ones((2, 3), np.float32))
    assert seen == ["jax.numpy"] * 3


# ---------------------------------------------------------------- 2. host data follows
@pytest.mark.parametrize("selected", BACKENDS)
def test_host_data_follows_the_selection(selected):
    need(selected)
    host = np.array([1.0, 2.0], np.float32)
    with bk.use_backend(selected):
        for out in (
            xp.exp(host),
            xp.add(host, 1.0),
            xp.stack([host, host]),
            xp.zeros(3),
            bk.put(host, 0, 5.0),
            bk.asarray([1.0]),
            bk.fori_loop(0, 2, lambda i, c: c + xp.ones(2, dtype=c.dtype), host),
        ):
            assert bk.backend_of(out) == selected
    assert host.tolist() == [1.0, 2.0]  # host inputs are never written


@pytest.mark.parametrize("selected", BACKENDS)
def test_creation_without_arrays_takes_the_default_dtype(selected):
    need(selected)
    with bk.use_backend(selected), bk.use_dtype("float32"):
        assert bk.to_numpy(xp.zeros(3)).dtype == np.float32
        assert bk.to_numpy(xp.linspace(0.0, 1.0, 3)).dtype == np.float32


@pytest.mark.parametrize("owner", FRAMEWORKS)
def test_a_dtype_of_the_selection_is_translated_for_the_arrays_backend(owner):
    need(owner)
    x = array(owner)
    for selected in bk.available_backends():
        with bk.use_backend(selected):
            out = xp.asarray(x, dtype=xp.float64 if owner != "jax" else xp.float32)
            assert bk.backend_of(out) == owner
            out = xp.zeros_like(x, dtype=bk.namespace(selected).int32)
            assert bk.backend_of(out) == owner
            assert bk.to_numpy(out).dtype == np.int32


# ---------------------------------------------------------------- 3. two frameworks
def mixed_calls(j, t):
    return {
        "xp": lambda: xp.add(j, t),
        "xp list": lambda: xp.concatenate([j, t]),
        "xp keyword": lambda: xp.where(j > 0, x=j, y=t),
        "namespace": lambda: bk.namespace(j, t),
        "put": lambda: bk.put(j, 0, t[:1]),
        "put list": lambda: bk.put(j, [0], [t[0]]),
        "at": lambda: bk.at(j, t.long() if hasattr(t, "long") else t).add(1.0),
        "fori_loop": lambda: bk.fori_loop(0, 2, lambda i, c: c, (j, t)),
        "cond": lambda: bk.cond(True, lambda a, b: a, lambda a, b: a, j, t),
        "scan": lambda: bk.scan(lambda c, x: (c, x), j, {"t": t}),
        "jit": lambda: bk.jit(lambda a, b: a)(j, t),
        "vmap": lambda: bk.vmap(lambda a, b: a)(j, t),
        "grad": lambda: bk.grad(lambda a, b: xp.sum(a))(j, t),
        "asarray": lambda: bk.asarray(t, backend="jax"),
    }


@pytest.mark.parametrize("call", list(mixed_calls(None, None)))
def test_jax_and_torch_in_one_call_are_refused_naming_both(call):
    need("jax", "torch")
    before = bk.get_backend()
    j, t = array("jax"), array("torch")
    with pytest.raises(bk.BackendMismatchError) as info:
        mixed_calls(j, t)[call]()
    message = str(info.value)
    assert "jax" in message
    assert "torch" in message
    assert "convert" in message  # and the fix
    assert bk.get_backend() == before


# ---------------------------------------------------------------- 4. no silent copies
@pytest.mark.parametrize(("selected", "owner"), pairs())
def test_results_stay_with_their_framework(selected, owner):
    need(selected, owner)
    if owner == "numpy":
        pytest.skip("NumPy arrays are host data: test_host_data_follows_the_selection")
    x = array(owner)
    with bk.use_backend(selected):
        y = bk.put(x, 1, 7.0)
        z = bk.at(x, [0, 0]).add(1.0)
        w = bk.jit(lambda a: a * 2)(x)
        v = bk.vmap(lambda a: a + 1)(x)
        assert {bk.backend_of(o) for o in (y, z, w, v)} == {owner}
        assert bk.to_numpy(y).tolist() == [1.0, 7.0, 3.0]
        assert bk.to_numpy(z).tolist() == [3.0, 2.0, 3.0]


# ---------------------------------------------------------------- 5. functions run selected
def transformed_calls(x):
    """Each public transform or control-flow call, running ``probe`` on ``x``."""
    return {
        "jit": lambda probe: bk.jit(probe)(x),
        "vmap": lambda probe: bk.vmap(probe)(x),
        "grad": lambda probe: bk.grad(lambda a: xp.sum(probe(a)))(x),
        "value_and_grad": lambda probe: bk.value_and_grad(lambda a: xp.sum(probe(a)))(x),
        "jacobian": lambda probe: bk.jacobian(probe)(x),
        "fori_loop": lambda probe: bk.fori_loop(0, 2, lambda i, c: probe(c), x),
        "while_loop": lambda probe: bk.while_loop(lambda c: c[0] < 10, probe, x),
        "cond": lambda probe: bk.cond(True, probe, probe, x),
        "switch": lambda probe: bk.switch(1, [probe, probe], x),
        "scan": lambda probe: bk.scan(lambda c, r: (probe(c), r), x, x),
    }


@pytest.mark.parametrize("transform", list(transformed_calls(None)))
@pytest.mark.parametrize(("selected", "owner"), pairs())
def test_the_function_runs_with_the_arrays_backend_selected(transform, selected, owner):
    need(selected, owner)
    expect = owner if owner != "numpy" else selected
    seen = set()

    def probe(a):
        seen.add(bk.get_backend())
        # xp, asarray and random inside follow the caller's arrays
        assert bk.backend_of(xp.zeros(1)) == expect
        assert bk.backend_of(bk.asarray([1.0])) == expect
        assert bk.backend_of(bk.random.normal(0, (1,), dtype="float32")) == expect
        return a + xp.ones_like(a)

    x = array(owner)
    with bk.use_backend(selected):
        transformed_calls(x)[transform](probe)
        assert bk.get_backend() == selected  # restored afterwards
    assert seen == {expect}


@pytest.mark.parametrize("transform", list(transformed_calls(None)))
@pytest.mark.parametrize("owner", BACKENDS)
def test_the_selection_comes_back_when_the_function_raises(transform, owner):
    need(owner)

    class Mine(Exception):
        pass

    def probe(a):
        raise Mine(bk.get_backend())

    bk.set_backend("numpy")
    with pytest.raises(Mine):
        transformed_calls(array(owner))[transform](probe)
    assert bk.get_backend() == "numpy"


# ---------------------------------------------------------------- inside the frameworks
def energy(x):
    """Library code written once with xp, as the tutorials teach."""
    return xp.sum(xp.sin(x) ** 2) / 2


def test_xp_inside_jax_jit_and_jax_grad():
    need("jax")
    import jax

    bk.set_backend("numpy")
    x = np.linspace(0.0, 1.0, 4, dtype=np.float32)
    np.testing.assert_allclose(jax.jit(energy)(x), np.sum(np.sin(x) ** 2) / 2, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(energy)(x), np.sin(x) * np.cos(x), rtol=1e-6)
    # bk.put and bk.fori_loop inside a function the caller jits: one loop, not unrolled
    fill = jax.jit(lambda a: bk.fori_loop(0, 4, lambda i, c: bk.put(c, i, xp.sin(c[i])), a))
    np.testing.assert_allclose(fill(x), np.sin(x), rtol=1e-6)


def test_xp_inside_torch_func_and_torch_compile():
    need("torch")
    import torch

    bk.set_backend("numpy")
    x = torch.linspace(0.0, 1.0, 4)
    expect = torch.sin(x) * torch.cos(x)
    torch.testing.assert_close(torch.func.grad(energy)(x), expect)
    torch.testing.assert_close(torch.func.vmap(torch.func.grad(energy))(x[:, None])[:, 0], expect)
    # dynamo traces through xp's dispatch (the "eager" backend keeps the test fast:
    # what is tested is the tracing, not the code generation)
    compiled = torch.compile(energy, backend="eager")
    torch.testing.assert_close(compiled(x), energy(x))
    jitted = bk.jit(energy, torch_compile={"backend": "eager"})
    torch.testing.assert_close(jitted(x), energy(x))


@pytest.mark.parametrize("owner", BACKENDS)
def test_nested_transforms(owner):
    need(owner)
    x = array(owner, [0.1, 0.2, 0.3])
    bk.set_backend("numpy")
    expect = np.sin([0.1, 0.2, 0.3]) * np.cos([0.1, 0.2, 0.3])
    tol = {"rtol": 1e-4, "atol": 1e-6}
    np.testing.assert_allclose(bk.to_numpy(bk.jit(bk.grad(energy))(x)), expect, **tol)
    per_row = bk.vmap(bk.grad(lambda r: energy(r)))(xp.stack([x, x]))
    np.testing.assert_allclose(bk.to_numpy(per_row), [expect, expect], **tol)
    hess = bk.jacobian(bk.grad(energy))(x)
    assert bk.backend_of(hess) == (owner if owner != "numpy" else "numpy")
    assert tuple(hess.shape) == (3, 3)
    if owner == "jax":
        import jax

        np.testing.assert_allclose(jax.jit(bk.grad(energy))(x), expect, rtol=1e-6)


@pytest.mark.parametrize("owner", BACKENDS)
def test_generators_and_threads_keep_their_own_selection(owner):
    need(owner)
    x = array(owner)

    def gen():
        for k in range(3):
            # a transform inside a suspended generator leaves no selection behind
            yield bk.jit(lambda a, k=k: xp.sum(a) * k)(x)
            assert bk.get_backend() == "numpy"

    bk.set_backend("numpy")
    with bk.use_backend("numpy"):
        results = [float(bk.to_numpy(v)) for v in gen()]
        assert bk.get_backend() == "numpy"
    assert results == [0.0, 6.0, 12.0]

    errors, seen = [], {}

    def worker(name):
        try:
            with bk.use_backend(name):
                for _ in range(20):
                    out = bk.grad(lambda a: xp.sum(a * a))(array(owner))
                    seen.setdefault(name, set()).add(bk.backend_of(out))
                    assert bk.get_backend() == name
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in bk.available_backends()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expect = {n: {owner if owner != "numpy" else n} for n in bk.available_backends()}
    assert seen == expect


# ---------------------------------------------------------------- pytrees
class Carry(NamedTuple):
    x: object
    n: object


def test_a_registered_dataclass_carry_lowers_to_one_loop_under_jax_jit():
    need("jax")
    import jax

    @jax.tree_util.register_dataclass
    @dataclasses.dataclass
    class State:
        x: jax.Array
        n: jax.Array

    def run(s):
        return bk.fori_loop(0, 50, lambda i, c: State(c.x + xp.sin(c.x), c.n + 1), s)

    bk.set_backend("numpy")
    s = State(jax.numpy.ones(3), jax.numpy.zeros((), "int32"))
    jaxpr = jax.make_jaxpr(run)(s)
    sines = str(jaxpr).count(" sin ")
    assert sines == 1, f"the loop was unrolled: {sines} sin equations"
    hlo = jax.jit(run).lower(s).as_text()
    assert hlo.count("stablehlo.while") == 1
    out = jax.jit(run)(s)
    assert int(out.n) == 50


@pytest.mark.parametrize("kind", ["namedtuple", "dataclass"])
def test_structured_carries_give_the_same_result_on_every_backend(kind):
    need("jax")  # a registered dataclass needs jax's registry; numpy and torch use it too
    import jax

    @jax.tree_util.register_dataclass
    @dataclasses.dataclass
    class State:
        x: object
        n: object

    make = Carry if kind == "namedtuple" else State
    results = {}
    for name in bk.available_backends():
        init = make(array(name, [0.5, 1.0]), bk.asarray(0, backend=name))
        out = bk.fori_loop(0, 5, lambda i, c: make(c.x * 0.5 + xp.cos(c.x), c.n + i), init)
        assert type(out) is make
        assert bk.backend_of(out.x) == name
        results[name] = (bk.to_numpy(out.x), int(bk.to_numpy(out.n)))
    ref_x, ref_n = results["numpy"]
    for x, n in results.values():
        np.testing.assert_allclose(x, ref_x, rtol=1e-6)
        assert n == ref_n == 10


def test_one_pytree_walker_without_jax(monkeypatch):
    """Without JAX loaded the same structures are walked by optree, not by a copy."""
    from backendkit import _tree

    tree = {"b": [1, (2.0, None)], "a": Carry(3, np.ones(1))}
    with_jax = _tree.leaves(tree) if "jax" in sys.modules else None
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    leaves, treedef = _tree.flatten(tree)
    assert leaves[0] == 3  # dict keys sorted: "a" first; None is an empty subtree
    assert leaves[1] is tree["a"].n
    assert leaves[2:] == [1, 2.0]
    rebuilt = _tree.unflatten(treedef, leaves)
    assert type(rebuilt["a"]) is Carry
    assert rebuilt["b"] == [1, (2.0, None)]
    assert "optree" in type(treedef).__module__
    assert _tree.describe(treedef) == "{'a': Carry(x=*, n=*), 'b': [*, (*, None)]}"
    if with_jax is not None:  # JAX's walker agrees
        assert [type(v) for v in with_jax] == [type(v) for v in leaves]


# ---------------------------------------------------------------- namespace(*arrays)
@pytest.mark.parametrize("owner", BACKENDS)
def test_namespace_of_arrays(owner):
    need(owner)
    x = array(owner)
    bk.set_backend("numpy")
    assert bk.namespace(x) is bk.namespace(owner if owner != "numpy" else "numpy")
    assert bk.namespace(x, 2.0, [x]) is bk.namespace(x)
    assert bk.namespace() is bk.namespace("numpy")
    with pytest.raises(bk.ArgumentTypeError, match="one backend name"):
        bk.namespace("jax", x)


@pytest.mark.parametrize("owner", BACKENDS)
def test_namespace_agrees_with_array_api_compat(owner):
    need(owner)
    array_api_compat = pytest.importorskip("array_api_compat")
    x = array(owner)
    ours = bk.namespace(x)
    theirs = array_api_compat.array_namespace(x)
    np.testing.assert_allclose(
        bk.to_numpy(ours.cumsum(x, axis=0)), bk.to_numpy(theirs.cumulative_sum(x, axis=0))
    )


# ---------------------------------------------------------------- a per-object backend
class Hypervectors:
    """HoloVec style: each object keeps its own backend, and no method says which."""

    def __init__(self, vectors):
        self.vectors = vectors

    @classmethod
    def random(cls, seed, n, dim, backend):
        phases = bk.random.uniform(seed, (n, dim), low=-np.pi, high=np.pi, backend=backend)
        return cls(xp.exp(1j * phases))

    def bind(self, other):
        return Hypervectors(self.vectors * other.vectors)

    def bundle(self):
        total = xp.sum(self.vectors, axis=0)
        return Hypervectors(total / xp.abs(total))

    def similarity(self, other):
        return xp.real(xp.sum(self.vectors * xp.conj(other.vectors), axis=-1)) / self.dim

    @property
    def dim(self):
        return self.vectors.shape[-1]


def test_a_per_object_backend_needs_no_use_backend():
    bk.set_backend("numpy")
    spaces = {n: Hypervectors.random(0, 4, 256, n) for n in bk.available_backends()}
    sims = {}
    for name, hv in spaces.items():
        bound = hv.bind(hv)
        memory = hv.bundle()
        sim = hv.similarity(memory)
        assert bk.backend_of(bound.vectors) == bk.backend_of(sim) == name
        sims[name] = bk.to_numpy(sim)
    for sim in sims.values():
        np.testing.assert_allclose(sim, sims["numpy"], rtol=1e-4, atol=1e-5)
    assert bk.get_backend() == "numpy"


# ---------------------------------------------------------------- error messages
@pytest.mark.parametrize("owner", BACKENDS)
def test_a_missing_name_says_which_backend_and_the_nearest(owner):
    need(owner)
    with bk.use_backend(owner), pytest.raises(AttributeError, match=owner) as info:
        xp.cumsumm(array(owner))
    assert "cumsum" in str(info.value)


@pytest.mark.parametrize("other", ["jax", "torch"])
def test_host_data_follow_a_selection_whose_framework_is_not_imported_yet(other: str) -> None:
    """xp with host data only, after the process's choice was read but before its
    framework was imported (and after a block that cached the dispatcher): the
    framework is imported then, and the result is its array."""
    skip_unless_installed(other)
    proc = run_python(
        f"""
        import sys
        import numpy as np
        import backendkit as bk
        from backendkit import xp
        with bk.use_backend("numpy"):
            assert type(xp.add(np.ones(2), np.ones(2))) is np.ndarray
        assert bk.get_backend() == {other!r} and {other!r} not in sys.modules
        y = xp.add(np.ones(2), np.ones(2))
        print(bk.backend_of(y), bk.to_numpy(y).tolist())
        """,
        env={"BACKENDKIT_BACKEND": other},
    )
    assert proc.stdout.split() == [other, "[2.0,", "2.0]"]
