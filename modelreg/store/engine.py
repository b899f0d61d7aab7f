"""Engines for the three supported databases, each set up the same way."""

from __future__ import annotations

import select
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError


def normalize_url(url: str) -> str:
    """Pick our drivers for bare `postgresql://` and `mysql://` URLs users paste in."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend in ("postgresql", "postgres") and u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    elif backend in ("mysql", "mariadb") and "+" not in u.drivername:
        u = u.set(drivername=f"{backend}+pymysql")
    if u.get_backend_name() in ("mysql", "mariadb") and "charset" not in u.query:
        u = u.update_query_dict({"charset": "utf8mb4"})
    return u.render_as_string(hide_password=False)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'modelreg.db'}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin), not the driver.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    # 8 MiB of pages per connection instead of 2: a filtered page at a million versions
    # reads a thousand rows scattered over the table, and each page the cache missed was a
    # read() from the OS (3.6 ms for that page with the default, 0.8 ms with this).
    cur.execute("PRAGMA cache_size=-8192")
    cur.execute("PRAGMA foreign_keys=ON")
    # LIKE is case-insensitive in SQLite by default; the other two are case-sensitive.
    cur.execute("PRAGMA case_sensitive_like=ON")
    cur.close()
    # SQLite's lower() maps ASCII only; PostgreSQL's and MariaDB's map all of Unicode (ILIKE).
    dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)


def _unicode_lower(value: Any) -> Any:
    """Unicode's simple lowercase mapping: one character for one, as the servers do."""
    if not isinstance(value, str):
        return value
    low = value.lower()
    if len(low) == len(value):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in value)


def _sqlite_begin(conn: Any) -> None:
    """BEGIN IMMEDIATE for writers: they queue on the lock (busy_timeout) at the start,
    instead of failing with "database is locked" when a read turns into a write."""
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    # Straight to the driver: through exec_driver_sql, BEGIN cost more than the query after it.
    conn.connection.driver_connection.execute(f"BEGIN {mode}")


def make_engine(url: str, *, pool_size: int = 10, connect_args: dict[str, Any] | None = None) -> Engine:
    url = normalize_url(url)
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        u = make_url(url)
        memory = (u.database or "") in ("", ":memory:") or u.query.get("mode") == "memory"
        # A file's pool is sized as a server's: with SQLAlchemy's 5, every request beyond
        # the 5th opened a connection of its own (pragmas and all) and closed it after.
        pool = {} if memory else {"pool_size": pool_size, "max_overflow": pool_size}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_pre_ping=False,
            **pool,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args = {"connect_timeout": 5, **(connect_args or {})}
    postgres = backend == "postgresql"
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # PostgreSQL: a pooled connection is checked without a round trip (_postgres_alive);
        # a "SELECT 1" before every request cost as much as the request's own query.
        pool_pre_ping=not postgres,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    if postgres:
        event.listen(engine, "connect", _postgres_settings)
        event.listen(engine, "checkout", _postgres_alive)
        _CONNECT_ARGS[engine] = connect_args
    return engine


_CONNECT_ARGS: weakref.WeakKeyDictionary[Engine, dict[str, Any]] = weakref.WeakKeyDictionary()


def postgres_connect_kwargs(engine: Engine) -> dict[str, Any]:
    """What psycopg's connect needs to open a connection like `engine`'s, in autocommit
    (the URL's parts, the engine's connect_args, SQLAlchemy's type adapters, JIT off)."""
    _, params = engine.dialect.create_connect_args(engine.url)
    params = {**params, **_CONNECT_ARGS.get(engine, {}), "autocommit": True}
    if "options" not in params:
        params["options"] = "-c jit=off"  # see _postgres_settings
    return params


def postgres_dropped(conn: Any, poller: Any = None) -> bool:
    """Whether an idle psycopg connection (sync or async) is closed or its server has
    closed it, found without asking the server (`poller`: one already watching its socket).

    An idle connection's socket has nothing to read: the server speaks only when asked
    (no LISTEN here). Readable, hung up or in error means the server closed it (a
    restart, a terminated backend, a cut network path that said so)."""
    if conn.closed or getattr(conn, "broken", False):
        return True
    if poller is None:
        try:
            fd = conn.pgconn.socket
        except Exception:
            return True  # no socket: the driver knows it is gone
        poller = select.poll()
        poller.register(fd, POSTGRES_HUNG_UP)
    return bool(poller.poll(0))


POSTGRES_HUNG_UP = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def _postgres_alive(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled connection the server has dropped, without asking the server.

    When it is (`postgres_dropped`), the pool opens a new one (DisconnectionError), as
    pre-ping would. A peer that vanished without a word is found by the query, whose
    error invalidates the pool (SQLAlchemy's disconnect handling) and answers that
    request with 503.
    """
    if postgres_dropped(dbapi_conn):
        raise DisconnectionError("the connection is closed, or its server closed it")


def _postgres_settings(dbapi_conn: Any, _record: Any) -> None:
    # JIT compiling a filterQuery's subplans took 1.8 s of a 45 ms query on 20,000 models;
    # a registry's short queries never gain from it.
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True  # a SET inside a transaction ends with its rollback
    with dbapi_conn.cursor() as cur:
        cur.execute("SET jit = off")
    dbapi_conn.autocommit = autocommit
