"""Units of work as the service sees them: database trouble becomes a typed error."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from modelreg.service import history
from modelreg.service.errors import InvalidArgument, Unavailable
from modelreg.store.session import Database, ReadTooLong, Session, TurnTaken

__all__ = [
    "ReadTooLong",
    "TurnTaken",
    "awaited_change_stamp",
    "awaits_keyed_reads",
    "change_stamp",
    "keyed_read",
    "keyed_read_here",
    "transaction",
]

T = TypeVar("T")

log = logging.getLogger("modelreg.service")


class _DatabaseErrors:
    """Database trouble as the service's typed errors. A class, not a generator: the
    SQLite get by key enters it on every request, and a generator's entry and exit cost
    more than this one's.

    SQLite's reads by key and pages run driver SQL, whose errors are sqlite3's own rather
    than SQLAlchemy's wrappers of them: both count."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if not isinstance(exc, Exception):
            return
        if _schema_missing(exc):
            raise Unavailable(
                "the registry's database has no tables, or an older schema than this server; "
                "run `modelreg db upgrade` (`modelreg serve` runs it as it starts)"
            ) from exc
        if isinstance(exc, (OperationalError, InterfaceError, sqlite3.OperationalError)):
            raise Unavailable("the registry's database is unavailable or busy; try again shortly") from exc
        if isinstance(exc, (DataError, sqlite3.DataError)):
            raise InvalidArgument("a value is out of range or malformed for the database") from exc


# What each database says when a statement names a table or column it does not have.
_UNDEFINED_SQLSTATES = frozenset({"42P01", "42703"})  # PostgreSQL: undefined_table, undefined_column
_UNDEFINED_MYSQL_CODES = frozenset({1146, 1054})  # ER_NO_SUCH_TABLE, ER_BAD_FIELD_ERROR
_UNDEFINED_SQLITE = ("no such table", "no such column")


def _schema_missing(exc: Exception) -> bool:
    """Whether `exc` says the database lacks a table or column the registry's statements
    name: a database never migrated, or migrated by an older release."""
    error: Any = exc.orig if isinstance(exc, DBAPIError) else exc
    if getattr(error, "sqlstate", None) in _UNDEFINED_SQLSTATES:
        return True
    if isinstance(error, sqlite3.OperationalError):
        return str(error).startswith(_UNDEFINED_SQLITE)
    args: tuple[Any, ...] = getattr(error, "args", ())
    return type(error).__module__.startswith("pymysql") and bool(args) and args[0] in _UNDEFINED_MYSQL_CODES


_database_errors = _DatabaseErrors()


def keyed_read_here(db: Database, work: Callable[[Session], T]) -> T:
    """`work`, one read of a row by its key, on this thread's kept SQLite connection (the
    event loop's: it takes less than a hop to a thread). See Database.keyed_read_here."""
    with _database_errors:
        return db.keyed_read_here(work)


def change_stamp(db: Database) -> tuple[object, int] | None:
    """What tells whether anything was committed to a SQLite registry since an earlier
    stamp (Database.change_stamp); None for other databases."""
    with _database_errors:
        return db.change_stamp()


async def awaited_change_stamp(db: Database) -> tuple[object, bytes]:
    """What tells whether anything was committed to a PostgreSQL registry since an earlier
    stamp: its server's current snapshot, asked after this call (KeyedReads.change_stamp)."""
    assert db.keyed_reads is not None
    with _database_errors:
        return db.keyed_reads, await db.keyed_reads.change_stamp()


def awaits_keyed_reads(db: Database) -> bool:
    """Whether a unit of work that is one read by key is awaited (`keyed_read`) here."""
    return db.keyed_reads is not None


async def keyed_read(db: Database, work: Callable[[Session], T]) -> T:
    """`work`, one read of a row by its key, awaited on the event loop (PostgreSQL)."""
    assert db.keyed_reads is not None
    with _database_errors:
        return await db.keyed_reads.run(cast(Callable[[Any], T], work))


@contextmanager
def transaction(
    db: Database,
    *,
    write: bool,
    context: history.Context | None = None,
    pin: bool = False,
    wait: bool = True,
    one_write: bool = False,
    budget: float | None = None,
) -> Iterator[Session]:
    """One transaction: committed whole when the block ends, rolled back whole otherwise.

    `context` says who acts, for the history events the change writes; `pin`, that a read
    runs on a long-lived thread that reads one request at a time (Database.read_only);
    `wait=False`, that a write raises TurnTaken rather than wait for another writer;
    `one_write`, that the block makes one create or update and nothing after it, so a
    create may commit as one statement (resources.create); `budget` (seconds), that a
    pinned SQLite read is stopped once it has run that long, raising ReadTooLong.
    """
    unit = db.unit_of_work(wait=wait) if write else db.read_only(pin=pin, budget=budget)
    with _database_errors, unit as session:
        if context is not None:
            history.bind(session, context)
        if one_write:
            session.info["one_write"] = True
        yield session
        dropped: list[str] = session.info.pop("drop_prefixes", [])
    # Only now that the deletion is committed may the deleted artifacts' bytes go.
    if dropped and db.files is not None:
        for prefix in dropped:
            try:
                db.files.delete_prefix(prefix)
            except Exception:  # a leftover file must not fail a committed delete
                log.warning("could not delete stored files under %s", prefix, exc_info=True)
