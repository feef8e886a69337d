"""Sphinx extension: the page × backend matrix on the Status page, and each page's backend.

``run_matrix.py`` (``nox -s tutorials``) leaves one JSON record per backend in
``docs/_build/status/``; the ``backendkit-status`` directive renders them as a table, page
by backend with times, followed by what failed and why. A build with no fresh record
(Read the Docs, or ``nox -s docs`` alone) shows the records committed to the repository
in ``docs/status-records/`` instead, saying so, with their date and what changed since.

The docs build itself executes each page once (or, after the matrix, reuses its run; see
``run_matrix.py``), in the Sphinx process's environment. So that the site shows a page on
a backend the page applies to, the page is executed with the environment the matrix gives
that backend (:func:`run_matrix.site_backend`, :func:`run_matrix.kernel_env`). The
``backendkit-executions`` directive lists how this build got each page's outputs.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import run_matrix
from build_paths import relative
from docutils import nodes
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

#: the variables a page's kernel gets for its backend; restored between pages
_PAGE_VARIABLES = ("BACKENDKIT_BACKEND", "KERAS_BACKEND")
_ORIGINAL = {name: os.environ.get(name) for name in _PAGE_VARIABLES}
_MARK = {run_matrix.PASSED: "✓", run_matrix.FAILED: "✗ failed", run_matrix.NOT_APPLICABLE: "n/a"}
_BACKEND_KEY = "backendkit_backend"
_REUSED_KEY = "backendkit_reused"


def load_records(*folders: Path) -> dict[str, tuple[dict[str, Any], Path]]:
    """Each backend's record from the first of ``folders`` that has one, with that folder."""
    records = {}
    for backend in run_matrix.BACKENDS:
        for folder in folders:
            path = folder / f"{backend}.json"
            if path.is_file():
                records[backend] = (json.loads(path.read_text(encoding="utf-8")), folder)
                break
    return records


def _entry(content: nodes.Node, cls: str = "") -> nodes.entry:
    entry = nodes.entry(classes=[cls] if cls else [])
    entry += nodes.paragraph("", "", content)
    return entry


def _row(contents: list[nodes.Node], classes: list[str] | None = None) -> nodes.row:
    row = nodes.row()
    for content, cls in zip(contents, classes or [""] * len(contents), strict=True):
        row += _entry(content, cls)
    return row


def _table(header: list[nodes.Node], rows: list[nodes.row], cls: str) -> nodes.table:
    table = nodes.table(classes=["colwidths-auto", cls])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    head += _row(header)
    group += head
    body = nodes.tbody()
    body.extend(rows)
    group += body
    return table


def _page_link(env: Any, docname: str, fallback: str) -> nodes.Node:
    """A link to ``docname`` showing its title (Sphinx writes it, markup resolved)."""
    if docname not in env.found_docs:  # a record of a page that is gone
        return nodes.Text(fallback.replace("`", ""))
    ref = pending_xref(
        refdoc=env.docname,
        refdomain="std",
        reftype="doc",
        reftarget=f"/{docname}",
        refexplicit=False,
    )
    ref += nodes.inline(text=docname)
    return ref


class StatusMatrix(SphinxDirective):
    """``backendkit-status``: the page × backend record as a table, its origin and failures."""

    def run(self) -> list[nodes.Node]:
        fresh, committed = run_matrix.STATUS_DIR, run_matrix.COMMITTED_DIR
        # Re-read this page whenever a record or a tutorial changes; a missing record
        # counts as changed, so a page that says "not run" is re-checked at every build.
        for folder in (fresh, committed):
            for backend in run_matrix.BACKENDS:
                self.env.note_dependency(str(folder / f"{backend}.json"))
        for page in run_matrix.tutorial_pages():
            self.env.note_dependency(str(page))
        records = load_records(fresh, committed)
        if not records:
            note = nodes.warning()
            note += nodes.paragraph(
                "",
                "",
                nodes.Text("No record of the page × backend matrix: neither "),
                nodes.literal(text=f"{run_matrix.display_path(fresh)}/"),
                nodes.Text(" (this build's run) nor "),
                nodes.literal(text=f"{run_matrix.display_path(committed)}/"),
                nodes.Text(" (the committed one) has one. Run "),
                nodes.literal(text="nox -s tutorials"),
                nodes.Text("."),
            )
            return [note]
        return [
            *self._origin(records),
            self._matrix(records),
            *self._provenance(records),
            *self._failures(records),
        ]

    def _runs(self, records: dict[str, tuple[dict[str, Any], Path]]) -> dict[str, dict]:
        """page -> backend -> run, with every current tutorial present."""
        runs: dict[str, dict[str, dict[str, Any]]] = {
            p.stem: {} for p in run_matrix.tutorial_pages()
        }
        for backend, (record, _) in records.items():
            for run in record["runs"]:
                runs.setdefault(run["page"], {})[backend] = run
        return dict(sorted(runs.items()))

    def _matrix(self, records: dict[str, tuple[dict[str, Any], Path]]) -> nodes.table:
        backends = list(run_matrix.BACKENDS)
        totals = dict.fromkeys(backends, 0.0)
        rows = []
        for page, by_backend in self._runs(records).items():
            title = next((run["title"] for run in by_backend.values()), page)
            cells: list[nodes.Node] = [_page_link(self.env, f"tutorials/{page}", title)]
            classes = [""]
            for backend in backends:
                run = by_backend.get(backend)
                cells.append(nodes.Text(self._cell_text(run)))
                status = run["status"] if run else "not run"
                classes.append("status-" + status.replace(" ", "-"))
                totals[backend] += (run or {}).get("seconds") or 0.0
            rows.append(_row(cells, classes))
        rows.append(
            _row(
                [nodes.strong(text="total")]
                + [
                    nodes.Text(f"{totals[b]:.0f} s" if b in records else "not run")
                    for b in backends
                ]
            )
        )
        header = [nodes.Text("Page"), *(nodes.literal(text=b) for b in backends)]
        return _table(header, rows, "backendkit-status")

    @staticmethod
    def _cell_text(run: dict[str, Any] | None) -> str:
        if run is None:
            return "not run"
        text = _MARK[run["status"]]
        if run["seconds"] is not None:
            text += f" {run['seconds']:.0f} s"
        page = run_matrix.ROOT / run["path"]
        if page.is_file() and hashlib.sha256(page.read_bytes()).hexdigest() != run["sha256"]:
            text += " (page changed since)"
        return text

    @staticmethod
    def _origin(records: dict[str, tuple[dict[str, Any], Path]]) -> list[nodes.Node]:
        """Where the table comes from: this build's run, or the committed record."""
        committed = sorted(
            b for b, (_, folder) in records.items() if folder != run_matrix.STATUS_DIR
        )
        if not committed:
            return [nodes.paragraph(text="The record of the run made for this build:")]
        text = (
            "This build ran no matrix (a Read the Docs build, or nox -s docs alone): the "
            f"{'columns' if len(committed) > 1 else 'column'} {', '.join(committed)} "
            "show the record committed to the repository (docs/status-records/), made by "
            "an earlier run of nox -s tutorials. A page edited since is marked; "
        )
        current = run_matrix.source_fingerprint()
        changed = [b for b in committed if records[b][0].get("source") != current]
        text += (
            f"the library itself has changed since that record ({', '.join(changed)})."
            if changed
            else "the library's source is the same as when it was recorded."
        )
        return [nodes.paragraph(text=text)]

    @staticmethod
    def _provenance(records: dict[str, tuple[dict[str, Any], Path]]) -> list[nodes.Node]:
        times = sorted(datetime.fromisoformat(r["recorded"]) for r, _ in records.values())
        versions: dict[str, str] = {}
        for record, _ in records.values():
            versions |= record["versions"]
        order = ["backendkit", *run_matrix.BACKENDS, "keras"]
        ranked = sorted(versions, key=lambda k: order.index(k) if k in order else len(order))
        pythons = sorted({r["python"] for r, _ in records.values()})
        jobs = max(r.get("jobs", 1) for r, _ in records.values())
        shared = (
            "A page that times something ran alone on the backend the site shows it on; "
            f"the other runs ran {jobs} at a time, and their times are those of a shared "
            "machine. "
            if jobs > 1
            else ""
        )
        text = (
            "✓ passed, ✗ failed, n/a: the page's front matter leaves this backend out. "
            "Times include starting the kernel. "
            + shared
            + f"Run {times[-1]:%Y-%m-%d %H:%M} UTC with Python {', '.join(pythons)}, "
            + ", ".join(f"{name} {versions[name]}" for name in ranked)
            + "."
        )
        return [nodes.paragraph(text=text)]

    @staticmethod
    def _failures(records: dict[str, tuple[dict[str, Any], Path]]) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        for backend, (record, _) in records.items():
            for run in record["runs"]:
                err = run.get("error")
                if run["status"] != run_matrix.FAILED or not err:
                    continue
                where = (
                    f"cell {err['cell']} (line {err.get('line')} of {run['path']})"
                    if "cell" in err
                    else run["path"]
                )
                out.append(
                    nodes.paragraph(
                        "",
                        "",
                        nodes.strong(text=f"{run['title']} on {backend}"),
                        nodes.Text(
                            f" failed in {where}: {err['ename']}: {relative(err['evalue'])}"
                        ),
                    )
                )
                out.append(nodes.literal_block(text=relative(err["traceback"]), language="none"))
        if out:
            out.insert(0, nodes.rubric(text="Failures"))
        return out


class ExecutionsNode(nodes.General, nodes.Element):
    """Placeholder for the executions table, filled once every page has been read."""


class Executions(SphinxDirective):
    """``backendkit-executions``: how this build got each executed page's outputs."""

    def run(self) -> list[nodes.Node]:
        self.env.note_reread()  # its rows change whenever any page is executed again
        return [ExecutionsNode()]


class ExecutionsTable(SphinxPostTransform):
    """Replace :class:`ExecutionsNode` by the table (MyST-NB's data is complete by now)."""

    default_priority = 8  # before the references are resolved (10)

    def run(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(ExecutionsNode)):
            node.replace_self(self._table())

    def _table(self) -> nodes.Node:
        data = NbMetadataCollector.get_doc_data(self.env)
        rows = []
        for docname in sorted(data):
            run = data[docname].get("exec_data")
            if not run:
                continue
            reused = data[docname].get(_REUSED_KEY)
            how = "the matrix's run (cache)" if reused else "executed by this build"
            seconds = "-" if run["runtime"] is None else f"{run['runtime']:.0f} s"
            ok = "✓" if run["succeeded"] else f"✗ {run['error'] or ''}"
            backend = data[docname].get(_BACKEND_KEY, "")
            cells: list[nodes.Node] = [
                _page_link(self.env, docname, docname),
                nodes.literal(text=backend),
                nodes.Text(how),
                nodes.Text(seconds),
                nodes.Text(ok),
            ]
            rows.append(_row(cells))
        if not rows:
            return nodes.paragraph(text="This build executed no page.")
        header = [nodes.Text(h) for h in ("Page", "Backend", "Outputs from", "Time", "")]
        return _table(header, rows, "backendkit-executions")


def choose_page_backend(app: Sphinx, docname: str, source: list[str]) -> None:
    """Before a page is read (and executed), give its kernel the matrix's environment."""
    for name, value in _ORIGINAL.items():  # what the previous page set goes first
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".md" or "kernelspec" not in run_matrix.front_matter(path):
        return
    backend = run_matrix.site_backend(path, _ORIGINAL["BACKENDKIT_BACKEND"])
    env = run_matrix.kernel_env(backend, keras=run_matrix.uses_keras(path), base={})
    os.environ.update({name: env[name] for name in _PAGE_VARIABLES if name in env})
    NbMetadataCollector.set_doc_data(app.env, docname, _BACKEND_KEY, backend)
    NbMetadataCollector.set_doc_data(
        app.env, docname, _REUSED_KEY, _in_cache(app, path, source[0])
    )


def _in_cache(app: Sphinx, path: Path, text: str) -> bool:
    """Whether MyST-NB will take the page's outputs from the jupyter-cache, not execute it."""
    if app.config.nb_execution_mode != "cache":
        return False
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook

    notebook = read_myst_markdown_notebook(text, path=str(path))
    try:
        get_cache(app.config.nb_execution_cache_path).match_cache_notebook(notebook)
    except KeyError:
        return False
    return True


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("backendkit-status", StatusMatrix)
    app.add_node(ExecutionsNode)
    app.add_directive("backendkit-executions", Executions)
    app.add_post_transform(ExecutionsTable)
    app.connect("source-read", choose_page_backend)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
