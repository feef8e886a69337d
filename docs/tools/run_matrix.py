"""Run every tutorial under each given backend and record the outcome: the page × backend matrix.

The docs build runs each page once; this runs each page on every backend its front matter
declares (``backendkit: backends: [...]``, all of them when absent), the way a reader would:
the page is converted to a notebook by jupytext and executed top to bottom by nbclient in a
fresh kernel whose environment selects the backend (``BACKENDKIT_BACKEND``, and
``KERAS_BACKEND`` for pages that use Keras). As in the docs build, a cell may raise only if
it is tagged ``raises-exception``; here such a cell must also really raise, because a page
that promises an error the backend does not give is wrong on that backend.

One JSON record per backend, ``docs/_build/status/<backend>.json``, lists every page with
its status (``passed``, ``failed`` or ``not applicable``), its time in seconds (kernel start
included) and, for a failure, the failing cell and its error, with the fingerprints of what
ran (the page's and the library's sources, the versions). The Status page of the site
renders these records (``status_page.py``).

Each page runs once per backend per CI run, and the other consumers reuse these runs
instead of executing the page again:

- the docs build: a page that passed on the backend the site shows it on
  (:func:`site_backend`) is stored, outputs and all, in the docs build's jupyter-cache
  (``docs/_build/.jupyter_cache``), where ``nox -s docs -- --cache`` finds it; a page that
  failed there is taken out of the cache, so that the build executes it and fails too;
- ``tests/test_notebooks.py``: a record whose fingerprints match the current sources and
  versions stands for the test's own run of the same notebook (:func:`matching_run`).

Runs that print timings readers will see (a page that times something, on the backend
the site shows it on) go first, one at a time with nothing else running; the other runs
follow ``--jobs`` at a time (two by default: a page keeps about one core busy), longest
first, which only their own times feel.

Usage::

    python docs/tools/run_matrix.py numpy jax torch [--pages tutorials/01-*.md] [--out DIR]
        [--cache DIR | --no-cache] [--jobs N]

Every page runs even when an earlier one fails, so that the record is complete; the exit
status is 1 if any run failed.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import platform
import re
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from build_paths import relative
from quiet_home import quiet_home

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
BUILD = ROOT / "docs" / "_build"
STATUS_DIR = BUILD / "status"
#: the jupyter-cache of the docs build (nb_execution_cache_path in docs/conf.py)
CACHE_DIR = BUILD / ".jupyter_cache"
#: the records committed to the repository, shown where a build has no fresh ones
COMMITTED_DIR = ROOT / "docs" / "status-records"
#: every backend, in the order the matrix shows them (backendkit.backends.NAMES)
BACKENDS = ("numpy", "jax", "torch")
ALIASES = {"pytorch": "torch"}
PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "not applicable"
CELL_TIMEOUT = 600  # seconds, as nb_execution_timeout in docs/conf.py

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CODE_FENCE = re.compile(r"^(`{3,}|~{3,})\{code-cell\}", re.MULTILINE)
_CODE_CELL = re.compile(
    r"^(`{3,}|~{3,})\{code-cell\}[^\n]*\n(.*?)^\1\s*$", re.MULTILINE | re.DOTALL
)
_TIMES = re.compile(r"\b(perf_counter|perf_counter_ns|timeit|process_time|benchmark)\b")
_USES_KERAS = re.compile(
    r"^\s*(import keras|from keras\b|.*backendkit\.keras|.*bk\.keras)", re.MULTILINE
)


# ----------------------------------------------------------------------------- pages
def tutorial_pages(patterns: Iterable[str] = ()) -> list[Path]:
    """The tutorial files to run: those matching ``patterns``, else every ``tutorials/*.md``."""
    patterns = list(patterns)
    if not patterns:
        return sorted(TUTORIALS.glob("*.md"))
    pages: set[Path] = set()
    for pattern in patterns:
        found = glob.glob(pattern)
        if not found:
            raise FileNotFoundError(f"no tutorial matches {pattern!r}")
        pages.update(Path(p).resolve() for p in found)
    return sorted(pages)


def front_matter(path: Path) -> dict[str, Any]:
    """The page's YAML front matter (empty when it has none)."""
    match = _FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    return (yaml.safe_load(match.group(1)) or {}) if match else {}


def declared_backends(path: Path) -> list[str]:
    """The backends a page says it applies to, in matrix order; all of them by default.

    Raises
    ------
    ValueError
        If the front matter names a backend that does not exist.
    """
    names = (front_matter(path).get("backendkit") or {}).get("backends")
    if names is None:
        return list(BACKENDS)
    if isinstance(names, str):
        names = [names]
    canonical = {ALIASES.get(str(n).lower(), str(n).lower()) for n in names}
    unknown = canonical - set(BACKENDS)
    if unknown:
        raise ValueError(
            f"{path.name}: front matter 'backendkit: backends' names {sorted(unknown)}; "
            f"use some of {list(BACKENDS)}"
        )
    return [n for n in BACKENDS if n in canonical]


def site_backend(path: Path, selected: str | None = None) -> str:
    """The backend the docs build executes ``path`` on, and so the one the site shows.

    The selected backend (``selected``, else ``BACKENDKIT_BACKEND``, else ``numpy``) when
    the page declares it, else the first backend the page declares.
    """
    chosen = selected or os.environ.get("BACKENDKIT_BACKEND") or "numpy"
    chosen = ALIASES.get(chosen.lower(), chosen.lower())
    declared = declared_backends(path)
    return chosen if chosen in declared or not declared else declared[0]


def page_title(path: Path) -> str:
    """The page's first level-one heading, else its file name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def measures_time(path: Path) -> bool:
    """Whether the page's code times something (``perf_counter``, ``timeit``, ``benchmark``).

    Its run on the site's backend must then have the machine to itself: the figures it
    prints are what readers see.
    """
    cells = _CODE_CELL.findall(path.read_text(encoding="utf-8"))
    return any(_TIMES.search(code) for _, code in cells)


def uses_keras(path: Path) -> bool:
    """Whether a code line of the page uses Keras (then KERAS_BACKEND matters).

    Only code cells count: prose that names ``backendkit.keras`` is not code.
    """
    cells = _CODE_CELL.findall(path.read_text(encoding="utf-8"))
    return any(_USES_KERAS.search(code) for _, code in cells)


def kernel_env(
    backend: str, *, keras: bool, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a page's kernel: ``base`` with the backend chosen, homes in the build.

    Keras reads ``KERAS_BACKEND`` once, at import: a Keras page runs with Keras on the same
    framework as backendkit. Keras, matplotlib, IPython and Jupyter write their files inside
    the build folder (as docs/conf.py arranges for the docs build), never in ``~``.
    """
    env = dict(os.environ if base is None else base)
    env["BACKENDKIT_BACKEND"] = backend
    if keras:
        env["KERAS_BACKEND"] = backend
    quiet_home(BUILD / "home", env, override=False)
    return env


# ------------------------------------------------------------------------- execution
def _code_cell_lines(path: Path) -> list[int]:
    """Line number (1-based) of each ``{code-cell}`` fence, in order, for error reports."""
    text = path.read_text(encoding="utf-8")
    return [text.count("\n", 0, m.start()) + 1 for m in _CODE_FENCE.finditer(text)]


def _error_of(nb: Any, path: Path, cell_index: int | None, exc: BaseException) -> dict[str, Any]:
    """What a reader needs to find and fix a failure: the cell, its line, the error."""
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    lines = _code_cell_lines(path)
    error: dict[str, Any] = {
        "ename": getattr(exc, "ename", type(exc).__name__),
        "evalue": relative(_ANSI.sub("", str(getattr(exc, "evalue", exc))))[:2000],
        "traceback": relative(_ANSI.sub("", str(exc)))[-6000:],
    }
    if cell_index is not None and cell_index in code_cells:
        number = code_cells.index(cell_index)
        error["cell"] = number + 1
        error["line"] = lines[number] if number < len(lines) else None
        error["source"] = nb.cells[cell_index].source[:2000]
    return error


def execute_page(
    path: Path,
    backend: str,
    *,
    notebook: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Execute one page on one backend in a fresh kernel; the run's record.

    ``notebook``, when given, is executed instead of the page itself (a ``.ipynb`` that
    ``jupytext --to notebook`` made of it); it runs in the page's folder all the same.
    The record has ``status`` ``passed`` or ``failed``, ``seconds`` and, for a failure,
    ``error`` (``cell`` number, ``line`` of its fence in the page, ``ename``, ``evalue``,
    ``traceback``). Never raises for a failing page.
    """
    import jupytext

    return _execute(jupytext.read(notebook or path), path, backend, env=env)[0]


def _execute(
    nb: Any, path: Path, backend: str, *, env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], Any]:
    """:func:`execute_page` on the notebook ``nb`` of ``path``: the record and ``nb`` executed."""
    import nbclient
    from nbclient.exceptions import CellExecutionError

    kernel = (nb.metadata.get("kernelspec") or {}).get("name", "python3")
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=kernel,
        allow_errors=False,  # raises-exception cells are still allowed to fail
        resources={"metadata": {"path": str(path.parent)}},
    )
    env = kernel_env(backend, keras=uses_keras(path), base=env)
    start = time.perf_counter()
    error = None
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        failing = next(
            (
                i
                for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and _raised(c) and not _tagged(c)
            ),
            None,
        )
        error = _error_of(nb, path, failing, exc)
    # A dead kernel, a timeout, a kernel that cannot start: the page failed all the same,
    # and the other pages must still run for the record to be complete.
    except Exception as exc:  # noqa: BLE001
        failing = next(
            (
                i
                for i, c in reversed(list(enumerate(nb.cells)))
                if c.cell_type == "code" and c.get("execution_count")
            ),
            None,
        )
        error = _error_of(nb, path, failing, exc)
    seconds = time.perf_counter() - start
    if error is None:
        silent = [
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and _tagged(c) and not _raised(c)
        ]
        if silent:
            error = _error_of(
                nb,
                path,
                silent[0],
                AssertionError(
                    f"the cell is tagged raises-exception but raised nothing on {backend}: "
                    "the page promises an error this backend does not give"
                ),
            )
    record = {"status": FAILED if error else PASSED, "seconds": round(seconds, 2), "error": error}
    return record, nb


def _tagged(cell: Any) -> bool:
    return "raises-exception" in cell.metadata.get("tags", [])


def _raised(cell: Any) -> bool:
    return any(out.get("output_type") == "error" for out in cell.get("outputs", []))


# ---------------------------------------------------------------------------- record
#: every framework a page may use, whatever the backend it runs on
_PACKAGES = ("numpy", "jax", "torch", "keras")


def _versions() -> dict[str, str]:
    """Versions that matter for a run, read from package metadata (imports nothing)."""
    import backendkit  # imports no framework; works from a source tree too

    versions = {"backendkit": backendkit.__version__}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def source_fingerprint(root: Path = ROOT) -> str:
    """SHA-256 of the library's source (every file under ``src/backendkit``, by path)."""
    digest = hashlib.sha256()
    package = root / "src" / "backendkit"
    for path in sorted(p for p in package.rglob("*") if p.is_file()):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _environment() -> dict[str, Any]:
    """What a record's runs depend on besides the page: Python, versions, library source."""
    return {
        "python": platform.python_version(),
        "versions": _versions(),
        "source": source_fingerprint(),
    }


def matching_run(path: Path, backend: str, folder: Path = STATUS_DIR) -> dict[str, Any] | None:
    """The recorded run of ``path`` on ``backend`` that stands for running it now, if any.

    A run counts only when its record in ``folder`` was made from this very page (its
    SHA-256), this library source, this Python and these package versions: the same
    notebook, run by the same executor, on the same code. ``None`` otherwise.
    """
    try:
        record = json.loads((folder / f"{backend}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if {k: record.get(k) for k in ("python", "versions", "source")} != _environment():
        return None
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    for run in record.get("runs", []):
        if run.get("page") == path.stem and run.get("sha256") == sha:
            return run if run.get("status") in (PASSED, FAILED) else None
    return None


def _update_cache(cache: Path, path: Path, nb: Any, run: Mapping[str, Any]) -> None:
    """Store a passed run's notebook in the docs build's jupyter-cache; drop a failed one's.

    The docs build (``nb_execution_mode = "cache"``) then shows the stored outputs instead
    of executing the page again; it finds them by the hash of the page's code cells and
    their metadata, which is the same for this notebook (jupytext's) as for MyST-NB's
    reading of the page, once what the execution added to the metadata (timings) is gone.
    """
    import copy

    import jupytext
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = copy.deepcopy(nb)
    source = jupytext.read(path)
    code = [c for c in source.cells if c.cell_type == "code"]
    for ran, cell in zip((c for c in nb.cells if c.cell_type == "code"), code, strict=True):
        ran.metadata = copy.deepcopy(cell.metadata)
    nb.metadata["kernelspec"] = copy.deepcopy(source.metadata.get("kernelspec", {}))
    store = get_cache(str(cache))
    if run["status"] == PASSED:
        bundle = CacheBundleIn(nb, display_path(path), data={"execution_seconds": run["seconds"]})
        store.cache_notebook_bundle(bundle, check_validity=False, overwrite=True)
        return
    try:
        stale = store.match_cache_notebook(nb)
    except KeyError:
        return
    store.remove_cache(stale.pk)


def _new_run(path: Path, backend: str) -> dict[str, Any]:
    """A run's identity: the page (file, title, SHA-256) and the backend."""
    return {
        "page": path.stem,
        "path": display_path(path),
        "title": page_title(path),
        "backend": backend,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def _applies(path: Path, backend: str) -> tuple[bool, dict[str, Any] | None]:
    """Whether ``path`` runs on ``backend``; else the outcome to record instead."""
    try:
        if backend in declared_backends(path):
            return True, None
    except ValueError as exc:
        error = {"ename": "ValueError", "evalue": str(exc), "traceback": str(exc)}
        return False, {"status": FAILED, "seconds": 0.0, "error": error}
    return False, {"status": NOT_APPLICABLE, "seconds": None, "error": None}


def _previous_seconds(folder: Path) -> dict[tuple[str, str], float]:
    """(backend, page) -> seconds, from the records in ``folder`` (empty where none)."""
    seconds = {}
    for backend in BACKENDS:
        try:
            record = json.loads((folder / f"{backend}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for run in record.get("runs", []):
            if isinstance(run.get("seconds"), (int, float)):
                seconds[backend, run.get("page")] = float(run["seconds"])
    return seconds


def run_matrix(
    backends: list[str],
    pages: list[Path],
    *,
    out: Path,
    cache: Path | None = CACHE_DIR,
    jobs: int = 1,
    previous: Path | None = None,
    log=print,
) -> dict[str, dict[str, Any]]:
    """Run ``pages`` on ``backends``, write ``out/<backend>.json``; the records by backend.

    The runs the site shows (each page on its :func:`site_backend`) put their outputs into
    the docs build's jupyter-cache in ``cache`` (:func:`_update_cache`). Those of pages
    that time something (:func:`measures_time`) go first, one at a time with nothing
    else running, since the figures they print are what readers see. Then every other
    run, ``jobs`` at a time, longest first (by ``previous`` records' times): their times
    are those of a shared machine, and the record says how many ran at a time.
    """
    import jupytext

    runs = {(backend, path): _new_run(path, backend) for backend in backends for path in pages}
    alone, shared = [], []
    for (backend, path), run in runs.items():
        applies, outcome = _applies(path, backend)
        if not applies:
            run |= outcome
            log(_summary_line(run))
        elif site_backend(path) == backend and measures_time(path):
            alone.append((backend, path))
        else:
            shared.append((backend, path))
    # the last run's times, else the committed record's (a fresh clone in CI)
    before = _previous_seconds(previous if previous is not None else out)
    before = before or _previous_seconds(COMMITTED_DIR)
    shared.sort(key=lambda task: -before.get((task[0], task[1].stem), 0.0))

    # Kernels that share the machine share its cores: each gets its part of them for the
    # thread pools of OpenMP and BLAS (PyTorch's and NumPy's), unless the environment
    # already says, since two pools of all the cores each slow both down many times
    # (Keras training on PyTorch: 92 s against about 40 s here).
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    shared_env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        shared_env.setdefault(var, threads)

    def run_one(task: tuple[str, Path]) -> tuple[tuple[str, Path], dict[str, Any]]:
        backend, path = task
        env = None if task in alone else shared_env
        outcome, nb = _execute(jupytext.read(path), path, backend, env=env)
        if cache is not None and site_backend(path) == backend:
            with cache_lock:  # one writer at a time for the cache's database
                _update_cache(cache, path, nb, {**runs[task], **outcome})
        return task, outcome

    cache_lock = threading.Lock()
    for task in alone:
        runs[task] |= run_one(task)[1]
        log(_summary_line(runs[task]))

    # Threads suffice: each page runs in its own kernel process, and a thread only waits.
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for task, outcome in pool.map(run_one, shared):
            runs[task] |= outcome
            log(_summary_line(runs[task]))

    records = {}
    out.mkdir(parents=True, exist_ok=True)
    for backend in backends:
        records[backend] = {
            "backend": backend,
            "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "platform": platform.platform(),
            "jobs": max(1, jobs),
            **_environment(),
            "runs": [runs[backend, path] for path in pages],
        }
        text = json.dumps(records[backend], indent=1) + "\n"
        (out / f"{backend}.json").write_text(text, encoding="utf-8")
    return records


def display_path(path: Path) -> str:
    """``path`` relative to the repository when inside it (records do not name the machine)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _summary_line(run: Mapping[str, Any]) -> str:
    seconds = "" if run["seconds"] is None else f"{run['seconds']:7.1f} s"
    line = f"{run['backend']:6s} {run['page']:32s} {run['status']:15s} {seconds}"
    if run["error"]:
        err = run["error"]
        where = f"cell {err['cell']} (line {err.get('line')}): " if "cell" in err else ""
        line += f"\n       {where}{err['ename']}: {err['evalue'][:300]}"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("backends", nargs="*", default=list(BACKENDS), help="default: all")
    parser.add_argument("--pages", nargs="+", default=[], help="globs (default tutorials/*.md)")
    parser.add_argument("--out", type=Path, default=STATUS_DIR, help="record folder")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="pages run at a time, besides the site's runs, which run alone (default: %(default)s)",
    )
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        type=Path,
        default=CACHE_DIR,
        help="the docs build's jupyter-cache, given the site's runs (default: %(default)s)",
    )
    cache.add_argument("--no-cache", action="store_true", help="leave the docs cache alone")
    args = parser.parse_args(argv)
    backends = [ALIASES.get(b, b) for b in args.backends]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {unknown}: choose from {list(BACKENDS)}")
    pages = tutorial_pages(args.pages)
    if not pages:
        parser.error(f"no tutorials found in {TUTORIALS}")
    start = time.perf_counter()
    cache = None if args.no_cache else args.cache
    records = run_matrix(backends, pages, out=args.out, cache=cache, jobs=args.jobs)
    failed = [
        f"{run['page']} on {backend}"
        for backend, record in records.items()
        for run in record["runs"]
        if run["status"] == FAILED
    ]
    seconds = time.perf_counter() - start
    print(
        f"matrix: {len(pages)} pages × {len(backends)} backends in {seconds:.1f} s; "
        f"record in {display_path(args.out)}"
    )
    if failed:
        print(f"FAILED ({len(failed)}): " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
