"""The one place errors become HTTP: a class-to-status table and handlers on the base classes.

Bodies are `{"code": <reason phrase>, "message": <text>}` as upstream's. Upstream answers a
missing required field with 422 but code "Bad Request"; clients match on that, so do we.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from modelreg.service.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    InvalidArgument,
    MissingField,
    ModelregError,
    NotFound,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger("modelreg.api")

STATUS: dict[type[ModelregError], int] = {
    MissingField: 422,
    InvalidArgument: 400,
    NotFound: 404,
    AlreadyExists: 409,
    Conflict: 409,
    Unauthenticated: 401,
    Forbidden: 403,
    Unavailable: 503,
}


def error_response(status: int, message: str, code: str | None = None) -> Response:
    body = {"code": code or HTTPStatus(status).phrase, "message": message}
    headers = {"Retry-After": "1"} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="modelreg"'}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def status_of(exc: ModelregError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 500


def from_domain(exc: ModelregError) -> Response:
    status = status_of(exc)
    code = "Bad Request" if isinstance(exc, MissingField) else None
    return error_response(status, exc.message, code)


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    # Drop the discriminator tags pydantic inserts for unions.
    parts = [p for p in parts if not p.startswith("Metadata") and not p.endswith("Value]")]
    return ".".join(parts) or "body"


def from_validation(errors: list[dict[str, object]]) -> ModelregError:
    """The first problem pydantic found, as upstream's strict JSON decoder would word it."""
    for err in errors:
        if err["type"] == "extra_forbidden":
            loc = err["loc"]
            assert isinstance(loc, tuple)
            return InvalidArgument(f'json: unknown field "{loc[-1]}"')
    err = errors[0]
    loc = err["loc"]
    assert isinstance(loc, tuple)
    where = _loc(loc)
    kind = str(err["type"])
    if kind == "json_invalid":
        return InvalidArgument(f"request body is not valid JSON: {err['msg']}")
    if kind == "missing":
        return MissingField(f"required field '{where}' is zero value.")
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        return InvalidArgument(f"{where}: {err['msg']}")
    return InvalidArgument(f"{where}: {err['msg']}")


def log_unexpected(request: Request) -> None:
    """Log the error being handled, with its traceback and the request's id (the answer
    carries the id, the log the details)."""
    request_id = request.scope.get("state", {}).get("request_id")
    log.exception("unhandled error on %s %s (request %s)", request.method, request.url.path, request_id)


def install(app: FastAPI) -> None:
    async def on_domain(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelregError)
        return from_domain(exc)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, (RequestValidationError, ValidationError))
        return from_domain(from_validation(list(exc.errors())))  # type: ignore[arg-type]

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, str(exc.detail))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log_unexpected(request)
        return error_response(500, "internal error; the server log has the details")

    app.add_exception_handler(ModelregError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
