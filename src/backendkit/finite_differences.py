"""Central finite differences: derivatives where a framework has no autodiff (NumPy),
and on every backend with ``method="fd"``.

:func:`backendkit.grad` and the other derivative transforms use these where the backend
has no autodiff, or wherever ``method="fd"`` asks for them, so that one process can
compare autodiff with finite differences, as DESC tests its derivatives "both ways".
The step rule and its error are explained in :mod:`backendkit.transforms`;
:func:`step_size` is the rule itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _tree
from .errors import ArgumentTypeError

__all__ = ["STEP_POWER", "derivatives", "step_size"]


#: the central-difference step is ``eps ** STEP_POWER * max(|x|, 1)``
STEP_POWER = 1.0 / 3.0


def step_size(x: float, dtype: Any) -> float:
    """The central-difference step for a coordinate of value ``x`` and dtype ``dtype``.

    ``eps ** (1/3) * max(|x|, 1)``, which balances truncation (``h**2``) and rounding
    (``eps / h``) errors for a function and third derivative of order one.

    Examples
    --------
    >>> import numpy as np
    >>> from backendkit.finite_differences import step_size
    >>> bool(step_size(0.5, np.float64) == np.finfo(np.float64).eps ** (1 / 3))
    True
    >>> round(step_size(-8.0, np.float32) / step_size(1.0, np.float32), 6)
    8.0
    """
    eps = float(np.finfo(dtype).eps)
    return float(eps**STEP_POWER * max(abs(float(x)), 1.0))


def derivatives(
    backend: Any,
    fun: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    argnums: int | tuple[int, ...],
    has_aux: bool,
) -> tuple[Any, Any, Any]:
    """``(value, aux, jacobian)`` of ``fun`` at ``args`` by central differences.

    The Jacobian is laid out as JAX lays it out: ``fun``'s output structure, each
    output leaf holding (for a tuple ``argnums``, a tuple over them of) the argument's
    structure of arrays of shape ``output.shape + input.shape``, in the input's dtype.
    For a scalar ``fun`` that is the gradient. Costs ``2 n + 1`` evaluations of
    ``fun`` for ``n`` input elements.
    """
    base = fun(*args, **kwargs)
    value, aux = base if has_aux else (base, None)
    out_leaves, out_def = _tree.flatten(value)
    out_shapes = [tuple(np.shape(o)) for o in out_leaves]

    def outputs(new_args: list[Any]) -> list[np.ndarray]:
        out = fun(*new_args, **kwargs)
        return [np.asarray(backend.to_numpy(o)) for o in _tree.leaves(out[0] if has_aux else out)]

    nums = argnums if isinstance(argnums, tuple) else (argnums,)
    # per_arg[k][o]: the Jacobian of output leaf o with respect to argument nums[k]
    per_arg = []
    for k in nums:
        in_leaves, in_def = _tree.flatten(args[k])
        per_leaf = [
            _leaf_jacobians(backend, args, k, in_leaves, in_def, j, out_shapes, outputs)
            for j in range(len(in_leaves))
        ]
        per_arg.append(
            [
                _tree.unflatten(in_def, [jacs[o] for jacs in per_leaf])
                for o in range(len(out_leaves))
            ]
        )
    jacobian = _tree.unflatten(
        out_def,
        (
            tuple(per_arg[k][o] for k in range(len(nums)))
            if isinstance(argnums, tuple)
            else per_arg[0][o]
            for o in range(len(out_leaves))
        ),
    )
    return value, aux, jacobian


def _leaf_jacobians(
    backend: Any,
    args: tuple[Any, ...],
    k: int,
    in_leaves: list[Any],
    in_def: Any,
    j: int,
    out_shapes: list[tuple[int, ...]],
    outputs: Callable[[list[Any]], list[np.ndarray]],
) -> list[Any]:
    """The Jacobians of every output leaf with respect to leaf ``j`` of argument ``k``."""
    x = np.array(backend.to_numpy(in_leaves[j]), copy=True)
    if x.dtype.kind != "f":
        raise ArgumentTypeError(
            f"finite differences need real floating-point inputs; leaf {j} of argument "
            f"{k} is {x.dtype}: use a backend with autodiff (jax, torch) for complex inputs"
        )
    flat = x.reshape(-1)
    jacs = [np.empty(shape + x.shape, dtype=x.dtype) for shape in out_shapes]
    views = [jac.reshape((*shape, flat.size)) for jac, shape in zip(jacs, out_shapes, strict=True)]

    def evaluate() -> list[np.ndarray]:
        leaves = list(in_leaves)
        leaves[j] = backend.asarray(x.copy())
        new = list(args)
        new[k] = _tree.unflatten(in_def, leaves)
        return outputs(new)

    for p in range(flat.size):
        x0 = flat[p]
        h = x.dtype.type(step_size(x0, x.dtype))
        # the divisor is the spacing of the two points as stored, not 2 h: the rounding
        # of x0 +- h then cancels out (Numerical Recipes, 5.7)
        up, down = x0 + h, x0 - h
        flat[p] = up
        f_up = evaluate()
        flat[p] = down
        f_down = evaluate()
        flat[p] = x0
        spacing = float(up) - float(down)
        for view, a, b in zip(views, f_up, f_down, strict=True):
            view[..., p] = (a.astype(np.float64) - b.astype(np.float64)) / spacing
    return [backend.asarray(jac) for jac in jacs]
