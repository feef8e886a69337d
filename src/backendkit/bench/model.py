"""A saved Keras model as a benchmark workload: ``benchmark(model_path=...)``.

stella's ``benchmark(model_path="model.keras")`` answers the question its users ask
("which Keras backend runs *my* model fastest here?") by loading the file under each
backend in turn. Here the file becomes one more :class:`~backendkit.bench.Workload`,
so that it gets what every workload gets: one fresh process per backend (Keras fixes
its backend at import), the first call timed apart from the steady state, medians
over samples, the machine recorded, and a table, JSON and plot.

What is timed is ``model.predict(x, batch_size=..., verbose=0)`` on ``size`` random
inputs of the model's input shape (or of the shape given), the same values on every
backend (drawn with :mod:`backendkit.random`), as a user's script would call it.
Before any child starts, the file is checked without keras (a missing or damaged file
is a :class:`~backendkit.ModelFileError`) and its input shapes are read from the
archive's ``config.json`` where it states them, so that a model whose input leaves
sizes open, or a shape that does not fit it, is refused at once
(:class:`~backendkit.BenchmarkError`). Every backend's predictions are then compared
with the reference's (NumPy's, or the first backend that ran) to the workload's
tolerance before its time counts.
"""

from __future__ import annotations

import functools
import json
import numbers
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BenchmarkError
from .workloads import Workload

__all__ = ["ModelWorkload", "model_workload"]

#: sizes (inputs per ``predict`` call) run when none are asked for
DEFAULT_SIZES = (64, 1024)

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ModelWorkload(Workload):
    """A :class:`~backendkit.bench.Workload` that times ``predict`` of a saved model.

    Made by :func:`model_workload`; its result records the model's path, the input
    shapes and the batch size next to the usual description and tolerance.
    """

    path: str = ""
    input_shapes: tuple[Shape, ...] | None = None
    batch_size: int | None = None

    def info(self) -> dict[str, Any]:
        """What a result records about this workload: the model too."""
        shapes = None if self.input_shapes is None else [list(s) for s in self.input_shapes]
        return {
            **super().info(),
            "model": self.path,
            "input_shapes": shapes,
            "batch_size": self.batch_size,
        }


# ------------------------------------------------------------------ in this process
def _declared_shapes(path: Path) -> list[tuple[int | None, ...]] | None:
    """The input shapes (batch axis dropped) the archive's ``config.json`` states, in
    the order of the model's inputs; ``None`` where it states none that can be read.

    Read without keras: Keras 3 saves each input as an ``InputLayer`` with its
    ``batch_shape`` among the model's top-level layers (a ``Sequential`` model built
    without one records ``build_input_shape`` instead).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            spec = json.loads(archive.read("config.json").decode("utf-8"))
        body = spec["config"]
        layers = {
            layer["config"]["name"]: layer["config"]
            for layer in body.get("layers", [])
            if layer.get("class_name") == "InputLayer"
        }
        names = body.get("input_layers")
        if isinstance(names, list) and names and isinstance(names[0], str):
            names = [names]  # one input: ["name", 0, 0]
        order = [n[0] for n in names] if isinstance(names, list) else list(layers)
        found = []
        for name in order:
            config = layers[name]
            shape = config.get("batch_shape") or config.get("batch_input_shape")
            found.append(tuple(shape[1:]))
        if not found and body.get("build_input_shape"):
            found = [tuple(body["build_input_shape"][1:])]
    except (KeyError, TypeError, IndexError, ValueError, OSError, zipfile.BadZipFile):
        return None  # a layout this reader does not know: the child reads the model
    if not found or not all(all(d is None or isinstance(d, int) for d in s) for s in found):
        return None
    return found


def _shape(value: Any, what: str) -> Shape:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise BenchmarkError(
            f"{what} must be a non-empty sequence of positive integers (the shape of one "
            f"input, without the batch axis), got {value!r}"
        )
    dims = []
    for d in value:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise BenchmarkError(
                f"{what} must hold positive integers (the shape of one input, without "
                f"the batch axis), got {value!r}"
            )
        dims.append(int(d))
    return tuple(dims)


def _given_shapes(input_shape: Any) -> list[Shape] | None:
    """``input_shape`` as one shape per input: ``(200, 1)`` for a model with one
    input, ``[(4,), (5,)]`` for one with two."""
    if input_shape is None:
        return None
    if (
        isinstance(input_shape, Sequence)
        and not isinstance(input_shape, (str, bytes))
        and input_shape
        and all(isinstance(s, Sequence) and not isinstance(s, (str, bytes)) for s in input_shape)
    ):
        return [_shape(s, f"input_shape[{i}]") for i, s in enumerate(input_shape)]
    return [_shape(input_shape, "input_shape")]


def _fmt(shape: Sequence[Any]) -> str:
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def _shapes_for(
    path: Path, given: list[Shape] | None, declared: list[tuple[int | None, ...]] | None
) -> list[Shape] | None:
    """The input shapes to feed, checked against what the file states; ``None`` when
    neither states them (the child reads them from the loaded model)."""
    if given is None:
        if declared is None:
            return None
        for shape in declared:
            if any(d is None for d in shape):
                raise BenchmarkError(
                    f"the model in {str(path)!r} takes inputs of shape {_fmt(shape)} "
                    f"(batch axis dropped), whose sizes are not all fixed: give the shape "
                    f"to time, e.g. input_shape={_fmt(tuple(d or 100 for d in shape))} "
                    f"(--input-shape on the command line)"
                )
        return [tuple(int(d) for d in s) for s in declared]  # type: ignore[arg-type]
    if declared is not None:
        if len(given) != len(declared):
            raise BenchmarkError(
                f"the model in {str(path)!r} has {len(declared)} inputs, of shapes "
                f"{', '.join(map(_fmt, declared))}, but {len(given)} input shape(s) were "
                f"given: give one per input, in order"
            )
        for g, d in zip(given, declared, strict=True):
            if len(g) != len(d) or any(
                x is not None and x != y for x, y in zip(d, g, strict=True)
            ):
                raise BenchmarkError(
                    f"input_shape {_fmt(g)} does not fit the model in {str(path)!r}, which "
                    f"takes inputs of shape {_fmt(d)} (batch axis dropped; None: any size)"
                )
    return given


def model_workload(
    path: str | os.PathLike[str],
    input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    batch_size: int | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> ModelWorkload:
    """The workload that times ``predict`` of the saved Keras model at ``path``.

    :func:`backendkit.benchmark` makes it from ``model_path=``; make it yourself to
    set the tolerance, or to time several models in one run.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.keras`` file written by ``model.save``.
    input_shape : tuple of int, or list of them, optional
        The shape of one input, without the batch axis (``(200, 1)``); one per input
        for a model with several. Default: the model's own, which must then fix every
        size.
    sizes : sequence of int
        Inputs per ``predict`` call, the sizes run when none are asked for.
    batch_size : int, optional
        ``predict``'s ``batch_size``; default Keras' own (32).
    rtol, atol : float
        The cross-backend check of the predictions (see
        :class:`~backendkit.bench.Workload`).

    Returns
    -------
    ModelWorkload
        Named ``model:<file name>``.

    Raises
    ------
    ModelFileError
        If ``path`` does not exist, is not a ``.keras`` archive, or holds no model
        (found without importing keras).
    ArgumentTypeError
        If ``path`` is not a ``str`` or ``os.PathLike``.
    BenchmarkError
        If ``input_shape`` is not a shape of positive integers or does not fit the
        model, if the model's own input shape leaves a size open and none is given,
        or if ``batch_size`` or the tolerances are not valid.

    Examples
    --------
    >>> from backendkit.bench import model_workload
    >>> model_workload("no/such/model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    backendkit.errors.ModelFileError: no Keras model at 'no/such/model.keras' ...
    """
    from ..keras._models import model_archive

    archive = model_archive(path).resolve()
    shapes = _shapes_for(archive, _given_shapes(input_shape), _declared_shapes(archive))
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise BenchmarkError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise BenchmarkError(f"{name} must be a non-negative number, got {value!r}")
    frozen = None if shapes is None else tuple(shapes)
    shown = "the model's input shape" if frozen is None else ", ".join(map(_fmt, frozen))
    return ModelWorkload(
        name=f"model:{archive.name}",
        setup=functools.partial(_setup, str(archive), frozen, batch_size),
        sizes=tuple(sizes),
        size_label=f"inputs of shape {shown}",
        description=(
            f"predict of the saved Keras model {archive.name} on n random inputs of "
            f"shape {shown}" + ("" if batch_size is None else f", batch_size {batch_size}")
        ),
        rtol=float(rtol),
        atol=float(atol),
        keras=True,
        path=str(archive),
        input_shapes=frozen,
        batch_size=None if batch_size is None else int(batch_size),
    )


# ------------------------------------------------------------------ in the child
def _setup(
    path: str, shapes: tuple[Shape, ...] | None, batch_size: int | None, size: int, seed: int
) -> tuple[Any, tuple[Any, ...]]:
    """Load the model and make ``size`` inputs; return ``predict`` and them."""
    import numpy as np

    from .. import random, to_numpy
    from ..keras import load_model

    model = load_model(path)
    inputs = list(model.inputs)
    if shapes is None:
        shapes = tuple(tuple(t.shape[1:]) for t in inputs)
        open_ = [s for s in shapes if any(d is None for d in s)]
        if open_:
            raise BenchmarkError(
                f"the model in {path!r} takes inputs of shape {_fmt(open_[0])}, whose "
                f"sizes are not all fixed: give the shape to time with input_shape="
            )
    if len(shapes) != len(inputs):
        raise BenchmarkError(
            f"the model in {path!r} has {len(inputs)} inputs but {len(shapes)} input "
            f"shape(s) were given"
        )
    arrays = []
    for i, (tensor, shape) in enumerate(zip(inputs, shapes, strict=True)):
        dtype = np.dtype(str(tensor.dtype))
        if dtype.kind != "f":
            raise BenchmarkError(
                f"input {i} of the model in {path!r} is {dtype}: the model benchmark "
                f"feeds random floating-point inputs; time integer inputs with a "
                f"Workload of your own (backendkit.bench.Workload)"
            )
        # the same values on every backend, so that the predictions can be compared
        values = to_numpy(random.normal(seed + i, (size, *shape), dtype="float32"))
        arrays.append(values.astype(dtype, copy=False))
    x = arrays[0] if len(arrays) == 1 else arrays

    def predict(x: Any) -> Any:
        out = model.predict(x, batch_size=batch_size, verbose=0)
        if isinstance(out, np.ndarray):
            return out
        # several outputs: one flat array, so that they are checked as one result
        leaves = out.values() if isinstance(out, dict) else out
        return np.concatenate([np.ravel(np.asarray(o)) for o in leaves])

    return predict, (x,)
