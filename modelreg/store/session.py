"""One unit of work per request, job or command: commit at the end or roll back whole."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from modelreg.store.files import FileStore


class ReadSession:
    """What the service uses of a Session (execute, get_bind, info), on one Core connection.

    The service runs Core statements only; an ORM Session around them cost more than the
    two queries of a get by id (its transaction bookkeeping on begin, execute and rollback),
    and about 100 us per write. The transaction is the connection's: for reads begun by the
    first statement and rolled back at the end, for writes begun at the start and committed
    at the end (or rolled back whole).
    """

    __slots__ = ("_conn", "info")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.info: dict[str, Any] = {}

    def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self._conn.execute(statement, params, **kw)

    def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self._conn.scalar(statement, params, **kw)

    def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self._conn.scalars(statement, params, **kw)

    def get_bind(self, *args: Any, **kw: Any) -> Connection:
        return self._conn

    def connection(self, *args: Any, **kw: Any) -> Connection:
        return self._conn

    def rollback(self) -> None:
        self._conn.rollback()


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
        # to 100 ms) before it tries again: a process's own writers queue here instead.
        self._write_turn: AbstractContextManager[object] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose changes are committed together when the block ends cleanly."""
        with self._write_turn, self._writer.begin() as conn:
            yield cast(Session, ReadSession(conn))

    @contextmanager
    def read_only(self) -> Iterator[Session]:
        """A session for reads (Core statements only); it never commits, and so never writes."""
        with self._reader.connect() as conn:
            try:
                yield cast(Session, ReadSession(conn))
            finally:
                conn.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
