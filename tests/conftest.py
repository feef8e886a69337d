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
from backendkit import backends

BACKENDS = list(backends.NAMES)

# Scripts that tests/test_distributed.py starts in processes of their own: not test
# modules, and not importable here (--doctest-modules would import them).
collect_ignore = ["distributed"]
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
def _restore_selection_and_dtype():
    """A test that calls set_backend or set_default_dtype, or makes JAX switch its 64-bit
    mode on by asking for float64, must not change what the next test gets. Reset
    through the public calls, as a user would (autouse fixtures run before the
    ``backend`` fixture's block, so these are the process-wide choices)."""
    backend = bk.get_backend()
    dtype = bk.get_default_dtype()
    jax = sys.modules.get("jax")
    x64 = None if jax is None else jax.config.jax_enable_x64
    yield
    if bk.get_backend() != backend:
        bk.set_backend(backend)
    if bk.get_default_dtype() != dtype:
        bk.set_default_dtype(dtype)
    jax = sys.modules.get("jax")
    if jax is not None and jax.config.jax_enable_x64 != bool(x64):
        jax.config.update("jax_enable_x64", bool(x64))


def run_python(code: str, env: dict[str, str] | None = None, check: bool = True):
    """Run ``code`` in a fresh interpreter with backendkit importable; return the result."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BACKENDKIT_")}
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,  # the caller decides: check= above, or inspects the result
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``@pytest.mark.gpu`` tests where their backend sees no accelerator.

    The frameworks are imported to look only when such a test was collected.
    """
    marked = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not marked:
        return
    found = {
        name: [d.spec for d in bk.devices(name) if d.kind != "cpu"]
        for name in bk.available_backends()
    }
    for item in marked:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("backend") if callspec is not None else None
        if name is not None and name not in found:
            continue  # the backend fixture skips it, saying what to install
        seen = found[name] if name is not None else [s for specs in found.values() for s in specs]
        if not seen:
            who = f"the {name} backend" if name else "any backend"
            item.add_marker(pytest.mark.skip(reason=f"no accelerator visible to {who}"))
