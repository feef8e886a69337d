"""Sound ``with`` blocks over a context variable: the machinery of ``use_backend``,
``use_dtype`` and ``use_device``.

A block sets a :mod:`contextvars` variable when it begins and puts the previous value
back when it ends. The textbook way, ``token = var.set(value)`` then
``var.reset(token)``, is only right when blocks end in the reverse order they began.
They do not once a generator yields inside one: the generator's block stays open while
its consumer goes on, and the consumer may open its own block and close the generator
inside it. ``reset`` then restores the value from before the generator's block, inside
the consumer's block, and the consumer's ``reset`` afterwards brings back the
generator's value for good (issue 12).

So each block here records what it replaced on a per-context stack of open blocks. A
block that ends on top of the stack restores what it replaced, as ``reset`` does; one
that ends under another open block leaves the current value alone and hands what it
replaced to the block above it, which restores that in its turn. However blocks
interleave, each block's value is current exactly while it is the innermost open one,
and when every block has ended the value is the one from before the first.

What this cannot change is that a generator runs in its consumer's context: while it
is suspended inside a block, the consumer sees the block's value (as with
:func:`decimal.localcontext`; a ``contextlib.contextmanager`` built on such a block
relies on exactly this). A generator that must keep its choice to itself is decorated
instead: ``@use_backend("jax")`` on a generator function runs each of its steps in a
context of its own, so nothing it selects is seen outside it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from .errors import ArgumentTypeError

__all__ = ["Block", "Scope"]

T = TypeVar("T")


class Scope:
    """The blocks of one context variable: a stack of open blocks per context.

    Entries are ``(owner, previous value)`` tuples, the stack a tuple, so that a
    context copied for a thread or a task never shares a stack it could change.
    """

    __slots__ = ("_stack", "var")

    def __init__(self, var: contextvars.ContextVar[Any]) -> None:
        self.var = var
        self._stack: contextvars.ContextVar[tuple[tuple[object, Any], ...]] = (
            contextvars.ContextVar(f"{var.name}_blocks", default=())
        )

    def push(self, owner: object, value: Any) -> None:
        """Begin a block of ``owner`` that makes ``value`` current."""
        self._stack.set((*self._stack.get(), (owner, self.var.get())))
        self.var.set(value)

    def pop(self, owner: object) -> None:
        """End the innermost open block of ``owner`` in this context."""
        stack = self._stack.get()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] is owner:
                break
        else:
            return  # begun in another context (another thread): nothing of it here
        previous = stack[i][1]
        if i == len(stack) - 1:
            self.var.set(previous)
            self._stack.set(stack[:-1])
        else:  # a block begun later is still open: it restores ``previous`` when it ends
            above = (stack[i + 1][0], previous)
            self._stack.set((*stack[:i], above, *stack[i + 2 :]))


class Block(Generic[T]):
    """A ``with`` block, and decorator, that makes a value current in its scope.

    ``begin()`` is called when the block begins; it checks the request and returns
    ``(value to make current, value the with statement gets)``, raising before anything
    changes. As a decorator the block wraps each call of a function or coroutine
    function, and isolates a generator function (see the module docstring).
    """

    __slots__ = ("_begin", "_scope", "_what")

    def __init__(self, scope: Scope, begin: Callable[[], tuple[Any, T]], what: str) -> None:
        self._scope = scope
        self._begin = begin
        self._what = what

    def __enter__(self) -> T:
        value, given = self._begin()
        self._scope.push(self, value)
        return given

    def __exit__(self, *exc_info: object) -> None:
        self._scope.pop(self)

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(func):
            raise ArgumentTypeError(
                f"{self._what} decorates a function, got {type(func).__name__} {func!r}"
            )
        if inspect.isasyncgenfunction(func):
            raise ArgumentTypeError(
                f"{self._what} cannot decorate the async generator function "
                f"{func.__qualname__}: its steps run in the consumer's task. Enter "
                f"`with {self._what}:` inside it around code that does not yield"
            )
        if inspect.isgeneratorfunction(func):

            @functools.wraps(func)
            def generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
                return (yield from _isolated(self, func(*args, **kwargs)))

            return generator
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def coroutine(*args: Any, **kwargs: Any) -> Any:
                # a task's context is its own: the block spans the awaits soundly
                with self:
                    return await func(*args, **kwargs)

            return coroutine

        @functools.wraps(func)
        def function(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return function


def _isolated(block: Block[Any], gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
    """Drive ``gen`` inside ``block``, every step in a context of its own.

    The context is a copy of the consumer's at the first step; the block and any block
    the generator opens stay in it, so the consumer never sees them, whatever order the
    two are suspended and resumed or closed in.
    """
    context = contextvars.copy_context()
    context.run(block.__enter__)
    try:
        method, arg = gen.send, None
        while True:
            try:
                item = context.run(method, arg)
            except StopIteration as stop:
                return stop.value
            try:
                arg = yield item
                method = gen.send
            except GeneratorExit:
                context.run(gen.close)
                raise
            except BaseException as exc:  # noqa: BLE001 - thrown in by the consumer: pass it on
                method, arg = gen.throw, exc
    finally:
        context.run(block.__exit__, None, None, None)
