"""A minimal keep-alive HTTP/1.1 client on asyncio streams, for `--client raw`.

httpx spends about as much CPU on a request as modelreg does serving it, and on a
2-core machine the load generator shares the cores with the server. This client does the
least a client can (one write per request, Content-Length or chunked bodies), so that a
run with it shows how far each server goes when the client is not what runs out first.
The default stays httpx, as real clients are.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

__all__ = ["RawClient", "RawResponse"]


class RawResponse:
    def __init__(self, status_code: int, content: bytes, stream: _Stream) -> None:
        self.status_code = status_code
        self.content = content
        self.extensions = {"network_stream": stream}

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class _Stream:
    """What Conn's TCP_NODELAY check asks of a response's stream."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock

    def get_extra_info(self, key: str) -> Any:
        return self.sock if key == "socket" else None


class RawClient:
    """One connection, opened on first use and again after the server closes it."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.host_header = f"{self.host}:{self.port}".encode()
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._stream = _Stream(None)

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._stream = _Stream(self._writer.get_extra_info("socket"))

    async def request(
        self, method: str, url: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> RawResponse:
        target = url + ("?" + urlencode(params) if params else "")
        head = [f"{method} {target} HTTP/1.1".encode(), b"host: " + self.host_header]
        body = b""
        if json is not None:
            body = orjson.dumps(json)
            head += [b"content-type: application/json", b"content-length: " + str(len(body)).encode()]
        payload = b"\r\n".join(head) + b"\r\n\r\n" + body
        for attempt in (0, 1):
            if self._writer is None:
                await self._connect()
            assert self._writer is not None
            try:
                self._writer.write(payload)
                return await asyncio.wait_for(self._read(), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.aclose()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _read(self) -> RawResponse:
        assert self._reader is not None
        status_line = await self._reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = -1
        chunked = False
        close = False
        while True:
            line = await self._reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            content = b"".join(parts)
        elif length >= 0:
            content = await self._reader.readexactly(length)
        else:
            content = await self._reader.read()
            close = True
        response = RawResponse(status, content, self._stream)
        if close:
            await self.aclose()
        return response

    async def aclose(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
