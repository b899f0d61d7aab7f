"""PostgreSQL reads of one row by its key, awaited on the event loop instead of a thread.

A get by id on a pool thread cost the server about 400 us of CPU where the query itself
took PostgreSQL 50 us: the thread hop and the GIL passing between that thread and the
event loop (some twelve context switches a request) and SQLAlchemy's execution around a
one-row query. Awaited on the loop it costs a fraction of that. The service's code stays
synchronous: it runs in a greenlet, as SQLAlchemy's own asyncio support runs it (one kept
for the next read: store.greenlet_pool), and the one statement it sends is awaited from
there.

The statement goes through libpq itself (`psycopg.pq`), as a prepared statement, with
psycopg's own adapters (`psycopg.adapt.Transformer`) turning parameters into text and
results into Python's values: psycopg's async cursor, around the same libpq calls, cost
73 us of CPU a read where this costs 20 (in-process, 4 reads at a time, the get's
statement). Each connection prepares a statement the first time it runs it.

The connections are this module's own, per process, in autocommit (READ COMMITTED gives
each statement its own snapshot), and are used by one read at a time.

They also ask the server's current snapshot for the answers gets keep (api.read_cache):
one query for the gets that asked together on a loop. The snapshot is the whole
server's, so a commit to any of its databases (another registry's) moves it too: kept
answers are dropped more often than they need be, never kept past a commit.
"""

from __future__ import annotations

import asyncio
import itertools
import select
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import psycopg
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.util import await_only

from modelreg.store.engine import POSTGRES_HUNG_UP, postgres_connect_kwargs, postgres_dropped
from modelreg.store.greenlet_pool import run_in_greenlet

__all__ = ["KeyedReads"]

T = TypeVar("T")
_SNAPSHOT = "SELECT pg_current_snapshot()::text"
_SNAPSHOT_BEFORE_13 = "SELECT txid_current_snapshot()::text"
_GATHER_TURNS = 3  # loop turns a stamp's query waits for more gets to ask it (_ask_stamps)
_NO_SUCH_STATEMENT = b"26000"  # invalid_sql_statement_name: the server forgot what we prepared


class _Link:
    """One connection and what this module keeps beside it: its adapters, the statements
    it has prepared, and how its socket is watched.

    The socket stays registered with the loop that last awaited a result on it (`watching`),
    in use and idle alike: adding and removing a reader for every read cost a get two
    system calls and the loop's bookkeeping for them. While the link is idle, its socket
    has nothing to read (the server speaks only when asked; no LISTEN here), so the reader
    firing then means the server closed it (a restart, a terminated backend), and the link
    is marked `hung_up`: found without the poll that `postgres_dropped` would make."""

    __slots__ = (
        "conn",
        "fd",
        "hung_up",
        "in_use",
        "pgconn",
        "poller",
        "prepared",
        "reused",
        "tx",
        "waiter",
        "watching",
    )

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self.fd = self.pgconn.socket  # kept: libpq closes the socket itself when the server hangs up
        self.reused = False  # it has served a read before
        self.tx = Transformer(conn)
        self.prepared: set[bytes] = set()
        self.poller: select.poll | None = None  # made when first needed (`postgres_dropped`)
        self.watching: asyncio.AbstractEventLoop | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.in_use = True  # a new link is opened for a read
        self.hung_up = False

    def dropped(self, loop: asyncio.AbstractEventLoop, strict: bool) -> bool:
        """Whether the server has closed this idle link. Watched by `loop` (and not
        `strict`), its reader has said so if it has; otherwise its socket is polled."""
        if self.hung_up or self.conn.closed:
            return True
        if self.watching is loop and not strict:
            return False
        if self.poller is None:
            self.poller = select.poll()
            self.poller.register(self.fd, POSTGRES_HUNG_UP)
        return postgres_dropped(self.conn, self.poller)

    def readable(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future done when what came on the socket has been read into libpq's buffer
        (on `loop`, the running one)."""
        if self.watching is not loop:
            self.unwatch()
            loop.add_reader(self.fd, self._on_readable, loop)
            self.watching = loop
        ready = self.waiter = loop.create_future()
        return ready

    def _on_readable(self, loop: asyncio.AbstractEventLoop) -> None:
        if loop is not self.watching:
            return  # another loop has taken it over; this one stops watching soon
        if not self.in_use:
            loop.remove_reader(self.fd)
            self.watching = None
            self.hung_up = True
            return
        # Read what came here, so that the socket is not reported again before the
        # awaiting task runs, and that task need not ask the socket itself.
        waiter, self.waiter = self.waiter, None
        try:
            self.pgconn.consume_input()
        except psycopg.Error as exc:  # the connection is lost (libpq closes the socket)
            loop.remove_reader(self.fd)
            self.watching = None
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
            return
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def finish(self) -> None:
        """Close the connection, its socket unwatched first: a loop must not go on watching
        a closed descriptor (the next socket to get its number would be taken for it)."""
        self.unwatch(then=self.pgconn.finish)

    def unwatch(self, then: Callable[[], None] = lambda: None) -> None:
        """Stop watching the socket, on the loop that watches it; then `then()`."""
        loop, self.watching = self.watching, None
        if loop is None or loop.is_closed():
            then()
            return

        def unwatch() -> None:
            if self.watching is not loop and not loop.is_closed():
                loop.remove_reader(self.fd)
            then()

        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or not loop.is_running():
            unwatch()
            return
        try:
            loop.call_soon_threadsafe(unwatch)  # its loop runs on another thread
        except RuntimeError:  # it closed meanwhile
            then()


class _StampAsks:
    """The calls for a stamp on one event loop: those waiting for the next query, and the
    task that asks (None while none does)."""

    __slots__ = ("task", "waiting")

    def __init__(self) -> None:
        self.waiting: list[asyncio.Future[bytes]] = []
        self.task: asyncio.Task[None] | None = None


class KeyedReads:
    """One process's connections for keyed reads, at most `size` open at once."""

    def __init__(self, engine: Engine, size: int) -> None:
        # Statements are compiled for libpq's own placeholders ($1, $2 ...), by a dialect
        # of the engine's kind (the same SQL and types otherwise).
        dialect_class: Any = type(engine.dialect)
        self.dialect = dialect_class(paramstyle="numeric_dollar")
        self.dialect.server_version_info = engine.dialect.server_version_info
        self._kwargs = postgres_connect_kwargs(engine)
        self._size = size
        self._open = 0
        self._idle: list[_Link] = []
        self._waiters: deque[asyncio.Future[_Link | None]] = deque()
        self._lock = threading.Lock()  # test clients run loops on several threads
        self._closed = False
        self._names: dict[str, bytes] = {}  # statement text: its prepared statement's name
        self._numbers = itertools.count()  # for those names (next() is atomic; len() would race)
        self._asks: WeakKeyDictionary[asyncio.AbstractEventLoop, _StampAsks] = WeakKeyDictionary()

    async def run(self, work: Callable[[KeyedSession], T]) -> T:
        """`work(session)` in a greenlet, its keyed read awaited here on the loop."""
        return await self._on_link(lambda link: run_in_greenlet(work, KeyedSession(self, link)))

    async def change_stamp(self) -> bytes:
        """PostgreSQL's current snapshot, as text (`pg_current_snapshot()`): which
        transactions have committed, in the whole server. The same text twice means nothing
        was committed in between, so a read then and a read now see the same rows.

        It is asked after this call was made, in one query for every call made on this
        loop while the query before it was out: at concurrency 8 a query serves several
        gets, where each get's own read would have cost a round trip of its own."""
        loop = asyncio.get_running_loop()
        asks = self._asks.get(loop)
        if asks is None:
            asks = self._asks.setdefault(loop, _StampAsks())
        answer: asyncio.Future[bytes] = loop.create_future()
        asks.waiting.append(answer)
        if asks.task is None:
            asks.task = loop.create_task(self._ask_stamps(asks))
        return await answer

    async def _ask_stamps(self, asks: _StampAsks) -> None:
        """Ask the stamp for the calls waiting, again while calls came meanwhile. A query
        answers only the calls made before it was sent: a call made while it was out may
        follow a commit that its snapshot missed.

        Before it sends, it lets the loop turn a few times (microseconds), so that the
        gets whose requests arrived together ask one query: in the bench's gets at
        concurrency 8, a query served 1.4 gets without the turns, 1.7-1.85 when it
        turned only while more gets came, 1.9-2.4 with three turns (no more with ten)."""
        try:
            while asks.waiting:
                for _ in range(_GATHER_TURNS):
                    await asyncio.sleep(0)
                waiting, asks.waiting = asks.waiting, []
                try:
                    stamp = await self._on_link(self._stamp_on)
                except Exception as exc:
                    for answer in waiting:
                        if not answer.done():
                            answer.set_exception(exc)
                    continue
                except BaseException:  # the loop is closing: nobody gets an answer
                    for answer in [*waiting, *asks.waiting]:
                        answer.cancel()
                    raise
                for answer in waiting:
                    if not answer.done():
                        answer.set_result(stamp)
        finally:
            asks.task = None

    async def _stamp_on(self, link: _Link) -> bytes:
        sql = _SNAPSHOT if link.pgconn.server_version >= 130000 else _SNAPSHOT_BEFORE_13
        try:
            result = await self._execute(link, sql, ())
        except psycopg.Error as exc:
            raise _as_sqlalchemy(exc, sql, ()) from exc
        stamp = result.get_value(0, 0)
        assert stamp is not None
        return stamp

    async def _on_link(self, use: Callable[[_Link], Awaitable[T]]) -> T:
        """`use(link)` on an idle link, given back after. A link that had served reads
        before may turn out closed only when used: the server closed it (a restart, a
        terminated backend) too recently for `_take` to see. What `use` does changes
        nothing, so it runs once more on another link."""
        for attempt in (1, 2):
            link = await self._take(strict=attempt == 2)
            reused, link.reused = link.reused, True
            try:
                return await use(link)
            except DBAPIError:
                if attempt == 2 or not reused or link.pgconn.status == pq.ConnStatus.OK:
                    raise
            finally:
                self._give_back(link)
        raise AssertionError("unreachable")

    def rows(
        self, link: _Link, sql: str, params: Sequence[Any]
    ) -> tuple[list[tuple[Any, ...]], Callable[[], list[int]]]:
        """The rows of one statement (`sql` with $n placeholders), and a way to ask the
        type of each column (asked once per statement, not per read); called from the
        greenlet that `run` started."""
        try:
            values = link.tx.dump_sequence(params, [PyFormat.TEXT] * len(params))
            result = await_only(self._execute(link, sql, values))
            link.tx.set_pgresult(result)
            rows = link.tx.load_rows(0, result.ntuples, tuple)
            return rows, lambda: [result.ftype(i) for i in range(result.nfields)]
        except psycopg.Error as exc:
            raise _as_sqlalchemy(exc, sql, params) from exc

    async def _execute(self, link: _Link, sql: str, values: Sequence[Any]) -> pq.abc.PGresult:
        """The result of the statement prepared as `sql`, preparing it on this connection
        first if it has not been (again, if the server has forgotten it)."""
        name = self._names.get(sql)
        if name is None:
            name = self._names.setdefault(sql, b"modelreg_keyed_%d" % next(self._numbers))
        for attempt in (1, 2):
            if name not in link.prepared:
                link.pgconn.send_prepare(name, sql.encode())
                _check(await _result(link), link)
                link.prepared.add(name)
            link.pgconn.send_query_prepared(name, values)
            result = await _result(link)
            if attempt == 1 and result.error_field(pq.DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT:
                link.prepared.discard(name)
                continue
            _check(result, link)
            return result
        raise AssertionError("unreachable")

    async def _take(self, strict: bool = False) -> _Link:
        """An idle link (one the server has not closed: `strict`, polled to be sure), else a
        new one while fewer than `size` are open, else the next one given back."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                link = self._idle.pop() if self._idle else None
                opening = link is None and self._open < self._size
                if opening:
                    self._open += 1
                waiter = None
                if link is None and not opening:
                    waiter = loop.create_future()
                    self._waiters.append(waiter)
            if waiter is not None:
                try:
                    link = await waiter
                except asyncio.CancelledError:
                    if waiter.done() and not waiter.cancelled():  # handed over as we were cancelled
                        given = waiter.result()
                        self._release_slot() if given is None else self._give_back(given)
                    raise
                if link is None:  # a slot came free: open a connection of our own
                    opening = True
            if link is not None and not opening:
                if not link.dropped(loop, strict):
                    link.in_use = True
                    if link.watching is not loop:
                        link.unwatch()  # before it is used here: its old loop must not read it
                    return link
                link.finish()  # the server hung up on it while it was idle
                self._release_slot()
                continue
            try:
                return _Link(await psycopg.AsyncConnection.connect(**self._kwargs))
            except BaseException as exc:
                self._release_slot()
                if isinstance(exc, psycopg.Error):
                    raise _as_sqlalchemy(exc, "connect", {}) from exc
                raise

    def _give_back(self, link: _Link) -> None:
        link.in_use = False
        if (
            self._closed
            or link.pgconn.status != pq.ConnStatus.OK
            or link.pgconn.transaction_status != pq.TransactionStatus.IDLE
        ):
            link.finish()
            self._release_slot()
            return
        with self._lock:
            waiter = self._next_waiter()
            if waiter is None:
                self._idle.append(link)
                return
        self._hand(waiter, link)

    def _release_slot(self) -> None:
        with self._lock:
            waiter = self._next_waiter()
            if waiter is None:
                self._open -= 1
                return
        self._hand(waiter, None)  # the slot passes to the waiter, which opens its own

    def _hand(self, waiter: asyncio.Future[_Link | None], link: _Link | None) -> None:
        """Give a waiting read the connection (or the slot), on its own loop."""

        def resolve() -> None:
            if not waiter.done():
                waiter.set_result(link)
            elif link is None:  # it gave up meanwhile: pass it on
                self._release_slot()
            else:
                self._give_back(link)

        try:
            waiter.get_loop().call_soon_threadsafe(resolve)
        except RuntimeError:  # its loop has closed: nobody waits there any more
            waiter.cancel()
            resolve()

    def _next_waiter(self) -> asyncio.Future[_Link | None] | None:
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
        for link in idle:
            link.finish()


class KeyedSession:
    """What a keyed read's unit of work is handed instead of a Session: a way to run its
    one statement (Repository's keyed reads look for `info["keyed_reads"]`)."""

    __slots__ = ("info",)

    def __init__(self, reads: KeyedReads, link: _Link) -> None:
        self.info: dict[str, Any] = {"keyed_reads": (reads, link)}


async def _result(link: _Link) -> pq.abc.PGresult:
    """The last result of what was just sent on `link` (libpq's, awaited on the loop)."""
    pgconn = link.pgconn
    loop = asyncio.get_running_loop()
    while pgconn.flush():  # a statement bigger than the socket's buffer
        await _writable(loop, link.fd)
    last: pq.abc.PGresult | None = None
    while True:
        while not pgconn.is_busy():  # the reader (`_Link.readable`) has read what came
            result = pgconn.get_result()
            if result is None:
                if last is None:
                    raise psycopg.OperationalError("the server sent no result")
                return last
            if last is None or last.status != pq.ExecStatus.FATAL_ERROR:
                last = result  # the first error, or the last result
        await link.readable(loop)


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Until the socket can take more of a statement."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():  # it may fire again before the awaiting task runs
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        await ready
    finally:
        loop.remove_writer(fd)


def _check(result: pq.abc.PGresult, link: _Link) -> None:
    """Raise the error `result` holds, as psycopg would."""
    if result.status == pq.ExecStatus.FATAL_ERROR:
        raise psycopg.errors.error_from_result(result, encoding=link.conn.info.encoding)
    if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        raise psycopg.OperationalError(
            f"unexpected result from the server: {pq.ExecStatus(result.status).name}"
        )


def _as_sqlalchemy(exc: psycopg.Error, sql: str, params: Any) -> StatementError:
    """psycopg's error as SQLAlchemy's of the same kind (OperationalError, DataError ...),
    which the service maps to HTTP errors for every database alike."""
    return DBAPIError.instance(sql, params, exc, psycopg.Error)
