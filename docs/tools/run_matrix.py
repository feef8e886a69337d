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
included) and, for a failure, the failing cell and its error. The Status page of the site
renders these records (``status_page.py``).

Usage::

    python docs/tools/run_matrix.py numpy jax torch [--pages tutorials/01-*.md] [--out DIR]

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
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from quiet_home import quiet_home

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "tutorials"
BUILD = ROOT / "docs" / "_build"
STATUS_DIR = BUILD / "status"
#: every backend, in the order the matrix shows them (backendkit.backends.NAMES)
BACKENDS = ("numpy", "jax", "torch")
ALIASES = {"pytorch": "torch"}
PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "not applicable"
CELL_TIMEOUT = 600  # seconds, as nb_execution_timeout in docs/conf.py

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CODE_FENCE = re.compile(r"^(`{3,}|~{3,})\{code-cell\}", re.MULTILINE)
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


def page_title(path: Path) -> str:
    """The page's first level-one heading, else its file name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def uses_keras(path: Path) -> bool:
    """Whether a code line of the page imports Keras (then KERAS_BACKEND matters)."""
    return bool(_USES_KERAS.search(path.read_text(encoding="utf-8")))


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
        "evalue": _ANSI.sub("", str(getattr(exc, "evalue", exc)))[:2000],
        "traceback": _ANSI.sub("", str(exc))[-6000:],
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
    import nbclient
    from nbclient.exceptions import CellExecutionError

    nb = jupytext.read(notebook or path)
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
    return {
        "status": FAILED if error else PASSED,
        "seconds": round(seconds, 2),
        "error": error,
    }


def _tagged(cell: Any) -> bool:
    return "raises-exception" in cell.metadata.get("tags", [])


def _raised(cell: Any) -> bool:
    return any(out.get("output_type") == "error" for out in cell.get("outputs", []))


# ---------------------------------------------------------------------------- record
def _versions(backend: str) -> dict[str, str]:
    """Versions that matter for a run, read from package metadata (imports nothing)."""
    import backendkit  # imports no framework; works from a source tree too

    packages = ["numpy", {"jax": "jax", "torch": "torch"}.get(backend, ""), "keras"]
    versions = {"backendkit": backendkit.__version__}
    for name in filter(None, packages):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_backend(backend: str, pages: list[Path], *, out: Path, log=print) -> dict[str, Any]:
    """Run ``pages`` on ``backend``, write ``out/<backend>.json`` and return the record."""
    runs = []
    for path in pages:
        run = {
            "page": path.stem,
            "path": display_path(path),
            "title": page_title(path),
            "backend": backend,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        try:
            applies = backend in declared_backends(path)
        except ValueError as exc:
            run |= {
                "status": FAILED,
                "seconds": 0.0,
                "error": {"ename": "ValueError", "evalue": str(exc), "traceback": str(exc)},
            }
        else:
            if applies:
                run |= execute_page(path, backend)
            else:
                run |= {"status": NOT_APPLICABLE, "seconds": None, "error": None}
        runs.append(run)
        log(_summary_line(run))
    record = {
        "backend": backend,
        "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": _versions(backend),
        "runs": runs,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{backend}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


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
    args = parser.parse_args(argv)
    backends = [ALIASES.get(b, b) for b in args.backends]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {unknown}: choose from {list(BACKENDS)}")
    pages = tutorial_pages(args.pages)
    if not pages:
        parser.error(f"no tutorials found in {TUTORIALS}")
    start = time.perf_counter()
    failed = []
    for backend in backends:
        record = run_backend(backend, pages, out=args.out)
        failed += [f"{r['page']} on {backend}" for r in record["runs"] if r["status"] == FAILED]
    print(
        f"matrix: {len(pages)} pages × {len(backends)} backends in {time.perf_counter() - start:.1f} s; record in {display_path(args.out)}"
    )
    if failed:
        print(f"FAILED ({len(failed)}): " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
