"""Reading the history: per entity, and per registry with filters, paged or as JSON lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from modelreg.api import params
from modelreg.api.routes import json_response, run
from modelreg.api.security import database, role
from modelreg.entities import ARTIFACT, INFERENCE_SERVICE, MODEL_VERSION, REGISTERED_MODEL, V1, V1ALPHA3
from modelreg.service import history
from modelreg.service.errors import InvalidArgument
from modelreg.service.transactions import transaction

API_PREFIX = "/api/model_registry"
EXPORT_PAGE = 1000
_DIGITS = re.compile(r"^-?[0-9]{1,15}$")


def _time(value: str | None, what: str) -> int | None:
    """Epoch milliseconds, or an ISO 8601 time (UTC when it names no zone)."""
    if value in (None, ""):
        return None
    assert value is not None
    if _DIGITS.match(value):
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(
            f"{what} must be epoch milliseconds or an ISO 8601 time, got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _query(request: Request, **fixed: Any) -> history.EventQuery:
    q = request.query_params
    size_raw = q.get("pageSize") or "100"
    if not size_raw.isdigit() or not 1 <= int(size_raw) <= 10_000:
        raise InvalidArgument(f"pageSize must be a whole number from 1 to 10000, got {size_raw!r}")
    token = q.get("nextPageToken") or None
    if token is not None and not token.isdigit():
        raise InvalidArgument("nextPageToken is not one this server issued")
    order = (q.get("sortOrder") or "DESC").upper()
    if order not in ("ASC", "DESC"):
        raise InvalidArgument(f"sortOrder must be ASC or DESC, got {order!r}")
    return history.EventQuery(
        registry=request.state.registry,
        entity_kind=fixed.get("entity_kind", params.optional_text(q, "entityType")),
        entity_id=fixed.get("entity_id", params.optional_text(q, "entityId")),
        actor=params.optional_text(q, "actor"),
        action=params.optional_text(q, "action"),
        since_ms=_time(q.get("since"), "since"),
        until_ms=_time(q.get("until"), "until"),
        page_size=int(size_raw),
        before_id=int(token) if token else None,
        ascending=order == "ASC",
    )


async def _answer(request: Request, query: history.EventQuery) -> Response:
    if request.query_params.get("format") == "jsonl":
        return _export(request, query)
    items, more = await run(request, lambda s: history.query(s, query), write=False)
    return json_response(
        {
            "items": items,
            "size": len(items),
            "pageSize": query.page_size,
            "nextPageToken": str(more) if more else "",
        }
    )


def _export(request: Request, query: history.EventQuery) -> Response:
    """Every matching event as one JSON object a line, read in pages as it streams."""
    db = database(request)

    def lines() -> Iterator[bytes]:
        page = history.EventQuery(**{**query.__dict__, "page_size": EXPORT_PAGE})
        while True:
            with transaction(db, write=False) as session:
                items, more = history.query(session, page)
            for item in items:
                yield orjson.dumps(item) + b"\n"
            if more is None:
                return
            page = history.EventQuery(**{**page.__dict__, "before_id": more})

    return StreamingResponse(lines(), media_type="application/x-ndjson")


def _entity_history(kind: str, param: str) -> Any:
    async def entity_history(request: Request) -> Response:
        id_ = params.parse_id(request.path_params.get(param), param)
        return await _answer(request, _query(request, entity_kind=kind, entity_id=str(id_)))

    return entity_history


def history_router() -> APIRouter:
    router = APIRouter(tags=["History"])

    @router.get(
        "/api/modelreg/v1/history",
        summary="The registry's history: filter by actor, entityType, entityId, action, since, until",
        openapi_extra=role("viewer"),
    )
    async def registry_history(request: Request) -> Response:
        return await _answer(request, _query(request))

    for spec in (REGISTERED_MODEL, MODEL_VERSION, ARTIFACT, INFERENCE_SERVICE):
        for api in (V1, V1ALPHA3):
            param = params.path_param(spec.kind, api)
            path = f"{API_PREFIX}/{api}/{spec.collection}/{{{param}}}/history"

            router.add_api_route(
                path,
                _entity_history(spec.kind, param),
                methods=["GET"],
                summary=f"History of one {spec.label}, newest first",
                operation_id=f"get{spec.schema}History_{api}",
                openapi_extra=role("viewer"),
            )
    return router
