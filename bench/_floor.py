"""The floor: a bare ASGI app that answers every request with one fixed JSON body.

Served by the same uvicorn setup as modelreg (`uvicorn.run`, same loop and HTTP parser,
same worker count), it is the most a Python HTTP service gets out of the machine, with
the same load generator in front of it. The body is a model version as modelreg would
send it, so the bytes on the wire are alike too.

The floor with a query (`floor-pg`, given a database URL) also runs, before it answers,
modelreg's own get-by-id statement for a model version on modelreg's PostgreSQL database:
prepared, sent by libpq on the event loop, each connection's socket watched for good,
its rows left undecoded. Nothing else: no routing, middleware, log, authorization,
decoding or encoding. It is what any PostgreSQL-backed get by id can reach on this
machine, the bound between the floor and modelreg's get.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

__all__ = ["BODY", "DATABASE_URL_ENV", "app", "serve", "served"]

DATABASE_URL_ENV = "BENCH_FLOOR_DATABASE_URL"  # set: the workers serve the floor with a query

BODY = orjson.dumps(
    {
        "id": "12",
        "name": "v1",
        "registeredModelId": "11",
        "author": "bench",
        "state": "LIVE",
        "customProperties": {
            "team": {"metadataType": "MetadataStringValue", "string_value": "team-3"},
            "dataset": {"metadataType": "MetadataStringValue", "string_value": "ds-0042"},
            "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": 0.93},
        },
        "createTimeSinceEpoch": "1790000000000",
        "lastUpdateTimeSinceEpoch": "1790000000000",
    }
)
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def _lifespan(
    receive: Any,
    send: Any,
    start: Callable[[], Awaitable[None]] | None = None,
    stop: Callable[[], None] | None = None,
) -> None:
    """Answer the server's lifespan messages, running `start` and `stop` on its way."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if start is not None:
                await start()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if stop is not None:
                stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    await send(_START)
    await send(_BODY)


class _Link:
    """One connection of a worker's, its socket watched by the loop for as long as it lives."""

    __slots__ = ("conn", "fd", "ok", "pgconn", "waiter")

    def __init__(self, conn: Any, loop: asyncio.AbstractEventLoop) -> None:
        from psycopg import pq

        self.ok = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
        self.conn = conn
        self.pgconn = conn.pgconn
        self.fd = self.pgconn.socket  # kept: libpq closes the socket itself when the server hangs up
        self.waiter: asyncio.Future[None] | None = None
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        waiter = self.waiter
        try:
            self.pgconn.consume_input()
        except Exception as exc:  # the connection is lost: stop watching it, fail its request
            asyncio.get_running_loop().remove_reader(self.fd)
            if waiter is not None and not waiter.done():
                waiter.set_exception(RuntimeError(f"connection to PostgreSQL lost: {exc}"))
            return
        if waiter is not None and not waiter.done() and not self.pgconn.is_busy():
            waiter.set_result(None)

    async def result(self) -> Any:
        """The last result of what was sent; an error's message raised as RuntimeError."""
        if self.pgconn.flush():
            raise RuntimeError("a statement did not fit the socket's buffer")
        while self.pgconn.is_busy():
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        self.waiter = None
        last = None
        while (result := self.pgconn.get_result()) is not None:
            if result.status not in self.ok:
                raise RuntimeError((result.error_message or b"").decode(errors="replace"))
            last = result
        return last

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        if not self.conn.closed:
            self.pgconn.finish()


class _Query:
    """modelreg's get-by-id statement for a model version, on connections of this worker's
    own (one for each request in flight), for a random version of those in the database."""

    NAME = b"floor_get"

    def __init__(self, url: str) -> None:
        from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

        from modelreg.store.repository import get_statement

        compiled = get_statement("model_version").compile(
            dialect=PGDialect_psycopg(paramstyle="numeric_dollar")
        )
        if list(compiled.positiontup or ()) != ["id"]:
            raise RuntimeError(f"unexpected parameters of the get statement: {compiled.positiontup}")
        self.sql = compiled.string.encode()
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self.ids: list[bytes] = []
        self.idle: list[_Link] = []

    async def start(self) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            rows = await (await conn.execute("SELECT id FROM model_versions")).fetchall()
        self.ids = [str(r[0]).encode() for r in rows]
        if not self.ids:
            raise RuntimeError(f"no model versions in {self.url}: fill modelreg's database first")

    async def run(self) -> int:
        """The rows one get returns."""
        link = self.idle.pop() if self.idle else await self._open()
        try:
            link.pgconn.send_query_prepared(self.NAME, [random.choice(self.ids)])
            rows = int((await link.result()).ntuples)
        except BaseException:
            link.close()
            raise
        self.idle.append(link)
        return rows

    async def _open(self) -> _Link:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        link = _Link(conn, asyncio.get_running_loop())
        try:
            link.pgconn.send_prepare(self.NAME, self.sql)
            await link.result()
        except BaseException:
            link.close()
            raise
        return link

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()


def _with_query(url: str) -> Any:
    """The floor's app, each request answered after one run of the get statement."""
    query = _Query(url)

    async def app_with_query(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, query.start, query.close)
            return
        if scope["type"] != "http":
            return
        if await query.run() < 1:
            raise RuntimeError("the get statement found no row")
        await send(_START)
        await send(_BODY)

    return app_with_query


def served() -> Any:
    """Factory for the workers: the app (with a query when the environment names a
    database) inside the same connection spreading as modelreg's."""
    from modelreg.api.spread import install

    url = os.environ.get(DATABASE_URL_ENV)
    return install(_with_query(url) if url else app)


def serve(host: str, port: int, workers: int, database_url: str | None = None) -> None:
    """As `modelreg serve` runs uvicorn (workers, connection spreading), less its logging."""
    import uvicorn

    from modelreg.api.spread import workers_file

    if database_url:
        os.environ[DATABASE_URL_ENV] = database_url  # the workers inherit it
    with workers_file(workers):
        uvicorn.run(
            "bench._floor:served",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            server_header=False,
            ws="none",
            log_level="warning",
        )
