"""The benchmark engine: every (backend, device) pair in its own process, timed honestly.

Why it is built this way:

- **One fresh process per (backend, device)**, through
  :func:`backendkit.run_in_backend`. Keras fixes its backend at import, so two Keras
  backends cannot share a process; and one framework's thread pools, caches and
  device memory would otherwise disturb the next one's numbers. A process that dies
  costs only its own pair: the others' results are kept and its error is reported.
- **The first call is timed apart.** It includes JAX's tracing and compilation (and
  PyTorch's and the BLAS libraries' lazy set-up); steady-state numbers exclude it.
- **Warm-up, then timed calls each ended by** :func:`backendkit.block_until_ready`.
  JAX, and PyTorch on GPUs, return before the work is done; without waiting, a timer
  measures only how fast work is queued. Each call is waited for, and its result
  dropped, before the next one starts: the time is that of a call whose result is
  needed (calls queued back to back without waiting can overlap on a GPU, and results
  kept alive would make every call allocate fresh memory). As :mod:`timeit` does, a
  sample runs the call enough times (``number``) to last at least
  ``min_sample_time``, so that the timer's resolution does not matter, and the garbage
  collector is paused while it runs.
- **Medians, not means**: one sample slowed by another process (a shared CI machine)
  moves the mean, not the median. Min, max and the interquartile range are kept too.
- **Results are checked before times count.** Each result is compared with the
  reference backend's (NumPy on the CPU when it ran, else the first that ran), to the
  workload's stated tolerance; a backend that computed something else is marked
  ``mismatch`` and its time is not counted.
- **A saved Keras model is a workload like the others** (``model_path=``, see
  :mod:`backendkit.bench.model`): its file is checked before any process starts.
- **The environment is recorded** (:mod:`backendkit.bench.environment`), and each
  child reports the device it ran on (model, memory).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import numbers
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import backends as registry
from ..errors import BackendError, BenchmarkError, DeviceError, RunnerError
from . import environment
from .records import Measurement, Run
from .result import BenchmarkResult
from .workloads import Workload, resolve

__all__ = ["benchmark"]

# How many values of each result travel back for the cross-backend check: an even
# stride through the whole result, so that an error anywhere in it is likely seen,
# without sending megabytes back per workload.
_CHECK_VALUES = 4096
# The most calls one sample may hold, however fast the call.
_MAX_NUMBER = 100_000
_ACCELERATORS = ("cpu", "gpu", "mps")


# ------------------------------------------------------------------ checking the request
def _positive_int(value: Any, what: str, *, zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1 - zero:
        kind = "a non-negative" if zero else "a positive"
        raise BenchmarkError(f"{what} must be {kind} integer, got {value!r}")
    return int(value)


def _positive_seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not float(value) > 0:
        raise BenchmarkError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def _sizes_for(
    workloads: list[Workload], sizes: Sequence[int] | Mapping[str, Sequence[int]] | None
) -> dict[str, list[int]]:
    """Each workload's sizes: its defaults, one list for all, or a list per name."""
    if sizes is None:
        return {w.name: list(w.sizes) for w in workloads}
    if isinstance(sizes, Mapping):
        unknown = set(sizes) - {w.name for w in workloads}
        if unknown:
            raise BenchmarkError(
                f"sizes given for {', '.join(sorted(map(str, unknown)))}, which is not "
                f"among the workloads run ({', '.join(w.name for w in workloads)})"
            )
        chosen = {w.name: sizes.get(w.name, w.sizes) for w in workloads}
    elif isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
        raise BenchmarkError(
            f"sizes must be a list of positive integers (or a dict of them by workload), "
            f"got {sizes!r}"
        )
    else:
        chosen = {w.name: sizes for w in workloads}
    out = {}
    for name, values in chosen.items():
        values = list(values)
        if not values:
            raise BenchmarkError(f"no sizes given for workload {name!r}")
        out[name] = sorted({_positive_int(v, f"a size of {name!r}") for v in values})
    return out


def _device_spec(spec: Any) -> tuple[str, str]:
    """``(label, kind)`` of a device spec such as ``"gpu"`` or ``"cuda:1"``."""
    from .._devices import _parse

    try:
        kind, index = _parse(spec)
    except BackendError as exc:
        raise BenchmarkError(str(exc)) from None
    return ("cpu" if kind == "cpu" and index == 0 else f"{kind}:{index}"), kind


def _backend_names(names: str | Iterable[str] | None) -> list[str]:
    if names is None:
        return list(registry.NAMES)
    if isinstance(names, str):
        names = [names]
    chosen = [registry.canonical_name(n) for n in names]
    if not chosen:
        raise BenchmarkError(f"no backend given; valid names: {', '.join(registry.NAMES)}")
    return list(dict.fromkeys(chosen))


# ------------------------------------------------------------------ in the child
def _check_values(out: Any) -> dict[str, Any]:
    from .. import to_numpy

    array = np.asarray(to_numpy(out))
    flat = array.reshape(-1)
    step = max(1, -(-flat.size // _CHECK_VALUES))
    return {"shape": array.shape, "dtype": str(array.dtype), "values": flat[::step].copy()}


def _sample(fn: Callable[..., Any], args: tuple[Any, ...], number: int) -> float:
    """Seconds per call over ``number`` calls, each waited for before the next."""
    from .._devices import block_until_ready

    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            block_until_ready(fn(*args))
        elapsed = time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / number


def _calls_per_sample(fn: Callable[..., Any], args: tuple[Any, ...], min_time: float) -> int:
    # timeit's autorange: 1, 2, 5, 10, 20, ... calls until a sample lasts min_time
    number = 1
    while number < _MAX_NUMBER:
        for step in (1, 2, 5):
            n = number * step
            if _sample(fn, args, n) * n >= min_time:
                return n
        number *= 10
    return _MAX_NUMBER


def _time_one(workload: Workload, size: int, options: dict[str, Any]) -> dict[str, Any]:
    from .._devices import block_until_ready

    fn, args = workload.setup(size, options["seed"])
    block_until_ready(args)
    start = time.perf_counter()
    out = block_until_ready(fn(*args))
    first = time.perf_counter() - start
    check = _check_values(out)
    del out
    for _ in range(options["warmup"]):
        block_until_ready(fn(*args))
    number = _calls_per_sample(fn, args, options["min_sample_time"])
    times = [_sample(fn, args, number) for _ in range(options["repeats"])]
    return {"first_s": first, "times_s": times, "number": number, "check": check}


def _measure_pair(
    device: str,
    items: list[tuple[Workload, int]],
    options: dict[str, Any],
    progress_path: str | None,
) -> dict[str, Any]:
    """The child's work: every workload and size on this process's backend and
    ``device``. One workload's error is recorded and the next one runs."""
    from .._devices import use_device
    from ..selection import current

    backend = current()
    with contextlib.ExitStack() as stack:
        try:
            record = stack.enter_context(use_device(device))
        except BackendError as exc:
            return {"skipped": str(exc)}
        info = {
            "name": record.name,
            "kind": record.kind,
            "platform": record.platform,
            "memory_total": record.total_memory,
            "framework": f"{backend.module.__name__} {backend.version}",
        }
        results = []
        for workload, size in items:
            entry: dict[str, Any] = {"workload": workload.name, "size": size}
            try:
                entry.update(_time_one(workload, size, options))
            except DeviceError as exc:
                # a size that needs more devices than there are (the scaling workload):
                # skipped with the reason, as a device the backend lacks is
                entry["skipped"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one failing workload must not lose the others
                entry["error"] = f"{type(exc).__name__}: {exc}"
            results.append(entry)
            if progress_path is not None:
                with open(progress_path, "a", encoding="utf-8") as f:
                    f.write(f"{workload.name} {size}\n")
    return {"device": info, "results": results}


def _list_devices() -> list[tuple[str, int]]:
    """The child's view of its backend's devices, as ``(kind, index)``."""
    from .._devices import devices
    from ..selection import get_backend

    return [(d.kind, d.index) for d in devices(get_backend())]


# ------------------------------------------------------------------ in this process
def _progress_bar(enabled: bool | None, total: int) -> Any:
    if enabled is None:
        enabled = sys.stderr is not None and sys.stderr.isatty()
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety: without tqdm, run without a bar
        return None
    return tqdm(total=total, desc="benchmark", unit="run", file=sys.stderr, leave=False)


def _call_with_progress(call: Callable[[str | None], Any], bar: Any) -> Any:
    """``call(progress_path)``; while it runs, advance ``bar`` by the lines the child
    appends to the progress file (the child's own output only arrives at its end)."""
    if bar is None:
        return call(None)
    import concurrent.futures  # here, not at import: backendkit's import stays light
    import tempfile

    with tempfile.TemporaryDirectory(prefix="backendkit-bench-") as tmp:
        path = os.path.join(tmp, "progress")
        open(path, "w").close()
        seen = 0

        def advance() -> None:
            nonlocal seen
            with open(path, encoding="utf-8") as f:
                done = sum(1 for _ in f)
            bar.update(done - seen)
            seen = done

        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(call, path)
            while not concurrent.futures.wait([future], timeout=0.2).done:
                advance()
            advance()
            return future.result()


def _pairs(
    backend: str,
    device_specs: list[tuple[str, str]] | None,
    timeout: float | None,
    result: BenchmarkResult,
) -> list[tuple[str, str]]:
    """The (label, kind) devices to run ``backend`` on: those asked for, else every
    kind it has (the CPU and the first device of each accelerator kind)."""
    if device_specs is not None:
        return device_specs
    if backend == "numpy":
        return [("cpu", "cpu")]
    from ..runner import run_in_backend

    try:
        found = run_in_backend(backend, _list_devices, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - reported in the result, the others go on
        result.runs.append(Run(backend, "?", "failed", f"listing its devices failed: {exc}"))
        return []
    first: dict[str, tuple[str, str]] = {}
    for kind, index in found:
        first.setdefault(kind, ("cpu" if kind == "cpu" else f"{kind}:{index}", kind))
    return list(first.values())


def _compare(
    m: Measurement, check: dict[str, Any], ref: dict[str, Any], w: dict[str, Any]
) -> None:
    if check["shape"] != ref["shape"] or check["dtype"] != ref["dtype"]:
        m.check = "mismatch"
        m.error = (
            f"shape {check['shape']} {check['dtype']} where the reference has "
            f"{ref['shape']} {ref['dtype']}"
        )
        return
    a, r = check["values"], ref["values"]
    both_nan = np.isnan(a) & np.isnan(r) if a.dtype.kind in "fc" else False
    diff = np.where(both_nan, 0.0, np.abs(a.astype(np.complex128) - r))
    m.max_diff = float(np.max(diff, initial=0.0))
    scale = float(np.max(np.abs(r[np.isfinite(r)]), initial=0.0))
    ok = bool(np.all(np.isfinite(diff))) and m.max_diff <= w["atol"] + w["rtol"] * scale
    m.check = "ok" if ok else "mismatch"


def _cross_check(result: BenchmarkResult, checks: dict[int, dict[str, Any]]) -> None:
    """Compare each result with the reference (NumPy on the CPU where it ran)."""
    groups: dict[tuple[str, int], list[Measurement]] = {}
    for m in result.measurements:
        if id(m) in checks:
            groups.setdefault((m.workload, m.size), []).append(m)
    for (name, _), group in groups.items():
        ref = next((m for m in group if m.label == "numpy/cpu"), group[0])
        if len(group) == 1:
            ref.check = "unchecked"
            continue
        ref.check = "reference"
        for m in group:
            if m is not ref:
                _compare(m, checks[id(m)], checks[id(ref)], result.workloads[name])


def benchmark(
    workloads: str | Workload | Iterable[str | Workload] | None = None,
    *,
    model_path: str | os.PathLike[str] | None = None,
    input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
    batch_size: int | None = None,
    backends: str | Iterable[str] | None = None,
    devices: str | Iterable[str] | None = None,
    sizes: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    repeats: int = 10,
    warmup: int = 2,
    min_sample_time: float = 0.005,
    seed: int = 0,
    timeout: float | None = 1800.0,
    progress: bool | None = None,
) -> BenchmarkResult:
    """Time workloads on every backend and device, each pair in a fresh process.

    Parameters
    ----------
    workloads : str, Workload or list of them, optional
        Names from :data:`backendkit.bench.WORKLOADS` (``python -m backendkit bench
        --list`` shows them) or :class:`~backendkit.bench.Workload` objects of your
        own. Default: all built-in ones, or none when ``model_path`` is given.
    model_path : str or os.PathLike, optional
        A saved Keras model (``.keras``) to time too, as stella's
        ``benchmark(model_path=...)`` does: ``predict`` on ``size`` random inputs per
        call, in each backend's own process with Keras on that backend, the
        predictions checked against the reference's before a time counts
        (:func:`backendkit.bench.model_workload`, whose tolerance is ``1e-5 + 1e-4
        max|ref|``; make the workload yourself for another). Its sizes default to
        64 and 1024 inputs.
    input_shape : tuple of int, or list of them, optional
        The shape of one input of that model, without the batch axis (one shape per
        input for several); default the model's own.
    batch_size : int, optional
        ``predict``'s ``batch_size`` for that model; default Keras' own (32).
    backends : str or list of str, optional
        Default: every backend backendkit knows; those not installed are skipped,
        with the reason recorded in the result.
    devices : str or list of str, optional
        ``"cpu"``, ``"gpu"``, ``"gpu:1"``, ``"mps"``, ... Default: on each backend, the
        CPU and the first device of each accelerator kind it sees. A device a backend
        does not have is skipped for that backend, with the reason recorded.
    sizes : list of int, or dict of lists by workload name, optional
        Sizes for every workload, or per workload; default each workload's own.
    repeats : int
        Timed samples per workload and size (the count the statistics are over).
    warmup : int
        Untimed calls after the first one and before calibrating the samples.
    min_sample_time : float
        Seconds a sample lasts at least; fast calls are repeated ``number`` times
        within one sample (found as :meth:`timeit.Timer.autorange` does).
    seed : int
        Seed of the inputs (the same values on every backend).
    timeout : float or None
        Seconds each (backend, device) process may run before it is killed and
        reported as failed.
    progress : bool, optional
        Show a progress bar (needs tqdm); default only when standard error is a
        terminal.

    Returns
    -------
    BenchmarkResult
        Print it for the table; ``.to_json()``, ``.plot()``.

    Raises
    ------
    BenchmarkError
        For an unknown workload or device name, sizes or counts that are not positive
        integers, an ``input_shape`` that does not fit the model (or none, where the
        model leaves a size open); the message lists the valid choices. Nothing has
        run then.
    ModelFileError
        If ``model_path`` does not exist, is not a ``.keras`` archive, or holds no
        model (found without keras, before any process starts).
    UnknownBackendError
        For an unknown backend name (the message lists the valid ones).

    Examples
    --------
    >>> import backendkit as bk
    >>> result = bk.benchmark("matmul", backends="numpy", sizes=[16, 32], repeats=3)
    >>> [(m.size, m.label, m.count) for m in result.measurements]
    [(16, 'numpy/cpu', 3), (32, 'numpy/cpu', 3)]
    >>> print(result)  # doctest: +SKIP
    CPU: ...
    workload  size  backend/device   median  ...
    """
    if model_path is None:
        if input_shape is not None or batch_size is not None:
            raise BenchmarkError(
                "input_shape and batch_size describe the model of model_path=, and none "
                "was given: pass model_path='model.keras' too"
            )
        chosen = resolve(workloads)
    else:
        from .model import model_workload

        model = model_workload(model_path, input_shape, batch_size=batch_size)
        chosen = [] if workloads is None else resolve(workloads)
        chosen = [w for w in chosen if w.name != model.name] + [model]
    by_name = _sizes_for(chosen, sizes)
    names = _backend_names(backends)
    if isinstance(devices, str):
        devices = [devices]
    device_specs = None if devices is None else list(dict.fromkeys(map(_device_spec, devices)))
    if device_specs is not None and not device_specs:
        raise BenchmarkError("no device given; e.g. devices=['cpu', 'gpu']")
    options = {
        "repeats": _positive_int(repeats, "repeats"),
        "warmup": _positive_int(warmup, "warmup", zero=True),
        "min_sample_time": _positive_seconds(min_sample_time, "min_sample_time"),
        "seed": _positive_int(seed, "seed", zero=True),
    }
    if timeout is not None:
        timeout = _positive_seconds(timeout, "timeout")

    result = BenchmarkResult(
        environment=environment.collect(),
        workloads={w.name: w.info() for w in chosen},
        settings={
            **options,
            "backends": names,
            "devices": None if device_specs is None else [label for label, _ in device_specs],
            "timeout_s": timeout,
        },
    )
    items = [(w, s) for w in chosen for s in by_name[w.name]]
    bar = _progress_bar(progress, len(items) * len(names))
    checks: dict[int, dict[str, Any]] = {}
    try:
        for backend in names:
            if not registry.is_installed(backend):
                extra = "" if backend == "numpy" else f"[{backend}]"
                reason = f"{backend} is not installed: pip install 'backendkit{extra}'"
                result.runs.append(Run(backend, "-", "skipped", reason))
                _advance(bar, len(items))
                continue
            pairs = _pairs(backend, device_specs, timeout, result)
            if bar is not None:
                bar.total += len(items) * (len(pairs) - 1)
                bar.refresh()
            for label, kind in pairs:
                _run_pair(backend, label, kind, items, options, timeout, result, checks, bar)
    finally:
        if bar is not None:
            bar.close()
    # one pair's results came in at a time: list them by workload, size, then pair
    order = {w.name: i for i, w in enumerate(chosen)}
    pairs_seen = {f"{r.backend}/{r.device}": i for i, r in enumerate(result.runs)}
    result.measurements.sort(key=lambda m: (order[m.workload], m.size, pairs_seen[m.label]))
    _cross_check(result, checks)
    return result


def _keras_installed() -> bool:
    return importlib.util.find_spec("keras") is not None


def _advance(bar: Any, n: int) -> None:
    if bar is not None and n > 0:
        bar.update(n)


def _run_pair(
    backend: str,
    label: str,
    kind: str,
    items: list[tuple[Workload, int]],
    options: dict[str, Any],
    timeout: float | None,
    result: BenchmarkResult,
    checks: dict[int, dict[str, Any]],
    bar: Any,
) -> None:
    """Run ``items`` on (``backend``, ``label``) in a child; record what came back."""
    from ..runner import run_in_backend

    if backend == "numpy" and kind != "cpu":
        reason = f"the numpy backend has only the CPU, not {label}"
        result.runs.append(Run(backend, label, "skipped", reason))
        _advance(bar, len(items))
        return
    runnable = []
    keras_installed = _keras_installed()
    for w, size in items:
        if w.keras and not keras_installed:
            reason = "keras is not installed: pip install 'backendkit[keras]'"
            result.measurements.append(
                Measurement(w.name, size, backend, label, check="skipped", error=reason)
            )
            _advance(bar, 1)
        else:
            runnable.append((w, size))
    # Frameworks pick their devices from variables read at start-up (JAX_PLATFORMS,
    # KERAS_TORCH_DEVICE): set for this device, a CPU run on a GPU machine neither
    # initialises the GPU nor takes its memory.
    if not runnable:
        result.runs.append(Run(backend, label, "skipped", "none of its workloads can run"))
        return
    accelerator = kind if kind in _ACCELERATORS else None
    start_n = bar.n if bar is not None else 0
    started = time.perf_counter()

    def call(progress_path: str | None) -> Any:
        return run_in_backend(
            backend, _measure_pair, label, runnable, options, progress_path,
            timeout=timeout, accelerator=accelerator,
        )  # fmt: skip

    try:
        out = _call_with_progress(call, bar)
    except DeviceError as exc:  # the child found no such accelerator: not a failure
        out = {"skipped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the child died, timed out or failed: go on
        result.runs.append(Run(backend, label, "failed", _message(exc), seconds=_since(started)))
        _advance(bar, start_n + len(runnable) - (bar.n if bar is not None else 0))
        return
    seconds = _since(started)
    if "skipped" in out:
        result.runs.append(Run(backend, label, "skipped", out["skipped"], seconds=seconds))
        _advance(bar, start_n + len(runnable) - (bar.n if bar is not None else 0))
        return
    result.runs.append(Run(backend, label, "ok", device_info=out["device"], seconds=seconds))
    if kind != "cpu" and out["device"] not in result.environment["accelerators"]:
        result.environment["accelerators"].append(out["device"])
    for entry in out["results"]:
        m = Measurement(entry["workload"], entry["size"], backend, label)
        if "error" in entry:
            m.check, m.error = "failed", entry["error"]
        elif "skipped" in entry:
            m.check, m.error = "skipped", entry["skipped"]
        else:
            m.first_s, m.times_s, m.number = entry["first_s"], entry["times_s"], entry["number"]
            checks[id(m)] = entry["check"]
        result.measurements.append(m)


def _message(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, RunnerError) or text.startswith(type(exc).__name__):
        return text
    return f"{type(exc).__name__}: {text}"


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 3)
