"""Choosing the backend: names, set/use/get, the environment variable, isolation
between threads and asyncio tasks, failures that change nothing, and backend_of."""

from __future__ import annotations

import asyncio
import importlib
import textwrap
import threading

import numpy as np
import pytest
from conftest import BACKENDS, run_python, skip_unless_installed

import backendkit as bk
from backendkit import backends, precision, selection

# ``backendkit.devices`` is the function; its module is what holds the block variable
devices_module = importlib.import_module("backendkit._devices")

INSTALLED = bk.available_backends()

# Put in front of a child's code: makes the named frameworks look not installed (as a
# missing package does: find_spec and import both fail) before backendkit is imported.
BLOCK = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

BLOCKED = {blocked!r}
sys.meta_path.insert(0, Blocker())
import backendkit as bk
"""


@pytest.fixture
def child(tmp_path):
    """Run code in a fresh interpreter whose home holds no persisted backendkit choice."""
    base = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}

    def run(code: str, env: dict[str, str] | None = None, blocked: tuple[str, ...] = ()):
        prefix = BLOCK.format(blocked=set(blocked)) if blocked else "import backendkit as bk\n"
        return run_python(prefix + textwrap.dedent(code), env={**base, **(env or {})})

    return run


# ---------------------------------------------------------------- available, names
def test_available_backends_lists_installed_in_order():
    assert INSTALLED[0] == "numpy"
    assert [n for n in BACKENDS if n in INSTALLED] == INSTALLED
    for name in BACKENDS:
        assert (name in INSTALLED) == backends.is_installed(name)


def test_available_backends_imports_nothing(child):
    out = child(
        """
        import sys
        bk.available_backends()
        print([name for name in ("jax", "torch") if name in sys.modules])
        """
    )
    assert out.stdout.strip() == "[]"


def test_available_backends_without_frameworks(child):
    out = child("print(bk.available_backends())", blocked=("jax", "torch"))
    assert out.stdout.strip() == "['numpy']"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("numpy", "numpy"),
        ("jax", "jax"),
        ("torch", "torch"),
        ("pytorch", "torch"),
        (" PyTorch ", "torch"),
        ("NumPy", "numpy"),
    ],
)
def test_set_backend_names_and_alias(given, expected):
    skip_unless_installed(expected)
    assert bk.set_backend(given) == expected
    assert bk.get_backend() == expected
    assert selection.selection_source() == "set_backend"


def test_auto_prefers_jax_then_torch_then_numpy(child):
    order = [n for n in ("jax", "torch", "numpy") if n in INSTALLED]
    assert bk.set_backend("auto") == order[0]
    out = child("print(bk.set_backend('auto'))", blocked=("jax",))
    assert out.stdout.strip() == ("torch" if "torch" in INSTALLED else "numpy")
    out = child("print(bk.set_backend('auto'))", blocked=("jax", "torch"))
    assert out.stdout.strip() == "numpy"


def test_default_is_numpy(child):
    out = child("print(bk.get_backend(), bk.selection.selection_source())")
    assert out.stdout.split() == ["numpy", "default"]


# ---------------------------------------------------------------- use_backend
# These take the backend name as a plain parameter: the ``backend`` fixture would wrap
# them in a use_backend block of its own, hiding what happens after theirs ends.
@pytest.mark.parametrize("name", BACKENDS)
def test_use_backend_nests_and_restores(name):
    skip_unless_installed(name)
    bk.set_backend("numpy")
    with bk.use_backend(name) as yielded:
        assert yielded == name == bk.get_backend()
        assert selection.selection_source() == "use_backend"
        with bk.use_backend("numpy"):
            assert bk.get_backend() == "numpy"
        assert bk.get_backend() == name
        # a process-wide change inside a block waits for the block to end
        bk.set_backend(INSTALLED[-1])
        assert bk.get_backend() == name
    assert bk.get_backend() == INSTALLED[-1]


@pytest.mark.parametrize("name", BACKENDS)
def test_use_backend_restores_on_error(name):
    skip_unless_installed(name)
    bk.set_backend("numpy")

    def fail_inside() -> None:
        with bk.use_backend(name):
            assert bk.get_backend() == name
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        fail_inside()
    assert bk.get_backend() == "numpy"


def test_use_backend_alias_yields_canonical_name():
    skip_unless_installed("torch")
    with bk.use_backend("pytorch") as name:
        assert name == "torch" == bk.get_backend()


# ---------------------------------------------------------------- failures
@pytest.mark.parametrize("bad", ["tensorflow", "", "nump", None, 3])
def test_unknown_name_lists_valid_names_and_changes_nothing(bad):
    bk.set_backend("numpy")
    for attempt in (bk.set_backend, lambda n: bk.use_backend(n).__enter__()):
        with pytest.raises(bk.UnknownBackendError) as info:
            attempt(bad)
        message = str(info.value)
        assert repr(bad) in message
        for valid in ("numpy", "jax", "torch", "auto", "pytorch"):
            assert valid in message
        assert bk.get_backend() == "numpy"
        assert selection.selection_source() == "set_backend"
    assert issubclass(bk.UnknownBackendError, ValueError)


def test_failure_inside_a_block_keeps_the_block():
    bk.set_backend("numpy")
    other = INSTALLED[-1]
    with bk.use_backend(other):
        with pytest.raises(bk.UnknownBackendError), bk.use_backend("nope"):
            pass
        assert bk.get_backend() == other
    assert bk.get_backend() == "numpy"


def test_missing_framework_names_the_extra_and_changes_nothing(child):
    out = child(
        """
        from backendkit import selection
        assert bk.set_backend("numpy") == "numpy"
        for attempt in (bk.set_backend, lambda n: bk.use_backend(n).__enter__()):
            try:
                attempt("pytorch")
            except bk.BackendNotInstalledError as exc:
                assert isinstance(exc, ImportError)
                print(exc)
            assert bk.get_backend() == "numpy", bk.get_backend()
            assert selection.selection_source() == "set_backend"
        with bk.use_backend("numpy"):
            try:
                bk.set_backend("torch")
            except bk.BackendNotInstalledError:
                pass
            assert bk.get_backend() == "numpy"
        assert "torch" not in sys.modules or sys.modules["torch"] is None
        """,
        blocked=("torch",),
    )
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert "pip install 'backendkit[torch]'" in line
        assert "torch" in line


# ---------------------------------------------------------------- environment variable
@pytest.mark.parametrize("value", ["jax", "torch", "pytorch", "numpy", "auto"])
def test_env_var_chooses_the_backend(child, value):
    expected = backends.canonical_name(value)
    skip_unless_installed(expected)
    out = child(
        "print(bk.get_backend(), bk.selection.selection_source())",
        env={"BACKENDKIT_BACKEND": value},
    )
    assert out.stdout.split() == [expected, "env", f"BACKENDKIT_BACKEND={value}"]


def test_env_var_is_read_at_first_use_not_import(child):
    out = child(
        """
        import os
        os.environ["BACKENDKIT_BACKEND"] = "pytorch"   # after import, before first use
        first = bk.get_backend()
        os.environ["BACKENDKIT_BACKEND"] = "jax"      # after first use: not read again
        print(first, bk.get_backend())
        """,
        env={"BACKENDKIT_BACKEND": "numpy"},
    )
    assert out.stdout.split() == ["torch", "torch"]


def test_env_var_loses_to_set_and_use(child):
    out = child(
        """
        bk.set_backend("numpy")
        with bk.use_backend("numpy"):
            a = bk.get_backend()
        print(a, bk.get_backend())
        """,
        env={"BACKENDKIT_BACKEND": "torch"},
    )
    assert out.stdout.split() == ["numpy", "numpy"]


def test_env_var_bad_value_is_a_clear_error(child):
    out = child(
        """
        try:
            bk.get_backend()
        except bk.UnknownBackendError as exc:
            print(exc)
        print(bk.set_backend("numpy"), bk.get_backend())   # the fix works
        """,
        env={"BACKENDKIT_BACKEND": "tensorflow"},
    )
    error, fixed = out.stdout.strip().splitlines()
    assert "BACKENDKIT_BACKEND" in error
    assert "'tensorflow'" in error
    assert "valid names: numpy, jax, torch, auto" in error
    assert fixed == "numpy numpy"


def test_env_var_missing_framework_is_a_clear_error(child):
    out = child(
        """
        for _ in range(2):
            try:
                bk.get_backend()
            except bk.BackendNotInstalledError as exc:
                print(exc)
        """,
        env={"BACKENDKIT_BACKEND": "torch"},
        blocked=("torch",),
    )
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "BACKENDKIT_BACKEND='torch'" in lines[0]
    assert "pip install 'backendkit[torch]'" in lines[0]


# ---------------------------------------------------------------- isolation
WORKERS = 8


def worker_names() -> list[str]:
    return [INSTALLED[i % len(INSTALLED)] for i in range(WORKERS)]


def test_threads_keep_their_own_selection():
    bk.set_backend("numpy")
    names = worker_names()
    barrier = threading.Barrier(WORKERS, timeout=120)
    seen: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            observed = []
            with bk.use_backend(names[i]):
                barrier.wait()  # every worker is inside its block now
                for _ in range(20):
                    x = bk.xp.ones(3)
                    observed.append(bk.backend_of(x))
                    observed.append(bk.get_backend())
                barrier.wait()  # nobody has left its block yet
            observed.append(f"after:{bk.get_backend()}")
            seen[i] = observed
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    with bk.use_backend(INSTALLED[-1]):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert bk.get_backend() == INSTALLED[-1]
    assert not errors, errors
    for i, observed in seen.items():
        assert observed[:-1] == [names[i]] * 40
        assert observed[-1] == "after:numpy"
    assert len(seen) == WORKERS


def test_asyncio_tasks_keep_their_own_selection():
    bk.set_backend("numpy")
    names = worker_names()

    async def work(i: int, entered: list[int]) -> list[str]:
        observed = []
        with bk.use_backend(names[i]):
            entered.append(i)
            while len(entered) < WORKERS:  # overlap: wait until every task is inside
                await asyncio.sleep(0)
            for _ in range(10):
                observed.append(bk.backend_of(bk.xp.zeros(2)))
                await asyncio.sleep(0)  # let the other tasks run in between
                observed.append(bk.get_backend())
        observed.append(f"after:{bk.get_backend()}")
        return observed

    async def main() -> list[list[str]]:
        entered: list[int] = []
        return await asyncio.gather(*(work(i, entered) for i in range(WORKERS)))

    results = asyncio.run(main())
    for name, observed in zip(names, results, strict=True):
        assert observed == [name] * 20 + ["after:numpy"]
    assert bk.get_backend() == "numpy"


# ---------------------------------------------------------------- backend_of
def test_backend_of_ignores_non_arrays(backend):
    x = bk.asarray([1.0, 2.0])
    assert bk.backend_of(x, 2.0, 3, [1, 2], (4,), None, "s", np.float64(1.0)) == backend
    assert bk.backend_of(None, 1.0, [x]) == backend  # the current one: nothing owned
    assert bk.backend_of() == backend


def test_backend_of_numpy_beside_another_framework(backend):
    """NumPy arrays are host data: beside another framework's arrays, those decide."""
    x = bk.asarray([1.0])
    assert bk.backend_of(x, np.ones(2)) == backend
    assert bk.backend_of(np.ones(2), [x]) == backend
    for selected in bk.available_backends():
        with bk.use_backend(selected):
            assert bk.backend_of(np.ones(2)) == "numpy"  # NumPy's own, whatever is selected


def test_backend_of_two_frameworks_names_both_and_where():
    skip_unless_installed("jax")
    skip_unless_installed("torch")
    xa = bk.asarray([1.0], backend="jax")
    xb = bk.asarray([1.0], backend="torch")
    with pytest.raises(bk.BackendMismatchError) as info:
        bk.backend_of(1.0, xa, [2], xb)
    message = str(info.value)
    assert "argument 1 is a jax array" in message
    assert "argument 3 is a torch array" in message
    assert "convert" in message
    assert isinstance(info.value, TypeError)
    with pytest.raises(bk.BackendMismatchError, match=r"argument 0 \(inside a container\) is a"):
        bk.backend_of({"a": xb}, xa)


# ---------------------------------------------------------------- blocks and generators
# use_backend, use_dtype and use_device share their block machinery (backendkit._scope);
# each is checked here through the context variable it sets, so that the state outside
# every block ("unset") differs from each block's.
def _device_state():
    value = devices_module._block.get()
    return (
        "unset" if value is devices_module._UNSET else "default" if value is None else value.kind
    )


SCOPES = {
    "use_backend": (bk.use_backend, lambda: selection._block.get() or "unset", "numpy", "other"),
    "use_dtype": (bk.use_dtype, lambda: precision._block.get() or "unset", "float32", "float64"),
    "use_device": (bk.use_device, _device_state, "cpu", None),
}


@pytest.fixture(params=list(SCOPES))
def scope(request):
    """(block factory, state reader, value a, value b, state of a, state of b)."""
    make, read, a, b = SCOPES[request.param]
    if request.param == "use_backend":
        if len(INSTALLED) < 2:
            pytest.skip("needs two installed backends")
        b = INSTALLED[-1]
    with bk.use_backend("numpy"):  # use_device checks its device on the current backend
        pass
    assert read() == "unset"
    states = {}
    for value in (a, b):
        with make(value):
            states[value] = read()
    assert len({states[a], states[b], "unset"}) == 3
    return make, read, a, b, states[a], states[b]


def test_generator_closed_inside_another_block_restores_both(scope):
    make, read, a, b, in_a, in_b = scope

    def gen():
        with make(a):
            yield 1
            yield 2

    g = gen()
    next(g)
    # documented: a generator suspended inside a block leaves it in force for its
    # consumer (contextvars semantics), until it resumes or is closed
    assert read() == in_a
    with make(b):
        assert read() == in_b
        g.close()
        assert read() == in_b  # closing the generator does not end the outer block
    assert read() == "unset"


@pytest.mark.parametrize("order", ["first-first", "first-last"])
def test_interleaved_generators_end_in_any_order(scope, order):
    make, read, a, b, in_a, in_b = scope

    def gen(value):
        with make(value):
            yield

    first, second = gen(a), gen(b)
    next(first)
    next(second)
    assert read() == in_b
    if order == "first-first":
        first.close()
        assert read() == in_b  # second's block is the innermost open one
        second.close()
    else:
        second.close()
        assert read() == in_a
        first.close()
    assert read() == "unset"


def test_decorated_generator_keeps_its_selection_to_itself(scope):
    make, read, a, b, in_a, in_b = scope

    @make(a)
    def gen():
        seen = [read()]
        with make(b):
            seen.append(read())
            try:
                yield seen  # suspended inside the inner block
            except KeyError:
                seen.append("caught")
            seen.append(read())
            yield seen
        seen.append(read())
        return "done"

    g = gen()
    assert next(g) == [in_a, in_b]
    assert read() == "unset"  # neither the decorator's nor the inner block leaks
    assert g.throw(KeyError("x")) == [in_a, in_b, "caught", in_b]
    assert read() == "unset"
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "done"
    assert read() == "unset"


def test_decorated_generator_closed_inside_a_block(scope):
    make, read, a, b, in_a, in_b = scope

    @make(a)
    def gen():
        yield read()
        yield read()

    g = gen()
    with make(b):
        assert next(g) == in_a
        assert read() == in_b
        g.close()
        assert read() == in_b
    assert read() == "unset"
    assert list(gen()) == [in_a, in_a]


def test_decorated_function_and_coroutine(scope):
    make, read, a, _, in_a, _ = scope

    @make(a)
    def plain(x):
        return read(), x

    @make(a)
    async def coroutine(x):
        await asyncio.sleep(0)
        return read(), x

    assert plain(1) == (in_a, 1)
    assert read() == "unset"
    assert asyncio.run(coroutine(2)) == (in_a, 2)
    assert read() == "unset"
    assert plain.__name__ == "plain"


def test_one_block_object_entered_twice(scope):
    make, read, a, b, in_a, _ = scope
    block = make(a)
    with block, make(b), block:
        assert read() == in_a
    assert read() == "unset"


def test_async_generator_cannot_be_decorated():
    async def agen():
        yield 1

    with pytest.raises(bk.ArgumentTypeError, match="async generator function"):
        bk.use_backend("numpy")(agen)
    with pytest.raises(bk.ArgumentTypeError, match="decorates a function"):
        bk.use_dtype("float32")(42)


def test_decorated_bad_name_fails_at_the_call_and_changes_nothing():
    @bk.use_backend("nump")
    def f():
        return 1

    with pytest.raises(bk.UnknownBackendError):
        f()
    assert selection._block.get() is None
