"""The build machine's paths: kept out of what the site shows, and found where they leaked.

A traceback or a warning printed by a tutorial names files by their absolute paths on the
machine that executed it: the clone (``/home/ci/backendkit/src/backendkit/put.py``), the
virtual environment (``.nox/docs/lib/python3.11/site-packages/jax/...``), the kernel's
temporary cell files (``/tmp/ipykernel_4242/123.py``). None of it helps a reader, and it
changes with every builder. :func:`relative` rewrites such a path to what a reader's own
machine would show after its prefix: ``backendkit/put.py``, ``jax/_src/...``, ``<cell>``.
The docs build applies it to every cell output (``cell_outputs.py``), the Status page to
the tracebacks of its records, and ``check_site.py`` fails on any path of
:func:`machine_prefixes` left in a built page.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# <prefix>/lib/pythonX.Y/site-packages/ (or dist-packages): installed packages, whatever
# the environment (.venv, .nox/docs, a conda env, Read the Docs' checkout/envs/...).
_PACKAGES = re.compile(r"(?:/[^\s/\"'<>:]+)+/(?:site|dist)-packages/")
# <prefix>/lib/pythonX.Y/: the standard library (warnings.py, contextlib.py, ...).
_STDLIB = re.compile(r"(?:/[^\s/\"'<>:]+)+/lib/python3\.\d+/")
# IPython's file for a cell's code, as warnings name it: /tmp/ipykernel_4242/1234567.py
_CELL_FILE = re.compile(r"(?:/[^\s/\"'<>:]+)*/ipykernel_\d+/\d+\.py")


def _prefixes(root: Path) -> list[str]:
    """The repository's absolute paths (as given and resolved), ``src/`` first."""
    found = []
    for base in dict.fromkeys([str(root), str(root.resolve())]):
        found += [base.rstrip("/") + "/src/", base.rstrip("/") + "/"]
    return found


def relative(text: str, root: Path = ROOT) -> str:
    """``text`` with the build machine's paths made relative.

    Installed packages and the standard library lose their prefix (``jax/_src/...``,
    ``warnings.py``); files of this repository are named from it (``backendkit/...`` for
    the package, ``tutorials/...`` for the rest); a cell's temporary file becomes
    ``<cell>``.

    >>> relative("/home/ci/bk/.nox/docs/lib/python3.11/site-packages/jax/_src/x.py:3")
    'jax/_src/x.py:3'
    >>> relative("/tmp/ipykernel_77/3456.py:2: UserWarning: careful")
    '<cell>:2: UserWarning: careful'
    """
    text = _CELL_FILE.sub("<cell>", text)
    text = _PACKAGES.sub("", text)
    for prefix in _prefixes(root):
        text = text.replace(prefix, "")
    return _STDLIB.sub("", text)


def machine_prefixes(root: Path = ROOT) -> list[str]:
    """Absolute paths that name this machine and must not appear in a built page.

    The clone, the Python installation and environment, the home folder, the temporary
    folder's kernel files, and any ``site-packages``.
    """
    prefixes = {str(root), str(root.resolve()), sys.prefix, sys.base_prefix, sys.exec_prefix}
    home = os.environ.get("HOME")
    if home and home != "/":
        prefixes.add(home)
    prefixes.add(os.path.join(tempfile.gettempdir(), "ipykernel_"))
    return sorted(p.rstrip("/") + ("" if p.endswith("_") else "/") for p in prefixes if p)


def leaked_paths(text: str, root: Path = ROOT, prefixes: Iterable[str] | None = None) -> list[str]:
    """The machine paths in ``text`` (each with a little of what follows), in order."""
    prefixes = machine_prefixes(root) if prefixes is None else list(prefixes)
    patterns = [re.escape(p) for p in prefixes] + [
        _PACKAGES.pattern,
        r"/\.nox/",
        r"/ipykernel_\d+/",
    ]
    found = re.finditer("(" + "|".join(patterns) + r")[^\s\"'<>]{0,60}", text)
    return list(dict.fromkeys(m.group(0) for m in found))


if __name__ == "__main__":  # pragma: no cover - by hand: python build_paths.py FILE...
    for name in sys.argv[1:]:
        for path in leaked_paths(Path(name).read_text(encoding="utf-8", errors="replace")):
            print(f"{name}: {path}")
