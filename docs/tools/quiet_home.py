"""Where builds and tests let Keras, matplotlib, IPython, Jupyter and backendkit write.

Each of these libraries writes into the user's home unless told otherwise (Keras even
writes ``~/.keras/keras.json`` at import). The docs build, the page matrix and the test
session point them all into one folder of the build, here, in one place: noxfile.py,
docs/conf.py and docs/tools/run_matrix.py all call :func:`quiet_home`.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

#: environment variable -> sub-folder of the build's home
HOMES = {
    "KERAS_HOME": "keras",
    "MPLCONFIGDIR": "matplotlib",
    "IPYTHONDIR": "ipython",
    "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
    "JUPYTER_DATA_DIR": "jupyter-data",
    "XDG_CACHE_HOME": "cache",
    "XDG_CONFIG_HOME": "config",  # backendkit's own config.json too
}


def quiet_home(
    home: Path, env: MutableMapping[str, str] | None = None, *, override: bool = True
) -> MutableMapping[str, str]:
    """Point every variable of :data:`HOMES` into ``home`` (created) in ``env``.

    ``override=False`` keeps values ``env`` already has (a caller's own choice).
    Returns ``env`` (a new dict if none was given).
    """
    env = {} if env is None else env
    for var, sub in HOMES.items():
        if override or not env.get(var):
            env[var] = str(home / sub)
        Path(env[var]).mkdir(parents=True, exist_ok=True)
    return env


if __name__ == "__main__":  # pragma: no cover - a check by hand
    print(quiet_home(Path(os.environ.get("TMPDIR", "/tmp")) / "quiet-home-demo"))
