"""Every tutorial opens as a notebook that runs top to bottom in a fresh kernel.

A reader who opens a tutorial in Jupyter gets what ``jupytext --to notebook`` makes of the
MyST file; that notebook must be valid and run, with only the cells tagged
``raises-exception`` raising. Each page runs on the backend the docs build gives it
(``run_matrix.site_backend``: numpy when the page applies to it, else the first backend
it declares). The page × backend matrix (``nox -s tutorials``) runs the other backends.

The matrix runs the same notebook (jupytext's) with the same executor in a fresh kernel.
When its record holds a run of this very page, on this backend, made from this library
source with these versions (``run_matrix.matching_run``), that run is this test's run:
CI runs the matrix first, so that each page is executed once per backend. Without such a
record (``nox -s tests`` alone, or anything changed since), the test executes the page.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.md"))

# docs/tools: the matrix's executor, shared with the docs build (run_matrix imports its
# neighbours, quiet_home and build_paths, by name)
sys.path.insert(0, str(ROOT / "docs" / "tools"))


def _notebook(page: Path, folder: Path) -> Path:
    """``jupytext --to notebook`` of ``page``, validated; the ``.ipynb`` path."""
    nbformat = pytest.importorskip("nbformat", reason="the docs extra is needed")
    notebook = folder / f"{page.stem}.ipynb"
    command = [sys.executable, "-m", "jupytext", "--to", "notebook", "--output", str(notebook)]
    subprocess.run([*command, str(page)], check=True, capture_output=True, text=True)
    nbformat.validate(nbformat.read(notebook, as_version=4))
    return notebook


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs_as_a_notebook(page: Path, tmp_path: Path) -> None:
    pytest.importorskip("jupytext", reason="the docs extra is needed: pip install '.[docs]'")
    import run_matrix

    notebook = _notebook(page, tmp_path)
    backend = run_matrix.site_backend(page, "numpy")
    run = run_matrix.matching_run(page, backend)
    if run is None:
        run = run_matrix.execute_page(page, backend, notebook=notebook)
    else:
        print(f"{page.name} on {backend}: the matrix's run of this page and library source")
    error = run["error"] or {}
    assert run["status"] == run_matrix.PASSED, (
        f"{page.name} as a notebook, on {backend}: cell {error.get('cell')} "
        f"(line {error.get('line')}) raised\n{error.get('traceback')}"
    )


def test_the_notebook_is_the_one_the_matrix_runs(tmp_path: Path) -> None:
    """What jupytext writes for a reader is what the matrix executes (jupytext.read)."""
    jupytext = pytest.importorskip("jupytext", reason="the docs extra is needed")
    nbformat = pytest.importorskip("nbformat", reason="the docs extra is needed")
    for page in TUTORIALS:
        written = nbformat.read(_notebook(page, tmp_path), as_version=4)
        read = jupytext.read(page)
        assert [(c.cell_type, c.source, c.metadata) for c in written.cells] == [
            (c.cell_type, c.source, c.metadata) for c in read.cells
        ], page.name


def test_a_record_counts_only_for_the_same_page_source_and_versions(tmp_path: Path) -> None:
    import json

    import run_matrix

    page = tmp_path / "page.md"
    page.write_text("# A page\n", encoding="utf-8")
    run = {"page": "page", "sha256": run_matrix.hashlib.sha256(page.read_bytes()).hexdigest()}
    record = {**run_matrix._environment(), "runs": [{**run, "status": run_matrix.PASSED}]}
    (tmp_path / "numpy.json").write_text(json.dumps(record), encoding="utf-8")
    assert run_matrix.matching_run(page, "numpy", tmp_path)["status"] == run_matrix.PASSED
    assert run_matrix.matching_run(page, "jax", tmp_path) is None  # no record

    page.write_text("# A page, edited\n", encoding="utf-8")
    assert run_matrix.matching_run(page, "numpy", tmp_path) is None
    page.write_text("# A page\n", encoding="utf-8")
    for key, value in [("source", "0" * 64), ("python", "2.7.18")]:
        stale = {**record, key: value}
        (tmp_path / "numpy.json").write_text(json.dumps(stale), encoding="utf-8")
        assert run_matrix.matching_run(page, "numpy", tmp_path) is None, key
    stale = {**record, "versions": {**record["versions"], "numpy": "1.0"}}
    (tmp_path / "numpy.json").write_text(json.dumps(stale), encoding="utf-8")
    assert run_matrix.matching_run(page, "numpy", tmp_path) is None
