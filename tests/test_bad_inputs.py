"""The bad-input catalogue: every public entry point, given what it must refuse.

Each row of ``CATALOGUE`` is one bad input: the call that makes it, the exception class
it must raise, and the backends it applies to. The test runs every row on each of
those backends (skipping the ones not installed) and checks, every time, that

- the same class is raised on every backend (one class per row), a backendkit error
  (a :class:`backendkit.BackendError`) unless the row says otherwise, and no child
  process was started;
- nothing changed: the backend selection, the default dtype (and JAX's 64-bit mode),
  the device, the environment variables, the files in backendkit's config folder and
  Keras' home (``keras.json``), and whether keras is imported.

To add a row, call ``bad(...)`` in the family's section below; ``call`` receives a
``Ctx`` (the backend, a scratch folder, an array of another framework). Rows for
``put``/``at`` are added by their own section. A row that fails today because of code
owned elsewhere carries ``known=`` with the reason (and ``known_on=`` the backends where
it fails): an expected failure, strict, so that the fix shows up as an unexpected pass
and the row then loses its ``known=``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import BACKENDS

import backendkit as bk
import backendkit.keras as bkeras
import backendkit.random as bkr
from backendkit import config, precision, selection
from backendkit.bench import flare_cnn
from backendkit.errors import (
    ArgumentTypeError,
    ArgumentValueError,
    BackendError,
    BackendMismatchError,
    BenchmarkError,
    ConfigError,
    ControlFlowError,
    DeviceError,
    DtypeUnavailableError,
    ModelFileError,
    RunnerError,
    UnknownBackendError,
    UnknownDtypeError,
)

devices_module = importlib.import_module("backendkit._devices")  # bk.devices: the function

EVERY = tuple(BACKENDS)  # the row runs under each backend
NONE = ("-",)  # the row does not depend on the backend: it runs once


@dataclasses.dataclass
class Ctx:
    """What a row's call gets."""

    backend: str  # "-" for rows that run once
    scratch: Path  # a folder of the row's own, outside every watched folder

    def other_array(self) -> Any:
        """An array of an installed framework other than the current backend's."""
        for name in ("torch", "jax"):
            if name != self.backend and bk.backends.is_installed(name):
                return bk.asarray([1.0, 2.0], backend=name)
        pytest.skip("needs a second framework installed")


@dataclasses.dataclass(frozen=True)
class Bad:
    family: str
    name: str
    call: Callable[[Ctx], Any]
    error: type[BaseException]
    match: str | None = None
    on: tuple[str, ...] = EVERY
    known: str | None = None  # why it fails today, and whose code it is
    known_on: tuple[str, ...] | None = None  # where it fails today (default: all of on)
    # what a library the call uses does once per process (matplotlib building its font
    # cache starts fc-list), done before the snapshot: not a change the bad input made
    warm: Callable[[], Any] | None = None


CATALOGUE: list[Bad] = []


def bad(
    family, name, call, error, match=None, on=EVERY, known=None, known_on=None, warm=None
) -> None:
    CATALOGUE.append(Bad(family, name, call, error, match, on, known, known_on, warm))


class CliExit(Exception):
    """``python -m backendkit`` ended with a non-zero status; the message is the status
    and what it wrote to standard error."""


def cli(*argv: str) -> str:
    """Run ``python -m backendkit ARGV`` in this process; its output, or CliExit."""
    from backendkit.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
    if code:
        raise CliExit(f"exit {code}: {err.getvalue()}")
    return out.getvalue()


@contextlib.contextmanager
def environ(**values: str):
    """Set variables for the call only (the snapshot compares the environment after)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def persisted_from(ctx: Ctx, content: str) -> Any:
    """``persisted_backend()`` of a config folder holding ``content`` as config.json."""
    folder = ctx.scratch / "bk-config"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(content)
    with environ(**{config.CONFIG_DIR_VAR: str(folder)}):
        return config.persisted_backend()


def keras_file(ctx: Ctx, name: str, members: dict[str, bytes] | None, text: str = "") -> Path:
    path = ctx.scratch / name
    if members is None:
        path.write_text(text)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
    return path


def enter(block) -> Any:
    """Begin a with block (rows whose block must refuse to begin)."""
    with block as value:
        return value


def identity(x):
    return x


# ================================================================= selection
bad("selection", "set_backend unknown name", lambda c: bk.set_backend("theano"), UnknownBackendError, "theano")  # fmt: skip
bad("selection", "set_backend int", lambda c: bk.set_backend(42), UnknownBackendError, "42")
bad("selection", "set_backend None", lambda c: bk.set_backend(None), UnknownBackendError)
bad("selection", "set_backend empty", lambda c: bk.set_backend(""), UnknownBackendError)
bad("selection", "use_backend unknown name", lambda c: enter(bk.use_backend("nump")), UnknownBackendError, "nump")  # fmt: skip
bad("selection", "use_backend list", lambda c: enter(bk.use_backend(["jax"])), UnknownBackendError)  # fmt: skip
bad("selection", "use_backend decorating an async generator",
    lambda c: bk.use_backend("numpy")(_async_gen), ArgumentTypeError, "async generator")  # fmt: skip
bad("selection", "use_backend decorating a non-function",
    lambda c: bk.use_backend("numpy")(42), ArgumentTypeError, "decorates a function")  # fmt: skip
bad("selection", "decorated call with an unknown name",
    lambda c: bk.use_backend("nump")(identity)(1), UnknownBackendError)  # fmt: skip
bad("selection", "namespace unknown name", lambda c: bk.namespace("bogus"), UnknownBackendError)
bad("selection", "backend_of two frameworks",
    lambda c: bk.backend_of(bk.asarray([1.0]), c.other_array()), BackendMismatchError,
    on=("jax", "torch"))  # fmt: skip


async def _async_gen():
    yield 1


# ================================================================= config
bad("config", "config.json backend 42", lambda c: persisted_from(c, '{"backend": 42}'), ConfigError, r"config\.json sets 'backend' to 42")  # fmt: skip
bad("config", "config.json backend null", lambda c: persisted_from(c, '{"backend": null}'), ConfigError, "'backend' to null")  # fmt: skip
bad("config", "config.json not JSON", lambda c: persisted_from(c, "{oops"), ConfigError, "not valid JSON")  # fmt: skip
bad("config", "config.json a list", lambda c: persisted_from(c, "[1, 2]"), ConfigError, "not an object")  # fmt: skip
bad("config", "update_json of a file holding a list",
    lambda c: (c.scratch / "l.json").write_text("[1]") and config.update_json(c.scratch / "l.json", {"a": 1}),
    ConfigError, "left untouched", on=NONE)  # fmt: skip
bad("config", "update_json where a file blocks the folder",
    lambda c: (c.scratch / "f").write_text("x") and config.update_json(c.scratch / "f" / "c.json", {"a": 1}),
    ConfigError, "cannot create the folder", on=NONE)  # fmt: skip

# ================================================================= arrays
_HOST = "host data must be numbers"
bad("arrays", "asarray ragged list", lambda c: bk.asarray([[1, 2], [3]]), ArgumentValueError, "rectangular")  # fmt: skip
bad("arrays", "asarray deep ragged list", lambda c: bk.asarray([[[1], [2]], [[3], [4, 5]]]), ArgumentValueError, r"x\[1\]\[1\]")  # fmt: skip
bad("arrays", "asarray dict", lambda c: bk.asarray({"a": 1}), ArgumentTypeError, "x is a dict")
bad("arrays", "asarray str", lambda c: bk.asarray("abc"), ArgumentTypeError, "x is a str")
bad("arrays", "asarray bytes", lambda c: bk.asarray(b"ab"), ArgumentTypeError, "x is a bytes")
bad("arrays", "asarray None", lambda c: bk.asarray(None), ArgumentTypeError, "x is None")
bad("arrays", "asarray object", lambda c: bk.asarray(object()), ArgumentTypeError, _HOST)
bad("arrays", "asarray set", lambda c: bk.asarray({1, 2}), ArgumentTypeError, "sorted")
bad("arrays", "asarray list with a str", lambda c: bk.asarray([1, "a"]), ArgumentTypeError, r"x\[1\] is a str")  # fmt: skip
bad("arrays", "asarray list with None", lambda c: bk.asarray([1.0, None]), ArgumentTypeError, r"x\[1\] is None")  # fmt: skip
bad("arrays", "asarray NumPy string array", lambda c: bk.asarray(np.array(["a"])), ArgumentTypeError, "dtype <U1")  # fmt: skip
bad("arrays", "asarray NumPy object array", lambda c: bk.asarray(np.array([1], dtype=object)), ArgumentTypeError, "dtype object")  # fmt: skip
bad("arrays", "asarray generator", lambda c: bk.asarray(i for i in range(3)), ArgumentTypeError, r"list\(x\)")  # fmt: skip
bad("arrays", "asarray int beyond int64", lambda c: bk.asarray([2**70]), ArgumentValueError, "int64")  # fmt: skip
bad("arrays", "asarray -1 as uint8", lambda c: bk.asarray([-1], dtype="uint8"), ArgumentValueError, "uint8")  # fmt: skip
bad("arrays", "asarray 300 as int8", lambda c: bk.asarray([300], dtype="int8"), ArgumentValueError, "int8")  # fmt: skip
bad("arrays", "asarray complex as float32", lambda c: bk.asarray([1 + 2j], dtype="float32"), ArgumentTypeError, "complex")  # fmt: skip
bad("arrays", "asarray dtype int", lambda c: bk.asarray([1.0], dtype=42), ArgumentTypeError, "dtype must be")  # fmt: skip
bad("arrays", "asarray dtype list", lambda c: bk.asarray([1.0], dtype=["f4"]), ArgumentTypeError, "dtype must be")  # fmt: skip
bad("arrays", "asarray unknown dtype name", lambda c: bk.asarray([1.0], dtype="float128x"), UnknownDtypeError)  # fmt: skip
bad("arrays", "asarray unknown backend", lambda c: bk.asarray([1.0], backend="tf"), UnknownBackendError)  # fmt: skip
bad("arrays", "asarray unknown device", lambda c: bk.asarray([1.0], device="tpu9x"), DeviceError)
bad("arrays", "asarray device int", lambda c: bk.asarray([1.0], device=42), DeviceError)
bad("arrays", "asarray another framework's array",
    lambda c: bk.asarray(c.other_array(), backend=c.backend), BackendMismatchError, "convert")  # fmt: skip
bad("arrays", "convert to unknown backend", lambda c: bk.convert(np.ones(2), to="bogus"), UnknownBackendError)  # fmt: skip
bad("arrays", "convert to int", lambda c: bk.convert(np.ones(2), to=42), UnknownBackendError)
bad("arrays", "convert dict", lambda c: bk.convert({"a": 1}, to=c.backend), ArgumentTypeError)
bad("arrays", "convert ragged", lambda c: bk.convert([[1], [2, 3]], to=c.backend), ArgumentValueError)  # fmt: skip
bad("arrays", "convert unknown device", lambda c: bk.convert(np.ones(2), to=c.backend, device="tpu9x"), DeviceError)  # fmt: skip
bad("arrays", "to_numpy dict", lambda c: bk.to_numpy({"a": 1}), ArgumentTypeError, "to_numpy", on=NONE)  # fmt: skip
bad("arrays", "to_numpy ragged", lambda c: bk.to_numpy([[1], [2, 3]]), ArgumentValueError, on=NONE)  # fmt: skip
bad("arrays", "to_numpy None", lambda c: bk.to_numpy(None), ArgumentTypeError, on=NONE)

# ================================================================= precision
bad("dtype", "set_default_dtype int32", lambda c: bk.set_default_dtype("int32"), UnknownDtypeError)
bad("dtype", "set_default_dtype int", lambda c: bk.set_default_dtype(32), UnknownDtypeError)
bad("dtype", "set_default_dtype NumPy type", lambda c: bk.set_default_dtype(np.float32), UnknownDtypeError)  # fmt: skip
bad("dtype", "use_dtype float16", lambda c: enter(bk.use_dtype("float16")), UnknownDtypeError)
bad("dtype", "use_dtype None", lambda c: enter(bk.use_dtype(None)), UnknownDtypeError)

# ================================================================= devices
bad("devices", "set_device unknown kind", lambda c: bk.set_device("tpu9x"), DeviceError)
bad("devices", "set_device int", lambda c: bk.set_device(42), DeviceError)
bad("devices", "set_device missing index", lambda c: bk.set_device("cpu:5"), DeviceError)
bad("devices", "set_device missing fallback", lambda c: bk.set_device("gpu:99", fallback="cpu:9"), DeviceError)  # fmt: skip
bad("devices", "use_device unknown kind", lambda c: enter(bk.use_device("nope")), DeviceError)
bad("devices", "use_device negative index", lambda c: enter(bk.use_device("cpu:-1")), DeviceError)
bad("devices", "devices unknown backend", lambda c: bk.devices("bogus"), UnknownBackendError)
bad("devices", "devices int", lambda c: bk.devices(42), UnknownBackendError)
bad("devices", "memory_info unknown device", lambda c: bk.memory_info("nope"), DeviceError)
bad("devices", "memory_info unknown backend", lambda c: bk.memory_info(backend="nope"), UnknownBackendError)  # fmt: skip
bad("devices", "memory_info missing device", lambda c: bk.memory_info("cpu:3"), DeviceError)

# ================================================================= random
bad("random", "seed negative", lambda c: bkr.normal(-1, (2,)), ArgumentValueError)
bad("random", "seed float", lambda c: bkr.normal(1.5, (2,)), ArgumentTypeError)
bad("random", "seed str", lambda c: bkr.normal("a", (2,)), ArgumentTypeError)
bad("random", "seed None", lambda c: bkr.uniform(None, (2,)), ArgumentTypeError)
bad("random", "shape negative", lambda c: bkr.normal(0, (-1,)), ArgumentValueError)
bad("random", "shape float", lambda c: bkr.normal(0, (2.5,)), ArgumentTypeError)
bad("random", "shape str", lambda c: bkr.normal(0, "3"), ArgumentTypeError)
bad("random", "normal int dtype", lambda c: bkr.normal(0, (2,), dtype="int32"), UnknownDtypeError)
bad("random", "normal unknown dtype", lambda c: bkr.normal(0, (2,), dtype="bogus"), UnknownDtypeError)  # fmt: skip
bad("random", "uniform low > high", lambda c: bkr.uniform(0, (2,), low=2.0, high=1.0), ArgumentValueError)  # fmt: skip
bad("random", "uniform low str", lambda c: bkr.uniform(0, (2,), low="a"), ArgumentTypeError)
bad("random", "uniform low nan", lambda c: bkr.uniform(0, (2,), low=float("nan")), ArgumentValueError)  # fmt: skip
bad("random", "integers low >= high", lambda c: bkr.integers(0, (2,), 5, 5), ArgumentValueError)
bad("random", "integers float bound", lambda c: bkr.integers(0, (2,), 0.5, 5), ArgumentTypeError)
bad("random", "integers float dtype", lambda c: bkr.integers(0, (2,), 0, 5, dtype="float32"), UnknownDtypeError)  # fmt: skip
bad("random", "permutation negative", lambda c: bkr.permutation(0, -3), ArgumentValueError)
bad("random", "permutation str", lambda c: bkr.permutation(0, "abc"), ArgumentTypeError)
bad("random", "key negative", lambda c: bkr.key(-5), ArgumentValueError)
bad("random", "key split str", lambda c: bkr.key(0).split("a"), ArgumentTypeError)
bad("random", "phasor float dtype", lambda c: bkr.phasor(0, (2,), dtype="float32"), UnknownDtypeError)  # fmt: skip

# ================================================================= put / at
_x = lambda: bk.asarray([1.0, 2.0, 3.0])
bad(
    "put/at",
    "put values None",
    lambda c: bk.put(_x(), 0, None),
    ArgumentTypeError,
    "values is None",
)
bad(
    "put/at",
    "put values a string",
    lambda c: bk.put(_x(), 0, "abc"),
    ArgumentTypeError,
    "not numbers",
)
bad("put/at", "put values of a shape that does not broadcast",
    lambda c: bk.put(_x(), [0, 1], bk.xp.ones(3)), ArgumentValueError, r"shape \(3,\)")  # fmt: skip
bad("put/at", "at add values of a shape that does not broadcast",
    lambda c: bk.at(_x(), [0, 0]).add(bk.xp.ones(3)), ArgumentValueError, "broadcast")  # fmt: skip
bad("put/at", "put copy a string", lambda c: bk.put(_x(), 0, 1.0, copy="invalid"), ArgumentTypeError, "copy")  # fmt: skip
bad("put/at", "put copy None", lambda c: bk.put(_x(), 0, 1.0, copy=None), ArgumentTypeError, "copy")  # fmt: skip
bad("put/at", "at without an index", lambda c: bk.at(_x()).set(4.0), ArgumentTypeError, "needs an index")  # fmt: skip
bad("put/at", "at with two indices", lambda c: bk.at(_x(), 0)[1], ArgumentTypeError, "already has an index")  # fmt: skip
bad("put/at", "put x a list", lambda c: bk.put([1.0, 2.0], 0, 1.0), ArgumentTypeError, "asarray")
bad("put/at", "put x None", lambda c: bk.put(None, 0, 1.0), ArgumentTypeError, "asarray")
bad("put/at", "put index out of range", lambda c: bk.put(_x(), 3, 1.0), IndexError, "out of bounds")  # fmt: skip
bad("put/at", "at add negative index out of range", lambda c: bk.at(_x(), [-4]).add(1.0), IndexError)  # fmt: skip
bad("put/at", "at min of complex numbers",
    lambda c: bk.at(bk.asarray([1j, 2j]), 0).min(1j), DtypeUnavailableError, "dtype complex")  # fmt: skip
bad("put/at", "at subtract of booleans",
    lambda c: bk.at(bk.asarray([True, False]), 0).subtract(True), DtypeUnavailableError, "bool")  # fmt: skip
bad("put/at", "at divide of integers",
    lambda c: bk.at(bk.asarray([4, 6]), 0).divide(2), DtypeUnavailableError, "floating")  # fmt: skip
bad("put/at", "at add with copy=False on a read-only NumPy array",
    lambda c: bk.at(np.broadcast_to(np.ones(1), (3,)), np.array([True, False, True])).add(1.0, copy=False),
    ArgumentValueError, "read-only", on=("numpy",))  # fmt: skip
bad("put/at", "put values of another framework",
    lambda c: bk.put(_x(), [0, 1], c.other_array()), BackendMismatchError, on=("jax", "torch"))  # fmt: skip
bad("put/at", "put index a list holding another framework's array",
    lambda c: bk.put(_x(), [c.other_array()[0]], 1.0), BackendMismatchError, on=("jax", "torch"))  # fmt: skip

# ================================================================= control flow
_same = lambda i, v: v
bad("control", "fori_loop body not callable", lambda c: bk.fori_loop(0, 3, 5, 0.0), ArgumentTypeError)  # fmt: skip
bad("control", "fori_loop float bound", lambda c: bk.fori_loop(0.5, 3, _same, 0.0), ArgumentTypeError)  # fmt: skip
bad("control", "fori_loop str bound", lambda c: bk.fori_loop(0, "3", _same, 0.0), ArgumentTypeError)  # fmt: skip
bad("control", "fori_loop body changes the carry's structure",
    lambda c: bk.fori_loop(0, 3, lambda i, v: (v, v), bk.asarray(0.0)), ControlFlowError)  # fmt: skip
bad("control", "while_loop body changes the carry's structure",
    lambda c: bk.while_loop(lambda v: v < 3, lambda v: (v, v), bk.asarray(0.0)), ControlFlowError)  # fmt: skip
bad("control", "while_loop cond not callable", lambda c: bk.while_loop(1, identity, 0.0), ArgumentTypeError)  # fmt: skip
bad("control", "while_loop cond gives an array",
    lambda c: bk.while_loop(lambda v: bk.xp.ones(3) > 0, lambda v: v + 1, bk.asarray(0.0)),
    ControlFlowError)  # fmt: skip
bad("control", "cond array predicate", lambda c: bk.cond(bk.xp.ones(3) > 0, lambda: 1.0, lambda: 2.0), ArgumentTypeError)  # fmt: skip
bad("control", "cond str predicate", lambda c: bk.cond("yes", lambda: 1.0, lambda: 2.0), ArgumentTypeError)  # fmt: skip
bad("control", "cond branches of different shapes",
    lambda c: bk.cond(True, lambda: bk.xp.ones(2), lambda: bk.xp.ones(3)), ControlFlowError)  # fmt: skip
bad("control", "cond branches not callable", lambda c: bk.cond(True, 1, 2), ArgumentTypeError)
bad("control", "switch str index", lambda c: bk.switch("0", [lambda: 1.0]), ArgumentTypeError)
bad("control", "switch no branches", lambda c: bk.switch(0, []), ArgumentTypeError)
bad("control", "switch branches not a sequence", lambda c: bk.switch(0, lambda: 1.0), ArgumentTypeError)  # fmt: skip
bad("control", "scan f not callable", lambda c: bk.scan(3, 0.0, bk.xp.ones(3)), ArgumentTypeError)  # fmt: skip
bad("control", "scan no xs and no length", lambda c: bk.scan(lambda s, x: (s, x), 0.0, None), ArgumentValueError)  # fmt: skip
bad("control", "scan negative length", lambda c: bk.scan(lambda s, x: (s, x), 0.0, None, length=-1), ArgumentValueError)  # fmt: skip
bad("control", "scan str length", lambda c: bk.scan(lambda s, x: (s, x), 0.0, None, length="3"), ArgumentTypeError)  # fmt: skip
bad("control", "scan length not xs' length",
    lambda c: bk.scan(lambda s, x: (s, x), 0.0, bk.xp.ones(3), length=4), ArgumentValueError)  # fmt: skip
bad("control", "scan body returns no pair",
    lambda c: bk.scan(lambda s, x: s, bk.asarray(0.0), bk.xp.ones(3)), ControlFlowError)  # fmt: skip

# ================================================================= transforms
_sum_sq = lambda x: (x**2).sum()
bad("transforms", "jit not callable", lambda c: bk.jit(5), ArgumentTypeError)
bad("transforms", "jit static_argnums str", lambda c: bk.jit(identity, static_argnums="a"), ArgumentTypeError)  # fmt: skip
bad("transforms", "jit static_argnames int", lambda c: bk.jit(identity, static_argnames=3), ArgumentTypeError)  # fmt: skip
bad("transforms", "jit torch_compile str", lambda c: bk.jit(identity, torch_compile="yes"), ArgumentTypeError)  # fmt: skip
bad("transforms", "grad method unknown", lambda c: bk.grad(_sum_sq, method="forward"), ArgumentValueError)  # fmt: skip
bad("transforms", "vmap not callable", lambda c: bk.vmap(5), ArgumentTypeError)
bad("transforms", "vmap in_axes str", lambda c: bk.vmap(identity, in_axes="a"), ArgumentTypeError)
bad("transforms", "vmap in_axes float", lambda c: bk.vmap(identity, in_axes=0.5)(bk.xp.ones(3)), ArgumentTypeError)  # fmt: skip
bad("transforms", "vmap in_axes out of range", lambda c: bk.vmap(identity, in_axes=5)(bk.xp.ones(3)), ArgumentValueError)  # fmt: skip
bad("transforms", "vmap axes of different sizes",
    lambda c: bk.vmap(lambda a, b: a + b)(bk.xp.ones(3), bk.xp.ones(4)), ArgumentValueError)  # fmt: skip
bad("transforms", "vmap keyword arguments", lambda c: bk.vmap(identity)(x=bk.xp.ones(3)), ArgumentTypeError)  # fmt: skip
bad("transforms", "grad not callable", lambda c: bk.grad(5), ArgumentTypeError)
bad("transforms", "grad argnums str", lambda c: bk.grad(identity, argnums="a"), ArgumentTypeError)
bad("transforms", "grad argnums out of range", lambda c: bk.grad(_sum_sq, argnums=3)(bk.xp.ones(3)), ArgumentValueError)  # fmt: skip
bad("transforms", "grad of a non-scalar", lambda c: bk.grad(lambda x: x**2)(bk.xp.ones(3)), ArgumentTypeError)  # fmt: skip
bad("transforms", "grad at integers", lambda c: bk.grad(_sum_sq)(bk.asarray([1, 2])), ArgumentTypeError)  # fmt: skip
bad("transforms", "grad of a complex scalar", lambda c: bk.grad(lambda x: bk.xp.sum(x) * 1j)(bk.xp.ones(3)), ArgumentTypeError, "real floating-point scalar")  # fmt: skip
bad("transforms", "grad of an integer scalar", lambda c: bk.grad(lambda x: bk.xp.sum(x > 0))(bk.xp.ones(3)), ArgumentTypeError, "real floating-point scalar")  # fmt: skip
bad("transforms", "grad of a str", lambda c: bk.grad(lambda x: "a")(bk.xp.ones(3)), ArgumentTypeError)  # fmt: skip
bad("transforms", "jacobian not callable", lambda c: bk.jacobian(5), ArgumentTypeError)
bad("transforms", "value_and_grad has_aux without a pair",
    lambda c: bk.value_and_grad(_sum_sq, has_aux=True)(bk.xp.ones(3)), ArgumentTypeError)  # fmt: skip

# ================================================================= keras helpers
bad("keras", "configure unknown backend", lambda c: bkeras.configure("theano"), UnknownBackendError, on=NONE)  # fmt: skip
bad("keras", "configure int", lambda c: bkeras.configure(42), UnknownBackendError, on=NONE)
bad("keras", "configure unknown accelerator", lambda c: bkeras.configure("numpy", accelerator="tpu"), DeviceError, on=NONE)  # fmt: skip
bad("keras", "configure numpy on a GPU", lambda c: bkeras.configure("numpy", accelerator="gpu"), DeviceError, on=NONE)  # fmt: skip
bad("keras", "swap_backend unknown backend", lambda c: bkeras.swap_backend("theano"), UnknownBackendError, on=NONE)  # fmt: skip
bad("keras", "swap_backend accelerator int", lambda c: bkeras.swap_backend("numpy", accelerator=5), DeviceError, on=NONE)  # fmt: skip
bad("keras", "swap_backend accelerator that is no device kind", lambda c: bkeras.swap_backend("torch", accelerator="tpu9"), DeviceError, "no device kind", on=NONE)  # fmt: skip
bad("keras", "swap_backend numpy on a GPU", lambda c: bkeras.swap_backend("numpy", accelerator="gpu"), DeviceError, "CPU only", on=NONE)  # fmt: skip
bad("keras", "load_model missing file", lambda c: bkeras.load_model(c.scratch / "no.keras"), ModelFileError, "does not exist", on=NONE)  # fmt: skip
bad("keras", "load_model folder", lambda c: bkeras.load_model(c.scratch), ModelFileError, on=NONE)  # fmt: skip
bad("keras", "load_model int", lambda c: bkeras.load_model(42), ArgumentTypeError, on=NONE)
bad("keras", "load_model text file",
    lambda c: bkeras.load_model(keras_file(c, "t.keras", None, "text")), ModelFileError,
    "not a Keras model file", on=NONE)  # fmt: skip
bad("keras", "load_model zip without a model",
    lambda c: bkeras.load_model(keras_file(c, "z.keras", {"a.txt": b"a"})), ModelFileError,
    "holds no Keras model", on=NONE)  # fmt: skip
bad("keras", "load_model zip with a broken config",
    lambda c: bkeras.load_model(keras_file(c, "b.keras", {"config.json": b"{x"})), ModelFileError,
    "not valid JSON", on=NONE)  # fmt: skip
bad("keras", "predict missing file", lambda c: bkeras.predict(c.scratch / "no.keras", np.ones((1, 8, 1))), ModelFileError, on=NONE)  # fmt: skip
bad("keras", "flare_cnn window 3", lambda c: flare_cnn(3), ArgumentValueError, on=NONE)
bad("keras", "flare_cnn window str", lambda c: flare_cnn("200"), ArgumentTypeError, on=NONE)

# ================================================================= runner
_run = bk.run_in_backend
bad("runner", "unknown backend", lambda c: _run("bogus", identity, 1), UnknownBackendError, on=NONE)  # fmt: skip
bad("runner", "func not callable", lambda c: _run("numpy", 5), ArgumentTypeError, on=NONE)
bad("runner", "timeout negative", lambda c: _run("numpy", identity, 1, timeout=-1), ArgumentValueError, on=NONE)  # fmt: skip
bad("runner", "timeout zero", lambda c: _run("numpy", identity, 1, timeout=0), ArgumentValueError, on=NONE)  # fmt: skip
bad("runner", "timeout nan", lambda c: _run("numpy", identity, 1, timeout=float("nan")), ArgumentValueError, on=NONE)  # fmt: skip
bad("runner", "timeout str", lambda c: _run("numpy", identity, 1, timeout="abc"), ArgumentTypeError, on=NONE)  # fmt: skip
bad("runner", "timeout bool", lambda c: _run("numpy", identity, 1, timeout=True), ArgumentTypeError, on=NONE)  # fmt: skip
bad("runner", "env value int", lambda c: _run("numpy", identity, 1, env={"FOO": 1}), ArgumentTypeError, on=NONE)  # fmt: skip
bad("runner", "env key int", lambda c: _run("numpy", identity, 1, env={1: "a"}), ArgumentTypeError, on=NONE)  # fmt: skip
bad("runner", "env list", lambda c: _run("numpy", identity, 1, env=["FOO"]), ArgumentTypeError, on=NONE)  # fmt: skip
bad("runner", "env key with =", lambda c: _run("numpy", identity, 1, env={"A=B": "x"}), ArgumentValueError, on=NONE)  # fmt: skip
bad("runner", "env value with NUL", lambda c: _run("numpy", identity, 1, env={"A": "x\0"}), ArgumentValueError, on=NONE)  # fmt: skip
bad("runner", "env against the backend", lambda c: _run("numpy", identity, 1, env={"KERAS_BACKEND": "jax"}), ArgumentValueError, on=NONE)  # fmt: skip
bad("runner", "unknown Keras backend", lambda c: _run("numpy", identity, 1, keras_backend="theano"), UnknownBackendError, on=NONE)  # fmt: skip
bad("runner", "unknown accelerator", lambda c: _run("numpy", identity, 1, accelerator="tpu9"), DeviceError, on=NONE)  # fmt: skip
bad("runner", "argument that cannot be pickled", lambda c: _run("numpy", identity, threading.Lock()), RunnerError, on=NONE)  # fmt: skip

# ================================================================= benchmark
bad("bench", "unknown workload", lambda c: bk.benchmark("bogus"), BenchmarkError, on=NONE)
bad("bench", "repeats zero", lambda c: bk.benchmark("matmul", backends="numpy", repeats=0), BenchmarkError, on=NONE)  # fmt: skip
bad("bench", "size negative", lambda c: bk.benchmark("matmul", backends="numpy", sizes=[-1]), BenchmarkError, on=NONE)  # fmt: skip
bad("bench", "unknown backend", lambda c: bk.benchmark("matmul", backends="bogus"), UnknownBackendError, on=NONE)  # fmt: skip
bad("bench", "unknown device", lambda c: bk.benchmark("matmul", backends="numpy", devices="tpu9x"), BenchmarkError, on=NONE)  # fmt: skip
bad("bench", "timeout negative", lambda c: bk.benchmark("matmul", backends="numpy", timeout=-1), BenchmarkError, on=NONE)  # fmt: skip
bad("bench", "seed str", lambda c: bk.benchmark("matmul", backends="numpy", seed="a"), BenchmarkError, on=NONE)  # fmt: skip
# a .keras archive stating one input of shape (200, 1), as Keras 3 writes its config
_CNN_CONFIG = json.dumps({"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 200, 1]}}]}}).encode()  # fmt: skip
bad("bench", "model missing file", lambda c: bk.benchmark(model_path=c.scratch / "no.keras"), ModelFileError, "does not exist", on=NONE)  # fmt: skip
bad("bench", "model text file", lambda c: bk.benchmark(model_path=keras_file(c, "t.keras", None, "text")), ModelFileError, "not a Keras model file", on=NONE)  # fmt: skip
bad("bench", "model zip without a model", lambda c: bk.benchmark(model_path=keras_file(c, "z.keras", {"a.txt": b"a"})), ModelFileError, "holds no Keras model", on=NONE)  # fmt: skip
bad("bench", "model path int", lambda c: bk.benchmark(model_path=42), ArgumentTypeError, on=NONE)  # fmt: skip
bad("bench", "model input_shape that does not fit", lambda c: bk.benchmark(model_path=keras_file(c, "m.keras", {"config.json": _CNN_CONFIG}), input_shape=(100, 1)), BenchmarkError, "does not fit", on=NONE)  # fmt: skip
bad("bench", "model input_shape zero", lambda c: bk.benchmark(model_path=keras_file(c, "m.keras", {"config.json": _CNN_CONFIG}), input_shape=(0, 1)), BenchmarkError, "positive integers", on=NONE)  # fmt: skip
bad("bench", "input_shape without a model", lambda c: bk.benchmark("matmul", input_shape=(200, 1)), BenchmarkError, "model_path", on=NONE)  # fmt: skip

# ================================================================= command line
_B = ("bench", "-w", "matmul", "-b", "numpy", "-s", "8")
bad("cli", "unknown command", lambda c: cli("bogus"), CliExit, "(?s)exit 2: .*invalid choice", on=NONE)  # fmt: skip
bad("cli", "info unknown option", lambda c: cli("info", "--bogus"), CliExit, "(?s)exit 2: .*unrecognized", on=NONE)  # fmt: skip
bad("cli", "bench unknown workload", lambda c: cli("bench", "-w", "bogus"), CliExit, "(?s)exit 2: .*unknown workload", on=NONE)  # fmt: skip
bad("cli", "bench --model missing file", lambda c: cli("bench", "--model", str(c.scratch / "no.keras")), CliExit, "(?s)exit 2: .*no Keras model at", on=NONE)  # fmt: skip
bad("cli", "bench --model corrupt file", lambda c: cli("bench", "--model", str(keras_file(c, "t.keras", None, "text"))), CliExit, "(?s)exit 2: .*not a Keras model file", on=NONE)  # fmt: skip
bad("cli", "bench --input-shape zero", lambda c: cli("bench", "--model", "m.keras", "--input-shape", "0"), CliExit, "(?s)exit 2: .*input shapes must be positive", on=NONE)  # fmt: skip
bad("cli", "bench unknown backend", lambda c: cli("bench", "-w", "matmul", "-b", "bogus"), CliExit, "(?s)exit 2: .*unknown backend", on=NONE)  # fmt: skip
bad("cli", "bench negative size", lambda c: cli("bench", "--sizes", "-1"), CliExit, "(?s)exit 2: .*positive", on=NONE)  # fmt: skip
bad("cli", "bench repeats zero", lambda c: cli(*_B, "--repeats", "0"), CliExit, "(?s)exit 2: .*repeats", on=NONE)  # fmt: skip
bad("cli", "bench unknown device", lambda c: cli(*_B, "--device", "tpu9x"), CliExit, "(?s)exit 2: .*unknown device", on=NONE)  # fmt: skip
bad("cli", "bench negative timeout", lambda c: cli(*_B, "--timeout", "-5"), CliExit, "(?s)exit 2: .*timeout", on=NONE)  # fmt: skip
bad("cli", "bench nan sample time", lambda c: cli(*_B, "--min-sample-time", "nan"), CliExit, "(?s)exit 2: .*min_sample_time", on=NONE)  # fmt: skip
bad("cli", "bench --json in a missing folder", lambda c: cli(*_B, "--json", "/nonexistent/out.json"), CliExit, "(?s)exit 2: .*does not exist", on=NONE)  # fmt: skip
bad("cli", "bench --json a folder", lambda c: cli(*_B, "--json", str(c.scratch)), CliExit, "(?s)exit 2: .*is a folder", on=NONE)  # fmt: skip
bad("cli", "bench --plot unknown format", lambda c: cli(*_B, "--plot", str(c.scratch / "out.xyz")), CliExit, r"(?s)exit 2: .*'\.xyz'", on=NONE,
    warm=lambda: importlib.util.find_spec("matplotlib") and importlib.import_module("matplotlib.backend_bases"))  # fmt: skip

# ================================================================= diagnostics
bad("diagnostics", "print_backend_info to a str", lambda c: bk.print_backend_info(file="out.txt"), ArgumentTypeError, on=NONE)  # fmt: skip


# ================================================================= the test
def _files(folder: Path) -> dict[str, tuple[int, bytes | str]]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = (0, os.readlink(path))
        elif path.is_file():
            found[str(path.relative_to(folder))] = (path.stat().st_mode, path.read_bytes())
    return found


def _state(watched: list[Path]) -> dict[str, Any]:
    jax = sys.modules.get("jax")
    return {
        "selection": (selection._block.get(), selection._process and list(selection._process)),
        "backend": bk.get_backend(),
        "dtype": (precision._block.get(), precision._process),
        "jax_x64": None if jax is None else bool(jax.config.jax_enable_x64),
        "device": (devices_module._block.get(), devices_module._process),
        "environment": dict(os.environ),
        "files": {str(folder): _files(folder) for folder in watched},
        "keras imported": "keras" in sys.modules,
    }


@pytest.fixture
def watched(tmp_path, monkeypatch):
    """Keras' home and backendkit's config folder, with files in them, in tmp_path."""
    keras_home, config_dir = tmp_path / "keras-home", tmp_path / "bk-config"
    keras_home.mkdir()
    config_dir.mkdir()
    (keras_home / "keras.json").write_text(json.dumps({"backend": "jax", "floatx": "float32"}))
    (keras_home / "keras.json").chmod(0o644)
    (config_dir / "config.json").write_text(json.dumps({"backend": "numpy"}))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv(config.CONFIG_DIR_VAR, str(config_dir))
    for name in ("KERAS_BACKEND", "JAX_PLATFORMS", "KERAS_TORCH_DEVICE", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    return [keras_home, config_dir]


def _params():
    for row in CATALOGUE:
        for name in row.on:
            failing = row.known is not None and name in (row.known_on or row.on)
            marks = [pytest.mark.xfail(reason=row.known, strict=True)] if failing else []
            yield pytest.param(row, name, id=f"{row.family}: {row.name} [{name}]", marks=marks)


def _no_process(*args, **kwargs):
    raise AssertionError(f"a bad input started a process: {args[0] if args else kwargs}")


@pytest.mark.parametrize(("row", "backend_name"), list(_params()))
def test_bad_input_is_refused_and_changes_nothing(
    row, backend_name, watched, tmp_path, monkeypatch
):
    if backend_name != "-" and not bk.backends.is_installed(backend_name):
        pytest.skip(f"{backend_name} is not installed (pip install 'backendkit[{backend_name}]')")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = Ctx(backend_name, scratch)
    block = bk.use_backend(backend_name) if backend_name != "-" else contextlib.nullcontext()
    with block:
        bk.get_device()  # the device look-up caches what it found: not a change
        if row.warm is not None:
            row.warm()
        before = _state(watched)
        with monkeypatch.context() as patch:
            patch.setattr(subprocess, "Popen", _no_process)
            with pytest.raises(row.error) as info:
                row.call(ctx)
        after = _state(watched)
    if row.error is not CliExit:
        assert isinstance(info.value, BackendError), f"{type(info.value)} is no BackendError"
    else:
        assert "Traceback" not in str(info.value)
    if row.match is not None:
        info.match(row.match)
    for key in before:
        assert after[key] == before[key], f"{key} changed"


def test_the_catalogue_is_large_and_its_rows_distinct():
    names = [(row.family, row.name) for row in CATALOGUE]
    assert len(set(names)) == len(names)
    assert len(names) >= 60
    families = {row.family for row in CATALOGUE}
    assert {
        "selection",
        "arrays",
        "dtype",
        "devices",
        "random",
        "control",
        "transforms",
    } <= families
    assert {"keras", "runner", "bench", "cli", "config"} <= families
