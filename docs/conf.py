"""Sphinx configuration: MyST-NB executes every tutorial on every build.

The tutorials live in ``tutorials/`` (the one committed copy, MyST markdown that
jupytext opens as notebooks); ``docs/tutorials`` is a symbolic link to it, so the site
includes them without copying. A cell that raises fails the build unless it is tagged
``raises-exception`` on purpose.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
    # MathJax served from the site itself: no CDN, so no network needed to read the docs
    "sphinx-mathjax-offline",
]

exclude_patterns = ["_build", "tools", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
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

html_theme = "furo"
html_title = f"backendkit {release}"
html_static_path = ["_static"]
html_css_files = ["backendkit.css"]
html_favicon = "_static/favicon.svg"  # browsers ask for one; a 404 is a console error
