"""Probes: /livez (the process answers), /readyz/health (the database answers), /readyz/isDirty."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import PlainTextResponse, Response

from modelreg.api.routes import json_response
from modelreg.api.security import role
from modelreg.service import health


def _answer(request: Request, checks: dict[str, str]) -> Response:
    ok = all(v == "pass" for v in checks.values())
    status = 200 if ok else 503
    if request.query_params.get("format") == "json":
        return json_response({"status": "pass" if ok else "fail", "checks": checks}, status)
    text = "OK" if ok else "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "pass")
    return PlainTextResponse(text, status_code=status)


def health_router() -> APIRouter:
    router = APIRouter(tags=["Health"])

    @router.get("/livez", summary="The process is up", openapi_extra=role("public"))
    async def livez() -> Any:
        return PlainTextResponse("OK")

    @router.get(
        "/readyz/health",
        summary="The database answers and the schema is current",
        openapi_extra=role("public"),
    )
    async def ready(request: Request) -> Response:
        checks = await run_in_threadpool(health.check, request.app.state.registries.control)
        return _answer(request, checks)

    @router.get("/readyz/isDirty", summary="The schema migrations are complete", openapi_extra=role("public"))
    async def is_dirty(request: Request) -> Response:
        checks = await run_in_threadpool(health.check_schema, request.app.state.registries.control)
        return _answer(request, checks)

    return router
