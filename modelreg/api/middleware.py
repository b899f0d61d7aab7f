"""ASGI middleware: request ids, JSON access logs, and the request body limit."""

from __future__ import annotations

import inspect
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelreg.api.log_stream import plain_handler

access_log = logging.getLogger("modelreg.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A request id as uuid4().hex writes one (version 4, RFC 4122 variant), from Python's
# generator rather than os.urandom: an id names a request in the logs, it guards nothing,
# and the system call cost more than the rest of this middleware.
_V4 = (0x4 << 76) | (0x2 << 62)
_V4_CLEAR = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)


def new_request_id() -> str:
    return f"{(random.getrandbits(128) & _V4_CLEAR) | _V4:032x}"


class _TooLarge(Exception):
    pass


def _last_handler(scope: Scope) -> Callable[..., Any] | None:
    app = scope.get("app")
    handlers = getattr(app, "exception_handlers", None) or {}
    return handlers.get(Exception) or handlers.get(500)


def _error(status: int, code: str, message: str) -> tuple[Message, Message]:
    body = orjson.dumps({"code": code, "message": message})
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    return start, {"type": "http.response.body", "body": body}


class RequestContext:
    """Gives each request an id (kept from X-Request-ID when sane), logs it as one JSON line,
    refuses bodies over `max_body_bytes` with 413 before they are read whole, and answers
    an unexpected error with the app's handler for it (a 500 with the request id)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        log_requests: bool = True,
        unlimited: Callable[[Scope], bool] = lambda _: False,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.log_requests = log_requests
        self.unlimited = unlimited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = b""
        declared = None
        for key, value in scope["headers"]:  # the two it needs, without a dict of all
            if key == b"x-request-id":
                given = value
            elif key == b"content-length":
                declared = value
        sent_id = given.decode("latin-1")
        request_id = sent_id if _SAFE_ID.match(sent_id) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 0
        sent_start = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent_start
            if message["type"] == "http.response.start":
                status = message["status"]
                sent_start = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        unlimited = self.unlimited(scope)
        if unlimited:
            declared = None
        try:
            if declared is not None and declared.isdigit() and int(declared) > self.max_body:
                raise _TooLarge
            if b"\x00" in scope.get("query_string", b"") or b"%00" in scope.get("query_string", b""):
                for m in _error(400, "Bad Request", "query parameters must not contain NUL characters"):
                    await send_with_id(m)
            else:
                body = receive if unlimited else self._limited(receive)
                await self.app(scope, body, send_with_id)
        except _TooLarge:
            if sent_start:
                raise
            for m in _error(
                413, "Request Entity Too Large", f"request body is larger than {self.max_body} bytes"
            ):
                await send_with_id(m)
        except Exception as exc:
            # The app's last handler (for Exception or 500), here rather than in Starlette's
            # outermost layer, so that the 500 carries the request id and is logged with it.
            handler = _last_handler(scope)
            if sent_start or handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(Request(scope, receive), exc)
            else:
                response = await run_in_threadpool(handler, Request(scope, receive), exc)
            await response(scope, receive, send_with_id)
        finally:
            if self.log_requests:
                self._log(scope, request_id, status, started)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        return limited

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, started: float) -> None:
        record: dict[str, Any] = {
            "ts": round(time.time(), 3),
            "request_id": request_id,
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "client": (scope.get("client") or ("", 0))[0],
        }
        line = orjson.dumps(record).decode()
        handler = plain_handler(access_log)
        if handler is not None:
            handler.write_line(line)
        else:
            access_log.info(line)
