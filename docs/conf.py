"""Sphinx configuration: MyST-NB executes every tutorial on every build.

The tutorials live in ``tutorials/`` (the one committed copy, MyST markdown that
jupytext opens as notebooks); ``docs/tutorials`` is a symbolic link to it, so the site
includes them without copying. A cell that raises fails the build unless it is tagged
``raises-exception`` on purpose.

Every page is executed when it is read (``nb_execution_mode = "force"``: ``nox -s docs``,
Read the Docs). CI, which has just run every page on every backend (``nox -s
tutorials``), builds with ``-D nb_execution_mode=cache`` instead and shows those runs'
outputs from the jupyter-cache, so that no page is executed twice (docs/tools/run_matrix.py).
Nothing here needs the network: every extension ships its scripts and styles.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sphinx import addnodes

import backendkit

HERE = Path(__file__).parent
BUILD = HERE / "_build"
# Our extension (the Status page's matrix) and the scripts it shares code with.
sys.path.insert(0, str(HERE / "tools"))

# Keep everything the kernels write inside the build folder, also when sphinx-build is
# called directly (Read the Docs) rather than through nox, which sets the same.
from quiet_home import quiet_home  # docs/tools, put on sys.path just above

quiet_home(BUILD / "home", os.environ, override=False)

project = "backendkit"
author = "The backendkit developers"
copyright = "2026, The backendkit developers"
version = release = backendkit.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "status_page",
    # cell outputs fit the page and name files as a reader would, not by the builder's paths
    "cell_outputs",
    # each tutorial downloadable as a notebook, with how to open it in Jupyter
    "notebook_links",
    # a copy button on code cells (its script is part of the package: no network)
    "sphinx_copybutton",
    # MathJax served from the site itself: no CDN, so no network needed to read the docs
    "sphinx-mathjax-offline",
]

exclude_patterns = ["_build", "tools", "benchmarks/*.md", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
# -n on every build, Read the Docs' too (its sphinx-build has -W but not -n)
nitpicky = True
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# -- MyST-NB: execute every page, fail on any error not tagged raises-exception
nb_execution_mode = "force"  # nox -s docs -- -D nb_execution_mode=cache for quick rebuilds
nb_execution_cache_path = str(BUILD / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_allow_errors = False
nb_merge_streams = True
# Markdown that a cell displays (IPython.display.Markdown) is MyST, tables included;
# CommonMark has no tables and would show their pipes as text.
nb_render_markdown_format = "myst"
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# -- API reference from numpydoc-style docstrings
autodoc_typehints = "none"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Docstrings name types in words ("array_like", "str, optional"); there is no network
# for intersphinx inventories, so types outside backendkit are not links.
nitpick_ignore_regex = [(r"py:.*", r"^(?!backendkit\b).*")]

# -- copy buttons on code, not on outputs; prompts ($, >>>) are left out of the copy
copybutton_selector = "div:not(.output) > div.highlight pre"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# -- the theme, with the repository's links (view and edit this page)
REPOSITORY = "https://github.com/backendkit/backendkit"
BRANCH = "main"
GITHUB_ICON = (  # GitHub's mark, inline: no request to another site
    '<svg stroke="currentColor" fill="currentColor" stroke-width="0" viewBox="0 0 16 16">'
    '<path fill-rule="evenodd" d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07'
    ".55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82"
    "-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52"
    ".28-.87.51-1.07-1.78-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08"
    "-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82"
    " 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29"
    ".25.54.69.54 1.35 0 .98-.01 1.77-.01 2.17 0 .21.15.46.55.38A8.013 8.013 0 0 0 16 8c0"
    '-4.42-3.58-8-8-8z"></path></svg>'
)

html_theme = "furo"
html_title = f"backendkit {release}"
html_static_path = ["_static"]
html_css_files = ["backendkit.css"]
html_favicon = "_static/favicon.svg"  # browsers ask for one; a 404 is a console error
html_theme_options = {
    "source_repository": REPOSITORY,
    "source_branch": BRANCH,
    "source_directory": "docs/",
    "footer_icons": [
        {
            "name": "GitHub",
            "url": REPOSITORY,
            "html": GITHUB_ICON,
            "class": "",
        }
    ],
}
# Files of the site that live outside docs/ (docs/tutorials links to tutorials/, the
# changelog page includes CHANGELOG.md): their "edit" and "view" links go to the real file.
SOURCE_OUTSIDE_DOCS = {"changelog": "CHANGELOG.md"}


def _repository_links(app, pagename, templatename, context, doctree):
    """Point "edit this page" and "view source" at the file that holds the page's text."""
    if pagename.startswith("tutorials/"):
        path = pagename + context.get("page_source_suffix", ".md")
    elif pagename in SOURCE_OUTSIDE_DOCS:
        path = SOURCE_OUTSIDE_DOCS[pagename]
    else:
        return
    context["theme_source_edit_link"] = f"{REPOSITORY}/edit/{BRANCH}/{path}"
    context["theme_source_view_link"] = f"{REPOSITORY}/blob/{BRANCH}/{path}"


def _links_through_the_tutorials_link(app, doctree):
    """Resolve Markdown links to tutorials, which Sphinx follows through the symbolic link.

    ``[Backends](01-backends.md)`` (a link that works in Jupyter too) is resolved by Sphinx
    to the real file, ``tutorials/01-backends.md`` outside ``docs/``, which is no document
    of the site; the page is the same as ``docs/tutorials/01-backends``.
    """
    real = str((HERE / "tutorials").resolve()) + "/"
    for node in doctree.findall(addnodes.pending_xref):
        target = node.get("reftarget", "")
        if node.get("refdomain") == "doc" and target.startswith(real):
            node["reftarget"] = "tutorials/" + target[len(real) :]


def setup(app):
    app.connect("html-page-context", _repository_links)
    app.connect("doctree-read", _links_through_the_tutorials_link)
