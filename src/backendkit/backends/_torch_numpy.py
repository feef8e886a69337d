"""The torch backend's namespace: array-api-compat's torch namespace, plus the NumPy
names that code written against ``jax.numpy`` calls and that namespace lacks.

Scientific code ported from JAX (DESC's ``jnp``, HoloVec's backends) calls NumPy
functions that the array API standard leaves out (``array``, ``copy``, ``interp``,
``polyval``, ``pad``, ``flatnonzero``, ``put_along_axis``, ...), and NumPy names that
array-api-compat hands through from torch with torch's meaning (``transpose`` swaps two
axes, ``dot`` takes vectors only, ``take`` has no ``axis``, ``where(c)`` needs three
arguments). The functions below give those names NumPy's signature and results on
tensors; tests/test_numpy_names.py checks each against NumPy.

:func:`namespace` builds the module that the torch backend uses as its namespace: its
own attributes are these functions, and any other name is array-api-compat's, read on
first use and then kept in the module (a PEP 562 ``__getattr__``), so that every later
read is a plain attribute look-up (:data:`backendkit.xp` reads one at each call). A name
that neither has raises an ``AttributeError`` naming the torch backend and the nearest
names there.

This module belongs to the torch plug-in (layer L1): it imports numpy, torch,
array-api-compat and :mod:`backendkit.errors` only. ``import backendkit`` does not
import it; the torch backend does when it loads.
"""

from __future__ import annotations

import difflib
import functools
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ArgumentTypeError, ArgumentValueError

try:
    import torch
    from array_api_compat import torch as compat
    from array_api_compat.torch import fft as compat_fft
    from array_api_compat.torch import linalg as compat_linalg
except ImportError:  # torch is not installed: the torch backend never loads, nothing here runs
    pass

__all__ = ["namespace"]

NAME = "backendkit.backends._torch_numpy"


# ---------------------------------------------------------------------- helpers
def _tensor(x: Any, like: Any = None) -> Any:
    """``x`` as a tensor (on ``like``'s device when ``like`` is a tensor)."""
    if isinstance(x, torch.Tensor):
        return x
    device = like.device if isinstance(like, torch.Tensor) else None
    return torch.as_tensor(x, device=device)


def _floating(dtype: Any) -> Any:
    """``dtype``, or torch's default floating dtype where ``dtype`` is not inexact."""
    if dtype.is_floating_point or dtype.is_complex:
        return dtype
    return torch.get_default_dtype()


# ---------------------------------------------------------------------- creation
def array(
    object: Any,
    dtype: Any = None,
    copy: bool | None = True,
    ndmin: int = 0,
    *,
    device: Any = None,
) -> Any:
    """``numpy.array``: a tensor from ``object``, a copy unless ``copy`` says otherwise.

    ``copy`` has NumPy 2's meaning: ``True`` always copies, ``None`` copies only where
    needed, ``False`` never copies (and raises where it would have to). Nested lists
    may hold tensors of equal shapes, as ``jnp.array([t1, t2])`` allows.
    """
    if isinstance(object, (list, tuple)) and _holds_tensor(object):
        out = torch.stack([array(item, device=device) for item in object])
        if dtype is not None:
            out = out.to(dtype)
    else:
        out = compat.asarray(object, dtype=dtype, device=device, copy=copy)
    if out.ndim < ndmin:
        out = out.reshape((1,) * (ndmin - out.ndim) + tuple(out.shape))
    return out


def _holds_tensor(items: Sequence[Any]) -> bool:
    return any(
        isinstance(i, torch.Tensor) or (isinstance(i, (list, tuple)) and _holds_tensor(i))
        for i in items
    )


def copy(a: Any) -> Any:
    """``numpy.copy``: a new tensor with ``a``'s values, sharing no memory with it."""
    return _tensor(a).clone()


# ---------------------------------------------------------------------- shapes
def reshape(a: Any, shape: int | Sequence[int], *, copy: bool | None = None) -> Any:
    """``numpy.reshape``: ``shape`` may also be a single integer."""
    if isinstance(shape, int):
        shape = (shape,)
    return compat.reshape(_tensor(a), tuple(shape), copy=copy)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    """``numpy.transpose``: the axes reversed, or permuted as ``axes`` says (torch's
    ``transpose`` swaps two axes instead)."""
    a = _tensor(a)
    return a.permute(tuple(reversed(range(a.ndim))) if axes is None else tuple(axes))


def concatenate(arrays: Sequence[Any], axis: int | None = 0, dtype: Any = None) -> Any:
    """``numpy.concatenate``: ``axis=None`` joins the flattened arrays."""
    tensors = [_tensor(x) for x in arrays]
    if axis is None:
        tensors, axis = [t.reshape(-1) for t in tensors], 0
    out = torch.cat(tensors, dim=axis)
    return out if dtype is None else out.to(dtype)


#: the modes of ``numpy.pad`` available on torch, and the keywords each takes
_PAD_KEYWORDS: dict[str, set[str]] = {
    "constant": {"constant_values"},
    "edge": set(),
    "wrap": set(),
    "reflect": {"reflect_type"},
    "symmetric": {"reflect_type"},
}


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    """``numpy.pad`` with the modes ``constant`` (``constant_values=``), ``edge``,
    ``wrap``, ``reflect`` and ``symmetric``.

    The index modes take their indices from NumPy's own ``pad`` of ``arange(n)``, so
    that every width, wide ones included, gives NumPy's result.
    """
    a = _tensor(array)
    widths = _pairs(pad_width, a.ndim, "pad_width")
    if widths.dtype.kind not in "iu":
        raise ArgumentTypeError(f"pad: pad_width must hold integers, got {pad_width!r}")
    if (widths < 0).any():
        raise ArgumentValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
    if mode not in _PAD_KEYWORDS:
        raise ArgumentValueError(
            f"pad: mode {mode!r} is not available on torch; use one of "
            f"{', '.join(map(repr, _PAD_KEYWORDS))}"
        )
    unknown = set(kwargs) - _PAD_KEYWORDS[mode]
    if unknown:
        raise ArgumentValueError(f"pad: mode {mode!r} takes no {', '.join(sorted(unknown))}")
    if kwargs.get("reflect_type", "even") != "even":
        raise ArgumentValueError("pad: only reflect_type='even' is available on torch")
    if mode == "constant":
        values = _pairs(kwargs.get("constant_values", 0), a.ndim, "constant_values")
        for axis, ((before, after), (low, high)) in enumerate(zip(widths, values, strict=True)):
            shape = list(a.shape)
            parts = []
            for width, value in ((before, low), (after, high)):
                shape[axis] = int(width)
                parts.append(torch.full(shape, value.item(), dtype=a.dtype, device=a.device))
            a = torch.cat([parts[0], a, parts[1]], dim=axis)
        return a
    for axis, (before, after) in enumerate(widths):
        width = (int(before), int(after))
        index = np.pad(np.arange(a.shape[axis]), width, mode=mode)  # type: ignore[call-overload]
        a = torch.index_select(a, axis, torch.from_numpy(index).to(a.device))
    return a


def _pairs(value: Any, ndim: int, what: str) -> np.ndarray:
    """``value`` as one (before, after) pair per axis, broadcast as ``numpy.pad`` does."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.broadcast_to(np.asarray(value), (ndim, 2))
    except ValueError:
        raise ArgumentValueError(
            f"pad: {what} {value!r} does not broadcast to one (before, after) pair for "
            f"each of {ndim} axes"
        ) from None


# ---------------------------------------------------------------------- indexing
_TAKE_MODES = ("raise", "wrap", "clip")


def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Any:
    """``numpy.take``: elements of ``a`` (flattened where ``axis`` is ``None``) at
    ``indices`` along ``axis``; ``mode`` is ``"raise"``, ``"wrap"`` or ``"clip"``."""
    a = _tensor(a)
    if mode not in _TAKE_MODES:
        raise ArgumentValueError(f"take: mode must be one of {_TAKE_MODES}, got {mode!r}")
    if axis is None:
        a, axis = a.reshape(-1), 0
    index = _tensor(indices, a)
    n = a.shape[axis]
    if mode == "wrap":
        index = torch.remainder(index, n)
    elif mode == "clip":
        index = index.clamp(0, n - 1)
    return a[(slice(None),) * (axis % a.ndim) + (index,)]


def put_along_axis(
    arr: Any, indices: Any, values: Any, axis: int | None, inplace: bool = True
) -> Any:
    """``numpy.put_along_axis``: ``values`` written into ``arr`` at ``indices`` along
    ``axis``, in place (NumPy's way, returning ``None``); with ``inplace=False`` into a
    copy that is returned (JAX's way)."""
    out = arr if inplace else arr.clone()
    index = _tensor(indices, out)
    if axis is None:
        if index.ndim != 1:
            raise ArgumentValueError(
                f"put_along_axis: with axis=None, indices must be one-dimensional, got "
                f"shape {tuple(index.shape)}"
            )
        target = out.view(-1) if out.is_contiguous() else out.reshape(-1)
        target[index] = _tensor(values, out).to(out.dtype)
        if target.data_ptr() != out.data_ptr():
            out.copy_(target.view(out.shape))
        return None if inplace else out
    if index.ndim != out.ndim:
        raise ArgumentValueError(
            f"put_along_axis: indices ({index.ndim} dimensions) and arr ({out.ndim}) must "
            f"have the same number of dimensions"
        )
    axis %= out.ndim
    fancy = tuple(
        index
        if dim == axis
        else torch.arange(n, device=out.device).reshape(
            (1,) * dim + (n,) + (1,) * (out.ndim - dim - 1)
        )
        for dim, n in enumerate(out.shape)
    )
    out[fancy] = _tensor(values, out).to(out.dtype)
    return None if inplace else out


def flatnonzero(a: Any) -> Any:
    """``numpy.flatnonzero``: the positions of the non-zero elements of flattened ``a``."""
    return torch.nonzero(_tensor(a).reshape(-1), as_tuple=True)[0]


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """``numpy.where``: ``x`` where ``condition`` holds, else ``y``; with the condition
    alone, the indices where it holds (a tuple, one array per axis)."""
    if x is None and y is None:
        return torch.nonzero(_tensor(condition), as_tuple=True)
    if x is None or y is None:
        raise ArgumentValueError("where: give both x and y, or neither")
    return compat.where(_tensor(condition), x, y)


# ---------------------------------------------------------------------- arithmetic
def dot(a: Any, b: Any) -> Any:
    """``numpy.dot``: the product of scalars, the inner product of vectors, the matrix
    product, and for N-d arrays the sum over ``a``'s last axis and ``b``'s
    second-to-last (torch's ``dot`` takes vectors only)."""
    a, b = _tensor(a), _tensor(b, a)
    dtype = torch.result_type(a, b)
    a, b = a.to(dtype), b.to(dtype)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return torch.tensordot(a, b, dims=([a.ndim - 1], [max(b.ndim - 2, 0)]))


def conj(x: Any) -> Any:
    """``numpy.conj`` (and ``conjugate``): a new tensor, not torch's lazy conjugate view,
    which shares memory with ``x`` and that ``Tensor.numpy()`` refuses."""
    return torch.conj_physical(_tensor(x))


def imag(val: Any) -> Any:
    """``numpy.imag``: the imaginary part; zeros for real input (torch raises there)."""
    val = _tensor(val)
    return torch.imag(val) if val.is_complex() else torch.zeros_like(val)


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Any:
    """``numpy.trace``: sums along diagonals of any two axes, for stacks of matrices too."""
    return torch.diagonal(_tensor(a), offset, axis1, axis2).sum(-1, dtype=dtype)


def _flattening(scan: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
        a = _tensor(a)
        if axis is None:
            a, axis = a.reshape(-1), 0
        return scan(a, dim=axis, dtype=dtype)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = (
        f"``numpy.{name}``: along ``axis``, or over the flattened array when it is ``None``."
    )
    return call


def interp(
    x: Any,
    xp: Any,
    fp: Any,
    left: Any = None,
    right: Any = None,
    period: float | None = None,
) -> Any:
    """``numpy.interp``: piecewise-linear interpolation of ``(xp, fp)`` at ``x``.

    ``xp`` must be increasing (or, with ``period``, is sorted after reduction modulo
    the period, as NumPy does). The result's dtype is the floating (or complex) type
    of the inputs, not always float64 as in NumPy.
    """
    x = _tensor(x)
    xp, fp = _tensor(xp, x), _tensor(fp, x)
    if xp.ndim != 1 or fp.ndim != 1 or xp.shape != fp.shape or xp.numel() == 0:
        raise ArgumentValueError(
            f"interp: xp and fp must be non-empty and one-dimensional, of equal length; "
            f"got shapes {tuple(xp.shape)} and {tuple(fp.shape)}"
        )
    real = torch.promote_types(_floating(x.dtype), _floating(xp.dtype))
    x, xp = x.to(real), xp.to(real).contiguous()
    fp = fp.to(torch.promote_types(real, fp.dtype))
    if period is not None:
        if period == 0:
            raise ArgumentValueError("interp: period must be non-zero")
        period = abs(period)
        left = right = None
        x = torch.remainder(x, period)
        xp, order = torch.sort(torch.remainder(xp, period))
        fp = fp[order]
        xp = torch.cat([xp[-1:] - period, xp, xp[:1] + period])
        fp = torch.cat([fp[-1:], fp, fp[:1]])
    if xp.numel() == 1:
        out = fp[0].expand(x.shape).clone()
    else:
        # a non-contiguous x would make searchsorted warn (and copy it anyway)
        hi = torch.searchsorted(xp, x.contiguous(), right=True).clamp(1, xp.numel() - 1)
        lo = hi - 1
        slope = (fp[hi] - fp[lo]) / (xp[hi] - xp[lo])
        out = slope * (x - xp[lo]) + fp[lo]
        out = torch.where(x == xp[-1], fp[-1], out)
    out = torch.where(x < xp[0], fp[0] if left is None else left, out)
    return torch.where(x > xp[-1], fp[-1] if right is None else right, out)


def polyval(p: Any, x: Any) -> Any:
    """``numpy.polyval``: the polynomial with coefficients ``p`` (highest power first)
    at ``x``, by Horner's scheme."""
    p = _tensor(p)
    x = _tensor(x, p)
    y = torch.zeros_like(x, dtype=torch.result_type(p, x))
    for coefficient in p:
        y = y * x + coefficient
    return y


# ---------------------------------------------------------------------- predicates
def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> bool:
    """``numpy.array_equal``: the same shape and the same elements (NaN equal to NaN
    when ``equal_nan``)."""
    a1 = _tensor(a1)
    a2 = _tensor(a2, a1)
    if a1.shape != a2.shape:
        return False
    same = a1 == a2
    if equal_nan:
        same |= torch.isnan(a1) & torch.isnan(a2)
    return bool(same.all())


def iscomplexobj(x: Any) -> bool:
    """``numpy.iscomplexobj``: whether ``x`` has a complex dtype."""
    return x.is_complex() if isinstance(x, torch.Tensor) else bool(np.iscomplexobj(x))


#: NumPy's abstract scalar types, which ``issubdtype`` takes as the second argument
_KINDS = {
    "generic": np.generic,
    "number": np.number,
    "integer": np.integer,
    "signedinteger": np.signedinteger,
    "unsignedinteger": np.unsignedinteger,
    "inexact": np.inexact,
    "floating": np.floating,
    "complexfloating": np.complexfloating,
}


#: the dtypes NumPy itself has (ml_dtypes' bfloat16, once registered with NumPy by JAX,
#: is no ``np.floating``: torch's bfloat16 answers by its kind instead)
_NUMPY_DTYPES = frozenset((
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
))  # fmt: skip


def _numpy_twin(dtype: Any) -> Any:
    """The NumPy dtype of torch dtype ``dtype``, ``None`` where NumPy has none (bfloat16)."""
    name = str(dtype).rpartition(".")[2]
    return np.dtype(name) if name in _NUMPY_DTYPES else None


def _stand_in(dtype: Any) -> Any:
    """A NumPy dtype of the same kind as torch dtype ``dtype``."""
    if dtype.is_floating_point:
        return np.float16
    if dtype.is_complex:
        return np.complex64
    return np.int8 if dtype.is_signed else np.uint8


def issubdtype(arg1: Any, arg2: Any) -> bool:
    """``numpy.issubdtype`` for torch dtypes: ``issubdtype(x.dtype, xp.floating)``.

    A torch dtype with no NumPy twin (``bfloat16``) answers for its kind: it is
    ``floating`` and ``inexact``, and no other dtype.
    """
    if isinstance(arg2, torch.dtype):
        if isinstance(arg1, torch.dtype):
            return bool(arg1 == arg2)
        twin = _numpy_twin(arg2)
        return twin is not None and bool(np.issubdtype(arg1, twin))
    if isinstance(arg1, torch.dtype):
        twin = _numpy_twin(arg1)
        if twin is None:  # a NumPy dtype of its kind stands in, asked only about kinds
            if not any(arg2 is kind for kind in _KINDS.values()):
                return False
            twin = _stand_in(arg1)
        arg1 = twin
    return bool(np.issubdtype(arg1, arg2))


# ---------------------------------------------------------------------- fft
def _two_axes(transform: Callable[..., Any], name: str) -> Callable[..., Any]:
    def call(
        a: Any,
        s: Sequence[int] | None = None,
        axes: Sequence[int] = (-2, -1),
        norm: str | None = None,
    ) -> Any:
        return transform(_tensor(a), s=s, dim=tuple(axes), norm=norm)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``numpy.fft.{name}``: over ``axes`` (torch calls them ``dim``)."
    return call


# ---------------------------------------------------------------------- the namespace
def _module(name: str, doc: str, fallback: Any, own: dict[str, Any]) -> types.ModuleType:
    """A module with ``own`` attributes whose other names are ``fallback``'s, each read
    once and then kept in the module's ``__dict__``."""
    module = types.ModuleType(name, doc)
    module.__dict__.update(own)

    def __getattr__(attr: str) -> Any:
        # dunder names are not forwarded: tools probe __file__, __path__, __wrapped__
        # and must not take array-api-compat's for this module's
        if attr[:2] != "__":
            try:
                value = getattr(fallback, attr)
            except AttributeError:
                pass
            else:
                module.__dict__[attr] = value
                return value
        raise AttributeError(_missing(module, attr))

    def __dir__() -> list[str]:
        return sorted(set(module.__dict__) | set(dir(fallback)))

    module.__dict__["__getattr__"] = __getattr__
    module.__dict__["__dir__"] = __dir__
    return module


def _missing(module: types.ModuleType, attr: str) -> str:
    public = [n for n in dir(module) if not n.startswith("_")]
    near = difflib.get_close_matches(attr, public, n=3)
    hint = f"; the nearest names there: {', '.join(near)}" if near else ""
    return f"the torch backend's namespace ({module.__name__}) has no {attr!r}{hint}"


@functools.cache
def namespace() -> types.ModuleType:
    """The torch backend's NumPy-style namespace (built once).

    Its own attributes are this module's functions under their NumPy names, the
    NumPy type names torch spells differently (``bool_`` is ``torch.bool``,
    ``ndarray`` is ``torch.Tensor``), NumPy's abstract scalar types for
    :func:`issubdtype` and ``power`` (array-api-compat's ``pow``); ``fft`` adds the
    two-axis transforms with NumPy's ``axes=``. Every other name is array-api-compat's
    torch namespace's.
    """
    fft = _module(
        f"{NAME}.fft",
        "numpy.fft names on torch: array-api-compat's torch fft with NumPy's axes=.",
        compat_fft,
        {
            name: _two_axes(getattr(torch.fft, name), name)
            for name in ("fft2", "ifft2", "rfft2", "irfft2")
        },
    )
    # linalg has no wrappers: a module of its own for the same missing-name errors
    linalg = _module(f"{NAME}.linalg", "numpy.linalg names on torch.", compat_linalg, {})
    own: dict[str, Any] = {
        "__array_api_version__": compat.__array_api_version__,
        "__array_namespace_info__": getattr(compat, "__array_namespace_info__"),  # noqa: B009 - not in its __all__
        "fft": fft,
        "linalg": linalg,
        "array": array,
        "copy": copy,
        "reshape": reshape,
        "transpose": transpose,
        "concatenate": concatenate,
        "pad": pad,
        "take": take,
        "put_along_axis": put_along_axis,
        "flatnonzero": flatnonzero,
        "where": where,
        "dot": dot,
        "conj": conj,
        "conjugate": conj,
        "imag": imag,
        "trace": trace,
        "cumsum": _flattening(torch.cumsum, "cumsum"),
        "cumprod": _flattening(torch.cumprod, "cumprod"),
        "interp": interp,
        "polyval": polyval,
        "power": compat.pow,
        "array_equal": array_equal,
        "iscomplexobj": iscomplexobj,
        "issubdtype": issubdtype,
        "bool_": torch.bool,
        "ndarray": torch.Tensor,
        **_KINDS,
    }
    return _module(
        NAME,
        "NumPy-style names on torch: array-api-compat's torch namespace and "
        "backendkit's wrappers for the NumPy names it lacks (backendkit.backends._torch_numpy).",
        compat,
        own,
    )
