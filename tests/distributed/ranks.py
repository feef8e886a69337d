"""One process of a multi-process run, started by ``python -m backendkit launch``.

Every process checks, against NumPy computed here, that what spans the processes gives
single-process results: ``all_reduce``, ``pmap`` with every collective, a data-parallel
gradient step, ``mesh``/``shard``/``replicate``/``gather``, ``barrier``. It prints
``rank R of N: ok`` at the end; any failed check exits with an error. The backend (jax
or torch) is the one ``launch --backend`` selected.
"""

from __future__ import annotations

import os

import numpy as np

import backendkit as bk
from backendkit import distributed as dist
from backendkit import xp

dist.initialize()  # first: JAX fixes its devices at its first computation
rank, size = dist.process_index(), dist.process_count()
backend = bk.get_backend()
assert size == int(os.environ["WORLD_SIZE"]), (size, os.environ["WORLD_SIZE"])
assert rank == int(os.environ["RANK"]), (rank, os.environ["RANK"])


def close(a, b, what):
    a, b = bk.to_numpy(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    assert np.allclose(a, b, rtol=1e-5, atol=1e-6), f"{what}: {a} != {b}"


# ------------------------------------------------------------------ all_reduce
mine = np.array([rank + 1.0, -rank], dtype=np.float32)
every = [np.array([r + 1.0, -r], dtype=np.float32) for r in range(size)]
close(dist.all_reduce(mine), np.sum(every, axis=0), "all_reduce sum (numpy in)")
close(dist.all_reduce(mine, op="mean"), np.mean(every, axis=0), "all_reduce mean")
close(dist.all_reduce(mine, op="max"), np.max(every, axis=0), "all_reduce max")
close(dist.all_reduce(mine, op="min"), np.min(every, axis=0), "all_reduce min")
reduced = dist.all_reduce(bk.asarray(mine))
assert bk.backend_of(reduced) == backend, bk.backend_of(reduced)
assert isinstance(dist.all_reduce(mine), np.ndarray)
assert dist.all_reduce(rank) == sum(range(size))


# ------------------------------------------------------------------ pmap across processes
def collectives(x):
    return (
        x / dist.psum(x.sum(), "i"),
        dist.pmean(x, "i"),
        dist.pmax(x, "i"),
        dist.all_gather(x, "i"),
        x + dist.axis_index("i"),
    )


x = np.arange(4.0 * size, dtype=np.float32)
got = dist.pmap(collectives, axis_name="i")(bk.asarray(x))
with bk.use_backend("numpy"):
    want = dist.pmap(collectives, axis_name="i", devices=size)(x)
for name, g, w in zip(
    ("psum", "pmean", "pmax", "all_gather", "axis_index"), got, want, strict=True
):
    close(g, w, f"pmap {name} on {size} processes")


# ------------------------------------------------------------------ data-parallel step
def loss(w, xb, yb):
    return xp.mean((xb @ w - yb) ** 2)


def step(w, xb, yb):
    return w - 0.1 * dist.pmean(bk.grad(loss)(w, xb, yb), "data")


rng = np.random.default_rng(0)  # the same data on every process
X = rng.normal(size=(8 * size, 3)).astype(np.float32)
Y = rng.normal(size=8 * size).astype(np.float32)
w0 = np.zeros(3, dtype=np.float32)
parallel = dist.pmap(step, in_axes=(None, 0, 0), out_axes=None)(w0, X, Y)
single = bk.asarray(w0) - 0.1 * bk.grad(loss)(bk.asarray(w0), bk.asarray(X), bk.asarray(Y))
close(parallel, bk.to_numpy(single), "data-parallel gradient step")

# ------------------------------------------------------------------ meshes
m = dist.mesh()
assert m.shape == (size,), m
sharded = dist.shard(x, m)
close(dist.gather(sharded), x, "shard then gather")
close(dist.gather(dist.replicate(x, m)), x, "replicate then gather")

dist.barrier()
print(f"rank {rank} of {size}: ok ({backend}, {bk.__version__})", flush=True)
dist.shutdown()
