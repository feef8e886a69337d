"""The child side of :func:`backendkit.runner.run_in_backend`.

``python -m backendkit._child CALL RESULT`` reads the pickled call from the file CALL,
runs it and writes the outcome to the file RESULT. The environment (backend, Keras
backend, accelerator variables) was set by the parent before this interpreter started,
so it is in force before anything imports a framework.

The outcome is a dict: ``{"ok": True, "value": ...}``, or ``{"ok": False, "exception":
exc or None, "type": ..., "message": ..., "traceback": ...}`` where ``exception`` is
``None`` if the exception does not survive a pickle round trip. It is written to a
temporary file and renamed, so that the parent sees a complete result or none.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from typing import Any


def _failure(exc: BaseException) -> dict[str, Any]:
    import cloudpickle

    kind = type(exc)
    outcome: dict[str, Any] = {
        "ok": False,
        "exception": None,
        "type": f"{kind.__module__}.{kind.__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(kind, exc, exc.__traceback__)),
    }
    try:
        data = cloudpickle.dumps(exc)
        pickle.loads(data)  # an exception that pickles but will not unpickle is lost too
    except Exception:  # noqa: BLE001 - any failure means: send it as text
        return outcome
    # The traceback travels as text; frames are not picklable.
    outcome["exception"] = exc.with_traceback(None)
    return outcome


def _write(outcome: dict[str, Any], path: str) -> None:
    import cloudpickle

    try:
        data = cloudpickle.dumps(outcome)
    except Exception as exc:  # noqa: BLE001 - whatever fails, the parent gets a reason
        if not outcome["ok"]:
            outcome = {**outcome, "exception": None}
            data = cloudpickle.dumps(outcome)
        else:
            try:
                raise TypeError(
                    f"the result, a {type(outcome['value']).__name__}, cannot be pickled "
                    f"back to the parent ({exc}); return plain data such as NumPy arrays"
                ) from exc
            except TypeError as err:
                data = cloudpickle.dumps(_failure(err))
    tmp = f"{path}.part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    call_path, result_path = argv
    with open(call_path, "rb") as f:
        message = pickle.load(f)
    # The parent's path first, so that the caller's modules import as they did there.
    sys.path[:] = [*message["sys_path"], *(p for p in sys.path if p not in message["sys_path"])]
    try:
        if message["accelerator"] is not None:
            from .keras._environment import check_accelerator

            for framework in message["frameworks"]:
                check_accelerator(framework, message["accelerator"])
        func, args, kwargs = pickle.loads(message["call"])
        outcome = {"ok": True, "value": func(*args, **kwargs)}
    except Exception as exc:  # noqa: BLE001 - every error of func goes back to the parent
        outcome = _failure(exc)
    _write(outcome, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
