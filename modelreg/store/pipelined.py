"""PostgreSQL: writes whose results nobody reads, sent together with what comes next.

A registration on PostgreSQL was 3 transactions and 18 round trips, and every round trip
cost more than the server's work for it: the GIL handed between the pool thread and the
event loop each time (some 55 futex calls a statement, `strace -c`). A create's property
rows and its history event are read by nobody in the same transaction, so they wait in
the session (`ReadSession.write_later`) and go in one pipeline (psycopg's pipeline mode:
sent together, answered together) with COMMIT, or before the next statement that reads.
COMMIT goes as one of the pipeline's statements: `Connection.commit()` in pipeline mode
syncs on its own, and leaving the pipeline syncs again, a round trip each.

(A create that reads nothing first skips all this on PostgreSQL: it is one statement in
autocommit, Repository.create_alone.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["send_pipelined"]

_COMPILED: dict[tuple[int, tuple[str, ...]], tuple[Any, Any]] = {}

# A statement and its parameters: a mapping, or a list of mappings for many rows.
Later = tuple[Any, Any]


def send_pipelined(conn: Connection, later: list[Later], *, commit: bool) -> None:
    """Run `later`'s statements (Core INSERT/UPDATE/DELETE with their parameters, a list
    of them for many rows) in order, and COMMIT after them if asked, in one round trip."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    if not later and driver.pgconn.transaction_status == pq.TransactionStatus.IDLE:
        return  # nothing to send, and no transaction to commit
    sql = "pipeline"
    try:
        with driver.pipeline(), driver.cursor() as cur:
            for statement, params in later:
                many = not isinstance(params, Mapping)
                rows: list[Mapping[str, Any]] = list(params) if many else [params]
                if not rows:
                    continue
                compiled = _compiled(statement, conn, rows[0])
                sql = compiled.string
                args = [_args(compiled, row) for row in rows]
                if many:
                    cur.executemany(sql, args)
                else:
                    cur.execute(sql, args[0])
            if commit:
                sql = "COMMIT"
                cur.execute(b"COMMIT")
    except psycopg.Error as exc:
        if driver.broken or driver.closed:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, {}, exc, psycopg.Error) from exc


def _compiled(statement: Any, conn: Connection, row: Mapping[str, Any]) -> Any:
    key = (id(statement), tuple(row))
    found = _COMPILED.get(key)
    if found is None or found[0] is not statement:  # kept with its statement: ids are reused
        found = _COMPILED[key] = (statement, statement.compile(dialect=conn.dialect, column_keys=list(row)))
    return found[1]


def _args(compiled: Any, row: Mapping[str, Any]) -> dict[str, Any]:
    args = compiled.construct_params(row)
    for name, process in (getattr(compiled, "_bind_processors", None) or {}).items():
        if name in args:
            args[name] = process(args[name])
    return args  # type: ignore[no-any-return]
