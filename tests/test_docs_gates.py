"""The gates on the documentation site, proved to work.

- A cell that raises fails the build and its traceback is in the build's output; the same
  cell tagged ``raises-exception`` builds (on a copy of the site: our conf.py, our
  extension, one tiny page), and that build writes nothing in ``~`` nor next to its sources.
- Every public name (``backendkit.__all__``) is in the API reference and is used in at
  least one tutorial, which every build executes.

Docstring examples run through ``--doctest-modules`` (pyproject.toml); the build's
warnings are errors in ``nox -s docs`` (``-W -n --keep-going``).
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import backendkit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((ROOT / "tutorials").glob("*.md"))

#: public names that need no page of their own, and why
NOT_IN_REFERENCE = {"__version__": "metadata: shown in every page's title, not an API"}
NOT_IN_TUTORIALS = {"__version__": "metadata, not something a lesson uses"}

# conf.py keeps these inside the build folder by itself (Read the Docs calls sphinx-build
# directly): the gate's build must not inherit them from nox, or it would prove nothing.
sys.path.insert(0, str(DOCS / "tools"))
import build_paths
from quiet_home import HOMES

_HOME_VARIABLES = tuple(HOMES)

FAILING_CELL = """\
def inner():
    return {"a": 1}["deliberately missing key"]

inner()
"""

#: cells before the failing one: a warning and a traceback through a library file (both
#: name files by absolute paths on the machine that runs them), a Markdown table
LESSON_CELLS = [
    ([], 'import warnings\n\nwarnings.warn("careful")'),
    (["raises-exception"], 'import json\n\njson.loads("{")'),
    (
        [],
        'from IPython.display import Markdown\n\nMarkdown("| a | b |\\n| --- | --- |\\n| 1 | 2 |")',
    ),
]
PAGE = "tutorials/page"


def _code_cell(tags: list[str], code: str) -> str:
    tag_line = f":tags: {tags}\n".replace("'", "") if tags else ""
    return "```{code-cell} ipython3\n" + tag_line + code + "\n```\n\n"


# ------------------------------------------------------------------ a failing cell
def _site(root: Path, tags: list[str]) -> Path:
    """A copy of the site with one tutorial whose last cell raises; the copy's docs folder."""
    docs = root / "docs"
    ignore = shutil.ignore_patterns("__pycache__")
    docs.mkdir(parents=True)
    shutil.copy(DOCS / "conf.py", docs / "conf.py")
    for folder in ("tools", "_static"):
        shutil.copytree(DOCS / folder, docs / folder, ignore=ignore)
    (docs / "index.md").write_text(f"# Gate\n\n```{{toctree}}\n{PAGE}\n```\n", encoding="utf-8")
    page = textwrap.dedent(
        """\
        ---
        jupytext:
          text_representation:
            extension: .md
            format_name: myst
            format_version: 0.13
        kernelspec:
          display_name: Python 3
          language: python
          name: python3
        backendkit:
          backends: [numpy]
        ---

        # A page that raises

        """
    )
    page += "".join(_code_cell(*cell) for cell in LESSON_CELLS) + _code_cell(tags, FAILING_CELL)
    (docs / f"{PAGE}.md").parent.mkdir()
    (docs / f"{PAGE}.md").write_text(page, encoding="utf-8")
    return docs


def _build(
    docs: Path, home: Path, *options: str, fresh: bool = False
) -> subprocess.CompletedProcess[str]:
    """``sphinx-build`` as ``nox -s docs`` runs it, with an empty HOME; output and status."""
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _HOME_VARIABLES}
    env["HOME"] = str(home)
    # a failed build saves its traceback in a temporary file: keep it in the test's folder
    env["TMPDIR"] = str(home.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    args = ["-b", "html", "-W", "-n", "--keep-going", "-T", *options]
    args += ["-E"] if fresh else []
    args += [str(docs), str(docs / "_build/html")]
    return subprocess.run(
        [sys.executable, "-m", "sphinx", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=docs,
        timeout=900,
    )


def _files(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.slow
def test_a_failing_cell_fails_the_build_and_shows_its_traceback(tmp_path: Path) -> None:
    pytest.importorskip("myst_nb", reason="the docs extra is needed: pip install '.[docs]'")
    docs = _site(tmp_path / "site", tags=[])
    result = _build(docs, tmp_path / "home")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "KeyError" in output, output
    # the traceback of the cell itself, not only the build's
    assert 'return {"a": 1}["deliberately missing key"]' in output, output
    assert "inner()" in output, output


@pytest.mark.slow
def test_the_same_cell_tagged_raises_exception_builds_and_writes_only_the_build(
    tmp_path: Path,
) -> None:
    pytest.importorskip("myst_nb", reason="the docs extra is needed: pip install '.[docs]'")
    nbformat = pytest.importorskip("nbformat", reason="the docs extra is needed")
    docs = _site(tmp_path / "site", tags=["raises-exception"])
    sources = _files(docs)
    result = _build(docs, tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    html = docs / "_build/html"
    page = (html / f"{PAGE}.html").read_text(encoding="utf-8")
    assert "deliberately missing key" in page  # the error is shown, as the lesson
    assert not any((tmp_path / "home").iterdir()), sorted(_files(tmp_path / "home"))
    outside = {f for f in _files(docs) - sources if not f.startswith("_build/")}
    assert not outside, f"the build wrote outside docs/_build: {sorted(outside)}"

    # outputs name files as a reader's machine would: no path of this one
    assert "&lt;cell&gt;:3: UserWarning: careful" in page, page
    assert "json/decoder.py" in page or "json/__init__.py" in page, page
    assert not build_paths.leaked_paths(page), build_paths.leaked_paths(page)
    # Markdown a cell displays is MyST: its table is a table, not pipes in a paragraph
    assert "<table" in page.split("A page that raises", 1)[1], page
    # the tutorial offers itself as a notebook, without outputs, and as its source
    assert 'href="page.ipynb"' in page
    assert 'href="page.md"' in page
    notebook = nbformat.read(html / f"{PAGE}.ipynb", as_version=4)
    assert not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    assert (html / f"{PAGE}.md").read_text(encoding="utf-8") == (docs / f"{PAGE}.md").read_text(
        encoding="utf-8"
    )


@pytest.mark.slow
def test_the_site_shows_the_matrix_run_and_executes_a_page_that_failed_there(
    tmp_path: Path,
) -> None:
    """CI's docs build (``-D nb_execution_mode=cache``) shows the outputs that the matrix
    stored for a page, without executing it; a page whose matrix run failed is taken out
    of the cache, so the build executes it, and would fail with it."""
    pytest.importorskip("myst_nb", reason="the docs extra is needed: pip install '.[docs]'")
    jupytext = pytest.importorskip("jupytext", reason="the docs extra is needed")
    nbformat = pytest.importorskip("nbformat", reason="the docs extra is needed")
    import run_matrix

    docs = _site(tmp_path / "site", tags=["raises-exception"])
    source = docs / f"{PAGE}.md"
    # run as the matrix runs it (nbclient adds its timings to each cell's metadata), then
    # marked: the first output says where it comes from
    outcome, ran = run_matrix._execute(jupytext.read(source), source, "numpy")
    assert outcome["status"] == run_matrix.PASSED, outcome
    first = next(c for c in ran.cells if c.cell_type == "code")
    assert first.metadata.get("execution"), "nbclient recorded no timing: the test proves less"
    first.outputs = [nbformat.v4.new_output("stream", name="stdout", text="FROM THE MATRIX\n")]
    cache = docs / "_build" / ".jupyter_cache"  # nb_execution_cache_path in conf.py

    run_matrix._update_cache(cache, source, ran, {"status": "passed", "seconds": 1.0})
    result = _build(docs, tmp_path / "home", "-D", "nb_execution_mode=cache")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (docs / f"_build/html/{PAGE}.html").read_text(encoding="utf-8")
    assert "FROM THE MATRIX" in page  # the build did not execute the page

    run_matrix._update_cache(cache, source, ran, {"status": "failed", "seconds": 1.0})
    result = _build(docs, tmp_path / "home", "-D", "nb_execution_mode=cache", fresh=True)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (docs / f"_build/html/{PAGE}.html").read_text(encoding="utf-8")
    assert "FROM THE MATRIX" not in page  # executed again: the matrix's run failed
    assert "KeyError" in page


def test_the_matrix_notebooks_are_found_in_the_docs_cache() -> None:
    """jupyter-cache finds a page by the hash of its code cells: the notebook the matrix
    runs (jupytext's) must hash as MyST-NB's reading of the same page does."""
    jupytext = pytest.importorskip("jupytext", reason="the docs extra is needed")
    pytest.importorskip("myst_nb", reason="the docs extra is needed")
    from jupyter_cache.cache.main import JupyterCacheBase
    from myst_nb.core.read import read_myst_markdown_notebook

    hashed = JupyterCacheBase.create_hashed_notebook
    for page in TUTORIALS:
        text = page.read_text(encoding="utf-8")
        ours = hashed(None, jupytext.read(page))[1]
        theirs = hashed(None, read_myst_markdown_notebook(text, path=str(page)))[1]
        assert ours == theirs, page.name


# ------------------------------------------------------------ build machine's paths
def test_machine_paths_become_what_a_reader_would_see() -> None:
    root = Path("/home/ci/clone")
    text = (
        "File /home/ci/clone/src/backendkit/functional.py:12, in put\n"
        "File /home/ci/clone/.nox/docs/lib/python3.11/site-packages/jax/_src/api.py:3\n"
        "/opt/py/lib/python3.11/warnings.py:9: in warn\n"
        "/tmp/ipykernel_4242/31337.py:2: UserWarning: careful\n"
        "see /home/ci/clone/tutorials/03-put-and-at.md"
    )
    assert build_paths.relative(text, root) == (
        "File backendkit/functional.py:12, in put\n"
        "File jax/_src/api.py:3\n"
        "warnings.py:9: in warn\n"
        "<cell>:2: UserWarning: careful\n"
        "see tutorials/03-put-and-at.md"
    )
    assert not build_paths.leaked_paths(build_paths.relative(text, root), root)
    assert build_paths.leaked_paths(text, root)


def test_long_output_lines_wrap_under_their_last_column_and_wide_tables_do_not() -> None:
    import cell_outputs

    message = "numpy  put(x, 3) -> IndexError: index 3 is out of bounds for axis 0 with size 3"
    wrapped = cell_outputs.wrap_line(message, width=50).split("\n")
    assert all(len(line) <= 50 for line in wrapped), wrapped
    assert wrapped[0].startswith("numpy  put(x, 3)")
    assert all(line.startswith(" " * 7) and line[7] != " " for line in wrapped[1:]), wrapped
    assert " ".join(w.strip() for w in wrapped).split() == message.split()
    # a table whose columns go past the width is left for its author to narrow
    row = "at(x, [0, 0, 0]).add(1)   " + "   ".join(["[3. 1. 2. 3. 4.]"] * 3)
    assert cell_outputs.wrap_line(row, width=50) == row
    # colours are escape codes: such text (a traceback) is wrapped by the style sheet
    assert cell_outputs.shown("\x1b[31m" + message * 3) == "\x1b[31m" + message * 3


def test_the_site_check_finds_a_machine_path_in_any_page(tmp_path: Path) -> None:
    import check_site

    (tmp_path / "tutorials").mkdir()
    (tmp_path / "index.html").write_text("<p>nothing here</p>", encoding="utf-8")
    leak = f"<pre>{ROOT}/src/backendkit/functional.py:12</pre>"
    (tmp_path / "tutorials" / "page.html").write_text(leak, encoding="utf-8")
    problems = check_site.check_no_machine_paths(tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith("tutorials/page.html:"), problems


# --------------------------------------------------------------------- front door
def test_citation_licence_and_version_agree() -> None:
    tomllib = pytest.importorskip("tomllib")
    yaml = pytest.importorskip("yaml", reason="the docs extra is needed")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["version"] == backendkit.__version__
    assert citation["license"] == project["license"]
    assert "BSD 3-Clause" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert citation["repository-code"] == project["urls"]["Source"]
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert f"version = {{{backendkit.__version__}}}" in index


# ---------------------------------------------------------------------- API coverage
_DIRECTIVE = re.compile(
    r"^\s*(?:\.\. |```+\{|:::+\{)(?:py:)?(?P<kind>auto\w+|function|class|exception|data|"
    r"attribute|method|decorator|module|currentmodule)(?:::|\})\s*(?P<name>\S+)",
    re.MULTILINE,
)


def _resolve(qualname: str) -> Any:
    """The object a dotted name documents (the longest importable module, then attributes)."""
    parts = qualname.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(qualname)


def documented_objects() -> dict[str, Any]:
    """Every object the API reference documents: qualified name -> object."""
    found = {}
    for source in sorted((DOCS / "api").glob("*.*")):
        if source.suffix not in {".rst", ".md"}:
            continue
        module = "backendkit"
        for match in _DIRECTIVE.finditer(source.read_text(encoding="utf-8")):
            kind, name = match["kind"], match["name"]
            if kind in {"currentmodule", "module", "automodule"}:
                module = name
                if kind == "currentmodule":
                    continue
            qualname = name if name.startswith("backendkit") else f"{module}.{name}"
            try:
                found[qualname] = _resolve(qualname)
            except (ImportError, AttributeError):
                continue  # sphinx itself reports a reference to nothing
    return found


def _public() -> dict[str, Any]:
    return {name: getattr(backendkit, name) for name in backendkit.__all__}


def test_every_public_name_is_in_the_api_reference() -> None:
    documented = documented_objects()
    qualnames = set(documented)
    objects = [obj for obj in documented.values()]
    missing = [
        name
        for name, obj in _public().items()
        if name not in NOT_IN_REFERENCE
        and f"backendkit.{name}" not in qualnames
        and not any(obj is other for other in objects if not isinstance(other, (str, int)))
    ]
    assert not missing, (
        f"in backendkit.__all__ but in no docs/api page: {missing}; add "
        "'.. autofunction:: NAME' (or autoclass, autoexception, data) to docs/api/<concern>.rst"
    )


def _tutorial_code(path: Path) -> str:
    jupytext = pytest.importorskip("jupytext", reason="the docs extra is needed")
    notebook = jupytext.read(path)
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "code")


def names_used(code: str) -> set[str]:
    """The backendkit names a piece of code uses: ``bk.NAME``, ``from backendkit import NAME``."""
    aliases = {"backendkit"} | set(re.findall(r"\bimport backendkit as (\w+)", code))
    used = set()
    for alias in aliases:
        used |= set(re.findall(rf"(?<![\w.]){re.escape(alias)}\.(\w+)", code))
    imports = re.findall(r"\bfrom backendkit import \(([^)]*)\)", code)
    imports += re.findall(r"\bfrom backendkit import ([\w ,]+)$", code, re.MULTILINE)
    for imported in imports:
        used |= {n.split(" as ")[0].strip() for n in imported.split(",") if n.strip()}
    used |= set(re.findall(r"\bfrom backendkit\.(\w+)", code))
    return used


def test_names_used_finds_every_spelling() -> None:
    code = (
        "import backendkit as b\nfrom backendkit import (put,\n  at as at_)\n"
        "from backendkit import xp, convert as c\n\nb.namespace('numpy').sum(b.asarray(1))"
    )
    assert names_used(code) == {"namespace", "asarray", "put", "at", "xp", "convert"}


@pytest.mark.skipif(not TUTORIALS, reason="no tutorials")
def test_every_public_name_is_used_in_a_tutorial() -> None:
    used: set[str] = set()
    for path in TUTORIALS:
        used |= names_used(_tutorial_code(path))
    missing = sorted(set(backendkit.__all__) - used - set(NOT_IN_TUTORIALS))
    assert not missing, (
        f"in backendkit.__all__ but used in no tutorial ({len(TUTORIALS)} pages searched for "
        f"bk.NAME, backendkit.NAME, from backendkit import NAME): {missing}"
    )
