"""Keep-alive connections spread over the worker processes of one `modelreg serve`.

uvicorn's workers all wait on one listening socket, and a connection goes to whichever
wakes first; it then stays with that worker for its whole life. A client that opens its
pool of keep-alive connections at once (a load balancer's upstream pool, a pipeline's
HTTP session, the bench's 8) often had all of them on one worker, which did all the work
on one core while the others idled: 8 of 8 on one worker in 2 of 3 tries here, and get-by-id
at 1471/s one run and 2518/s the next. Two things spread them:

- libuv (uvloop's loop) accepts one connection at a time and yields between them
  (UV_TCP_SINGLE_ACCEPT), so a burst is shared between the workers that are awake;
- each worker counts the connections it served in the last seconds and publishes the
  count in a small file the workers share (one slot each, claimed with a lock the kernel
  lets go of when the worker dies). A worker holding more than its even share closes
  one connection at a time after a response (`Connection: close`, which HTTP/1.1 clients
  follow by opening a new one), and the new connection lands with a worker that is
  waiting for work. Once the split is even nothing more is closed.

A connection is known by its peer address (scope["client"]). Behind a proxy that rewrites
it (uvicorn's proxy headers) connections are not told apart and nothing is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
import mmap
import os
import struct
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ENV", "Spread", "SpreadConnections", "workers_file"]

ENV = "MODELREG_SPREAD_FILE"
_SLOT = struct.Struct("=qd")  # connections, when published (CLOCK_MONOTONIC, shared by all processes)
_IDLE_AFTER = 2.0  # seconds without a request before a connection no longer counts
_TICK = 0.1  # how often counts are published and read
_LIVE = 1.0  # a slot published longer ago than this belongs to no running worker
_CLOSE = (b"connection", b"close")


@contextlib.contextmanager
def workers_file(workers: int) -> Iterator[str | None]:
    """In the parent, before the workers start: the shared file, named in the environment
    the workers inherit, and libuv's one-accept-at-a-time setting; both gone at the end."""
    if workers < 2:
        yield None
        return
    single_accept = "UV_TCP_SINGLE_ACCEPT" not in os.environ
    if single_accept:
        os.environ["UV_TCP_SINGLE_ACCEPT"] = "1"
    fd, path = tempfile.mkstemp(prefix="modelreg-workers-")
    try:
        os.write(fd, bytes(_SLOT.size * workers))
        os.close(fd)
        os.environ[ENV] = path
        yield path
    finally:
        os.environ.pop(ENV, None)
        if single_accept:
            os.environ.pop("UV_TCP_SINGLE_ACCEPT", None)
        with contextlib.suppress(OSError):
            os.unlink(path)


class Spread:
    """One worker's view: its connections, its slot, and whether to close one now."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        size = os.fstat(self._fd).st_size
        self._slots = size // _SLOT.size
        self._map = mmap.mmap(self._fd, size)
        self.slot = self._claim()
        self._seen: dict[Any, float] = {}
        self._excess = 0
        self._next_tick = 0.0

    def _claim(self) -> int:
        for slot in range(self._slots):
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, _SLOT.size, slot * _SLOT.size)
            except OSError:
                continue
            return slot
        raise RuntimeError("more workers than slots in the shared workers file")

    def close_after(self, client: Any, now: float) -> bool:
        """Note a request on `client`'s connection; True if this response should close it."""
        self._seen[client] = now
        if now >= self._next_tick:
            self.tick(now)
        if self._excess > 0:
            self._excess -= 1
            del self._seen[client]
            return True
        return False

    def tick(self, now: float) -> None:
        """Forget idle connections, publish this worker's count, and work out the excess:
        at most one connection per tick is closed, so the counts catch up in between."""
        self._next_tick = now + _TICK
        for client in [c for c, t in self._seen.items() if now - t > _IDLE_AFTER]:
            del self._seen[client]
        mine = len(self._seen)
        _SLOT.pack_into(self._map, self.slot * _SLOT.size, mine, now)
        total, live = 0, 0
        for slot in range(self._slots):
            count, published = _SLOT.unpack_from(self._map, slot * _SLOT.size)
            if now - published <= _LIVE:
                total += count
                live += 1
        self._excess = 1 if live > 1 and mine > math.ceil(total / live) else 0

    async def keep_publishing(self) -> None:
        """An idle worker must still show that it is there, with room to spare."""
        while True:
            self.tick(time.monotonic())
            await asyncio.sleep(_TICK * 3)


class SpreadConnections:
    """ASGI middleware: asks a client to reconnect when this worker has more than its share."""

    def __init__(self, app: ASGIApp, spread: Spread) -> None:
        self.app = app
        self.spread = spread
        self._publisher: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        client = scope.get("client")
        if scope["type"] != "http" or not client or scope.get("http_version") == "1.0":
            await self.app(scope, receive, send)
            return
        self._start_publishing()  # without lifespan events, at the first request
        if not self.spread.close_after(tuple(client), time.monotonic()):
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A copy: an app may send the same message every time (the bench's floor does).
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            await send(message)

        await self.app(scope, receive, send_closing)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Publish from startup, so that an idle worker counts as one with room."""

        async def receive_starting() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start_publishing()
            elif message["type"] == "lifespan.shutdown" and self._publisher is not None:
                self._publisher.cancel()
            return message

        await self.app(scope, receive_starting, send)

    def _start_publishing(self) -> None:
        if self._publisher is None:
            self._publisher = asyncio.get_running_loop().create_task(self.spread.keep_publishing())


def install(app: ASGIApp) -> ASGIApp:
    """`app` inside SpreadConnections when this process is one of several workers."""
    path = os.environ.get(ENV)
    return SpreadConnections(app, Spread(path)) if path else app
