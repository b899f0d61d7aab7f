"""Synchronous work run in reused greenlets (store.greenlet_pool), as keyed reads run it:
its awaits, results, errors, context variables and cancellation must behave as with a
greenlet of its own each time."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from sqlalchemy.util import await_only

from modelreg.store.greenlet_pool import run_in_greenlet

who: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


async def _later(value: str, delay: float = 0.001) -> str:
    await asyncio.sleep(delay)
    return value


def _work(value: str) -> str:
    first = await_only(_later(value))
    return f"{first}/{who.get()}/{await_only(_later('again'))}"


def test_results_errors_and_context_pass_through_reused_greenlets() -> None:
    async def one(name: str) -> str:
        who.set(name)
        return await run_in_greenlet(_work, name)

    def fails() -> None:
        await_only(_later("x"))
        raise LookupError("from the work")

    async def main() -> None:
        for _ in range(3):  # the greenlets of a round are reused by the next, for other tasks
            got = await asyncio.gather(*(one(f"t{i}") for i in range(5)))
            assert got == [f"t{i}/t{i}/again" for i in range(5)]
        with pytest.raises(LookupError, match="from the work"):
            await run_in_greenlet(fails)
        assert await run_in_greenlet(lambda: 42) == 42

    asyncio.run(main())


def test_a_cancelled_caller_cancels_its_work_and_the_next_run_is_unharmed() -> None:
    reached = []

    def slow() -> None:
        try:
            await_only(_later("never", delay=10))
        finally:
            reached.append("cleanup")

    async def main() -> None:
        task = asyncio.create_task(run_in_greenlet(slow))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert reached == ["cleanup"]
        who.set("after")
        assert await run_in_greenlet(_work, "next") == "next/after/again"

    asyncio.run(main())
