"""One unit of work per request, job or command: commit at the end or roll back whole."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.pool import QueuePool

from modelreg.store.files import FileStore
from modelreg.store.write_turn import WriteTurn, lock_path

if TYPE_CHECKING:
    from modelreg.store.keyed_reads import KeyedReads

T = TypeVar("T")
_PROGRESS_STEPS = 1000  # SQLite VM steps between looks at a budgeted read's clock


class Session(Protocol):
    """What the service is handed for a unit of work (a ReadSession, or a keyed read's
    KeyedSession): SQLAlchemy's Session in shape, without importing its ORM (about 75 ms
    of a server's start) for a class nothing here instantiates."""

    info: dict[str, Any]

    def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any: ...

    def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any: ...

    def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any: ...

    def get_bind(self, *args: Any, **kw: Any) -> Connection: ...

    def connection(self, *args: Any, **kw: Any) -> Connection: ...


class ReadSession:
    """What the service uses of a Session (execute, get_bind, info), on one Core connection.

    The service runs Core statements only; an ORM Session around them cost more than the
    two queries of a get by id (its transaction bookkeeping on begin, execute and rollback),
    and about 100 us per write. The transaction is the connection's: for reads begun by the
    first statement and rolled back at the end, for writes begun at the start and committed
    at the end (or rolled back whole).

    On PostgreSQL a write's `write_later` statements wait here and go in one pipeline with
    the next statement's turn or with COMMIT (store.pipelined); anything that reads (or
    takes the connection) sends them first. A unit of work that writes once may instead
    be one statement in autocommit (`execute_alone`), after which it runs nothing more.
    """

    __slots__ = ("_alone", "_conn", "_later", "info")

    def __init__(self, conn: Connection, *, defers: bool = False) -> None:
        self._conn = conn
        self._later: list[Any] | None = [] if defers else None
        self._alone = False
        self.info: dict[str, Any] = {}

    def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.connection().execute(statement, params, **kw)

    def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.connection().scalar(statement, params, **kw)

    def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.connection().scalars(statement, params, **kw)

    def get_bind(self, *args: Any, **kw: Any) -> Connection:
        """The connection, for its dialect (statements go through `execute`)."""
        return self._conn

    def connection(self, *args: Any, **kw: Any) -> Connection:
        """The connection, the waiting writes sent first: whatever runs next sees them."""
        if self._later:
            self.send_later()
        if self._alone:
            raise RuntimeError("this unit of work committed its one statement; it can run no other")
        return self._conn

    def may_run_alone(self) -> bool:
        """Whether a statement may be this unit of work's whole transaction (`execute_alone`):
        on PostgreSQL, when the unit said it writes once (info["one_write"]) and nothing
        has been run or queued in it yet."""
        if self._later is None or self._later or self._alone or not self.info.get("one_write"):
            return False
        from psycopg import pq

        driver = self._conn.connection.driver_connection
        return bool(driver.pgconn.transaction_status == pq.TransactionStatus.IDLE)  # type: ignore[union-attr]

    def execute_alone(self, sql: str, params: dict[str, Any]) -> list[Any]:
        """Run `sql` (the driver's) in autocommit, as the unit of work's one transaction
        (one round trip: no BEGIN, no COMMIT); any statement after it is refused."""
        assert self.may_run_alone()
        driver = self._conn.connection.driver_connection
        driver.autocommit = True  # type: ignore[union-attr]
        try:
            rows = list(self._conn.exec_driver_sql(sql, params).all())
        finally:
            if not (driver.closed or driver.broken):  # type: ignore[union-attr]
                driver.autocommit = False  # type: ignore[union-attr]
        self._alone = True
        return rows

    def write_later(self, statement: Any, params: Any) -> None:
        """Run a write nobody reads the result of: now, or (PostgreSQL) with what comes next."""
        if self._later is None:
            self._conn.execute(statement, params)
        else:
            self._later.append((statement, params))

    def send_later(self, *, commit: bool = False) -> None:
        """Send the waiting writes (and COMMIT, if asked) in one round trip."""
        later, self._later = self._later or [], []
        if self._alone:
            if later:
                raise RuntimeError("this unit of work committed its one statement; it can write no more")
            return
        if later or commit:
            from modelreg.store.pipelined import send_pipelined

            send_pipelined(self._conn, later, commit=commit)

    def rollback(self) -> None:
        if self._later is not None:
            self._later = []
        self._conn.rollback()


def write_later(session: Session, statement: Any, params: Any) -> None:
    """A write whose result nobody reads: on PostgreSQL it goes with what comes next
    (ReadSession.write_later); on the others, and in an ORM Session, now."""
    later = getattr(session, "write_later", None)
    if later is None:
        session.execute(statement, params)
    else:
        later(statement, params)


def may_run_alone(session: Session) -> bool:
    """Whether `session` may run one statement as its whole transaction (ReadSession)."""
    check = getattr(session, "may_run_alone", None)
    return bool(check()) if check is not None else False


def execute_alone(session: Session, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run the driver's `sql` as the session's whole transaction; its rows."""
    return session.execute_alone(sql, params)  # type: ignore[attr-defined,no-any-return]


class TurnTaken(Exception):
    """Another writer holds the SQLite database; asked not to wait for it."""


class ReadTooLong(Exception):
    """A pinned SQLite read ran past its time budget and was stopped (see read_only)."""


class Database:
    """One registry's storage: its database (engine, sessions) and its file store."""

    def __init__(self, engine: Engine, files: FileStore | None = None) -> None:
        self.engine = engine
        self.files = files
        self._writer = (
            engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
        )
        # PostgreSQL reads at READ COMMITTED, where each statement takes its own snapshot
        # whether or not a transaction is open: in autocommit they see the same, and skip
        # the BEGIN and ROLLBACK round trips (psycopg sends BEGIN on its own).
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        # SQLite lets one writer in at a time, and one kept out sleeps in growing steps (up
        # to 100 ms) before it tries again: writers of every process queue here instead.
        sqlite_file = lock_path(engine.url.database) if engine.dialect.name == "sqlite" else None
        self._write_turn: AbstractContextManager[object] = (
            WriteTurn(sqlite_file) if engine.dialect.name == "sqlite" else nullcontext()
        )
        # PostgreSQL: reads of one row by key are awaited on the event loop (KeyedReads),
        # on as many connections at most as the engine's pool keeps.
        # (Imported here: psycopg costs a SQLite server 9 MB in each process.)
        self.keyed_reads: KeyedReads | None = None
        # PostgreSQL: writes nobody reads back go with COMMIT (ReadSession.write_later).
        self._pipelines = engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
        if engine.dialect.name == "postgresql":
            from modelreg.store.keyed_reads import KeyedReads

            size = engine.pool.size() if isinstance(engine.pool, QueuePool) else 5
            self.keyed_reads = KeyedReads(engine, size)
        # A SQLite file's connections are kept rather than taken from the pool and given
        # back each time (checkout, its events and the Connection around it cost as much as
        # a get's query): the writers' one, used in turn, and one per pinned reading thread.
        self._keep = sqlite_file is not None
        self._kept_writer: Connection | None = None
        self._pinned: dict[int, Connection] = {}
        self._pinned_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self, *, wait: bool = True) -> Iterator[Session]:
        """A session whose changes are committed together when the block ends cleanly.

        Without `wait`, on SQLite, it raises TurnTaken at once if another writer holds
        the database (the caller may then wait somewhere it can afford to)."""
        if not self._keep:
            with self._write_turn, self._writer.begin() as conn:
                session = ReadSession(conn, defers=self._pipelines)
                yield session
                if self._pipelines:
                    session.send_later(commit=True)
            return
        assert isinstance(self._write_turn, WriteTurn)
        if not self._write_turn.acquire(blocking=wait):
            raise TurnTaken
        try:
            kept = self._kept_writer
            if kept is None or kept.closed or kept.invalidated:
                kept = self._kept_writer = self._writer.connect()
            try:
                with kept.begin():
                    yield ReadSession(kept)
            except BaseException:
                self._drop_if_broken(kept)
                raise
        finally:
            self._write_turn.release()

    @contextmanager
    def read_only(self, *, pin: bool = False, budget: float | None = None) -> Iterator[Session]:
        """A session for reads (Core statements only); it never commits, and so never writes.

        `pin` says the calling thread reads one request at a time and lives long (the
        event loop's, or the one SQLite reader thread): it keeps its own connection.
        `budget` (seconds; a pinned SQLite read only) stops the read once it has run that
        long, raising ReadTooLong, so that the caller may run it again elsewhere."""
        if not (pin and self._keep):
            with self._reader.connect() as conn:
                try:
                    yield ReadSession(conn)
                finally:
                    conn.rollback()
            return
        with _PinnedRead(self, keyed=False, budget=budget) as session:
            yield session

    def keyed_read_here(self, work: Callable[[Session], T]) -> T:
        """`work(session)`, one read of a row by its key, on this long-lived thread's kept
        SQLite connection, without a transaction of its own (Repository reads it so: one
        statement reads one snapshot anyway). Otherwise the same as `read_only(pin=True)`,
        without a generator around it."""
        if not self._keep:
            with self.read_only() as session:
                return work(session)
        with _PinnedRead(self, keyed=True) as session:
            return work(session)

    def change_stamp(self) -> tuple[Connection, int] | None:
        """On a SQLite file, the calling thread's kept connection and SQLite's count of
        the commits that other connections (of any process) have made to the file since
        it opened (PRAGMA data_version, read from the file's shared WAL index). The same
        stamp twice: nothing was committed in between, and a read on that connection
        answers the same. None for other databases."""
        if not self._keep:
            return None
        conn = self._pinned_connection()
        driver: Any = conn.connection.driver_connection
        (version,) = driver.execute("PRAGMA data_version").fetchone()
        return conn, version

    def _pinned_connection(self) -> Connection:
        me = threading.get_ident()
        conn = self._pinned.get(me)
        if conn is not None and not conn.closed and not conn.invalidated:
            return conn
        conn = self._reader.connect()
        with self._pinned_lock:
            # Threads that ended (a test client's loop, say) give their connection back.
            alive = {t.ident for t in threading.enumerate()}
            for ident in [i for i in self._pinned if i not in alive]:
                self._pinned.pop(ident).close()
            self._pinned[me] = conn
        return conn

    def _drop_if_broken(self, conn: Connection) -> None:
        if conn.invalidated:
            conn.close()

    def dispose(self) -> None:
        with self._pinned_lock:
            kept = [*self._pinned.values(), *([self._kept_writer] if self._kept_writer else [])]
            self._pinned.clear()
            self._kept_writer = None
        for conn in kept:
            conn.close()
        if self.keyed_reads is not None:
            self.keyed_reads.close()
        self.engine.dispose()
        if isinstance(self._write_turn, WriteTurn):
            self._write_turn.close()


class _PinnedRead:
    """A read on the calling thread's kept connection, rolled back when it ends (and the
    connection dropped if it broke). A class rather than a generator: a get by id spent
    some 3% of its CPU entering and leaving the generator context managers around it."""

    __slots__ = ("_budget", "_conn", "_db", "_driver", "_keyed", "_stopped")

    def __init__(self, db: Database, *, keyed: bool, budget: float | None = None) -> None:
        self._db = db
        self._keyed = keyed
        self._budget = budget
        self._stopped = False

    def __enter__(self) -> Session:
        self._conn = conn = self._db._pinned_connection()
        session = ReadSession(conn)
        if self._keyed:
            session.info["keyed_read"] = True
        if self._budget is not None:
            # SQLite calls the handler every _PROGRESS_STEPS steps of its VM (tens of us);
            # a true answer stops the statement running, which raises OperationalError.
            self._driver = driver = cast(Any, conn.connection.driver_connection)
            deadline = time.perf_counter() + self._budget

            def past_deadline() -> bool:
                if time.perf_counter() < deadline:
                    return False
                self._stopped = True
                return True

            driver.set_progress_handler(past_deadline, _PROGRESS_STEPS)
        return session

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _: object) -> None:
        conn = self._conn
        if self._budget is not None:
            self._driver.set_progress_handler(None, 0)
        if exc_type is not None and not self._stopped:
            self._db._drop_if_broken(conn)
        if not conn.closed:
            conn.rollback()
        if self._stopped:  # whatever the work made of the stopped statement, it is not an answer
            # A BEGIN may be the statement stopped, after it took effect: SQLAlchemy then
            # holds no transaction to roll back, and SQLite does.
            self._driver.rollback()
            raise ReadTooLong(f"the read ran past {self._budget:.3f} s") from exc
