"""The load generator's aiohttp client, for `--client aiohttp`: one keep-alive connection.

aiohttp's client parses responses in C (its llhttp parser) and costs a fraction of
httpx's CPU per request, so on a 2-core machine, where the client shares the cores with
the server, more of the machine goes to the server under test. It is what many asyncio
services use to call others, so it stays a real client.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from bench._rawhttp import RawResponse, _Stream


class _Connector(aiohttp.TCPConnector):
    """Remembers the transport of the connection it opened last (it holds one at most)."""

    transport: Any = None

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        proto = await super()._create_connection(req, traces, timeout)
        self.transport = proto.transport
        return proto


__all__ = ["AiohttpClient"]

_JSON = {"content-type": "application/json"}


class AiohttpClient:
    """One session holding at most one connection, kept alive between requests."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._streams: dict[int, _Stream] = {}  # one per connection, for Conn's TCP_NODELAY check

    def _open(self) -> aiohttp.ClientSession:
        connector = _Connector(limit=1, keepalive_timeout=3600, enable_cleanup_closed=False)
        self._session = aiohttp.ClientSession(
            base_url=self.base_url,
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            json_serialize=lambda x: orjson.dumps(x).decode(),
            auto_decompress=False,
        )
        return self._session

    async def request(
        self, method: str, url: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> RawResponse:
        session = self._session or self._open()
        data = orjson.dumps(json) if json is not None else None
        headers = _JSON if data is not None else None
        async with session.request(method, url, params=params, data=data, headers=headers) as resp:
            stream = self._stream(resp)
            content = await resp.read()
            return RawResponse(resp.status, content, stream)

    def _stream(self, resp: aiohttp.ClientResponse) -> _Stream:
        conn = resp.connection
        transport = conn.transport if conn is not None else None
        if transport is None:
            # A response read whole with its headers has given its connection back to the
            # pool before we look: it is the one the connector opened last.
            connector = self._session.connector if self._session is not None else None
            transport = getattr(connector, "transport", None)
        key = id(transport)
        stream = self._streams.get(key)
        if stream is None:
            sock = transport.get_extra_info("socket") if transport is not None else None
            stream = self._streams[key] = _Stream(sock)
        return stream

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None
