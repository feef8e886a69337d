"""Sphinx extension: the page × backend matrix on the Status page, and each page's backend.

``run_matrix.py`` (``nox -s tutorials``) leaves one JSON record per backend in
``docs/_build/status/``; the ``backendkit-status`` directive renders them as a table,
page by backend with times, followed by what failed and why. A build without a record
says so instead of showing an empty or stale table.

The docs build itself executes each page once, in the Sphinx process's environment. So
that the site shows a page on a backend the page applies to, a page whose front matter
leaves out the selected backend (``BACKENDKIT_BACKEND``, numpy by default) is executed
with the first backend it declares.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import run_matrix
from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

_ORIGINAL_BACKEND = os.environ.get("BACKENDKIT_BACKEND")
_MARK = {run_matrix.PASSED: "✓", run_matrix.FAILED: "✗ failed", run_matrix.NOT_APPLICABLE: "n/a"}


def load_records(folder: Path) -> dict[str, dict[str, Any]]:
    """The matrix records in ``folder``, by backend, in matrix order (missing ones left out)."""
    records = {}
    for backend in run_matrix.BACKENDS:
        path = folder / f"{backend}.json"
        if path.is_file():
            records[backend] = json.loads(path.read_text(encoding="utf-8"))
    return records


class StatusMatrix(SphinxDirective):
    """``backendkit-status``: the record of ``nox -s tutorials`` as a page × backend table."""

    def run(self) -> list[nodes.Node]:
        folder = run_matrix.STATUS_DIR
        # Re-read this page whenever a record or a tutorial changes; a missing record
        # counts as changed, so a page that says "not run" is re-checked at every build.
        for backend in run_matrix.BACKENDS:
            self.env.note_dependency(str(folder / f"{backend}.json"))
        for page in run_matrix.tutorial_pages():
            self.env.note_dependency(str(page))
        records = load_records(folder)
        if not records:
            note = nodes.note()
            note += nodes.paragraph(
                "",
                "",
                nodes.Text(
                    "The page × backend matrix was not run for this build: there is no record in "
                ),
                nodes.literal(text=f"{run_matrix.display_path(folder)}/"),
                nodes.Text(". Run "),
                nodes.literal(text="nox -s tutorials"),
                nodes.Text(" before "),
                nodes.literal(text="nox -s docs"),
                nodes.Text(" (CI does) to fill this table."),
            )
            return [note]
        return [self._table(records), *self._provenance(records), *self._failures(records)]

    def _runs(self, records: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
        """page -> backend -> run, with every current tutorial present."""
        runs: dict[str, dict[str, dict[str, Any]]] = {
            p.stem: {} for p in run_matrix.tutorial_pages()
        }
        for backend, record in records.items():
            for run in record["runs"]:
                runs.setdefault(run["page"], {})[backend] = run
        return dict(sorted(runs.items()))

    def _table(self, records: dict[str, dict[str, Any]]) -> nodes.table:
        backends = list(run_matrix.BACKENDS)
        runs = self._runs(records)
        table = nodes.table(classes=["colwidths-auto", "backendkit-status"])
        group = nodes.tgroup(cols=len(backends) + 1)
        table += group
        for _ in range(len(backends) + 1):
            group += nodes.colspec(colwidth=1)
        head = nodes.thead()
        group += head
        head += _row([nodes.Text("Page"), *(nodes.literal(text=b) for b in backends)])
        body = nodes.tbody()
        group += body
        totals = dict.fromkeys(backends, 0.0)
        for page, by_backend in runs.items():
            cells = [self._page_link(page, by_backend)]
            classes = [""]
            for backend in backends:
                run = by_backend.get(backend)
                cells.append(nodes.Text(self._cell_text(run)))
                classes.append("status-" + (run["status"] if run else "not run").replace(" ", "-"))
                totals[backend] += (run or {}).get("seconds") or 0.0
            body += _row(cells, classes)
        body += _row(
            [nodes.strong(text="total")]
            + [nodes.Text(f"{totals[b]:.1f} s" if b in records else "not run") for b in backends]
        )
        return table

    def _page_link(self, page: str, by_backend: dict[str, dict[str, Any]]) -> nodes.Node:
        docname = f"tutorials/{page}"
        if docname not in self.env.found_docs:  # a record of a page that is gone
            title = next((run["title"] for run in by_backend.values()), page)
            return nodes.Text(title.replace("`", ""))
        # Not explicit: Sphinx writes the page's own title, its markup resolved (the
        # record's title is raw MyST, backticks and all).
        ref = pending_xref(
            refdoc=self.env.docname,
            refdomain="std",
            reftype="doc",
            reftarget=f"/{docname}",
            refexplicit=False,
        )
        ref += nodes.inline(text=page)
        return ref

    @staticmethod
    def _cell_text(run: dict[str, Any] | None) -> str:
        if run is None:
            return "not run"
        text = _MARK[run["status"]]
        if run["seconds"] is not None:
            text += f" {run['seconds']:.1f} s"
        page = run_matrix.ROOT / run["path"]
        if page.is_file() and hashlib.sha256(page.read_bytes()).hexdigest() != run["sha256"]:
            text += " (page changed since)"
        return text

    @staticmethod
    def _provenance(records: dict[str, dict[str, Any]]) -> list[nodes.Node]:
        times = sorted(datetime.fromisoformat(r["recorded"]) for r in records.values())
        versions: dict[str, str] = {}
        for record in records.values():
            versions |= record["versions"]
        order = ["backendkit", *run_matrix.BACKENDS, "keras"]
        ranked = sorted(versions, key=lambda k: order.index(k) if k in order else len(order))
        versions = {name: versions[name] for name in ranked}
        pythons = sorted({r["python"] for r in records.values()})
        text = (
            "✓ passed, ✗ failed, n/a: the page's front matter leaves this backend out. "
            "Times include starting the kernel. "
            f"Run {times[-1]:%Y-%m-%d %H:%M} UTC with Python {', '.join(pythons)}, "
            + ", ".join(f"{name} {version}" for name, version in versions.items())
            + "."
        )
        return [nodes.paragraph(text=text)]

    @staticmethod
    def _failures(records: dict[str, dict[str, Any]]) -> list[nodes.Node]:
        out: list[nodes.Node] = []
        for backend, record in records.items():
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
                        nodes.Text(f" failed in {where}: {err['ename']}: {err['evalue']}"),
                    )
                )
                out.append(nodes.literal_block(text=err["traceback"], language="none"))
        if out:
            section_title = nodes.rubric(text="Failures")
            out.insert(0, section_title)
        return out


def _row(contents: list[nodes.Node], classes: list[str] | None = None) -> nodes.row:
    row = nodes.row()
    for content, cls in zip(contents, classes or [""] * len(contents), strict=True):
        entry = nodes.entry(classes=[cls] if cls else [])
        entry += nodes.paragraph("", "", content)
        row += entry
    return row


def choose_page_backend(app: Sphinx, docname: str, source: list[str]) -> None:
    """Before a page is read (and executed), select a backend its front matter declares."""
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".md" or "backendkit" not in run_matrix.front_matter(path):
        declared = None
    else:
        declared = run_matrix.declared_backends(path)
    selected = run_matrix.ALIASES.get(_ORIGINAL_BACKEND or "numpy", _ORIGINAL_BACKEND or "numpy")
    if declared and selected not in declared:
        os.environ["BACKENDKIT_BACKEND"] = declared[0]
    elif _ORIGINAL_BACKEND is None:
        os.environ.pop("BACKENDKIT_BACKEND", None)
    else:
        os.environ["BACKENDKIT_BACKEND"] = _ORIGINAL_BACKEND


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("backendkit-status", StatusMatrix)
    app.connect("source-read", choose_page_backend)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
