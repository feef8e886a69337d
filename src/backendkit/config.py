"""Settings persisted for the next session, and the one safe way to update a JSON file.

backendkit itself persists two settings, both written by
:func:`backendkit.keras.swap_backend`: the default backend (read by
:func:`backendkit.get_backend` when neither ``set_backend`` nor ``BACKENDKIT_BACKEND``
chose one) and the accelerator that goes with it (read, at the same moment of first
use, as the default device of :mod:`backendkit._devices` when ``set_device`` chose
none). They live in
``config.json`` in the folder named by ``BACKENDKIT_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/backendkit``, else ``~/.config/backendkit``. Nothing is written
unless asked for; reading a missing file is not an error.

:func:`update_json` is also how ``keras.json`` is changed: under a lock, into a
temporary file in the same folder, then ``os.replace``, so that a reader never sees a
half-written file, concurrent writers do not lose each other's keys, and a file that is
not valid JSON is refused and left exactly as it was. The file keeps its mode (a
``0644`` ``keras.json`` stays ``0644``), and a symbolic link stays a link: its target
is what gets replaced. :func:`update_json_files` does the same for several files as one
transaction, all written or none (``swap_backend`` writes ``keras.json`` and
``config.json`` so). Every failure to read or write, a read-only folder included, is a
:class:`~backendkit.ConfigError` that names the file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "ACCELERATOR_KINDS",
    "config_path",
    "persist_backend",
    "persisted_accelerator",
    "persisted_backend",
    "read_json",
    "update_json",
    "update_json_files",
]

#: the environment variable naming backendkit's configuration folder
CONFIG_DIR_VAR = "BACKENDKIT_CONFIG_DIR"
#: the device kinds a persisted ``accelerator`` may name
ACCELERATOR_KINDS: tuple[str, ...] = ("cpu", "gpu", "mps")


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


def _target(path: Path) -> Path:
    """The file that ``path`` names, absolute, links followed to their end: the new
    file replaces a symlink's target, so the link stays a link, and every writer locks
    the same lock file however it spelled the path."""
    return Path(os.path.realpath(path))


@contextlib.contextmanager
def _locked(paths: list[Path]) -> Iterator[None]:
    """Hold an exclusive lock on each path's sibling lock file (POSIX; elsewhere none).

    Locks are taken in one global order (sorted paths), so that two writers of the
    same files never wait on each other crosswise.
    """
    try:
        import fcntl
    except ImportError:  # Windows: os.replace alone still keeps readers safe
        yield
        return
    with contextlib.ExitStack() as stack:
        for path in sorted(set(paths)):
            lock_path = path.with_name(path.name + ".lock")
            try:
                lock = stack.enter_context(open(lock_path, "a"))
            except OSError as exc:
                raise ConfigError(
                    f"cannot write in {path.parent} (creating the lock file {lock_path} "
                    f"failed: {exc}); make the folder writable"
                ) from exc
            fcntl.flock(lock, fcntl.LOCK_EX)
            stack.callback(fcntl.flock, lock, fcntl.LOCK_UN)
        yield


def _write_temporary(path: Path, data: dict[str, Any], mode: int | None) -> str:
    """Write ``data`` to a new temporary file beside ``path``; return its name.

    The file is created with ``0o666`` less the umask, as ``open`` would make it, or
    given ``mode``, the mode of the file it is about to replace.
    """
    import secrets  # only writers pay for it

    for _ in range(100):
        tmp = str(path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp"))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 32 random bits
        raise FileExistsError(f"no free temporary name beside {path}")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=4)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _restore(path: Path, old: bytes | None) -> None:
    """Put back what ``path`` held before (``None``: it did not exist); best effort."""
    with contextlib.suppress(OSError):
        if old is None:
            os.unlink(path)
        else:
            path.write_bytes(old)


def update_json_files(
    changes: dict[str | os.PathLike[str], dict[str, Any]],
) -> dict[Path, dict[str, Any]]:
    """Set ``changes[path]`` in each JSON file ``path``, all files or none.

    The transaction behind :func:`update_json` and :func:`backendkit.keras.swap_backend`
    (which writes ``keras.json`` and ``config.json`` together). Each file keeps every
    other key, its mode and, if it is a symbolic link, stays one (its target is
    written). Every file's lock is held for the whole update, taken in one global
    order, so that concurrent callers apply their updates one after another and the
    files never mix two updates. Every new file is written (to a temporary file beside
    the old one, flushed to disk) before any is replaced; if a replacement fails, the
    files already replaced get their old content back.

    Returns
    -------
    dict
        ``{path: {key: (old, new)}}`` for each path, as :func:`update_json`.

    Raises
    ------
    ConfigError
        If a file is not a valid JSON object, or a folder, lock file or file cannot be
        written (a read-only folder, a full disk). Nothing was changed then.
    """
    wanted = {Path(p): dict(c) for p, c in changes.items()}
    paths = list(wanted)
    targets = {}
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the folder {path.parent} for {path.name}: {exc}; "
                f"create it, make it writable, or point elsewhere"
            ) from exc
        targets[path] = _target(path)
        if targets[path].parent != path.parent:
            with contextlib.suppress(OSError):  # a dangling link: its folder may be missing
                targets[path].parent.mkdir(parents=True, exist_ok=True)
    changed: dict[Path, dict[str, Any]] = {}
    with _locked(list(targets.values())):
        pending = []  # (target, temporary file, old bytes or None)
        try:
            for path in paths:
                target = targets[path]
                data = read_json(target)
                new = wanted[path]
                changed[path] = {k: (data.get(k), v) for k, v in new.items() if data.get(k) != v}
                if not changed[path] and target.exists():
                    continue
                try:
                    old = target.read_bytes()
                    mode = target.stat().st_mode & 0o7777
                except FileNotFoundError:
                    old, mode = None, None
                try:
                    tmp = _write_temporary(target, {**data, **new}, mode)
                except OSError as exc:
                    raise ConfigError(
                        f"cannot write {target} (in {target.parent}: {exc}); "
                        f"{_untouched(len(paths))}: make the folder writable"
                    ) from exc
                pending.append((target, tmp, old))
            done: list[tuple[Path, bytes | None]] = []
            for target, tmp, old in pending:
                try:
                    os.replace(tmp, target)
                except OSError as exc:
                    for replaced, content in reversed(done):
                        _restore(replaced, content)
                    raise ConfigError(
                        f"cannot replace {target} (in {target.parent}: {exc}); "
                        f"{_untouched(len(paths))}: make the folder writable"
                    ) from exc
                done.append((target, old))
        finally:
            for _, tmp, _ in pending:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
    return changed


def _untouched(n: int) -> str:
    return "the file was left as it was" if n == 1 else "neither file was changed"


def update_json(path: str | os.PathLike[str], changes: dict[str, Any]) -> dict[str, Any]:
    """Set ``changes`` in the JSON object in ``path``, keeping every other key.

    Creates the file (and its folder) if missing. The write is atomic (temporary file
    in the same folder, then ``os.replace``) and serialised with other writers by a
    lock file beside it. The file keeps its mode; a symbolic link stays a link and its
    target is written. See :func:`update_json_files` for several files at once.

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

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from backendkit.config import update_json
    >>> path = Path(tempfile.mkdtemp()) / "settings.json"
    >>> update_json(path, {"backend": "jax"})
    {'backend': (None, 'jax')}
    >>> update_json(path, {"backend": "jax"})
    {}
    """
    path = Path(path)
    return update_json_files({path: changes})[path]


def persisted_backend() -> str | None:
    """The default backend persisted in :func:`config_path`, or ``None``.

    Raises
    ------
    ConfigError
        If the file cannot be read, is not a JSON object, or its ``backend`` is not a
        string (``42``, ``null``); the message names the file and the key.
    """
    path = config_path()
    data = read_json(path)
    if "backend" not in data:
        return None
    value = data["backend"]
    if not isinstance(value, str):
        raise ConfigError(
            f"{path} sets 'backend' to {json.dumps(value)}, which is not a backend name; "
            f'it was left untouched: write a name such as "numpy" or "jax" there, '
            f"delete the key, or persist one with backendkit.keras.swap_backend(name)"
        )
    return value


def persisted_accelerator() -> str | None:
    """The accelerator persisted with the backend in :func:`config_path`, or ``None``.

    ``"cpu"``, ``"gpu"`` or ``"mps"``, as :func:`backendkit.keras.swap_backend` wrote
    it; ``None`` where the file, the key or its value (``null``: the framework's own
    choice) is missing.

    Raises
    ------
    ConfigError
        If the file cannot be read, is not a JSON object, or its ``accelerator`` is
        neither ``null`` nor one of ``ACCELERATOR_KINDS``; the message names the
        file and the key.

    Examples
    --------
    >>> import os, tempfile
    >>> from unittest import mock
    >>> from backendkit import config
    >>> with mock.patch.dict(os.environ, {"BACKENDKIT_CONFIG_DIR": tempfile.mkdtemp()}):
    ...     _ = config.persist_backend("torch", accelerator="gpu")
    ...     config.persisted_accelerator()
    'gpu'
    """
    path = config_path()
    value = read_json(path).get("accelerator")
    if value is None or value in ACCELERATOR_KINDS:
        return value
    raise ConfigError(
        f"{path} sets 'accelerator' to {json.dumps(value)}, which is no device kind; it "
        f"was left untouched: write one of {', '.join(map(json.dumps, ACCELERATOR_KINDS))} "
        f"or null there, delete the key, or persist one with "
        f"backendkit.keras.swap_backend(name, accelerator=...)"
    )


def persist_backend(name: str, accelerator: str | None = None) -> dict[str, Any]:
    """Persist ``name`` and ``accelerator`` (``None``: the framework's own choice) as
    the default backend and device of later sessions; return what changed."""
    return update_json(config_path(), {"backend": name, "accelerator": accelerator})
