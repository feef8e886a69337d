"""A run in which rank 1 dies (``kill``: SIGKILL) or hangs (``stop``: SIGSTOP) before a
collective; every other rank must get an error from it, not wait forever.

Each surviving rank prints ``rank R: <ErrorClass> after <s> s: <message>`` and exits
with status 3; a rank whose collective succeeded prints ``rank R: no error``.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

from backendkit import distributed as dist
from backendkit.errors import DistributedError

how = sys.argv[1] if len(sys.argv) > 1 else "kill"
dist.initialize()
rank = dist.process_index()
dist.all_reduce(np.ones(3))  # every process is up and connected
if rank == 1:
    os.kill(os.getpid(), signal.SIGKILL if how == "kill" else signal.SIGSTOP)
start = time.monotonic()
try:
    dist.all_reduce(np.ones(3))
except DistributedError as exc:
    seconds = time.monotonic() - start
    print(f"rank {rank}: {type(exc).__name__} after {seconds:.1f} s: {exc}", flush=True)
    os._exit(3)  # at once: the framework's clean-up would wait for the dead peer again
print(f"rank {rank}: no error", flush=True)
