"""``import backendkit`` imports no framework and changes nothing in the process.

Each check runs in a fresh interpreter (``run_python``): this test session has long
since imported every framework.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_python

FRAMEWORKS = ["jax", "jaxlib", "torch", "keras", "tensorflow", "array_api_compat.torch"]

SNAPSHOT = """
import json, os, sys, threading, warnings
import numpy as np

def snapshot():
    return {
        "environ": dict(os.environ),
        "warnings": [repr(f) for f in warnings.filters],
        "path": list(sys.path),
        "cwd": os.getcwd(),
        "threads": threading.active_count(),
        "np_err": np.geterr(),
        "np_print": repr(np.get_printoptions()),
    }
"""


@pytest.fixture
def clean_homes(tmp_path):
    """HOME and KERAS_HOME in empty temporary folders, to see anything written there."""
    home, keras_home = tmp_path / "home", tmp_path / "keras-home"
    home.mkdir()
    keras_home.mkdir()
    env = {"HOME": str(home), "KERAS_HOME": str(keras_home), "KERAS_BACKEND": "numpy"}
    return env, home, keras_home


def test_import_loads_no_framework():
    proc = run_python(
        f"""
        import sys
        import backendkit
        print([m for m in {FRAMEWORKS!r} if m in sys.modules])
        """
    )
    assert proc.stdout.strip() == "[]"


def test_import_changes_nothing(clean_homes):
    env, home, keras_home = clean_homes
    proc = run_python(
        SNAPSHOT
        + """
before = snapshot()
import backendkit
after = snapshot()
print(json.dumps({k: (before[k], after[k]) for k in before if before[k] != after[k]}))
""",
        env=env,
    )
    assert json.loads(proc.stdout) == {}
    assert list(home.iterdir()) == []
    assert list(keras_home.iterdir()) == []


def test_default_use_imports_no_framework(clean_homes):
    # The numpy backend (the default) and the selection queries need no other framework.
    env, home, keras_home = clean_homes
    proc = run_python(
        f"""
        import sys
        import backendkit as bk
        names = bk.available_backends()
        assert bk.get_backend() == "numpy"
        y = bk.put(bk.xp.zeros(3), [0, 0], 1.0)
        assert bk.at(y, [0, 0]).add(1.0).tolist() == [3.0, 0.0, 0.0]
        assert bk.backend_of(y, 1.0, [2]) == "numpy"
        print([m for m in {FRAMEWORKS!r} if m in sys.modules])
        """,
        env=env,
    )
    assert proc.stdout.strip() == "[]"
    assert list(home.iterdir()) == []
    assert list(keras_home.iterdir()) == []


def test_jax_x64_untouched(clean_homes):
    pytest.importorskip("jax", reason="jax is not installed (pip install 'backendkit[jax]')")
    env, _, _ = clean_homes
    proc = run_python(
        """
        import os
        import backendkit as bk
        with bk.use_backend("jax"):
            x = bk.xp.ones(3)
            bk.put(x, 0, 2.0)
        import jax
        print(jax.config.jax_enable_x64, x.dtype, "JAX_ENABLE_X64" in os.environ)
        """,
        env=env,
    )
    assert proc.stdout.split() == ["False", "float32", "False"]
