"""Every tutorial opens as a notebook that runs top to bottom in a fresh kernel.

A reader who opens a tutorial in Jupyter gets what ``jupytext --to notebook`` makes of the
MyST file; that notebook must be valid and run, with only the cells tagged
``raises-exception`` raising. Each page runs on the backend the docs build gives it: the
default (numpy) when the page applies to it, else the first backend it declares. The
page × backend matrix (``nox -s tutorials``) runs the other backends.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.md"))


def _run_matrix():
    """docs/tools/run_matrix.py, the executor the matrix and the Status page use."""
    spec = importlib.util.spec_from_file_location("run_matrix", ROOT / "docs/tools/run_matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_as_a_notebook(page: Path, tmp_path: Path) -> None:
    pytest.importorskip("jupytext", reason="the docs extra is needed: pip install '.[docs]'")
    nbformat = pytest.importorskip("nbformat", reason="the docs extra is needed")
    notebook = tmp_path / f"{page.stem}.ipynb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupytext",
            "--to",
            "notebook",
            "--output",
            str(notebook),
            str(page),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    nbformat.validate(nbformat.read(notebook, as_version=4))

    run_matrix = _run_matrix()
    declared = run_matrix.declared_backends(page)
    backend = "numpy" if "numpy" in declared else declared[0]
    run = run_matrix.execute_page(page, backend, notebook=notebook)
    error = run["error"] or {}
    assert run["status"] == run_matrix.PASSED, (
        f"{page.name} as a notebook, on {backend}: cell {error.get('cell')} "
        f"(line {error.get('line')}) raised\n{error.get('traceback')}"
    )
