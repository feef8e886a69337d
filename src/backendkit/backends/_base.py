"""The interface every backend implements.

A backend is one small class per framework. The framework is imported in ``__init__``
and nowhere else, so that merely importing backendkit, or checking whether some object
is an array of a framework, never imports that framework: it may not be installed,
importing it costs a second or more (jax, torch), and importing keras' backends fixes
process-wide state. :meth:`Backend.array_type` therefore only looks in ``sys.modules``:
an array of a framework that was never imported cannot exist.

Behaviour that is the same on every backend lives once in the concern modules
(``functional.py``, ``control.py``, ...); a backend class holds only what differs.
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ..errors import UnknownDtypeError

__all__ = ["Backend", "DeviceEntry"]


class DeviceEntry(NamedTuple):
    """One device a backend can put arrays on, as its plug-in reports it."""

    kind: str  #: "cpu", "gpu", "mps" or "tpu"
    number: int  #: its index among the devices of that kind (``index`` is tuple's)
    name: str  #: the framework's name for it ("" for the CPU, named from the OS)
    platform: str  #: "cpu", "cuda", "rocm", "mps", "metal" or "tpu"
    native: Any  #: the framework's device object


class Backend:
    """One array framework behind backendkit's small, uniform interface.

    Subclasses set the class attributes and import their framework in ``__init__``.
    Instances are created once per process by :func:`backendkit.backends.load`.
    """

    #: canonical backend name, as accepted by :func:`backendkit.set_backend`
    name: ClassVar[str]
    #: other spellings of the name (registered with the plug-in, see _registry.py)
    aliases: ClassVar[tuple[str, ...]] = ()
    #: the top-level module whose presence in ``sys.modules`` means arrays can exist
    framework: ClassVar[str]
    #: every top-level module whose objects (arrays, devices) belong to this backend
    modules: ClassVar[tuple[str, ...]] = ()
    #: the pip extra that installs the framework ("" for NumPy, always there)
    extra: ClassVar[str]
    #: whether this backend's arrays are host data that follow the selection (NumPy's)
    host: ClassVar[bool] = False
    #: where ``auto`` ranks this backend among the installed ones (lowest first)
    auto_rank: ClassVar[int] = 100
    #: the device kinds the framework can have (devices.py names devices by kind)
    device_kinds: ClassVar[tuple[str, ...]] = ("cpu",)

    #: the environment variables that point this framework at a device kind in a process
    #: about to import it (a child of run_in_backend, Keras): kind -> variables
    device_environment: ClassVar[dict[str, dict[str, str]]] = {"cpu": {}}
    #: what to install for an accelerator kind this framework's build lacks
    accelerator_install: ClassVar[dict[str, str]] = {}

    @classmethod
    def install_hint(cls) -> str:
        """The command that installs this backend's framework."""
        return f"pip install 'backendkit[{cls.extra}]'" if cls.extra else "pip install numpy"

    @classmethod
    def lacks_accelerator(cls, kind: str) -> str | None:
        """Why this framework cannot use device ``kind`` on this machine, or ``None`` if
        it can; found without initialising the framework's runtime (and never keras)."""
        return None if kind == "cpu" else f"the {cls.name} backend runs on the CPU only"

    #: whether the namespace's functions take NumPy arrays as they are (NumPy's and
    #: JAX's do); if not, backendkit makes them the framework's arrays first
    takes_host_arrays: ClassVar[bool] = True

    #: the framework's NumPy-style namespace (numpy, jax.numpy, array-API torch)
    namespace: Any
    #: the framework's top-level module
    module: Any

    # ------------------------------------------------------------------ recognising
    @classmethod
    def array_type(cls) -> type | None:
        """The framework's array type if the framework is imported, else ``None``."""
        mod = sys.modules.get(cls.framework)
        return None if mod is None else cls._array_type_of(mod)

    @staticmethod
    def _array_type_of(module: Any) -> type:
        raise NotImplementedError("a backend must say what its array type is")

    def is_traced(self, x: Any) -> bool:
        """Whether ``x`` is a placeholder inside a transformation (a JAX tracer)."""
        return False

    @property
    def version(self) -> str:
        return str(self.module.__version__)

    # ------------------------------------------------------------------ arrays
    def asarray(self, x: Any, dtype: Any = None, device: Any = None) -> Any:
        """Host data (Python, NumPy) or this backend's array as this backend's array."""
        raise NotImplementedError(f"{self.name} does not implement asarray")

    def to_numpy(self, x: Any) -> np.ndarray:
        """This backend's array as a NumPy array (shares memory where possible)."""
        raise NotImplementedError(f"{self.name} does not implement to_numpy")

    def from_dlpack(self, x: Any) -> Any:
        """Another framework's array as this backend's array, through DLPack."""
        raise NotImplementedError(f"{self.name} does not implement from_dlpack")

    def dtype(self, name: str) -> Any:
        """The framework's dtype object for a NumPy dtype name such as ``"float64"``."""
        return getattr(self.module, name)

    def owns_dtype(self, dtype: Any) -> bool:
        """Whether the framework takes ``dtype`` as it is (NumPy's and JAX's take NumPy
        dtypes, type objects and names; PyTorch only its own)."""
        return not type(dtype).__module__.startswith("torch")

    def own_dtype(self, dtype: Any) -> Any:
        """``dtype`` as the framework takes it: another framework's dtype (or a name,
        for PyTorch) is translated by its name, as ``dtype=`` arguments of
        :data:`backendkit.xp` are.

        Raises
        ------
        UnknownDtypeError
            If the name is no dtype of this framework.
        """
        if self.owns_dtype(dtype):
            return dtype
        if isinstance(dtype, str):
            name = dtype
        else:
            try:
                name = np.dtype(dtype).name
            except TypeError:  # another framework's dtype object: torch.float32
                name = str(dtype).rpartition(".")[2]
        try:
            self.ensure_dtype(name)
            return self.dtype(name)
        except AttributeError:
            raise UnknownDtypeError(
                f"dtype {dtype!r} has no {self.name} equivalent; give one of the "
                f"framework's dtypes, e.g. 'float32'"
            ) from None

    # ------------------------------------------------------------------ updates
    def update(self, x: Any, idx: Any, op: str, values: Any, copy: bool) -> Any:
        """``x`` with ``x[idx]`` combined with ``values`` by ``op``.

        ``op`` is one of ``set add subtract multiply divide power min max``, already
        checked against ``x``'s dtype (booleans' add and multiply arrive as max and
        min); ``idx`` is a non-empty tuple, checked and normalised by
        :mod:`backendkit.functional` (see there for the contract).
        """
        raise NotImplementedError(f"{self.name} does not implement functional updates")

    def refuses_out_of_bounds(self, x: Any) -> bool:
        """Whether :meth:`update` of ``x`` with ``op="set"`` and ``copy=True`` raises
        ``IndexError`` for an index out of range by itself, having written only into
        the copy (else backendkit checks the index on the host first)."""
        return False

    # ------------------------------------------------------------------ devices
    # Only what differs by framework; specs, selection, fallback, the CPU's memory and
    # pytrees are handled once, in backendkit/devices.py.
    def list_devices(self) -> list[DeviceEntry]:
        """The devices this process can put arrays on, the CPU first."""
        raise NotImplementedError(f"{self.name} does not list its devices")

    def device_key(self, native: Any) -> tuple[str, int] | None:
        """``(kind, index)`` of this framework's device object ``native``, ``None`` if
        it is not one of the devices :meth:`list_devices` reports."""
        for entry in self.list_devices():
            if entry.native == native:
                return entry.kind, entry.number
        return None

    def default_native_device(self) -> Any:
        """The framework device that new arrays go to when backendkit names none."""
        raise NotImplementedError(f"{self.name} does not report its default device")

    def memory(self, native: Any) -> tuple[int | None, int | None]:
        """``(free, total)`` bytes of an accelerator through the framework's own API;
        ``(None, None)`` where it reports none (the CPU's figures come from the OS)."""
        return None, None

    def block_until_ready(self, arrays: list[Any]) -> None:
        """Wait until the work producing ``arrays`` (this backend's arrays) is done."""
        # An eager framework has finished its work when a call returns.

    # ------------------------------------------------------------------ precision
    def ensure_dtype(self, name: str) -> None:
        """Make dtype ``name`` available before an array of it is made (JAX's 64-bit
        mode); raise ``DtypeUnavailableError`` if it cannot be."""

    def default_float_name(self) -> str:
        """The framework's own floating dtype name for new arrays (``"float64"``...)."""
        return str(self.asarray(0.0).dtype).rpartition(".")[2]

    def default_int_name(self) -> str:
        """The framework's own integer dtype name for new arrays (``"int64"``...)."""
        return str(self.asarray(0).dtype).rpartition(".")[2]

    # ------------------------------------------------------------------ control flow
    #: whether the framework compiles loops and branches (jax.lax); where it does not,
    #: backendkit/control.py runs Python loops (backendkit/_loops.py)
    compiled_control_flow: ClassVar[bool] = False

    def fori_loop(self, lower: Any, upper: Any, body: Any, init: Any) -> Any:
        """``jax.lax.fori_loop``'s equal; arguments arrive checked by
        backendkit/control.py, which also runs these functions with this backend
        selected and explains a ``TypeError`` (see :meth:`abstract`)."""
        raise NotImplementedError(f"{self.name} has no compiled loops: backendkit runs Python's")

    def while_loop(self, cond_fun: Any, body: Any, init: Any) -> Any:
        """``jax.lax.while_loop``'s equal (see :meth:`fori_loop`)."""
        raise NotImplementedError(f"{self.name} has no compiled loops: backendkit runs Python's")

    def cond(self, pred: Any, true_fun: Any, false_fun: Any, operands: tuple[Any, ...]) -> Any:
        """``jax.lax.cond``'s equal (see :meth:`fori_loop`)."""
        raise NotImplementedError(
            f"{self.name} has no compiled branches: backendkit runs Python's"
        )

    def switch(self, index: Any, branches: list[Any], operands: tuple[Any, ...]) -> Any:
        """``jax.lax.switch``'s equal; ``index`` is clamped already (see :meth:`fori_loop`)."""
        raise NotImplementedError(
            f"{self.name} has no compiled branches: backendkit runs Python's"
        )

    def scan(
        self, f: Any, init: Any, xs: Any, length: int, reverse: bool, unroll: int
    ) -> tuple[Any, Any]:
        """``jax.lax.scan``'s equal (see :meth:`fori_loop`)."""
        raise NotImplementedError(f"{self.name} has no compiled loops: backendkit runs Python's")

    def abstract(self, fn: Any, *args: Any) -> Any:
        """The shapes and dtypes ``fn(*args)`` would give, without running it
        (``jax.eval_shape``), or ``None`` where that cannot be found: how a refused
        carry or branch type is explained."""
        return None

    def row_shapes(self, xs: Any) -> Any:
        """Abstract values of one row (``x[0]``) of each leaf of ``xs``, for
        :meth:`abstract` of a scan body."""
        return None

    # ------------------------------------------------------------------ transforms
    def jit(self, fun: Any, options: dict[str, Any]) -> Any:
        """``fun`` compiled as the framework can (``options``: backendkit.jit's); the
        identity where it cannot."""
        return fun

    #: whether the framework maps functions itself (else: a Python loop, _loops.vmap)
    has_vmap: ClassVar[bool] = False

    def vmap(self, fun: Any, in_axes: tuple[Any, ...], out_axes: Any) -> Any:
        """``fun`` mapped by the framework, ``jax.vmap``'s conventions."""
        raise NotImplementedError(f"{self.name} has no vmap: backendkit runs a Python loop")

    #: whether the framework differentiates programs (else: finite differences,
    #: backendkit/transforms.py)
    has_autodiff: ClassVar[bool] = False

    def grad(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        """``fun``'s gradient function by the framework's autodiff, as ``jax.grad``
        builds it (the same arguments, the same results)."""
        raise NotImplementedError(
            f"{self.name} has no autodiff; backendkit uses finite differences"
        )

    def value_and_grad(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        """As :meth:`grad`, for ``jax.value_and_grad``."""
        raise NotImplementedError(
            f"{self.name} has no autodiff; backendkit uses finite differences"
        )

    def jacobian(self, fun: Any, argnums: int | tuple[int, ...], has_aux: bool) -> Any:
        """As :meth:`grad`, for ``jax.jacobian`` (reverse mode)."""
        raise NotImplementedError(
            f"{self.name} has no autodiff; backendkit uses finite differences"
        )

    # ------------------------------------------------------------------ random
    # The framework's own generator, seeded with ``seed`` (backendkit.random's
    # native=True): reproducible on this backend, not the same values across backends.
    def random_normal(self, seed: int, shape: tuple[int, ...], dtype: Any) -> Any:
        """Standard normal values of ``dtype`` (the framework's)."""
        raise NotImplementedError(f"{self.name} has no native random generator in backendkit")

    def random_uniform(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: float, high: float
    ) -> Any:
        """Values uniform in ``[low, high)``."""
        raise NotImplementedError(f"{self.name} has no native random generator in backendkit")

    def random_integers(
        self, seed: int, shape: tuple[int, ...], dtype: Any, low: int, high: int
    ) -> Any:
        """Integers uniform in ``[low, high)``."""
        raise NotImplementedError(f"{self.name} has no native random generator in backendkit")

    def random_permutation(self, seed: int, n: int, dtype: Any) -> Any:
        """A permutation of ``0 .. n-1``."""
        raise NotImplementedError(f"{self.name} has no native random generator in backendkit")

    def __repr__(self) -> str:
        return f"<backendkit backend {self.name!r} ({self.framework} {self.version})>"
