"""Saved Keras models: load and predict, with keras imported on the backend and device
chosen (:func:`import_keras`)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

from ..errors import ArgumentTypeError, KerasBackendError, ModelFileError
from ._choice import _persisted_device_environment, _set_environment, backend_and_source

__all__ = ["import_keras", "load_model", "model_archive", "predict"]


def import_keras() -> Any:
    """keras, imported with the backend :func:`current_backend` names and the
    accelerator :func:`swap_backend` persisted with it (unless the environment already
    chose a device).

    Raises
    ------
    KerasBackendError
        If keras would use tensorflow, which is not installed.
    """
    if "keras" not in sys.modules:
        name, source = backend_and_source()
        if name == "tensorflow" and importlib.util.find_spec("tensorflow") is None:
            raise KerasBackendError(
                f"keras would use tensorflow ({source}), which is not installed; call "
                f"backendkit.keras.configure('jax') (or 'torch', 'numpy') before this"
            )
        # the accelerator swap_backend persisted: Keras has no setting for it in
        # keras.json, so it is set here, where keras is about to be imported
        _set_environment(_persisted_device_environment(name))
    import keras

    return keras


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a saved ``.keras`` model for inference (``compile=False``).

    Raises
    ------
    ModelFileError
        If ``path`` does not exist, is not a ``.keras`` file (a zip archive keras wrote
        with ``model.save``), holds no model (no ``config.json``), is damaged, or keras
        fails to load it (the cause is chained); the message names the path and the
        fix. All but the last are found before keras is imported.
    ArgumentTypeError
        If ``path`` is not a ``str`` or ``os.PathLike``.
    KerasBackendError
        As :func:`flare_cnn`.

    Examples
    --------
    >>> from backendkit.keras import load_model
    >>> load_model("no/such/model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    backendkit.errors.ModelFileError: no Keras model at 'no/such/model.keras' ...
    """
    p = model_archive(path)
    keras = import_keras()
    try:
        return keras.models.load_model(p, compile=False)
    except (KeyError, ValueError, TypeError, AttributeError, OSError, zipfile.BadZipFile) as exc:
        raise ModelFileError(
            f"keras could not load the model in {str(p)!r} ({type(exc).__name__}: {exc}); "
            f"the archive may be damaged, or written by a Keras with layers this one "
            f"lacks: save it again with model.save('name.keras')"
        ) from exc


def model_archive(path: Any) -> Path:
    """``path`` checked, without keras, to be a ``.keras`` archive that holds a model."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"path must be a str or os.PathLike naming a .keras file, got "
            f"{type(path).__name__} {path!r}"
        )
    p = Path(path)
    if not p.exists():
        raise ModelFileError(
            f"no Keras model at {str(path)!r} (the path does not exist); check the path, "
            f"or save the model first with model.save('name.keras')"
        )
    if p.suffix != ".keras" or not zipfile.is_zipfile(p):
        raise ModelFileError(
            f"{str(path)!r} is not a Keras model file: load_model reads the .keras "
            f"archives written by model.save('name.keras'); convert other formats "
            f"(.h5, SavedModel) with the Keras they were written by"
        )
    # keras reads config.json first and answers a missing one with a bare KeyError
    try:
        with zipfile.ZipFile(p) as archive:
            names = archive.namelist()
            raw = archive.read("config.json") if "config.json" in names else None
    except (OSError, zipfile.BadZipFile, RuntimeError) as exc:  # RuntimeError: encrypted
        raise ModelFileError(
            f"{str(path)!r} is a damaged zip archive ({exc}); save the model again with "
            f"model.save('name.keras')"
        ) from exc
    if raw is None:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "") or "nothing"
        raise ModelFileError(
            f"{str(path)!r} is a zip archive but holds no Keras model (no config.json; it "
            f"holds {shown}); load_model reads the archives written by "
            f"model.save('name.keras')"
        )
    try:
        spec = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise ModelFileError(
            f"the config.json in {str(path)!r} is not valid JSON ({exc}); the archive is "
            f"damaged: save the model again with model.save('name.keras')"
        ) from exc
    if not isinstance(spec, dict):
        raise ModelFileError(
            f"the config.json in {str(path)!r} is not a JSON object but a "
            f"{type(spec).__name__}; the archive is damaged: save the model again with "
            f"model.save('name.keras')"
        )
    return p


def predict(path: str | os.PathLike[str], x: Any, batch_size: int = 256) -> Any:
    """Predictions of the saved model at ``path`` for ``x``, as a NumPy array.

    A module-level function, so that :func:`~backendkit.run_in_backend` can run it
    under any Keras backend: ``run_in_backend("torch", predict, path, x)``.

    Raises
    ------
    ModelFileError, KerasBackendError
        As :func:`load_model`.

    Examples
    --------
    >>> from backendkit import run_in_backend
    >>> from backendkit.keras import predict
    >>> run_in_backend("jax", predict, "model.keras", windows)  # doctest: +SKIP
    array([[0.01], [0.97], ...], dtype=float32)
    """
    import numpy as np

    model = load_model(path)
    return np.asarray(model.predict(np.asarray(x), batch_size=batch_size, verbose=0))
