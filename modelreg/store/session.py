"""One unit of work per request, job or command: commit at the end or roll back whole."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from modelreg.store.files import FileStore


class ReadSession:
    """What the read paths use of a Session (execute, get_bind, info), on one Core connection.

    Reads run Core statements only; an ORM Session around them cost more than the two
    queries of a get by id (its transaction bookkeeping on begin, execute and rollback).
    The connection's transaction is the same: begun by the first statement, rolled back
    at the end.
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
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        writer = (
            engine.execution_options(sqlite_begin="IMMEDIATE") if engine.dialect.name == "sqlite" else engine
        )
        self._writers = sessionmaker(bind=writer, expire_on_commit=False, autoflush=False)
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
        with self._write_turn, self._writers() as session, session.begin():
            yield session

    @contextmanager
    def read_only(self) -> Iterator[Session]:
        """A session for reads (Core statements only); it never commits, and so never writes."""
        with self.engine.connect() as conn:
            try:
                yield cast(Session, ReadSession(conn))
            finally:
                conn.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
