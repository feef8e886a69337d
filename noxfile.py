"""Sessions: ``tests``, ``docs`` (``-- --serve`` to rebuild on change), ``lint``,
``typecheck``, ``tutorials`` (every page on every backend it declares), ``site`` (the
built site in headless Chromium), and ``ci`` (tutorials, tests and docs in one
environment, as CI runs them).

Each session installs what it needs into its own virtual environment, so that
``nox -s tests`` and ``nox -s docs`` work on a fresh machine with nothing but nox.

Torch must come from a CPU wheel on machines without a GPU: every install here is
constrained by ``.ci/constraints-cpu.txt`` unless the environment variable
``BACKENDKIT_CONSTRAINTS`` names another file (or is set empty for none).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent / "docs" / "tools"))
from quiet_home import quiet_home  # docs/tools, put on sys.path just above

nox.options.sessions = ["lint", "tests", "tutorials", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.needs_version = ">=2024.3.2"

ROOT = Path(__file__).parent
BUILD = ROOT / "docs" / "_build"
PYTHON = "3.11"


def _install(session: nox.Session, *args: str) -> None:
    constraints = os.environ.get(
        "BACKENDKIT_CONSTRAINTS", str(ROOT / ".ci" / "constraints-cpu.txt")
    )
    extra = ["--constraint", constraints] if constraints else []
    session.install(*extra, *args)


def _quiet_home(build: Path) -> dict[str, str]:
    """Keep Keras, matplotlib, Jupyter, IPython and backendkit's own settings out of
    ``~``: builds and tests neither read nor write the user's (docs/tools/quiet_home.py)."""
    env = dict(quiet_home(build / "home"))
    env["PYTHONHASHSEED"] = "0"
    return env


def _pytest(session: nox.Session, posargs: list[str]) -> None:
    env = _quiet_home(ROOT / "build" / "tests")
    # One worker per core, four at most (tests start processes of their own); "-- -n 0"
    # runs in this process. After nox -s tutorials, the notebook tests take the matrix's
    # runs of the same pages instead of running them again (tests/test_notebooks.py).
    workers = ["-n", "auto", "--maxprocesses", "4", "--durations", "15"]
    session.run("pytest", *workers, *posargs, env=env)


def _sphinx(session: nox.Session, posargs: list[str]) -> None:
    serve = "--serve" in posargs
    cache = "--cache" in posargs
    posargs = [a for a in posargs if a not in ("--serve", "--cache")]
    env = _quiet_home(BUILD)
    args = ["-b", "html", "-W", "-n", "--keep-going", "-T", "docs", str(BUILD / "html")]
    # By default every page is read afresh (-E) and executed (conf.py: "force"), so every
    # tutorial runs against the library as it is now.
    args += ["-D", "nb_execution_mode=cache"] if cache else ["-E"]
    if serve:
        _install(session, "sphinx-autobuild")
        session.run(
            "sphinx-autobuild", "--watch", "src", "--watch", "tutorials", *args, *posargs, env=env
        )
    else:
        # The build must write nothing outside docs/_build: HOME is an empty folder that
        # must stay empty, and the sources must be left as they were.
        guard = ["python", "docs/tools/no_stray_writes.py", "--"]
        session.run(*guard, "sphinx-build", *args, *posargs, env=env)


def _matrix(session: nox.Session, posargs: list[str]) -> None:
    commit = "--commit-record" in posargs
    posargs = [a for a in posargs if a != "--commit-record"]
    env = _quiet_home(BUILD)
    guard = ["python", "docs/tools/no_stray_writes.py", "--"]
    session.run(*guard, "python", "docs/tools/run_matrix.py", *posargs, env=env)
    if commit:
        target = ROOT / "docs" / "status-records"
        target.mkdir(exist_ok=True)
        for record in sorted((BUILD / "status").glob("*.json")):
            shutil.copyfile(record, target / record.name)
            session.log(f"copied {record.name} into docs/status-records/: commit it")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (every installed backend), doctests included."""
    # docs: the gates on the site (a failing cell fails the build, API coverage, notebooks)
    _install(session, "-e", ".[test,docs,all]")
    _pytest(session, session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the site, executing every tutorial.

    ``-- --serve`` rebuilds on change. ``-- --cache`` reads only what changed and takes
    each page's outputs from the jupyter-cache when its code is unchanged: after ``nox
    -s tutorials``, which stores there the run of every page on the backend the site
    shows it on, no page is executed twice (what CI does).
    """
    _install(session, "-e", ".[docs,all]")
    _sphinx(session, session.posargs)


@nox.session(python=PYTHON)
def tutorials(session: nox.Session) -> None:
    """Run every tutorial on every backend it declares (``-- jax``: one backend only).

    ``-- jax --pages tutorials/03-*.md`` runs a few pages; python docs/tools/run_matrix.py
    --help lists the options. ``-- --commit-record`` then copies the record into
    docs/status-records/, the one Read the Docs shows (commit it).

    Each page runs once per backend, in a fresh kernel; the record, docs/_build/status/,
    is what the site's Status page shows, and the run on the backend the site shows a
    page on goes into the docs build's jupyter-cache (``nox -s docs -- --cache`` uses
    it), while tests/test_notebooks.py takes a matching record for its own run. Fails,
    after running everything, if any page failed. One environment serves all three
    backends (each has all frameworks).
    """
    _install(session, "-e", ".[docs,all]")
    _matrix(session, session.posargs)


@nox.session(python=PYTHON, default=False)
def ci(session: nox.Session) -> None:
    """CI's middle: ``tutorials``, then ``tests``, then ``docs -- --cache``, in one
    environment (one install of every framework instead of three), each step exactly
    its own session's. Every step runs even when an earlier one failed, so that the site
    shows what failed; the session fails at the end if any did."""
    _install(session, "-e", ".[test,docs,all]")
    failed = []
    for name, step, posargs in [
        ("tutorials", _matrix, []),
        ("tests", _pytest, []),
        ("docs", _sphinx, ["--cache"]),
    ]:
        try:
            step(session, posargs)
        except nox.command.CommandFailed:
            failed.append(name)
    if failed:
        session.error(f"failed: {', '.join(failed)} (see above, and docs/_build/html/status.html)")


@nox.session(python=PYTHON)
def site(session: nox.Session) -> None:
    """Check the built site (nox -s docs first) in headless Chromium; screenshots too.

    Chromium cannot be downloaded by Selenium here: Debian's chromium and chromium-driver
    are installed with apt-get when missing (as root, or through sudo).
    """
    _install(session, "selenium>=4.20")
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        apt = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
        session.run(*apt, "update", "-qq", external=True)
        packages = ["chromium", "chromium-driver", "fonts-noto-color-emoji"]
        session.run(*apt, "install", "-y", "-qq", *packages, external=True)
    session.run("python", "docs/tools/check_site.py", *session.posargs)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy, strict, on src/backendkit (configuration in pyproject.toml). The frameworks
    are optional and not installed here: their objects are Any, as for a user who has
    only NumPy."""
    _install(session, "-e", ".", "mypy>=1.10", "types-psutil")
    session.run("mypy", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff, the floors of ARCHITECTURE.md (import-linter: layers and no cycles, imports
    inside functions included), and .readthedocs.yaml against Read the Docs' schema."""
    _install(session, "ruff", "check-jsonschema", "import-linter>=2.13")
    session.run(
        "ruff", "check", "src", "tests", "benchmarks", "noxfile.py", "docs/conf.py", "docs/tools"
    )
    session.run(
        "ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py", "docs/tools"
    )
    session.run("check-jsonschema", "--builtin-schema", "vendor.readthedocs", ".readthedocs.yaml")
    # the package's source is read, not imported: no framework is needed here
    session.run("lint-imports", env={"PYTHONPATH": str(ROOT / "src")})


@nox.session(python=PYTHON)
def gpu_dry_run(session: nox.Session) -> None:
    """benchmarks/gpu_run.sh --cpu-dry-run: the GPU machine's script, every step on the
    CPU at small sizes (a couple of minutes), so that it works the first time a GPU
    machine is lent. Outputs in build/gpu-dry-run/ (``-- --steps "bench"``: some)."""
    _install(session, "-e", ".[test,all]", "pytest-xdist")
    out = ROOT / "build" / "gpu-dry-run"
    shutil.rmtree(out, ignore_errors=True)
    env = {**_quiet_home(ROOT / "build" / "gpu-dry-run-home"), "PYTHON": "python"}
    args = ["bash", "benchmarks/gpu_run.sh", "--cpu-dry-run", "--out", str(out)]
    session.run(*args, *session.posargs, env=env, external=True)
