"""Train the flare CNN with Keras on one device, then with
``keras.distribution.DataParallel`` over every (emulated) JAX device, from the same
weights on the same batches; print the largest weight difference as JSON.

Run with ``KERAS_BACKEND=jax`` and, on a CPU,
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (both set before this starts).
"""

from __future__ import annotations

import contextlib
import json

import keras
import numpy as np

from backendkit.bench import flare_cnn
from backendkit.distributed import keras_data_parallel

STEPS, BATCH, WINDOW = 3, 64, 200
rng = np.random.default_rng(0)
x = rng.normal(size=(STEPS * BATCH, WINDOW, 1)).astype("float32")
y = (rng.random(STEPS * BATCH) < 0.3).astype("float32")
start = [0.1 * rng.normal(size=w.shape).astype("float32") for w in flare_cnn(WINDOW).get_weights()]


def train(distribution):
    keras.utils.set_random_seed(1)  # the same dropout masks for both runs
    with distribution.scope() if distribution is not None else contextlib.nullcontext():
        model = flare_cnn(WINDOW)
        model.set_weights(start)
        model.compile(keras.optimizers.SGD(0.05), "binary_crossentropy")
        history = model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    return [np.asarray(w) for w in model.get_weights()], history.history["loss"][-1]


one, loss_one = train(None)
distribution = keras_data_parallel()
many, loss_many = train(distribution)
moved = max(float(np.max(np.abs(a - s))) for a, s in zip(one, start, strict=True))
print(
    json.dumps(
        {
            "devices": len(keras.distribution.list_devices()),
            "max_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(one, many, strict=True)),
            "moved": moved,
            "loss": [float(loss_one), float(loss_many)],
        }
    )
)
