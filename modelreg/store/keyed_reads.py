"""PostgreSQL reads of one row by its key, awaited on the event loop instead of a thread.

A get by id on a pool thread cost the server about 400 us of CPU where the query itself
took PostgreSQL 50 us: the thread hop and the GIL passing between that thread and the
event loop (some twelve context switches a request) and SQLAlchemy's execution around a
one-row query. psycopg's async connection awaited on the loop costs a tenth of that
(in-process, 4 reads at a time: 232 us of CPU a read through SQLAlchemy on threads, 56 us
here). The service's code stays synchronous: it runs in a greenlet, as SQLAlchemy's own
asyncio support runs it, and the one statement it sends is awaited from there.

The connections are this module's own, per process, in autocommit (READ COMMITTED gives
each statement its own snapshot), and are used by one read at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.util import await_only, greenlet_spawn

from modelreg.store.engine import postgres_connect_kwargs, postgres_dropped

__all__ = ["KeyedReads"]

T = TypeVar("T")


class KeyedReads:
    """One process's connections for keyed reads, at most `size` open at once."""

    def __init__(self, engine: Engine, size: int) -> None:
        self.dialect = engine.dialect
        self._kwargs = postgres_connect_kwargs(engine)
        self._size = size
        self._open = 0
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._waiters: deque[asyncio.Future[psycopg.AsyncConnection[Any] | None]] = deque()
        self._lock = threading.Lock()  # test clients run loops on several threads
        self._closed = False

    async def run(self, work: Callable[[KeyedSession], T]) -> T:
        """`work(session)` in a greenlet, its keyed read awaited here on the loop."""
        conn = await self._take()
        try:
            return await greenlet_spawn(work, KeyedSession(self, conn))
        finally:
            self._give_back(conn)

    def rows(
        self, conn: psycopg.AsyncConnection[Any], sql: str, params: Mapping[str, Any] | Sequence[Any]
    ) -> tuple[list[tuple[Any, ...]], psycopg.AsyncCursor[Any]]:
        """The rows of one statement and its cursor (which describes them); called from
        the greenlet that `run` started."""
        try:
            return await_only(_fetch(conn, sql, params))
        except psycopg.Error as exc:
            raise _as_sqlalchemy(exc, sql, params) from exc

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
                opening = conn is None and self._open < self._size
                if opening:
                    self._open += 1
                waiter = None
                if conn is None and not opening:
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
            if waiter is not None:
                try:
                    conn = await waiter
                except asyncio.CancelledError:
                    if waiter.done() and not waiter.cancelled():  # handed over as we were cancelled
                        given = waiter.result()
                        self._release_slot() if given is None else self._give_back(given)
                    raise
                if conn is None:  # a slot came free: open a connection of our own
                    opening = True
            if conn is not None and not opening:
                if not postgres_dropped(conn):
                    return conn
                conn.pgconn.finish()  # the server hung up on it while it was idle
                self._release_slot()
                continue
            try:
                return await psycopg.AsyncConnection.connect(**self._kwargs)
            except BaseException as exc:
                self._release_slot()
                if isinstance(exc, psycopg.Error):
                    raise _as_sqlalchemy(exc, "connect", {}) from exc
                raise

    def _give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if (
            self._closed
            or conn.closed
            or conn.broken
            or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        ):
            conn.pgconn.finish()
            self._release_slot()
            return
        with self._lock:
            waiter = self._next_waiter()
            if waiter is None:
                self._idle.append(conn)
                return
        self._hand(waiter, conn)

    def _release_slot(self) -> None:
        with self._lock:
            waiter = self._next_waiter()
            if waiter is None:
                self._open -= 1
                return
        self._hand(waiter, None)  # the slot passes to the waiter, which opens its own

    def _hand(
        self,
        waiter: asyncio.Future[psycopg.AsyncConnection[Any] | None],
        conn: psycopg.AsyncConnection[Any] | None,
    ) -> None:
        """Give a waiting read the connection (or the slot), on its own loop."""

        def resolve() -> None:
            if not waiter.done():
                waiter.set_result(conn)
            elif conn is None:  # it gave up meanwhile: pass it on
                self._release_slot()
            else:
                self._give_back(conn)

        try:
            waiter.get_loop().call_soon_threadsafe(resolve)
        except RuntimeError:  # its loop has closed: nobody waits there any more
            waiter.cancel()
            resolve()

    def _next_waiter(self) -> asyncio.Future[psycopg.AsyncConnection[Any] | None] | None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def close(self) -> None:
        """Close the idle connections (those in use close when given back after this)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for conn in idle:
            conn.pgconn.finish()


class KeyedSession:
    """What a keyed read's unit of work is handed instead of a Session: a way to run its
    one statement (Repository's keyed reads look for `info["keyed_reads"]`)."""

    __slots__ = ("info",)

    def __init__(self, reads: KeyedReads, conn: psycopg.AsyncConnection[Any]) -> None:
        self.info: dict[str, Any] = {"keyed_reads": (reads, conn)}


async def _fetch(
    conn: psycopg.AsyncConnection[Any], sql: str, params: Mapping[str, Any] | Sequence[Any]
) -> tuple[list[tuple[Any, ...]], psycopg.AsyncCursor[Any]]:
    cur = conn.cursor()
    await cur.execute(sql, params)
    return await cur.fetchall(), cur


def _as_sqlalchemy(exc: psycopg.Error, sql: str, params: Any) -> StatementError:
    """psycopg's error as SQLAlchemy's of the same kind (OperationalError, DataError ...),
    which the service maps to HTTP errors for every database alike."""
    return DBAPIError.instance(sql, params, exc, psycopg.Error)
