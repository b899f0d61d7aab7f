"""Every request passes here: who is calling, which registry, and may they.

Each route declares the role it needs in its OpenAPI extension `x-modelreg-role`
("public", "authenticated", "viewer", "editor", "owner" or "admin"); a route without one is refused, so a
new endpoint cannot slip through unchecked (tests/access/test_matrix.py builds its
matrix from the same declarations); so is one whose rule is not one of these.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from modelreg.service import access, history
from modelreg.service.errors import Forbidden
from modelreg.service.principals import ROLES, Principal
from modelreg.service.registries import DEFAULT, Registries
from modelreg.service.transactions import transaction
from modelreg.store.session import Database

ROLE_KEY = "x-modelreg-role"
SAFE_METHODS = ("GET", "HEAD")
RULES = (access.PUBLIC, access.AUTHENTICATED, *ROLES, access.ADMIN)


def role(need: str) -> dict[str, Any]:
    """The openapi_extra that declares a route's permission rule."""
    return {ROLE_KEY: need}


def required_role(route: Any) -> str | None:
    extra = getattr(route, "openapi_extra", None) or {}
    need = extra.get(ROLE_KEY)
    return str(need) if need else None


async def authorize(request: Request) -> None:
    """Router dependency: authenticate, name the registry, check the route's rule."""
    need = required_role(request.scope.get("route"))
    if need is None:
        raise Forbidden("this route has no permission rule, so nobody may use it")
    if need not in RULES:
        raise Forbidden(f"this route's permission rule {need!r} is unknown, so nobody may use it")
    state = request.app.state
    registries: Registries = state.registries
    auth = state.authenticator
    if auth.single_user:
        principal = auth.authenticate(request.headers)
    else:
        principal = await run_in_threadpool(auth.authenticate, request.headers)
    name = request.path_params.get("registry", DEFAULT)
    request.state.principal = principal
    request.state.registry = name
    if need == access.ADMIN:
        access.require(None, principal, None, access.ADMIN)
    elif need == access.AUTHENTICATED:
        access.require(None, principal, None, access.AUTHENTICATED)
    elif need != access.PUBLIC and not principal.admin:
        anonymous_read = name in state.settings.anonymous_read_registries
        read_only = request.method in SAFE_METHODS

        def check() -> None:
            with transaction(registries.control, write=False) as session:
                access.require(
                    session, principal, name, need, anonymous_read=anonymous_read, read_only=read_only
                )

        await run_in_threadpool(check)


def database(request: Request) -> Database:
    """The database of the registry the request names (opened on first use; may block)."""
    registries: Registries = request.app.state.registries
    name = getattr(request.state, "registry", DEFAULT)
    return registries.control if name == DEFAULT else registries.database(name)


def history_context(request: Request) -> history.Context:
    principal: Principal = request.state.principal
    return history.Context(
        actor=principal.name,
        registry=request.state.registry,
        request_id=request.scope.get("state", {}).get("request_id"),
    )
