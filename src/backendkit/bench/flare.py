"""The stella-style flare-detection CNN: the model the ``cnn_predict`` workload times and
the tutorials train and save (a model, not part of choosing Keras' backend)."""

from __future__ import annotations

from typing import Any

from ..errors import ArgumentTypeError, ArgumentValueError
from ..keras import import_keras

__all__ = ["flare_cnn"]


def flare_cnn(window: int = 200) -> Any:
    """The stella-style 1D CNN that scores a light-curve window for a flare.

    Conv1D(16, 7, relu, same) → MaxPool(2) → Dropout(0.1) → Conv1D(64, 3, relu,
    same) → MaxPool(2) → Dropout(0.1) → Flatten → Dense(32, relu) → Dropout(0.1) →
    Dense(1, sigmoid), on input of shape ``(window, 1)``. Uncompiled.

    Parameters
    ----------
    window : int
        Cadences per window (stella uses 200); at least 4, for the two poolings.

    Returns
    -------
    keras.Sequential

    Raises
    ------
    ArgumentTypeError
        If ``window`` is not an integer.
    ArgumentValueError
        If ``window`` is less than 4.
    KerasBackendError
        If keras is not imported yet and would fall back to a tensorflow that is not
        installed (call :func:`backendkit.keras.configure` first).

    Examples
    --------
    >>> from backendkit.bench import flare_cnn
    >>> model = flare_cnn(200)  # doctest: +SKIP
    >>> model.output_shape  # doctest: +SKIP
    (None, 1)
    """
    if isinstance(window, bool) or not isinstance(window, int):
        raise ArgumentTypeError(
            f"window must be an integer of at least 4 cadences, got "
            f"{type(window).__name__} {window!r}"
        )
    if window < 4:
        raise ArgumentValueError(
            f"window must be an integer of at least 4 cadences (two poolings halve it), "
            f"got {window}"
        )
    keras = import_keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(window, 1)),
            layers.Conv1D(16, 7, activation="relu", padding="same"),
            layers.MaxPooling1D(2),
            layers.Dropout(0.1),
            layers.Conv1D(64, 3, activation="relu", padding="same"),
            layers.MaxPooling1D(2),
            layers.Dropout(0.1),
            layers.Flatten(),
            layers.Dense(32, activation="relu"),
            layers.Dropout(0.1),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="flare_cnn",
    )
