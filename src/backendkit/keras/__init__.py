"""Keras on any backend: choose it in time, refuse clearly when it is too late.

Keras reads its backend once, when ``import keras`` runs (from ``KERAS_BACKEND``, else
``keras.json``, else its default ``tensorflow``), and keeps it for the life of the
process. Choosing it afterwards is the commonest Keras trap: setting the variable then
silently does nothing. This module therefore

- chooses the backend (and the device its framework uses) *before* keras is imported,
  and raises :class:`~backendkit.KerasBackendError` when keras is already
  running another backend, naming the two ways out: restart, or
  :func:`~backendkit.run_in_backend`, which runs code in a fresh interpreter;
- reports the backend keras uses or would use without importing keras
  (:func:`current_backend`, :func:`keras_config_path`): importing it would fix the
  backend, and would write ``keras.json`` if none exists;
- persists a choice, the accelerator included, for later sessions
  (:func:`swap_backend`), and says when a ``KERAS_BACKEND`` set in the environment
  will override it;
- loads a saved ``.keras`` model and predicts with it (:func:`load_model`,
  :func:`predict`), importing keras with the backend and device chosen
  (:func:`import_keras`).

Only the functions that need keras import it, inside the function: importing this
module imports neither keras nor any framework.

The package's modules, one concern each: ``_environment`` (what each Keras backend
needs: names, accelerators, the variables that choose a device, from the backend
plug-ins and, for tensorflow, here), ``_choice`` (what keras uses or would use, and
choosing it: :func:`configure`, :func:`swap_backend`), ``_models`` (saved models).
"""

from ._choice import (
    backend_and_source,
    configure,
    current_backend,
    environment_override,
    keras_config_path,
    saved_backend,
    swap_backend,
)
from ._environment import ACCELERATORS, KERAS_BACKENDS
from ._models import import_keras, load_model, predict

__all__ = [
    "ACCELERATORS",
    "KERAS_BACKENDS",
    "backend_and_source",
    "configure",
    "current_backend",
    "environment_override",
    "import_keras",
    "keras_config_path",
    "load_model",
    "predict",
    "saved_backend",
    "swap_backend",
]
