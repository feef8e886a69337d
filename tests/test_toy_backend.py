"""A fourth backend, added in this one file, passes the shared backend tests.

The plug-in is the one source of its framework's facts (issue 11): a backend is a
:class:`~backendkit.backends.Backend` subclass registered by name, and nothing else in
backendkit needs to change. The toy framework here is NumPy with an array type of its
own (``ToyArray``, a NumPy subclass, so that its arrays are a framework's, not host
data); it stands for a real fourth framework such as CuPy or MLX.

The tests below are the shared ones of the other files, imported and run here with the
``backend`` fixture giving ``"toy"``.
"""

from __future__ import annotations

import types
from typing import Any, ClassVar

import numpy as np
import pytest

import backendkit as bk
from backendkit import backends
from backendkit.backends.numpy import NumpyBackend


class ToyArray(np.ndarray):
    """The toy framework's array type."""


def _toy(value: Any) -> Any:
    if type(value) is np.ndarray:
        return value.view(ToyArray)
    if isinstance(value, tuple):
        parts = [_toy(v) for v in value]
        return type(value)(*parts) if hasattr(value, "_fields") else tuple(parts)
    return value


class ToyNamespace(types.ModuleType):
    """NumPy's namespace, every array it returns a ToyArray (``fft``, ``linalg`` too)."""

    def __init__(self, module: types.ModuleType) -> None:
        super().__init__(f"toy.{module.__name__}")
        self.__dict__["_module"] = module

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.__dict__["_module"], name)
        if isinstance(value, types.ModuleType):
            return ToyNamespace(value)
        if callable(value) and not isinstance(value, type):

            def call(*args: Any, **kwargs: Any) -> Any:
                return _toy(value(*args, **kwargs))

            call.__name__ = name
            return call
        return value


class ToyBackend(NumpyBackend):
    """The toy plug-in: every fact about the toy framework is here."""

    name: ClassVar[str] = "toy"
    aliases: ClassVar[tuple[str, ...]] = ("toys",)
    framework: ClassVar[str] = "numpy"
    modules: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str] = ""
    host: ClassVar[bool] = False  # its arrays choose their backend, as JAX's and torch's
    auto_rank: ClassVar[int] = 50

    def __init__(self) -> None:
        super().__init__()
        self.namespace = ToyNamespace(np)

    @staticmethod
    def _array_type_of(module: Any) -> type:
        return ToyArray

    def asarray(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        return np.asarray(x, dtype=dtype).view(ToyArray)

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def from_dlpack(self, x: Any) -> Any:
        return np.from_dlpack(x).view(ToyArray)


@pytest.fixture
def toy():
    backends.register(ToyBackend)
    try:
        yield "toy"
    finally:
        backends.unregister("toy")


@pytest.fixture
def backend(toy):
    """The shared tests' fixture, giving the toy backend only."""
    with bk.use_backend(toy):
        yield toy


# ---------------------------------------------------------------- the plug-in's own facts
def test_registered_from_one_class(toy):
    assert bk.available_backends()[-1] == "toy"
    assert backends.canonical_name("TOYS") == "toy"
    x = bk.asarray([1.0, 2.0], backend="toy")
    assert type(x) is ToyArray
    assert bk.backend_of(x) == "toy"
    assert bk.backend_of(x, np.ones(2)) == "toy"  # NumPy arrays are host data beside it
    assert bk.backend_of(np.ones(2)) == "numpy"  # and NumPy's own without it
    with bk.use_backend("toys") as name:
        assert name == "toy"
        assert type(bk.xp.zeros(3)) is ToyArray
    assert type(bk.xp.exp(x)) is ToyArray  # the arrays choose, whatever is selected
    with pytest.raises(bk.ArgumentValueError, match="taken"):
        backends.register(ToyBackend)


def test_two_frameworks_refused_with_the_toy_too(toy):
    other = next((n for n in ("jax", "torch") if backends.is_installed(n)), None)
    if other is None:
        pytest.skip("needs jax or torch installed")
    with pytest.raises(bk.BackendMismatchError, match="toy"):
        bk.xp.add(bk.asarray([1.0], backend="toy"), bk.asarray([1.0], backend=other))


def test_unregistered_it_is_gone():
    backends.register(ToyBackend)
    backends.unregister("toy")
    assert "toy" not in bk.available_backends()
    with pytest.raises(bk.UnknownBackendError):
        bk.set_backend("toy")


# ---------------------------------------------------------------- the shared tests
from test_arrays import (
    test_asarray_dtype_by_name,
    test_asarray_host_data,
)
from test_control import (
    test_cond_values_and_operands,
    test_fori_loop_fills_array_with_put_the_same_on_every_backend,
    test_fori_loop_values_and_pytree_carry,
    test_scan_cumulative_sum,
    test_scan_pytrees_and_no_xs,
    test_switch_clamps_the_index_like_jax,
    test_while_loop_values,
)
from test_devices import test_block_until_ready_returns_its_input
from test_functional import (
    test_accumulating_update_matches_ufunc_at,
    test_at_spellings,
    test_copy_false,
    test_duplicates_accumulate_on_every_backend,
    test_empty_index,
    test_out_of_range_raises_index_error,
    test_scalar_index_and_2d_mask,
    test_set_matches_numpy,
    test_values_cast_to_x_dtype,
)
from test_namespace import test_same_function_same_numbers
from test_random import (
    test_integers_and_permutations_agree_across_backends,
    test_ranges_and_unit_modulus,
    test_same_seed_same_bits_on_every_backend,
)
from test_transforms import (
    test_grad_against_the_exact_derivative,
    test_jacobian_against_the_exact_one,
    test_jit_gives_the_same_values_on_every_backend,
    test_vmap_pytrees_and_out_axes_none,
)

SHARED = [
    test_block_until_ready_returns_its_input,
    test_at_spellings,
    test_copy_false,
    test_empty_index,
    test_out_of_range_raises_index_error,
    test_scalar_index_and_2d_mask,
    test_values_cast_to_x_dtype,
    test_integers_and_permutations_agree_across_backends,
    test_ranges_and_unit_modulus,
    test_asarray_dtype_by_name,
    test_asarray_host_data,
    test_cond_values_and_operands,
    test_fori_loop_fills_array_with_put_the_same_on_every_backend,
    test_fori_loop_values_and_pytree_carry,
    test_scan_cumulative_sum,
    test_scan_pytrees_and_no_xs,
    test_switch_clamps_the_index_like_jax,
    test_while_loop_values,
    test_accumulating_update_matches_ufunc_at,
    test_duplicates_accumulate_on_every_backend,
    test_set_matches_numpy,
    test_same_function_same_numbers,
    test_same_seed_same_bits_on_every_backend,
    test_grad_against_the_exact_derivative,
    test_jacobian_against_the_exact_one,
    test_jit_gives_the_same_values_on_every_backend,
    test_vmap_pytrees_and_out_axes_none,
]
