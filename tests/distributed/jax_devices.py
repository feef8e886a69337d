"""JAX on eight emulated CPU devices: everything of ``backendkit.distributed`` that runs
in one process, its results saved for the test to compare with NumPy's.

Run as ``python jax_devices.py OUT.npz`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` in the environment (set before
JAX is imported, which is why this is a script of its own). Writes the outputs to
``OUT.npz`` and prints a JSON report of facts and of the error each mistake raised.
"""

from __future__ import annotations

import json
import sys

import numpy as np

import backendkit as bk
from backendkit import distributed as dist
from backendkit import xp

bk.set_backend("jax")
report: dict = {"devices": len(bk.devices("jax"))}
saved: dict[str, np.ndarray] = {}


def collectives(x):
    return (
        x / dist.psum(x.sum(), "i"),
        dist.pmean(x, "i"),
        dist.pmax(x, "i"),
        dist.all_gather(x, "i"),
        dist.all_gather(x, "i", axis=1, tiled=True),
        x + dist.axis_index("i"),
        dist.psum(1, "i") + 0 * x,
    )


# ------------------------------------------------------------------ pmap, every collective
x = np.arange(32.0, dtype=np.float32).reshape(16, 2)
for i, out in enumerate(dist.pmap(collectives, axis_name="i")(x)):
    saved[f"collective{i}"] = bk.to_numpy(out)
normalize = dist.pmap(lambda v: v / dist.psum(v, "i"), axis_name="i")  # the essay's example
saved["normalize"] = bk.to_numpy(normalize(np.arange(8.0, dtype=np.float32)))
sharded_out = dist.pmap(lambda v: 2 * v)(np.arange(8.0))
report["output_devices"] = len(sharded_out.sharding.device_set)

# ------------------------------------------------------------------ shard / replicate
m = dist.mesh()
report["mesh"] = repr(m)
a = np.arange(64.0, dtype=np.float32).reshape(8, 8)
s0 = dist.shard(a, m)
s1 = dist.shard(a, m, axis=1)
r = dist.replicate(a, m)
report["shard0_devices"] = len(s0.sharding.device_set)
report["shard0_piece"] = list(s0.addressable_shards[0].data.shape)
report["shard1_piece"] = list(s1.addressable_shards[0].data.shape)
report["replicated_piece"] = list(r.addressable_shards[0].data.shape)
report["round_trips"] = all(
    np.array_equal(bk.to_numpy(dist.gather(v)), a) and np.array_equal(bk.to_numpy(v), a)
    for v in (s0, s1, r)
)
report["gathered_devices"] = len(dist.gather(s0).sharding.device_set)
m2 = dist.mesh((2, 4), ("data", "model"))
s2 = dist.shard(a, m2, mesh_axis="model")
report["mesh2_piece"] = list(s2.addressable_shards[0].data.shape)
report["mesh2_round_trip"] = bool(np.array_equal(bk.to_numpy(dist.gather(s2)), a))
saved["pmap_on_mesh"] = bk.to_numpy(
    dist.pmap(lambda v: v * dist.axis_index("data"), devices=dist.mesh(4))(np.ones(8))
)


# ------------------------------------------------------------------ data-parallel step
def loss(w, xb, yb):
    return xp.mean((xb @ w - yb) ** 2)


def step(w, xb, yb):
    return w - 0.1 * dist.pmean(bk.grad(loss)(w, xb, yb), "data")


rng = np.random.default_rng(0)
X = rng.normal(size=(64, 3)).astype(np.float32)
Y = rng.normal(size=64).astype(np.float32)
w_par = w_one = np.zeros(3, dtype=np.float32)
parallel_step = dist.pmap(step, in_axes=(None, 0, 0), out_axes=None)
for _ in range(3):
    w_par = parallel_step(w_par, X, Y)
    w_one = w_one - 0.1 * bk.grad(loss)(bk.asarray(w_one), bk.asarray(X), bk.asarray(Y))
saved["step_parallel"] = bk.to_numpy(w_par)
saved["step_single"] = bk.to_numpy(w_one)


# ------------------------------------------------------------------ mistakes
def error_of(thunk):
    try:
        thunk()
    except Exception as exc:  # noqa: BLE001 - every mistake is recorded by its class
        return type(exc).__name__
    return None


report["errors"] = {
    "not_divisible": error_of(lambda: dist.pmap(lambda v: v)(np.arange(12.0))),
    "outside_pmap": error_of(lambda: dist.psum(bk.asarray(np.ones(2)), "i")),
    "wrong_name": error_of(lambda: dist.pmap(lambda v: dist.psum(v, "j"), "i")(np.ones(8))),
    "not_replicated": error_of(lambda: dist.pmap(lambda v: v, out_axes=None)(np.arange(8.0))),
    "too_many_devices": error_of(lambda: dist.pmap(lambda v: v, devices=16)(np.ones(16))),
    "nested": error_of(lambda: dist.pmap(lambda v: dist.pmap(lambda u: u)(v))(np.ones(64))),
    "shard_not_divisible": error_of(lambda: dist.shard(np.ones(12), m)),
    "initialize_without_launcher": error_of(dist.initialize),
}
np.savez(sys.argv[1], **saved)
print(json.dumps(report))
