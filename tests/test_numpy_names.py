"""NumPy names on every backend (issue 13): code written against ``jnp`` runs on torch.

Three things are checked here:

* the gap, measured: how many public names of ``jax.numpy`` (and of its ``linalg`` and
  ``fft``) each backend's namespace provides; ``pytest -s`` prints the table;
* the names that DESC's and HoloVec's backend modules and our tutorials call
  (``REQUIRED``) resolve on every backend and give NumPy's values, dtype kind and
  shape there, through :data:`backendkit.xp` as a user calls them;
* every other missing name raises an ``AttributeError`` that names the backend and the
  nearest spellings, from ``xp`` and from ``bk.namespace("torch")`` alike.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import BACKENDS, run_python, skip_unless_installed

import backendkit as bk
from backendkit import xp

ROOT = Path(__file__).resolve().parents[1]

# The names (never code) that ported code calls through jnp, np or xp, by origin. A
# dotted name is a submodule's (fft.rfft is jnp.fft.rfft).
REQUIRED: dict[str, tuple[str, ...]] = {
    # DESC (github.com/PlasmaControl/DESC), desc/backend.py: the jnp. and np. names its
    # JAX and NumPy branches call, and the jax.numpy names it re-exports
    # (`from jax.numpy import ...`, `from jax.numpy.fft import ...`)
    "DESC desc/backend.py": (
        "arange", "asarray", "atleast_1d", "atleast_2d", "bincount", "bool_", "clip",
        "dot", "exp", "eye", "finfo", "flatnonzero", "iinfo", "inexact", "issubdtype",
        "linspace", "moveaxis", "ndarray", "pad", "repeat", "sign", "signedinteger",
        "sqrt", "stack", "take", "trapezoid", "unsignedinteger", "where",
        "fft.ifft", "fft.irfft", "fft.irfft2", "fft.rfft", "fft.rfft2",
    ),
    # DESC modules' `from desc.backend import ...` lines: the names among them that are
    # jax.numpy's (the others, put/fori_loop/jit/vmap/tree_*, are backendkit's
    # functions, not namespace names)
    "DESC imports from desc.backend": (
        "put_along_axis", "bincount", "flatnonzero", "repeat", "take", "trapezoid",
        "sign", "fft.rfft", "fft.irfft",
    ),
    # issue 13 names these as failing on torch's xp
    "issue 13": ("array", "copy", "interp", "polyval"),
    # HoloVec (github.com/Twistient/HoloVec), holovec/backends/numpy_backend.py and
    # jax_backend.py: the np. and jnp. names they call (torch_backend.py calls torch)
    "HoloVec holovec/backends": (
        "abs", "add", "angle", "arange", "argmax", "argmin", "array", "array_equal",
        "bitwise_xor", "bool_", "clip", "complex64", "complex128", "concatenate", "conj",
        "conjugate", "divide", "dot", "exp", "float16", "float32", "float64", "imag",
        "int8", "int16", "int32", "int64", "iscomplexobj", "linspace", "log", "matmul",
        "max", "mean", "min", "multiply", "ndarray", "ones", "pi", "power", "real",
        "reshape", "roll", "sign", "stack", "subtract", "sum", "trace", "transpose",
        "uint8", "where", "zeros", "linalg.norm", "fft.fft", "fft.ifft", "fft.rfft",
        "fft.irfft",
    ),
    # our tutorials: every xp.<name> in tutorials/*.md (test_tutorial_names_listed)
    "tutorials": (
        "abs", "add", "arange", "argmax", "array", "asarray", "conj", "copy", "cos",
        "cumsum", "exp", "float32", "int32", "interp", "linspace", "max", "mean",
        "multiply", "ones", "polyval", "real", "roll", "sin", "sqrt", "stack", "sum",
        "tanh", "zeros", "linalg.slogdet",
    ),
}  # fmt: skip
ALL_REQUIRED = sorted({name for names in REQUIRED.values() for name in names})

# Measured with jax 0.10.2, numpy 2.4, torch 2.13, array-api-compat 1.16: of the 416
# public names of jax.numpy, array-api-compat's torch namespace alone had 263; the
# torch backend's namespace has 285. The floor catches a name lost on the way.
TORCH_PROVIDES_AT_LEAST = 285

# jnp names that stay missing on torch, each checked for its AttributeError
STILL_MISSING = ("nanmax", "polyfit", "unwrap", "lexsort", "histogram2d")


def resolve(ns, dotted: str):
    for part in dotted.split("."):
        ns = getattr(ns, part)
    return ns


def public(module) -> list[str]:
    return sorted(n for n in dir(module) if not n.startswith("_"))


# ---------------------------------------------------------------------- the gap
def test_gap_to_jax_numpy():
    """The table of ``jax.numpy`` names each backend's namespace provides."""
    skip_unless_installed("jax")
    import jax.numpy as jnp

    namespaces = {}
    for name in ("numpy", "jax", "torch"):
        if bk.backends.is_installed(name):
            namespaces[name] = bk.namespace(name)
    if "torch" in namespaces:
        import array_api_compat.torch as before

        # the torch backend's namespace before issue 13: array-api-compat's alone
        after = namespaces.pop("torch")
        namespaces = {**namespaces, "torch before": before, "torch": after}

    rows = {}
    for sub in ("", "linalg", "fft"):
        names = public(resolve(jnp, sub) if sub else jnp)
        counts = {}
        for label, ns in namespaces.items():
            target = resolve(ns, sub) if sub else ns
            counts[label] = sum(hasattr(target, n) for n in names)
        rows["jax.numpy" + (f".{sub}" if sub else "")] = (len(names), counts)

    lines = ["names of".ljust(18) + "count".rjust(7) + "".join(f"{c:>14}" for c in namespaces)]
    for row, (total, counts) in rows.items():
        cells = "".join(f"{counts[c]:>14}" for c in namespaces)
        lines.append(f"{row:<18}{total:>7}{cells}")
    print("\n" + "\n".join(lines))

    total, counts = rows["jax.numpy"]
    assert counts["jax"] == total  # the measure counts what is there
    if "numpy" in counts:
        assert counts["numpy"] > 0.9 * total
    if "torch" in counts:
        import torch

        ns = namespaces["torch"]
        missing = [n for n in public(jnp) if not hasattr(ns, n)]
        handed = [n for n in public(jnp) if getattr(ns, n, None) is getattr(torch, n, 0)]
        print(
            f"torch: {len(handed)} of its {counts['torch']} are torch's own functions, handed "
            f"through by array-api-compat with torch's signatures (dim=, not axis=)"
        )
        print(f"still missing on torch ({len(missing)}):", " ".join(missing))
        assert counts["torch"] >= TORCH_PROVIDES_AT_LEAST
        assert counts["torch"] > counts["torch before"]
        assert set(STILL_MISSING) <= set(missing)


def test_required_names_are_jax_numpy_names():
    skip_unless_installed("jax")
    import jax.numpy as jnp

    assert [n for n in ALL_REQUIRED if not _has(jnp, n)] == []


def _has(ns, dotted: str) -> bool:
    try:
        resolve(ns, dotted)
    except AttributeError:
        return False
    return True


def test_tutorial_names_listed():
    """Every ``xp.<name>`` the tutorials call is in the required list."""
    used = set()
    for page in sorted((ROOT / "tutorials").glob("*.md")):
        used |= set(re.findall(r"\bxp\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)", page.read_text()))
    submodules = {"linalg", "fft"}
    used = {n for n in used if n.split(".")[0] in submodules or "." not in n}
    assert sorted(used - set(REQUIRED["tutorials"])) == []


@pytest.mark.parametrize("name", BACKENDS)
def test_required_names_resolve(name):
    skip_unless_installed(name)
    ns = bk.namespace(name)
    assert [n for n in ALL_REQUIRED if not _has(ns, n)] == []


# ---------------------------------------------------------------------- against NumPy
A = np.array([[4.0, 1.0, 0.5], [2.0, 3.0, -1.0], [0.0, 1.5, 5.0]], dtype=np.float32)
B = np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32)
C = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.0
I = np.array([0, 2, 2, 1, 5], dtype=np.int32)
Z = np.array([1 + 2j, -0.5j, 3.0, -1 - 1j], dtype=np.complex64)
XP = np.array([0.0, 1.0, 2.5, 4.0], dtype=np.float32)
FP = np.array([0.0, 10.0, 5.0, 40.0], dtype=np.float32)
X = np.array([-1.0, 0.0, 0.5, 2.5, 3.0, 4.0, 9.0], dtype=np.float32)

# name -> cases; a case is f(ns, a): ns is numpy or xp, a makes a host array the
# backend's. Each gives NumPy's values, dtype kind and shape on every backend.
CASES = {
    "abs": lambda ns, a: ns.abs(a(B)),
    "add": lambda ns, a: ns.add(a(A), 1.0),
    "angle": lambda ns, a: ns.angle(a(Z)),
    "arange": lambda ns, a: ns.arange(0.0, 2.0, 0.25),
    "argmax": lambda ns, a: (ns.argmax(a(A), axis=1), ns.argmax(a(A))),
    "argmin": lambda ns, a: (ns.argmin(a(A), axis=0), ns.argmin(a(C))),
    "array": lambda ns, a: (
        ns.array([[1, 2], [3, 4]]),
        ns.array([1.5, 2.0]),
        ns.array([a(B), a(B)]),
        ns.array(a(B), ndmin=3),
    ),
    "array_equal": lambda ns, a: (
        ns.array_equal(a(A), a(A)),
        ns.array_equal(a(A), a(A) + 1),
        ns.array_equal(a(A), a(B)),
        ns.array_equal(a(B) / a(B), a(B) / a(B), equal_nan=True),
    ),
    "asarray": lambda ns, a: ns.asarray([[1, 2], [3, 4]]),
    "atleast_1d": lambda ns, a: ns.atleast_1d(a(np.float32(3.0))),
    "atleast_2d": lambda ns, a: ns.atleast_2d(a(B)),
    "bincount": lambda ns, a: (ns.bincount(a(I), minlength=8), ns.bincount(a(I), a(B[[0, 1, 2, 3, 3]]))),
    "bitwise_xor": lambda ns, a: ns.bitwise_xor(a(I), a(I[::-1].copy())),
    "clip": lambda ns, a: ns.clip(a(B), -1.0, 0.2),
    "concatenate": lambda ns, a: (
        ns.concatenate([a(A), a(A)], axis=1),
        ns.concatenate((a(A), a(B)), axis=None),
    ),
    "conj": lambda ns, a: ns.conj(a(Z)),
    "conjugate": lambda ns, a: ns.conjugate(a(Z)),
    "copy": lambda ns, a: ns.copy(a(A)),
    "cos": lambda ns, a: ns.cos(a(B)),
    "cumsum": lambda ns, a: (ns.cumsum(a(A), axis=0), ns.cumsum(a(A)), ns.cumsum(a(I))),
    "divide": lambda ns, a: ns.divide(a(A), 2.0),
    "dot": lambda ns, a: (
        ns.dot(a(A), a(A)),
        ns.dot(a(A), a(A[0])),
        ns.dot(a(B), a(B)),
        ns.dot(a(A[0]), a(A)),
        ns.dot(a(C), a(C[0].T)),
        ns.dot(a(A), 2.0),
    ),
    "exp": lambda ns, a: ns.exp(a(B)),
    "eye": lambda ns, a: ns.eye(3, 4, k=1),
    "flatnonzero": lambda ns, a: (ns.flatnonzero(a(B)), ns.flatnonzero(a(A))),
    "imag": lambda ns, a: (ns.imag(a(Z)), ns.imag(a(B))),
    "interp": lambda ns, a: (
        ns.interp(a(X), a(XP), a(FP)),
        ns.interp(a(X), a(XP), a(FP), left=-1.0, right=99.0),
        ns.interp(a(X), a(XP), a(FP), period=4.5),
        ns.interp(a(np.float32(1.5)), a(XP), a(FP)),
    ),
    "iscomplexobj": lambda ns, a: (ns.iscomplexobj(a(Z)), ns.iscomplexobj(a(B))),
    "linspace": lambda ns, a: ns.linspace(0.0, 1.0, 5),
    "log": lambda ns, a: ns.log(a(A) + 2.0),
    "matmul": lambda ns, a: ns.matmul(a(A), a(A)),
    "max": lambda ns, a: (ns.max(a(A), axis=0, keepdims=True), ns.max(a(A))),
    "mean": lambda ns, a: (ns.mean(a(A), axis=1), ns.mean(a(A))),
    "min": lambda ns, a: (ns.min(a(A), axis=1), ns.min(a(A))),
    "moveaxis": lambda ns, a: ns.moveaxis(a(C), 0, -1),
    "multiply": lambda ns, a: ns.multiply(a(A), 2.0),
    "ones": lambda ns, a: ns.ones((2, 3)),
    "pad": lambda ns, a: (
        ns.pad(a(A), 1),
        ns.pad(a(A), ((1, 2), (0, 1)), constant_values=((7.0, 8.0), (9.0, 10.0))),
        ns.pad(a(B), (2, 7), mode="edge"),
        ns.pad(a(A), ((0, 1), (5, 2)), mode="wrap"),
        ns.pad(a(B), 9, mode="reflect"),
        ns.pad(a(C), ((0, 0), (2, 1), (1, 3)), mode="symmetric"),
        ns.pad(a(I), (1, 0), constant_values=-3),
    ),
    "polyval": lambda ns, a: (
        ns.polyval(a(B), a(A)),
        ns.polyval(a(I[:3]), a(I)),
        ns.polyval(a(B), 0.5),
    ),
    "power": lambda ns, a: (ns.power(a(A), 2), ns.power(a(I), 2)),
    "real": lambda ns, a: (ns.real(a(Z)), ns.real(a(B))),
    "repeat": lambda ns, a: (
        ns.repeat(a(B), 2),
        ns.repeat(a(A), a(np.array([1, 0, 2])), axis=0),
        ns.repeat(a(A), 2),
    ),
    "reshape": lambda ns, a: (ns.reshape(a(A), (9,)), ns.reshape(a(A), -1), ns.reshape(a(C), (4, -1))),
    "roll": lambda ns, a: (ns.roll(a(A), 1, axis=0), ns.roll(a(A), 2)),
    "sign": lambda ns, a: ns.sign(a(B)),
    "sin": lambda ns, a: ns.sin(a(B)),
    "sqrt": lambda ns, a: ns.sqrt(ns.abs(a(B))),
    "stack": lambda ns, a: ns.stack([a(B), a(B)], axis=1),
    "subtract": lambda ns, a: ns.subtract(a(A), a(B[:3])),
    "sum": lambda ns, a: (ns.sum(a(A), axis=0), ns.sum(a(C), axis=(0, 2))),
    "take": lambda ns, a: (
        ns.take(a(A), a(np.array([0, -1, 4]))),
        ns.take(a(A), a(np.array([[0, 2], [1, 1]])), axis=1),
        ns.take(a(A), a(np.array([4, -5])), axis=0, mode="wrap"),
        ns.take(a(A), a(np.array([4, -5])), axis=-1, mode="clip"),
        ns.take(a(B), 2),
    ),
    "tanh": lambda ns, a: ns.tanh(a(B)),
    "trace": lambda ns, a: (
        ns.trace(a(A)),
        ns.trace(a(C), axis1=-2, axis2=-1),
        ns.trace(a(C), offset=1, axis1=0, axis2=2),
    ),
    "transpose": lambda ns, a: (ns.transpose(a(A)), ns.transpose(a(C)), ns.transpose(a(C), (1, 0, 2))),
    "trapezoid": lambda ns, a: (
        ns.trapezoid(a(A)),
        ns.trapezoid(a(A), axis=0),
        ns.trapezoid(a(A), a(XP[:3])),
        ns.trapezoid(a(A), dx=0.5),
    ),
    "where": lambda ns, a: (ns.where(a(B) > 0, a(B), 0.0 * a(B)), ns.where(a(A) > 1.0)),
    "zeros": lambda ns, a: ns.zeros((2, 3)),
    "linalg.norm": lambda ns, a: (
        ns.linalg.norm(a(A)),
        ns.linalg.norm(a(B)),
        ns.linalg.norm(a(A), ord=2, axis=1, keepdims=True),
    ),
    "linalg.slogdet": lambda ns, a: tuple(ns.linalg.slogdet(a(A))),
    "fft.fft": lambda ns, a: ns.fft.fft(a(B)),
    "fft.ifft": lambda ns, a: ns.fft.ifft(a(Z)),
    "fft.rfft": lambda ns, a: (ns.fft.rfft(a(B)), ns.fft.rfft(a(C), n=6, axis=1)),
    "fft.irfft": lambda ns, a: (ns.fft.irfft(a(Z)), ns.fft.irfft(a(Z), n=5)),
    "fft.rfft2": lambda ns, a: (ns.fft.rfft2(a(C)), ns.fft.rfft2(a(C), axes=(2, 0))),
    "fft.irfft2": lambda ns, a: (ns.fft.irfft2(a(A)), ns.fft.irfft2(a(A), s=(3, 4))),
    "finfo": lambda ns, a: float(ns.finfo(a(A).dtype).eps),
    "iinfo": lambda ns, a: int(ns.iinfo(a(I).dtype).max),
    "pi": lambda ns, a: float(ns.pi),
    "issubdtype": lambda ns, a: (
        bool(ns.issubdtype(a(A).dtype, ns.inexact)),
        bool(ns.issubdtype(a(A).dtype, ns.floating)),
        bool(ns.issubdtype(a(I).dtype, ns.inexact)),
        bool(ns.issubdtype(a(I).dtype, ns.signedinteger)),
        bool(ns.issubdtype(a(I).dtype, ns.unsignedinteger)),
        bool(ns.issubdtype(a(I.astype(np.uint8)).dtype, ns.unsignedinteger)),
        bool(ns.issubdtype(a(Z).dtype, ns.inexact)),
        bool(ns.issubdtype(a(Z).dtype, ns.floating)),
        bool(ns.issubdtype(a(A).dtype, ns.float32)),
        bool(ns.issubdtype(a(A).dtype, ns.int32)),
    ),
    "ndarray": lambda ns, a: (isinstance(a(A), ns.ndarray), isinstance([1.0], ns.ndarray)),
    "bool_": lambda ns, a: (a(B) > 0).dtype == ns.bool_,
}  # fmt: skip
#: names checked by a test of their own below rather than a case
OWN_TEST = {"put_along_axis"}
#: dtype names: each gives the dtype of NumPy's name on every backend
DTYPES = {"bool_", "complex64", "complex128", "float16", "float32", "float64", "int8",
          "int16", "int32", "int64", "uint8"}  # fmt: skip
#: names used only as issubdtype's second argument (checked in its case)
KINDS = {"inexact", "signedinteger", "unsignedinteger"}


def test_every_required_name_has_a_check():
    checked = set(CASES) | OWN_TEST | DTYPES | KINDS
    assert [n for n in ALL_REQUIRED if n not in checked] == []


def host(value):
    """A result as NumPy data, tuples kept (bk.to_numpy materialises torch's conjugate
    views, which inverse FFTs return and ``Tensor.numpy()`` refuses)."""
    if isinstance(value, tuple):
        return tuple(host(v) for v in value)
    framework = type(value).__module__.partition(".")[0]
    return bk.to_numpy(value) if framework in ("torch", "jax", "jaxlib") else np.asarray(value)


def test_to_numpy_of_torch_conjugate_and_negative_views():
    torch = pytest.importorskip("torch")
    z = torch.tensor([1 + 2j, 3 - 4j])
    np.testing.assert_array_equal(bk.to_numpy(torch.conj(z)), [1 - 2j, 3 + 4j])
    np.testing.assert_array_equal(bk.to_numpy(torch.fft.ifft(torch.fft.fft(z))), [1 + 2j, 3 - 4j])
    np.testing.assert_array_equal(bk.to_numpy(torch._neg_view(z)), [-1 - 2j, -3 + 4j])


def assert_like_numpy(got, want, where: str) -> None:
    if isinstance(want, tuple):
        assert isinstance(got, tuple), where
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_like_numpy(g, w, f"{where}[{i}]")
        return
    want = np.asarray(want)
    assert got.shape == want.shape, where
    assert got.dtype.kind == want.dtype.kind, f"{where}: {got.dtype} for NumPy's {want.dtype}"
    if want.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5, err_msg=where)
    else:
        np.testing.assert_array_equal(got, want, err_msg=where)


@pytest.mark.parametrize("name", sorted(CASES))
def test_like_numpy(backend, name):
    case = CASES[name]
    with np.errstate(divide="ignore", invalid="ignore"):  # array_equal's NaNs
        want = case(np, np.asarray)
        got = case(xp, bk.asarray)
    if backend != "numpy":  # no silent detour through NumPy: arrays are the backend's
        array_type = bk.namespace(backend).ndarray
        for leaf in got if isinstance(got, tuple) else (got,):
            assert isinstance(leaf, array_type) or not hasattr(leaf, "shape"), name
    assert_like_numpy(host(got), want, f"{backend}: {name}")


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_dtype_names(name):
    want = np.dtype(getattr(np, name)).name
    for backend in bk.available_backends():
        dtype = getattr(bk.namespace(backend), name)
        got = str(dtype).rpartition(".")[2] if backend == "torch" else np.dtype(dtype).name
        assert got == want, (backend, name)


def test_put_along_axis_in_place(backend):
    """NumPy's way: ``arr`` changes in place and ``None`` comes back."""
    if backend == "jax":
        pytest.skip("JAX arrays are immutable: jnp.put_along_axis refuses inplace=True")
    want = A.copy()
    index = np.array([[1], [0], [2]])
    assert np.put_along_axis(want, index, 9.0, axis=1) is None
    arr = bk.asarray(A.copy())  # NumPy's and torch's asarray share memory with A
    assert xp.put_along_axis(arr, bk.asarray(index), 9.0, axis=1) is None
    np.testing.assert_array_equal(bk.to_numpy(arr), want)

    # axis=None: positions in the flattened array, in C order; the array written is a
    # transposed view, which NumPy cannot flatten in place, so its reference is a copy
    want, arr = A.T.copy(), bk.asarray(A.copy()).T
    np.put_along_axis(want, np.array([1, 7]), -1.0, axis=None)
    if backend == "torch":
        xp.put_along_axis(arr, bk.asarray(np.array([1, 7])), -1.0, axis=None)
        np.testing.assert_array_equal(bk.to_numpy(arr), want)


def test_put_along_axis_copy_on_torch():
    """JAX's way, on torch too: ``inplace=False`` returns a new array, ``arr`` unchanged."""
    skip_unless_installed("torch")
    ns = bk.namespace("torch")
    arr = bk.asarray(C, backend="torch")
    index = np.array([[[3, -1]], [[0, 0]]])  # broadcast along axis 1, as NumPy does
    out = ns.put_along_axis(arr, bk.asarray(index, backend="torch"), 5.0, axis=2, inplace=False)
    want = C.copy()
    np.put_along_axis(want, index, 5.0, axis=2)
    np.testing.assert_array_equal(bk.to_numpy(out), want)
    np.testing.assert_array_equal(bk.to_numpy(arr), C)


def test_copy_and_conj_share_no_memory():
    """``copy``, ``array`` and ``conj`` give new tensors, as NumPy's give new arrays."""
    skip_unless_installed("torch")
    ns = bk.namespace("torch")
    t = bk.asarray(Z.copy(), backend="torch")
    for out in (ns.copy(t), ns.array(t), ns.conj(t), ns.conjugate(t)):
        before = bk.to_numpy(t).copy()
        out[0] = 100.0
        np.testing.assert_array_equal(bk.to_numpy(t), before)


def test_issubdtype_of_dtypes_numpy_lacks():
    """bfloat16 (which NumPy has not) answers for its kind, and equals only itself."""
    skip_unless_installed("torch")
    import torch

    ns = bk.namespace("torch")
    assert ns.issubdtype(torch.bfloat16, ns.floating)
    assert ns.issubdtype(torch.bfloat16, ns.inexact)
    assert not ns.issubdtype(torch.bfloat16, ns.integer)
    assert not ns.issubdtype(torch.bfloat16, ns.float16)
    assert not ns.issubdtype(torch.bfloat16, np.float16)
    assert ns.issubdtype(torch.bfloat16, torch.bfloat16)


def test_torch_names_load_with_the_torch_backend_only():
    proc = run_python(
        """
        import sys
        import backendkit as bk
        bk.namespace("numpy")
        print(sorted(m for m in ("torch", "backendkit.backends._torch_numpy") if m in sys.modules))
        """
    )
    assert proc.stdout.strip() == "[]"


# ---------------------------------------------------------------------- bad input
BAD = {
    "where with x alone": (lambda ns, a: ns.where(a(B) > 0, a(B)), ValueError),
    "interp of unequal xp and fp": (lambda ns, a: ns.interp(a(X), a(XP), a(FP[:3])), ValueError),
    "interp with period 0": (lambda ns, a: ns.interp(a(X), a(XP), a(FP), period=0), ValueError),
    "pad by a negative width": (lambda ns, a: ns.pad(a(B), -1), ValueError),
    "pad by a float width": (lambda ns, a: ns.pad(a(B), 1.5), TypeError),
    "pad in an unknown mode": (lambda ns, a: ns.pad(a(B), 1, mode="nope"), ValueError),
    "pad with another mode's keyword": (
        lambda ns, a: ns.pad(a(B), 1, mode="edge", constant_values=3),
        ValueError,
    ),
    "take in an unknown mode": (lambda ns, a: ns.take(a(B), a(I[:1]), mode="nope"), ValueError),
    "take out of range": (lambda ns, a: ns.take(a(B), a(np.array([4]))), IndexError),
    "put_along_axis with fewer index axes": (
        lambda ns, a: ns.put_along_axis(a(A), a(np.array([0, 1, 2])), 1.0, axis=1),
        ValueError,
    ),
}


@pytest.mark.parametrize("what", sorted(BAD))
@pytest.mark.parametrize("name", ["numpy", "torch"])
def test_bad_input_same_class_as_numpy(name, what):
    """On torch, the same built-in exception class as NumPy's (JAX's differ: jnp.where
    raises TypeError, jnp.pad NotImplementedError, jnp.take fills out-of-range slots)."""
    skip_unless_installed(name)
    case, expected = BAD[what]
    with pytest.raises(expected):
        case(np, np.asarray)
    with bk.use_backend(name), pytest.raises(expected) as info:
        case(xp, bk.asarray)
    if name == "torch" and expected is not IndexError:
        assert isinstance(info.value, bk.BackendError), what  # ours, with its message


def test_pad_keeps_the_input():
    skip_unless_installed("torch")
    ns = bk.namespace("torch")
    t = bk.asarray(B, backend="torch")
    for bad in ({"pad_width": -1}, {"pad_width": 1, "mode": "median"}):
        with pytest.raises(bk.ArgumentValueError, match="pad"):
            ns.pad(t, **bad)
    np.testing.assert_array_equal(bk.to_numpy(t), B)


# ---------------------------------------------------------------------- still missing
@pytest.mark.parametrize("missing", STILL_MISSING)
def test_missing_name_on_xp(missing):
    """Whether ``xp`` has seen the name on another backend (it then holds a
    dispatcher, which raises at the call) or not (it raises at the look-up)."""
    skip_unless_installed("torch")
    with bk.use_backend("torch"):
        with pytest.raises(AttributeError, match=rf"xp\.{missing}: the torch backend"):
            getattr(xp, missing)(bk.asarray(B))
        with bk.use_backend("numpy"):
            assert getattr(xp, missing) is not None  # numpy has it: a dispatcher now
        with pytest.raises(AttributeError, match=rf"xp\.{missing}: the torch backend"):
            getattr(xp, missing)(bk.asarray(B))


def test_missing_name_on_xp_names_the_nearest_spelling():
    skip_unless_installed("torch")
    with bk.use_backend("torch"):
        with pytest.raises(AttributeError, match=r"torch backend.*nearest names there: .*amax"):
            xp.nanmax(bk.asarray(B))
        with pytest.raises(AttributeError, match=r"torch backend.*nearest names there: .*unique"):
            xp.uniqe(bk.asarray(B))


@pytest.mark.parametrize("missing", [*STILL_MISSING, "uniqe", "fft.rfft3", "linalg.normm"])
def test_missing_name_on_namespace(missing):
    skip_unless_installed("torch")
    ns = bk.namespace("torch")
    with pytest.raises(AttributeError, match=rf"torch backend.*{missing.rpartition('.')[2]}"):
        resolve(ns, missing)


def test_namespace_is_ours_and_keeps_array_api_compat_names():
    """Wrappers first, array-api-compat's names otherwise, each read once and kept."""
    skip_unless_installed("torch")
    import array_api_compat.torch as compat

    ns = bk.namespace("torch")
    assert ns.__name__ == "backendkit.backends._torch_numpy"
    assert ns.interp is not getattr(compat, "interp", None)
    assert ns.sum is compat.sum
    assert "sum" in vars(ns)  # the next read is a plain attribute look-up
    assert ns.linalg.norm is compat.linalg.norm
    assert ns.fft.fft is compat.fft.fft
    assert {"interp", "sum"} <= set(dir(ns))
    assert "vector_norm" in dir(ns.linalg)
    assert "rfft2" in dir(ns.fft)
    with pytest.raises(AttributeError):
        ns.__file__  # noqa: B018  (dunder names are not array-api-compat's)
    assert bk.namespace("torch") is ns
