"""Pytrees: the one adapter through which backendkit walks arguments and results.

JAX's control flow and transformations carry *pytrees* (nested tuples, lists, dicts,
namedtuples, and any class registered as a node, such as a
``jax.tree_util.register_dataclass`` dataclass) of arrays. Every place in backendkit
that walks arguments (the dispatch rule, the fallback loops, ``vmap``'s ``in_axes``,
``block_until_ready``) goes through this module, so that they all agree on what a
node is.

The walking itself is a maintained library's, never a copy: ``jax.tree_util`` when JAX
is already imported (it knows the nodes registered with JAX: flax and equinox modules,
registered dataclasses), else :mod:`optree` (the C++ pytree library PyTorch uses too).
Both treat ``None`` as an empty subtree, visit dict keys in sorted order and take any
unregistered object as a leaf. This module never imports JAX itself.

It imports nothing of backendkit, so that the backend classes can use it, and imports
optree at its first use (about 20 ms, not paid by ``import backendkit``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "LeafType",
    "broadcast_prefix",
    "compatible",
    "describe",
    "dtype_kind",
    "dtype_name",
    "flatten",
    "is_leaf",
    "leaf_type",
    "leaves",
    "mismatch",
    "tree_map",
    "unflatten",
]


def _jax_tree_util() -> Any:
    jax = sys.modules.get("jax")
    # getattr: a JAX still being imported has no tree_util yet
    return None if jax is None else getattr(jax, "tree_util", None)


_optree: Any = None


def _optree_module() -> Any:
    global _optree
    if _optree is None:
        import optree

        _optree = optree
    return _optree


def flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of ``tree`` in order, and its structure (a JAX ``PyTreeDef`` or an
    optree ``PyTreeSpec``; compare structures only with ``==`` and :func:`is_leaf`)."""
    tu = _jax_tree_util()
    if tu is not None:
        return tu.tree_flatten(tree)  # type: ignore[no-any-return]
    return _optree_module().tree_flatten(tree)  # type: ignore[no-any-return]


def leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in order."""
    tu = _jax_tree_util()
    if tu is not None:
        return tu.tree_leaves(tree)  # type: ignore[no-any-return]
    return _optree_module().tree_leaves(tree)  # type: ignore[no-any-return]


def unflatten(treedef: Any, values: Iterable[Any]) -> Any:
    """The pytree of structure ``treedef`` with ``values`` as its leaves."""
    return treedef.unflatten(list(values))


def is_leaf(treedef: Any) -> bool:
    """Whether ``treedef`` is the structure of a single leaf."""
    return bool(treedef.num_nodes == 1 and treedef.num_leaves == 1)


_WRAPPER = re.compile(r"^PyTree(?:Def|Spec)\((.*?)(?:, NoneIsLeaf)?\)$", re.DOTALL)


def describe(treedef: Any) -> str:
    """``treedef`` in words JAX and optree print alike: ``(*, {'a': *})``."""
    text = str(treedef)
    match = _WRAPPER.match(text)
    return match.group(1) if match else text


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``fn`` applied leaf by leaf to ``tree`` (and trees of the same structure)."""
    values, treedef = flatten(tree)
    others = [treedef.flatten_up_to(r) for r in rest]
    return treedef.unflatten([fn(*args) for args in zip(values, *others, strict=True)])


def broadcast_prefix(prefix: Any, tree: Any, what: str) -> list[Any]:
    """One value of ``prefix`` per leaf of ``tree``: each leaf of ``prefix`` (``None``
    included) applies to the whole subtree of ``tree`` at its place, as JAX's
    ``in_axes`` do.

    Raises
    ------
    ValueError
        If ``prefix`` is not a prefix of ``tree``'s structure; the message names
        ``what`` and both structures.
    """
    tu = _jax_tree_util()
    if tu is not None:
        values, prefix_def = tu.tree_flatten(prefix, is_leaf=lambda x: x is None)
    else:
        values, prefix_def = _optree_module().tree_flatten(prefix, none_is_leaf=True)
    try:
        subtrees = prefix_def.flatten_up_to(tree)
    except ValueError:
        raise ValueError(
            f"{what} {prefix!r} does not match the argument's structure "
            f"{describe(flatten(tree)[1])}: give one entry per element, or a single int "
            f"or None"
        ) from None
    out: list[Any] = []
    for value, subtree in zip(values, subtrees, strict=True):
        out.extend([value] * len(leaves(subtree)))
    return out


# ---------------------------------------------------------------------- leaf types
_KIND_ORDER = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}
_PY_KINDS = {bool: "b", int: "i", float: "f", complex: "c"}


class LeafType(NamedTuple):
    """What JAX compares between two pytree leaves: shape, dtype, and whether the dtype
    is *weak* (a Python number, which takes the dtype of what it meets)."""

    shape: tuple[int, ...]
    dtype: str  # "float32", ...; for a weak leaf the kind: "int", "float", "complex"
    weak: bool

    def kind(self) -> str:
        return dtype_kind(self.dtype)

    def __str__(self) -> str:
        weak = " (weakly typed, as from a Python number)" if self.weak else ""
        return f"{self.dtype}[{','.join(map(str, self.shape))}]{weak}"


_DTYPE_NAMES: dict[Any, str] = {}


def dtype_name(dtype: Any) -> str:
    """``"float32"`` for numpy's, JAX's or PyTorch's float32 dtype, and so on."""
    try:
        return _DTYPE_NAMES[dtype]
    except KeyError:  # str() of a NumPy dtype costs microseconds: once per dtype
        name = _DTYPE_NAMES[dtype] = str(dtype).rpartition(".")[2]
        return name
    except TypeError:  # unhashable
        return str(dtype).rpartition(".")[2]


def dtype_kind(name: str) -> str:
    """NumPy's kind letter for a dtype name (``"f"`` for ``"bfloat16"`` too)."""
    for prefix, kind in (("bool", "b"), ("uint", "u"), ("int", "i"), ("complex", "c")):
        if name.startswith(prefix):
            return kind
    return "f" if "float" in name else "O"


def leaf_type(leaf: Any) -> LeafType:
    """The :class:`LeafType` of an array, a Python number, or a JAX ``ShapeDtypeStruct``."""
    kind = _PY_KINDS.get(type(leaf))
    if kind is not None:
        if kind == "b":  # JAX keeps Python bools strongly typed
            return LeafType((), "bool", False)
        return LeafType((), {"i": "int", "f": "float", "c": "complex"}[kind], True)
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        dtype = np.asarray(leaf).dtype
    return LeafType(tuple(np.shape(leaf)), dtype_name(dtype), bool(getattr(leaf, "weak_type", 0)))


def compatible(a: LeafType, b: LeafType) -> bool:
    """Whether JAX accepts leaves of types ``a`` and ``b`` in the same place of two
    branch outputs: equal shapes, and equal dtypes unless one side is a Python number
    of a kind that the other dtype can hold."""
    if a.shape != b.shape:
        return False
    if a.weak == b.weak:
        return a.dtype == b.dtype if not a.weak else a.kind() == b.kind()
    weak, strong = (a, b) if a.weak else (b, a)
    return _order(weak) <= _order(strong)


def _order(t: LeafType) -> int:
    return _KIND_ORDER.get(t.kind(), 9 if t.weak else -1)


def mismatch(a: Any, b: Any, *, loop: bool = False) -> str | None:
    """Where pytrees ``a`` and ``b`` (of leaves, or of :class:`LeafType`) differ in
    structure, shape or dtype, in words; ``None`` if JAX would accept them together.

    ``loop=True`` applies JAX's rule for a loop carry (``a`` the input, ``b`` the
    output), where a Python number in the input may become an array of a dtype that
    can hold it.
    """
    la, da = flatten(a)
    lb, db = flatten(b)
    if da != db:
        return f"the structures differ: {describe(da)} against {describe(db)}"
    for pos, (x, y) in enumerate(zip(la, lb, strict=True)):
        dx, dy = getattr(x, "dtype", None), getattr(y, "dtype", None)
        if dx is not None and dx == dy and x.shape == y.shape:
            continue  # the common case, decided without building LeafTypes
        tx = x if isinstance(x, LeafType) else leaf_type(x)
        ty = y if isinstance(y, LeafType) else leaf_type(y)
        if loop and tx.weak:
            # JAX promotes a Python-number carry to the body's output dtype when that
            # dtype can hold it (0 may become 0.5, 0.5 may not become an int)
            ok = tx.shape == ty.shape and _order(tx) <= _order(ty)
        else:
            ok = compatible(tx, ty)
        if not ok:
            where = f"leaf {pos} of {describe(da)}" if not is_leaf(da) else "the output"
            what = "shapes" if tx.shape != ty.shape else "dtypes"
            return f"the {what} differ at {where}: {tx} against {ty}"
    return None
