"""Settings persisted for the next session, and the one safe way to update a JSON file.

backendkit itself persists one setting, the default backend (written by
:func:`backendkit.keras.swap_backend`, read by :func:`backendkit.get_backend` when
neither ``set_backend`` nor ``BACKENDKIT_BACKEND`` chose one). It lives in
``config.json`` in the folder named by ``BACKENDKIT_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/backendkit``, else ``~/.config/backendkit``. Nothing is written
unless asked for; reading a missing file is not an error.

:func:`update_json` is also how ``keras.json`` is changed: under a lock, into a
temporary file in the same folder, then ``os.replace``, so that a reader never sees a
half-written file, concurrent writers do not lose each other's keys, and a file that is
not valid JSON is refused and left exactly as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["config_path", "persist_backend", "persisted_backend", "read_json", "update_json"]

#: the environment variable naming backendkit's configuration folder
CONFIG_DIR_VAR = "BACKENDKIT_CONFIG_DIR"


def config_path() -> Path:
    """The path of backendkit's ``config.json`` (which need not exist)."""
    folder = os.environ.get(CONFIG_DIR_VAR)
    if not folder:
        xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        folder = str(Path(xdg) / "backendkit")
    return Path(folder) / "config.json"


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` if the file does not exist.

    Raises
    ------
    ConfigError
        If the file cannot be read or does not hold a JSON object; the message names
        the file and the fix.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}; check its permissions") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); it was left untouched: fix or delete it"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path} holds a JSON {type(data).__name__}, not an object; it was left "
            f"untouched: fix or delete it"
        )
    return data


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s sibling lock file (POSIX; elsewhere none)."""
    try:
        import fcntl
    except ImportError:  # Windows: os.replace alone still keeps readers safe
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_json(path: str | os.PathLike[str], changes: dict[str, Any]) -> dict[str, Any]:
    """Set ``changes`` in the JSON object in ``path``, keeping every other key.

    Creates the file (and its folder) if missing. The write is atomic (temporary file
    in the same folder, then ``os.replace``) and serialised with other writers by a
    lock file beside it.

    Returns
    -------
    dict
        ``{key: (old, new)}`` for each key whose value changed (``old`` is ``None``
        for a key that was missing).

    Raises
    ------
    ConfigError
        If the existing file is not a valid JSON object (it is left untouched) or the
        folder cannot be written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {path.parent}: {exc}") from exc
    with _locked(path):
        data = read_json(path)
        changed = {k: (data.get(k), v) for k, v in changes.items() if data.get(k) != v}
        if not changed and path.exists():
            return {}
        data.update(changes)
        import tempfile  # only writers pay for it

        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=4)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return changed


def persisted_backend() -> str | None:
    """The default backend persisted in :func:`config_path`, or ``None``."""
    value = read_json(config_path()).get("backend")
    return value if isinstance(value, str) else None


def persist_backend(name: str) -> dict[str, Any]:
    """Persist ``name`` as the default backend of later sessions; return what changed."""
    return update_json(config_path(), {"backend": name})
