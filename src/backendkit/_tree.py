"""Pytrees for the backends that have none: tuples, lists, dicts and ``None``.

JAX's control flow and transformations carry *pytrees* (nested tuples, lists, dicts,
namedtuples) of arrays; the NumPy and PyTorch fallbacks must take and give back the same
structures, and say where two structures or leaf types differ the way JAX does. This
module is that small part of ``jax.tree_util``, written once for the fallbacks and for
the argument checks every backend shares. It imports nothing of backendkit, so that the
backend classes can use it.

As in JAX, ``None`` is an empty subtree (no leaves), dict keys are visited in sorted
order, and any other object is a leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "LeafType",
    "TreeDef",
    "broadcast_prefix",
    "compatible",
    "dtype_kind",
    "dtype_name",
    "flatten",
    "leaf_type",
    "leaves",
    "mismatch",
    "tree_map",
    "unflatten",
]


class TreeDef(NamedTuple):
    """The structure of a pytree without its leaves."""

    kind: str  # "leaf", "none", "tuple", "list", "dict", "namedtuple"
    meta: Any  # dict keys (sorted) or the namedtuple class
    children: tuple[TreeDef, ...]

    def __str__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(map(str, self.children))
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c}" for k, c in zip(self.meta, self.children, strict=True))
            return "{" + inner + "}"
        if self.kind == "list":
            return f"[{inner}]"
        if self.kind == "namedtuple":
            return f"{self.meta.__name__}({inner})"
        return f"({inner},)" if len(self.children) == 1 else f"({inner})"


_LEAF = TreeDef("leaf", None, ())
_NONE = TreeDef("none", None, ())


def _node(tree: Any) -> tuple[str, Any, Iterable[Any]] | None:
    if tree is None:
        return "none", None, ()
    t = type(tree)
    if t is tuple:
        return "tuple", None, tree
    if t is list:
        return "list", None, tree
    if t is dict:
        keys = tuple(sorted(tree))
        return "dict", keys, (tree[k] for k in keys)
    if isinstance(tree, tuple) and hasattr(t, "_fields"):
        return "namedtuple", t, tree
    return None


def flatten(tree: Any) -> tuple[list[Any], TreeDef]:
    """The leaves of ``tree`` in order, and its structure."""
    out: list[Any] = []
    return out, _flatten_into(tree, out)


def _flatten_into(tree: Any, out: list[Any]) -> TreeDef:
    node = _node(tree)
    if node is None:
        out.append(tree)
        return _LEAF
    kind, meta, children = node
    if kind == "none":
        return _NONE
    return TreeDef(kind, meta, tuple(_flatten_into(c, out) for c in children))


def leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree`` in order."""
    return flatten(tree)[0]


def unflatten(treedef: TreeDef, values: Iterable[Any]) -> Any:
    """The pytree of structure ``treedef`` with ``values`` as its leaves."""
    it = iter(values)
    return _build(treedef, it)


def _build(treedef: TreeDef, it: Any) -> Any:
    kind = treedef.kind
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    children = [_build(c, it) for c in treedef.children]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "dict":
        return dict(zip(treedef.meta, children, strict=True))
    return treedef.meta(*children)


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``fn`` applied leaf by leaf to ``tree`` (and trees of the same structure)."""
    values, treedef = flatten(tree)
    others = [flatten(r)[0] for r in rest]
    return unflatten(treedef, (fn(*args) for args in zip(values, *others, strict=True)))


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
    out: list[Any] = []
    _broadcast(prefix, tree, what, out)
    return out


def _broadcast(prefix: Any, tree: Any, what: str, out: list[Any]) -> None:
    node = _node(prefix) if prefix is not None else None
    if node is None:
        out.extend([prefix] * len(leaves(tree)))
        return
    kind, meta, pchildren = node
    tnode = _node(tree)
    if tnode is None or tnode[0] != kind or tnode[1] != meta:
        raise ValueError(
            f"{what} {prefix!r} does not match the argument's structure "
            f"{flatten(tree)[1]}: give one entry per element, or a single int or None"
        )
    pchildren, tchildren = list(pchildren), list(tnode[2])
    if len(pchildren) != len(tchildren):
        raise ValueError(
            f"{what} {prefix!r} has {len(pchildren)} entries but the argument has "
            f"{len(tchildren)} ({flatten(tree)[1]}): give one entry per element"
        )
    for p, t in zip(pchildren, tchildren, strict=True):
        _broadcast(p, t, what, out)


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
        return f"the structures differ: {da} against {db}"
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
            where = f"leaf {pos} of {da}" if da.kind != "leaf" else "the output"
            what = "shapes" if tx.shape != ty.shape else "dtypes"
            return f"the {what} differ at {where}: {tx} against {ty}"
    return None
