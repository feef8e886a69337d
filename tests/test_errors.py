"""The error hierarchy: one root, each error also a built-in exception users already catch.

The messages themselves are tested where each error is raised (test_selection,
test_arrays, test_functional, ...).
"""

from __future__ import annotations

import builtins

import pytest

import backendkit as bk
from backendkit import errors

ERRORS = [
    getattr(errors, name)
    for name in errors.__all__
    if issubclass(getattr(errors, name), BaseException)
    and not issubclass(getattr(errors, name), Warning)
]
BUILTIN_EXCEPTIONS = tuple(
    v
    for v in vars(builtins).values()
    if isinstance(v, type) and issubclass(v, Exception) and v is not Exception
)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_is_a_backend_error_and_a_builtin(cls):
    assert issubclass(cls, errors.BackendError)
    if cls is not errors.BackendError:
        assert issubclass(cls, BUILTIN_EXCEPTIONS), f"{cls.__name__} derives from no built-in"
    assert cls.__doc__, f"{cls.__name__} has no docstring"


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (bk.UnknownBackendError, ValueError),
        (bk.BackendNotInstalledError, ImportError),
        (bk.BackendMismatchError, TypeError),
    ],
)
def test_foundation_errors_are_exported_with_their_builtin(cls, builtin):
    assert cls.__module__ == "backendkit.errors"
    assert issubclass(cls, bk.BackendError)
    assert issubclass(cls, builtin)
    assert cls.__name__ in bk.__all__


def test_one_except_clause_catches_them_all():
    with pytest.raises(bk.BackendError):
        bk.set_backend("nope")
    with pytest.raises(bk.BackendError):
        bk.asarray([1.0], backend="nope")
