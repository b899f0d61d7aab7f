"""Every request passes here: who is calling, which registry, and may they.

Each route declares the role it needs in its OpenAPI extension `x-modelreg-role`
("public", "authenticated", "viewer", "editor", "owner" or "admin"); a route without one is refused, so a
new endpoint cannot slip through unchecked (tests/access/test_matrix.py builds its
matrix from the same declarations); so is one whose rule is not one of these.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import Request

from modelreg.api.threads import run_sync
from modelreg.service import access, history
from modelreg.service.errors import Forbidden, Unauthenticated
from modelreg.service.principals import ANONYMOUS, ROLES, Principal
from modelreg.service.registries import DEFAULT, Registries
from modelreg.service.transactions import transaction
from modelreg.store.session import Database

ROLE_KEY = "x-modelreg-role"
SAFE_METHODS = ("GET", "HEAD")
RULES = (access.PUBLIC, access.AUTHENTICATED, *ROLES, access.ADMIN)
# The web UI's sign-in keeps the token in this HttpOnly, SameSite=Strict cookie. A request
# that authenticates by it and changes something must also prove it came from our own
# pages: a UI form carries csrf_token(secret) in its "csrf" field (the UI checks it), any
# other route the same value in the X-CSRF-Token header (checked here).
SESSION_COOKIE = "modelreg_session"
CSRF_HEADER = "x-csrf-token"
UI_KEY = "x-modelreg-ui"


def csrf_token(secret: str) -> str:
    return hashlib.sha256(b"modelreg-csrf:" + secret.encode()).hexdigest()[:40]


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
    request.state.via_cookie = False
    if auth.single_user:  # everyone is the one local user: no credentials to read
        principal = auth.authenticate({})
    else:
        headers: Any = request.headers
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and "authorization" not in headers:
            headers = {**dict(headers), "authorization": f"Bearer {cookie}"}
            request.state.via_cookie = True
            ui_route = bool((getattr(request.scope.get("route"), "openapi_extra", None) or {}).get(UI_KEY))
            forged = not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf_token(cookie))
            if request.method not in SAFE_METHODS and not ui_route and forged:
                raise Forbidden("a request signed in by the session cookie needs the X-CSRF-Token header")
        try:
            principal = await run_sync(auth.authenticate, headers)
        except Unauthenticated:
            if not (request.state.via_cookie and need == access.PUBLIC):
                raise
            principal = ANONYMOUS  # a stale sign-in does not lock anyone out of the public pages
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

        await run_sync(check)


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
