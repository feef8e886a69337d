"""Function transformations on every backend: :func:`jit`, :func:`vmap`, :func:`grad`,
:func:`value_and_grad` and :func:`jacobian`.

* ``jit``: ``jax.jit`` under JAX; the identity under NumPy; under PyTorch the identity,
  or ``torch.compile`` on request;
* ``vmap``: ``jax.vmap``; ``torch.func.vmap``; under NumPy a Python loop whose results
  are stacked (``in_axes`` and ``out_axes`` honoured, ``None`` included);
* ``grad``, ``value_and_grad``, ``jacobian``: ``jax.grad``/``jax.value_and_grad``/
  ``jax.jacobian``; ``torch.func.grad``/``grad_and_value``/``jacrev``; under NumPy
  central finite differences.

**Which backend runs** (the dispatch rule, :mod:`backendkit._dispatch`). A
transformed function picks its backend each time it is called: the framework of the
JAX or PyTorch arrays among the arguments, else the current backend (NumPy arrays and
Python numbers are host data). So one ``bk.grad(f)`` differentiates NumPy, JAX and
PyTorch inputs alike, and ``f`` runs with that backend selected: ``xp``,
:func:`~backendkit.asarray`, :func:`~backendkit.put` and ``backendkit.random`` inside
``f`` follow the caller's arrays, also while ``jax.jit`` or ``torch.func`` traces
it; the selection comes back afterwards, also when ``f`` raises. What each backend
builds (``jax.jit(f)``, ``jax.grad(f)``, a compiled torch function) is built once per
backend and kept. Host data in a differentiated or mapped argument becomes the
backend's arrays first, as :func:`~backendkit.asarray` makes them (so under PyTorch
``bk.grad(f)(1.0)`` works, and under a default dtype of float32 a NumPy float64 input
is differentiated in float32).

**torch.compile.** ``jit(f, torch_compile=True)`` (or a dict of ``torch.compile``
options) compiles under PyTorch. It is off by default: compiling costs seconds to
minutes at the first call and again for each new input shape, needs a C++ compiler for
the CPU, and pays off only for functions run many times on the same shapes.

**Finite differences (NumPy, and ``method="fd"``).** Without autodiff, or on any
backend when ``method="fd"`` asks for them (DESC tests its derivatives both ways),
derivatives are central differences
``(f(x + h e_i) - f(x - h e_i)) / (2 h)``, one coordinate at a time (``2 n + 1``
evaluations for ``n`` inputs), with the step relative to the coordinate, as DESC does:
``h = eps ** (1/3) * max(|x_i|, 1)``, ``eps`` the machine epsilon of the input's dtype.
That step balances the truncation error ``h**2 |f'''| / 6`` against the rounding
error ``eps |f| / h``: with ``s = max(|x_i|, 1)`` the error is about
``eps ** (2/3) * (s**2 |f'''| / 6 + |f| / s)``, for a function and third derivative
of order one near a point of order one about ``4e-11`` in float64 and ``2e-5`` in
float32; more where ``f`` varies fast compared with ``|x_i|`` (``sin(x)`` at
``x = 40``: about ``1e-8``). The inputs must be real floating point; use JAX or
PyTorch for complex ones.

Bad arguments raise the same errors on every backend, naming the argument: functions
that are not callable, ``argnums`` out of range, non-float inputs to a derivative, a
non-scalar output to :func:`grad` (:class:`~backendkit.ArgumentTypeError` and
:class:`~backendkit.ArgumentValueError`); ``in_axes`` that do not match the arguments.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

from . import _loops, _tree, backends, finite_differences
from ._dispatch import backend_for, host_kwargs_to, host_to, run_with, selecting, to_backend
from .backends import Backend
from .errors import ArgumentTypeError, ArgumentValueError

__all__ = ["grad", "jacobian", "jit", "value_and_grad", "vmap"]


def _check_callable(where: str, fun: Any) -> None:
    if not callable(fun):
        raise ArgumentTypeError(
            f"{where}: fun must be a function, got {type(fun).__name__} {fun!r}"
        )


# ---------------------------------------------------------------------- jit
def jit(
    fun: Callable[..., Any] | None = None,
    *,
    static_argnums: int | tuple[int, ...] | None = None,
    static_argnames: str | tuple[str, ...] | None = None,
    torch_compile: bool | dict[str, Any] = False,
) -> Any:
    """``fun`` compiled where the backend compiles: ``jax.jit`` under JAX, the
    identity under NumPy, under PyTorch the identity or ``torch.compile``.

    Usable as ``jit(f)``, ``@jit`` and ``@jit(static_argnums=...)``.

    Parameters
    ----------
    fun : callable
        The function.
    static_argnums, static_argnames : optional
        Passed to ``jax.jit``: arguments that are Python values, not arrays.
    torch_compile : bool or dict, default False
        Compile with ``torch.compile`` under PyTorch (a dict: its keyword
        arguments, e.g. ``{"mode": "reduce-overhead"}``). See
        :mod:`backendkit.transforms` for the trade-off.

    Returns
    -------
    callable
        Picks the backend at each call from its arguments (see
        :mod:`backendkit.transforms`); compiles once per backend.

    Raises
    ------
    ArgumentTypeError
        If ``fun`` is not callable.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> @bk.jit
    ... def norm2(x):
    ...     return (x * x).sum()
    >>> float(norm2(np.arange(3.0)))
    5.0
    """
    _check_static("static_argnums", static_argnums, int)
    _check_static("static_argnames", static_argnames, str)
    if not isinstance(torch_compile, (bool, dict)):
        raise ArgumentTypeError(
            f"jit: torch_compile must be True, False or a dict of torch.compile options, "
            f"got {type(torch_compile).__name__} {torch_compile!r}"
        )
    options: dict[str, Any] = {
        "static_argnums": static_argnums,
        "static_argnames": static_argnames,
        "torch_compile": torch_compile,
    }
    if fun is None:
        return functools.partial(jit, **options)
    _check_callable("jit", fun)
    built: dict[str, Callable[..., Any]] = {}

    @functools.wraps(fun)
    def jitted(*args: Any, **kwargs: Any) -> Any:
        backend = backend_for(*args, *kwargs.values()) if kwargs else backend_for(*args)
        compiled = built.get(backend.name)
        if compiled is None:
            # the backend is selected while fun runs, and so while JAX traces it
            compiled = built[backend.name] = backend.jit(selecting(backend, fun), options)
        # host arrays become the backend's, as jax.jit makes them JAX arrays
        return compiled(*host_to(backend, args), **host_kwargs_to(backend, kwargs))

    return jitted


def _check_static(name: str, value: Any, kind: type) -> None:
    """``static_argnums`` (ints) or ``static_argnames`` (strs): one, or a tuple or list of
    them, checked on every backend, as JAX checks them only under JAX."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    if value is not None and not all(
        isinstance(v, kind) and not isinstance(v, bool) for v in items
    ):
        what = "an int or a tuple of ints" if kind is int else "a str or a tuple of strs"
        raise ArgumentTypeError(
            f"jit: {name} must be {what}, got {type(value).__name__} {value!r}"
        )


# ---------------------------------------------------------------------- vmap
def _check_axes_spec(name: str, axes: Any) -> None:
    for leaf in _tree.leaves(axes):
        if isinstance(leaf, bool) or not isinstance(leaf, int):
            raise ArgumentTypeError(
                f"vmap: {name} must hold ints and None, got {type(leaf).__name__} {leaf!r} "
                f"in {axes!r}"
            )


def vmap(fun: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """``fun`` mapped over an axis of its arguments: ``jax.vmap`` semantics everywhere.

    Parameters
    ----------
    fun : callable
        Called with one slice of each mapped argument.
    in_axes : int, None or tuple, default 0
        The axis of each positional argument to map over (``None``: not mapped, passed
        whole). A tuple has one entry per argument; an entry may itself be a tuple,
        list or dict matching that argument's structure.
    out_axes : int, None or pytree, default 0
        Where the mapped axis goes in each output (``None``: the output does not
        depend on the mapped axis and is returned once).

    Returns
    -------
    callable
        Takes positional arguments only (keyword arguments are not mapped by every
        backend alike: close over them instead).

    Raises
    ------
    ArgumentTypeError
        If ``fun`` is not callable, the axes are not ints and ``None``, or keyword
        arguments are given.
    ArgumentValueError
        If ``in_axes`` does not match the arguments, an axis is out of range, nothing
        is mapped, or the mapped axes have different sizes.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> outer = bk.vmap(lambda a, b: a * b, in_axes=(0, None), out_axes=1)
    >>> outer(np.arange(3), np.array([1, 10]))
    array([[ 0,  1,  2],
           [ 0, 10, 20]])
    """
    _check_callable("vmap", fun)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, tuple))) or isinstance(in_axes, bool):
        raise ArgumentTypeError(
            f"vmap: in_axes must be an int, None or a tuple with one entry per argument, "
            f"got {type(in_axes).__name__} {in_axes!r}"
        )
    _check_axes_spec("in_axes", in_axes)
    _check_axes_spec("out_axes", out_axes)
    # per backend and number of arguments (which fix the axes): the framework's vmap
    # of fun, run with that backend selected
    mapped_by: dict[Any, Callable[..., Any]] = {}

    @functools.wraps(fun)
    def mapped(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise ArgumentTypeError(
                f"vmap: keyword arguments ({', '.join(kwargs)}) are not mapped; pass them "
                f"positionally with an in_axes entry, or close over them"
            )
        axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise ArgumentValueError(
                f"vmap: in_axes {in_axes!r} has {len(axes)} entries but the function got "
                f"{len(args)} positional arguments; give one entry per argument"
            )
        flat_axes = _flat_axes(axes, args)
        backend = backend_for(*args)
        args = to_backend(backend, args)
        size = next(
            leaf.shape[ax]
            for leaf, ax in zip(_tree.leaves(args), flat_axes, strict=True)
            if ax is not None
        )
        if not backend.has_vmap:
            return run_with(backend, _loops.vmap, backend, fun, flat_axes, out_axes, args, size)
        target = mapped_by.get((backend.name, len(args)))
        if target is None:
            target = mapped_by[backend.name, len(args)] = backend.vmap(
                selecting(backend, fun), axes, out_axes
            )
        return target(*args)

    return mapped


def _flat_axes(axes: tuple[Any, ...], args: tuple[Any, ...]) -> list[int | None]:
    """One checked, non-negative axis (or ``None``) per leaf of ``args``."""
    flat: list[int | None] = []
    sizes: dict[int, str] = {}
    for pos, (spec, arg) in enumerate(zip(axes, args, strict=True)):
        try:
            per_leaf = _tree.broadcast_prefix(spec, arg, f"in_axes entry {pos}")
        except ValueError as exc:
            raise ArgumentValueError(f"vmap: {exc}") from None
        for ax, leaf in zip(per_leaf, _tree.leaves(arg), strict=True):
            if ax is None:
                flat.append(None)
                continue
            shape = tuple(getattr(leaf, "shape", ()))
            if not -len(shape) <= ax < len(shape):
                raise ArgumentValueError(
                    f"vmap: in_axes entry {ax} for argument {pos} is out of range for its "
                    f"shape {shape}; use an axis it has, or None to pass it whole"
                )
            ax %= len(shape)
            sizes.setdefault(shape[ax], f"argument {pos} has {shape[ax]} along axis {ax}")
            flat.append(ax)
    if not sizes:
        raise ArgumentValueError(
            f"vmap: in_axes {axes!r} maps no argument; map at least one (an int entry)"
        )
    if len(sizes) > 1:
        raise ArgumentValueError(
            "vmap: the mapped axes have different sizes: " + "; ".join(sizes.values())
        )
    return flat


# ---------------------------------------------------------------------- derivatives
def _check_argnums(where: str, argnums: Any) -> None:
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    if not nums or any(isinstance(a, bool) or not isinstance(a, int) for a in nums):
        raise ArgumentTypeError(
            f"{where}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}"
        )
    if len(set(nums)) != len(nums):
        raise ArgumentValueError(f"{where}: argnums {argnums!r} repeats an argument")


def _normalise_argnums(where: str, argnums: Any, n: int) -> int | tuple[int, ...]:
    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    for a in nums:
        if not -n <= a < n:
            raise ArgumentValueError(
                f"{where}: argnums {argnums!r} is out of range for a call with {n} "
                f"positional argument{'s' if n != 1 else ''}; count from 0"
            )
    out = tuple(operator.index(a) % n for a in nums)
    if len(set(out)) != len(out):
        raise ArgumentValueError(f"{where}: argnums {argnums!r} names one argument twice")
    return out if isinstance(argnums, tuple) else out[0]


def _check_output(where: str, fun: Any, has_aux: bool, scalar: bool) -> Callable[..., Any]:
    """``fun`` with its output checked (at trace time under JAX) the same on every
    backend: a ``(value, aux)`` pair if ``has_aux``, a real floating value (a scalar
    for gradients)."""

    @functools.wraps(fun)
    def checked(*args: Any, **kwargs: Any) -> Any:
        out = fun(*args, **kwargs)
        if has_aux and (not isinstance(out, (tuple, list)) or len(out) != 2):
            raise ArgumentTypeError(
                f"{where}: with has_aux=True the function must return a pair "
                f"(value, aux), got {type(out).__name__}"
            )
        value = out[0] if has_aux else out
        if scalar:  # an array that is a real floating scalar, at once (the common case)
            dtype = getattr(value, "dtype", None)
            if dtype is not None and not getattr(value, "shape", True) and _kind(dtype) == "f":
                return out
        for leaf in _tree.leaves(value) if not scalar else [value]:
            t = _tree.leaf_type(leaf)
            if t.kind() != "f" or (scalar and t.shape != ()):
                need = "a real floating-point scalar" if scalar else "real floating-point"
                raise ArgumentTypeError(
                    f"{where}: the function's output must be {need}, got {t}; "
                    + ("reduce it (e.g. .sum()) or use jacobian" if scalar else "cast it")
                )
        return out

    return checked


def _float_inputs(where: str, backend: Backend, args: list[Any], nums: tuple[int, ...]) -> None:
    """Make the differentiated arguments ``backend``'s arrays (host data converted, as
    :func:`~backendkit.asarray` does) and check that they are floating point."""
    for k in nums:
        arg = args[k]
        dtype = getattr(arg, "dtype", None)
        if dtype is not None and _owner(arg) is backend and _kind(dtype) in "fc":
            continue  # an array of the backend already: the common case, at once
        args[k] = arg = to_backend(backend, arg, numbers=True)
        for j, leaf in enumerate(_tree.leaves(arg)):
            if _tree.leaf_type(leaf).kind() not in "fc":
                raise ArgumentTypeError(
                    f"{where}: argument {k} (leaf {j}) is {_tree.leaf_type(leaf)}, but "
                    f"derivatives need floating-point inputs; pass floats, e.g. "
                    f"bk.asarray(x, dtype='float64')"
                )


def _owner(x: Any) -> Any:
    name = backends.owner_of(x)
    return None if name is None else backends.load(name)


_KINDS: dict[Any, str] = {}


def _kind(dtype: Any) -> str:
    try:
        return _KINDS[dtype]
    except KeyError:
        kind = _KINDS[dtype] = _tree.dtype_kind(_tree.dtype_name(dtype))
        return kind


def _by_finite_differences(
    where: str, fun: Any, argnums: Any, has_aux: bool, mode: str, backend: Backend
) -> Any:
    """``mode``'s derivative function of ``fun`` by central differences, with JAX's
    conventions for what it returns."""

    def derivative(*args: Any, **kwargs: Any) -> Any:
        nums = argnums if isinstance(argnums, tuple) else (argnums,)
        if any(backend.is_traced(leaf) for k in nums for leaf in _tree.leaves(args[k])):
            raise ArgumentValueError(
                f"{where}(method='fd') evaluates the function at concrete points, so it "
                f"cannot run while JAX traces it (inside jax.jit, jax.grad or jax.vmap); "
                f"use method='autodiff' there, or call it outside the transformation"
            )
        value, aux, deriv = finite_differences.derivatives(
            backend, fun, args, kwargs, argnums, has_aux
        )
        if mode == "value_and_grad":
            return ((value, aux) if has_aux else value), deriv
        return (deriv, aux) if has_aux else deriv

    return derivative


#: what ``method=`` of the derivative transforms accepts
METHODS = ("auto", "autodiff", "fd")


def _check_method(where: str, method: Any) -> None:
    if not isinstance(method, str) or method not in METHODS:
        raise ArgumentValueError(
            f"{where}: method must be one of {', '.join(map(repr, METHODS))}, got {method!r}"
        )


def _derivative(
    where: str, fun: Any, argnums: Any, has_aux: bool, mode: str, method: str
) -> Callable[..., Any]:
    _check_callable(where, fun)
    _check_argnums(where, argnums)
    _check_method(where, method)
    checked = _check_output(where, fun, has_aux, scalar=mode != "jacobian")
    # per (backend, argnums normalised for the number of arguments): the framework's
    # derivative of ``checked``, run with that backend selected; built at first use
    built: dict[tuple[str, Any], Callable[..., Any]] = {}
    normalised: dict[int, Any] = {}

    @functools.wraps(fun)
    def derivative(*args: Any, **kwargs: Any) -> Any:
        nums = normalised.get(len(args))
        if nums is None:
            nums = normalised[len(args)] = _normalise_argnums(where, argnums, len(args))
        backend = backend_for(*args, *kwargs.values()) if kwargs else backend_for(*args)
        args_list = list(host_to(backend, args))
        kwargs = host_kwargs_to(backend, kwargs)
        _float_inputs(where, backend, args_list, nums if isinstance(nums, tuple) else (nums,))
        fn = built.get((backend.name, nums))
        if fn is None:
            target = selecting(backend, checked)
            if method == "fd" or (method == "auto" and not backend.has_autodiff):
                fn = _by_finite_differences(where, target, nums, has_aux, mode, backend)
            elif backend.has_autodiff:
                fn = getattr(backend, mode)(target, nums, has_aux)
            else:
                raise ArgumentValueError(
                    f"{where}(method='autodiff'): the {backend.name} backend has no "
                    f"autodiff; use method='fd' (or 'auto', which falls back to finite "
                    f"differences), or call it with JAX or PyTorch arrays"
                )
            built[(backend.name, nums)] = fn
        return fn(*args_list, **kwargs)

    return derivative


def grad(
    fun: Callable[..., Any],
    argnums: int | tuple[int, ...] = 0,
    *,
    has_aux: bool = False,
    method: str = "auto",
) -> Callable[..., Any]:
    """The gradient of scalar function ``fun``: ``jax.grad`` semantics on every backend.

    Autodiff under JAX (``jax.grad``) and PyTorch (``torch.func.grad``); central
    finite differences under NumPy (step and accuracy in :mod:`backendkit.transforms`).

    Parameters
    ----------
    fun : callable
        Returns a real floating-point scalar (with ``has_aux``: ``(scalar, aux)``).
    argnums : int or tuple of ints, default 0
        Which positional arguments to differentiate (negative counts from the end);
        a tuple gives a tuple of gradients.
    has_aux : bool, default False
        ``fun`` returns ``(value, aux)``; the gradient function then returns
        ``(gradient, aux)``.
    method : {"auto", "autodiff", "fd"}, default "auto"
        ``"auto"``: the framework's autodiff (JAX, PyTorch), central finite differences
        where there is none (NumPy). ``"fd"``: finite differences on every backend,
        with the same step rule, to compare with autodiff in one process (not under
        ``jax.jit``: the function is evaluated at concrete points). ``"autodiff"``:
        autodiff or an error.

    Returns
    -------
    callable
        Returns gradients shaped (and structured) like the arguments in ``argnums``.

    Raises
    ------
    ArgumentTypeError
        If ``fun`` is not callable, ``argnums`` not ints, an input not floating
        point, or the output not a real floating-point scalar.
    ArgumentValueError
        If ``argnums`` is out of range for the call, ``method`` is not one of the
        three, ``"autodiff"`` is asked of NumPy, or ``"fd"`` is traced by JAX.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> g = bk.grad(lambda x: (x ** 3).sum())
    >>> np.round(g(np.array([1.0, 2.0])), 6)  # 3 x**2, by finite differences on numpy
    array([ 3., 12.])
    """
    return _derivative("grad", fun, argnums, has_aux, "grad", method)


def value_and_grad(
    fun: Callable[..., Any],
    argnums: int | tuple[int, ...] = 0,
    *,
    has_aux: bool = False,
    method: str = "auto",
) -> Callable[..., Any]:
    """``fun``'s value and gradient together: ``jax.value_and_grad`` on every backend.

    As :func:`grad` (``method`` included); the returned function gives
    ``(value, gradient)``, or ``((value, aux), gradient)`` with ``has_aux``.

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> value, g = bk.value_and_grad(lambda x: (x ** 2).sum())(np.array([3.0]))
    >>> float(value), np.round(g, 6)
    (9.0, array([6.]))
    """
    return _derivative("value_and_grad", fun, argnums, has_aux, "value_and_grad", method)


def jacobian(
    fun: Callable[..., Any],
    argnums: int | tuple[int, ...] = 0,
    *,
    has_aux: bool = False,
    method: str = "auto",
) -> Callable[..., Any]:
    """The Jacobian of ``fun``: ``jax.jacobian`` semantics on every backend.

    Reverse-mode autodiff under JAX (``jax.jacobian``) and PyTorch
    (``torch.func.jacrev``); central finite differences under NumPy.

    Parameters
    ----------
    fun : callable
        Returns real floating-point arrays (any pytree of them).
    argnums : int or tuple of ints, default 0
        As in :func:`grad`.
    has_aux : bool, default False
        ``fun`` returns ``(value, aux)``; the result is then ``(jacobian, aux)``.
    method : {"auto", "autodiff", "fd"}, default "auto"
        As in :func:`grad`.

    Returns
    -------
    callable
        Returns, for each output leaf, arrays of shape ``output.shape + input.shape``
        (JAX's layout: the output's structure outside, ``argnums``' inside).

    Raises
    ------
    ArgumentTypeError, ArgumentValueError
        As :func:`grad` (the output need not be a scalar).

    Examples
    --------
    >>> import numpy as np
    >>> import backendkit as bk
    >>> J = bk.jacobian(lambda x: x ** 2)(np.array([1.0, 2.0]))
    >>> np.round(J, 6)
    array([[2., 0.],
           [0., 4.]])
    """
    return _derivative("jacobian", fun, argnums, has_aux, "jacobian", method)
