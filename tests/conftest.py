"""Shared fixtures: the backend parametrisation every concern's tests use.

``backend`` runs a test once per backend (numpy, jax, torch), inside ``use_backend``,
and skips with a reason where the framework is not installed. ``run_python`` runs code
in a fresh interpreter, for what must be checked from a clean process (imports,
environment variables).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import backendkit as bk
from backendkit import backends, selection

BACKENDS = list(backends.NAMES)
SRC = Path(__file__).resolve().parents[1] / "src"


def skip_unless_installed(name: str) -> None:
    if not backends.is_installed(name):
        extra = "" if name == "numpy" else f"[{name}]"
        pytest.skip(f"{name} is not installed (pip install 'backendkit{extra}')")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend's name, with that backend current for the test."""
    name = request.param
    skip_unless_installed(name)
    with bk.use_backend(name):
        yield name


@pytest.fixture(autouse=True)
def _restore_selection():
    """A test that calls set_backend must not change the backend of the next test."""
    saved = selection._process
    yield
    selection._process = saved


def run_python(code: str, env: dict[str, str] | None = None, check: bool = True):
    """Run ``code`` in a fresh interpreter with backendkit importable; return the result."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BACKENDKIT_")}
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc
