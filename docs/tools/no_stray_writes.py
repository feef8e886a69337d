"""Run a command and fail if it wrote anything outside the build folders.

The docs build executes every tutorial, and a tutorial, a kernel or a library it loads
may quietly write to ``~`` (``~/.keras/keras.json``, matplotlib's font cache, IPython's
profile) or next to the sources (a saved model, a checkpoint folder). Neither belongs to
a build. This runs the command with ``HOME`` pointing at a fresh, empty folder and checks
afterwards that the folder is still empty and that no file of the repository outside the
allowed build folders was created, changed or removed.

Usage::

    python docs/tools/no_stray_writes.py [--allow DIR ...] -- sphinx-build ...

Exit status: the command's when it failed, else 1 when it wrote where it should not.
Python's own ``__pycache__`` folders are not counted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: never compared: version control, virtual environments and tool caches
SKIP = {".git", ".nox", ".venv", "venv", "__pycache__", ".ruff_cache", ".pytest_cache"}
DEFAULT_ALLOW = ("docs/_build", "build")


def snapshot(root: Path, allow: list[Path]) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` outside ``allow`` and ``SKIP``: relative path -> (mtime, size)."""
    files = {}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if d not in SKIP and here / d not in allow]
        for name in names:
            stat = (here / name).lstat()
            files[(here / name).relative_to(root).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return files


def changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """What differs between two snapshots, one line a file."""
    lines = [f"created  {p}" for p in sorted(after.keys() - before.keys())]
    lines += [f"removed  {p}" for p in sorted(before.keys() - after.keys())]
    lines += [
        f"changed  {p}" for p in sorted(before.keys() & after.keys()) if before[p] != after[p]
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--allow", nargs="*", default=list(DEFAULT_ALLOW), help="build folders")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (put it after --)")
    allow = [(ROOT / a).resolve() for a in args.allow]
    home = Path(tempfile.mkdtemp(prefix="backendkit-empty-home-"))
    try:
        before = snapshot(ROOT, allow)
        status = subprocess.call(command, env={**os.environ, "HOME": str(home)})
        if status:
            return status
        stray = changes(before, snapshot(ROOT, allow))
        stray += [f"created  ~/{p.relative_to(home).as_posix()}" for p in sorted(home.rglob("*"))]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if stray:
        print("wrote outside the build folders:\n  " + "\n  ".join(stray), file=sys.stderr)
        return 1
    print(f"no stray writes: HOME stayed empty; the repository changed only in {args.allow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
