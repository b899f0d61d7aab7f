"""Synchronous code run on the event loop in greenlets that are kept for the next run.

A keyed read runs the service's synchronous code in a greenlet, so that its one statement
can be awaited on the loop (`sqlalchemy.util.await_only`). SQLAlchemy's `greenlet_spawn`
makes a greenlet for each call, and on Python 3.11 each new greenlet maps a chunk of
memory for its frames when it starts and unmaps it when it ends: a get by id paid an
mmap, a munmap and the page faults between (strace), besides making the greenlet. Here
a greenlet that has finished its work waits for the next, in a free list per thread
(greenlets cannot switch across threads).

The protocol with `await_only` is SQLAlchemy's: the worker switches to its parent with
an awaitable, and the parent awaits it and switches back with its result, or throws its
error in.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

__all__ = ["run_in_greenlet"]

T = TypeVar("T")
_KEEP = 64  # idle greenlets kept per thread: more than a worker's concurrent reads


class _Worker(greenlet):  # type: ignore[misc]
    """A greenlet in which `await_only` may be called (SQLAlchemy looks for this mark)."""

    __sqlalchemy_greenlet_provider__ = True


class _Done:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _serve(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """A worker's life: run what it is given, hand back how it ended, wait for more."""
    while True:
        message: _Done | _Failed
        try:
            message = _Done(fn(*args))
        except GreenletExit:  # dropped while it waited (its caller is gone): it ends
            raise
        except BaseException as exc:  # handed to the caller, who raises it
            message = _Failed(exc)
        fn = args = None  # type: ignore[assignment]  # nothing of this run kept while idle
        fn, args = getcurrent().parent.switch(message)


_local = threading.local()


async def run_in_greenlet(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in a greenlet, each awaitable it passes to `await_only` awaited here."""
    driver = getcurrent()
    free: list[_Worker] | None = getattr(_local, "free", None)
    if free is None:
        free = _local.free = []
    worker = free.pop() if free else _Worker(_serve, driver)
    if worker.parent is not driver:
        worker.parent = driver
    worker.gr_context = driver.gr_context  # the task's context variables, as in the task
    result = worker.switch(fn, args)
    while type(result) is not _Done and type(result) is not _Failed:
        try:
            value = await result
        except BaseException:
            result = worker.throw(*sys.exc_info())
        else:
            result = worker.switch(value)
    if len(free) < _KEEP:  # it waits in `_serve` for the next run
        free.append(worker)
    if isinstance(result, _Failed):
        error = result.error
        del result  # the caller's frames do not hold the error twice
        raise error
    done: T = result.value
    return done
