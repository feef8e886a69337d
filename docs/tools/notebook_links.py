"""Sphinx extension: each tutorial offers itself as a notebook, with how to open it in Jupyter.

Under each tutorial's title, a short box links the page as a Jupyter notebook (``.ipynb``,
made by jupytext from the MyST source, without outputs: the reader runs it) and as that
MyST source (which jupytext opens as a notebook), and says how to run it in JupyterLab on
each backend the page declares. The files are written next to the page's HTML when the
build finishes, inside the build folder only.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import run_matrix
from docutils import nodes
from sphinx.application import Sphinx

PREFIX = "tutorials/"


def _source(app: Sphinx, docname: str) -> Path:
    return Path(app.env.doc2path(docname))


def _box(stem: str, backends: list[str]) -> nodes.container:
    box = nodes.container(classes=["backendkit-run-it"])
    box += nodes.paragraph(
        "",
        "",
        nodes.strong(text="Run this page yourself: "),
        nodes.reference("", "", nodes.literal(text=f"{stem}.ipynb"), refuri=f"{stem}.ipynb"),
        nodes.Text(" (a notebook, without outputs) or "),
        nodes.reference("", "", nodes.literal(text=f"{stem}.md"), refuri=f"{stem}.md"),
        nodes.Text(" (its MyST source, which jupytext opens as a notebook). In a terminal: "),
        nodes.literal(text='pip install "backendkit[all]" jupyterlab jupytext'),
        nodes.Text(", then "),
        nodes.literal(text=f"jupyter lab {stem}.ipynb"),
        nodes.Text(". "),
    )
    others = [b for b in backends if b != "numpy"]
    if "numpy" in backends and others:
        box[0] += nodes.Text("It runs on numpy unless Jupyter is started with another backend: ")
        box[0] += nodes.literal(text=f"BACKENDKIT_BACKEND={others[0]} jupyter lab")
        box[0] += nodes.Text(f" (the page applies to {', '.join(backends)}).")
    else:
        box[0] += nodes.Text(f"The page applies to {', '.join(backends)} only.")
    return box


def add_box(app: Sphinx, doctree: nodes.document) -> None:
    """Insert the box under the title of a tutorial page."""
    docname = app.env.docname
    if not docname.startswith(PREFIX):
        return
    path = _source(app, docname)
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    title = next(iter(section.findall(nodes.title)))
    section.insert(section.index(title) + 1, _box(path.stem, run_matrix.declared_backends(path)))


def write_notebooks(app: Sphinx, exception: Exception | None) -> None:
    """Write each tutorial's ``.ipynb`` and ``.md`` next to its HTML page."""
    if exception is not None or app.builder.format != "html":
        return
    import jupytext

    for docname in sorted(app.env.found_docs):
        if not docname.startswith(PREFIX):
            continue
        source = _source(app, docname)
        target = Path(app.outdir) / docname
        target.parent.mkdir(parents=True, exist_ok=True)
        notebook = jupytext.read(source)
        jupytext.write(notebook, target.with_suffix(".ipynb"), fmt="ipynb")
        shutil.copyfile(source, target.with_suffix(".md"))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", add_box)
    app.connect("build-finished", write_notebooks)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
