"""Keras models over several devices: ``keras.distribution.DataParallel``, where the
Keras backend has it.

Keras 3 distributes training itself (``keras.distribution``), on its JAX backend (and
TensorFlow's); on its PyTorch and NumPy backends the module is there but does nothing
(its functions fail with an ``AttributeError`` deep inside Keras). This module gives the
distribution for the devices asked for, or says plainly that the backend has none.
Keras is never imported here: it fixes its backend when imported, so the caller
imports it, after choosing the backend (:func:`backendkit.keras.configure`).
"""

from __future__ import annotations

import numbers
import sys
from typing import Any

from ..errors import ArgumentTypeError, ArgumentValueError, DistributedError

__all__ = ["keras_data_parallel"]

#: Keras backends whose ``keras.distribution`` works (Keras 3)
KERAS_DISTRIBUTION_BACKENDS = ("jax", "tensorflow")


def keras_data_parallel(devices: int | list[Any] | None = None) -> Any:
    """A ``keras.distribution.DataParallel`` over the devices, for Keras' own
    data-parallel training.

    Each batch is split over the devices, the model's variables are replicated, and
    the gradients are averaged across devices by XLA's collectives: training gives the
    weights single-device training gives, to floating-point rounding. Use it as
    ``with keras_data_parallel().scope(): model = ...; model.fit(...)``, or pass it to
    ``keras.distribution.set_distribution``. The global batch size must be divisible by
    the number of devices.

    Parameters
    ----------
    devices : int or list, optional
        How many devices (the first ``n`` of ``keras.distribution.list_devices()``), or
        the device names; default every device.

    Returns
    -------
    keras.distribution.DataParallel

    Raises
    ------
    DistributedError
        If keras is not imported yet, or its backend has no ``keras.distribution``
        (PyTorch, NumPy): the message says which backends have it and the way out.
    ArgumentValueError, ArgumentTypeError
        For a device count out of range or of the wrong type.

    Examples
    --------
    >>> from backendkit.bench import flare_cnn
    >>> from backendkit.distributed import keras_data_parallel
    >>> with keras_data_parallel(8).scope():  # doctest: +SKIP
    ...     model = flare_cnn()
    ...     model.compile("sgd", "binary_crossentropy")
    ...     model.fit(x, y, batch_size=64)
    """
    keras = sys.modules.get("keras")
    if keras is None:
        raise DistributedError(
            "keras_data_parallel(): keras is not imported yet; choose its backend first "
            "(backendkit.keras.configure('jax')), import keras, then ask for the "
            "distribution"
        )
    name = keras.backend.backend()
    if name not in KERAS_DISTRIBUTION_BACKENDS:
        raise DistributedError(
            f"keras.distribution does not support the {name!r} Keras backend (Keras 3 "
            f"distributes on {' and '.join(KERAS_DISTRIBUTION_BACKENDS)} only): run the "
            f"model with KERAS_BACKEND=jax (backendkit.keras.configure('jax') before keras "
            f"is imported, or backendkit.run_in_backend('jax', ...)); for PyTorch models, "
            f"use torch.nn.parallel.DistributedDataParallel under launch --backend torch"
        )
    there = keras.distribution.list_devices()
    if devices is None:
        chosen = list(there)
    elif isinstance(devices, numbers.Integral) and not isinstance(devices, bool):
        if not 1 <= devices <= len(there):
            raise ArgumentValueError(
                f"keras_data_parallel({devices}): Keras sees {len(there)} devices "
                f"({', '.join(map(str, there))}); ask for 1 to {len(there)}"
            )
        chosen = list(there[: int(devices)])
    elif isinstance(devices, (list, tuple)):
        chosen = list(devices)
    else:
        raise ArgumentTypeError(
            f"keras_data_parallel: devices must be a count or a list of device names, got "
            f"{type(devices).__name__} {devices!r}"
        )
    return keras.distribution.DataParallel(devices=chosen)
