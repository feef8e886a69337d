"""``backendkit.distributed``: one code path over many devices and many processes.

Code that runs on one device today should run on eight tomorrow without a rewrite, and
on NumPy, JAX and PyTorch alike. The frameworks each ship an engine for that, and this
module is a thin, portable layer over them, never an engine of its own:

* **JAX**: ``jax.sharding`` (``Mesh``, ``NamedSharding``), ``jax.shard_map`` and the
  ``jax.lax`` collectives; ``jax.distributed`` across processes;
* **PyTorch**: ``torch.distributed`` process groups (gloo on CPUs, NCCL on GPUs)
  started by ``torchrun``, ``DeviceMesh`` and DTensor placements;
* **Keras**: ``keras.distribution.DataParallel`` where its backend has it
  (:func:`keras_data_parallel`);
* **NumPy** has one device and no runtime: :func:`pmap` runs its shards as threads,
  which makes the same code testable without any accelerator.

What is here:

* :func:`pmap` and the collectives :func:`psum`, :func:`pmean`, :func:`pmax`,
  :func:`all_gather`, :func:`axis_index`: data parallelism inside one call, the same
  results on every backend;
* :func:`mesh`, :func:`shard`, :func:`replicate`, :func:`gather`: arrays laid out
  across devices;
* :func:`initialize`, :func:`process_index`, :func:`process_count`,
  :func:`all_reduce`, :func:`barrier`, :func:`shutdown`: several processes, started
  by ``python -m backendkit launch -n N [--backend jax|torch] script.py``
  (:mod:`backendkit.launch`).

Emulated devices: JAX on a CPU shows one device unless told before it starts; set
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` in the environment before JAX
is imported to get eight, which is how the tests, the tutorial and the ``scaling``
benchmark run here. They share the machine's cores: use them to check correctness and
overhead, not speed-up.

Importing this module imports no framework; each is imported when its arrays are first
used.
"""

from ._keras import keras_data_parallel
from ._mesh import Mesh, gather, mesh, replicate, shard
from ._pmap import pmap
from ._processes import (
    DEFAULT_TIMEOUT,
    TIMEOUT_ENV_VAR,
    all_reduce,
    barrier,
    initialize,
    process_count,
    process_index,
    shutdown,
)
from ._spmd import all_gather, axis_index, pmax, pmean, psum

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV_VAR",
    "Mesh",
    "all_gather",
    "all_reduce",
    "axis_index",
    "barrier",
    "gather",
    "initialize",
    "keras_data_parallel",
    "mesh",
    "pmap",
    "pmax",
    "pmean",
    "process_count",
    "process_index",
    "psum",
    "replicate",
    "shard",
    "shutdown",
]
