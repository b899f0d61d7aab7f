"""A route without a permission rule fails closed, and fails the matrix's completeness check.

Here an app gets one extra endpoint that declares no `x-modelreg-role`. Calling it is
refused for everybody, even a server admin and even in single-user mode; and the very
check the authorization matrix runs first (`check_every_route_has_a_rule`) fails on that
app, naming the route. A route that declares a rule but is mounted without `authorize`
is reported the same way, as is a plain Starlette route.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from modelreg.api.app import create_app
from modelreg.api.security import authorize, role
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.access.conftest import auth_settings, bearer, mint_admin_token, refused
from tests.access.route_table import rule_problems
from tests.access.test_matrix import check_every_route_has_a_rule

UNRULED = "/api/modelreg/v1/unruled"


def with_unruled_route(settings: Settings) -> FastAPI:
    """modelreg's app plus one checked endpoint that forgot its rule."""
    app = create_app(settings)
    router = APIRouter()

    @router.get(UNRULED)
    async def unruled() -> PlainTextResponse:
        return PlainTextResponse("the data nobody should see")

    app.include_router(router, dependencies=[Depends(authorize)])
    return app


def test_a_route_without_a_rule_fails_the_completeness_check() -> None:
    check_every_route_has_a_rule()  # the real app passes
    with pytest.raises(AssertionError, match=f"GET {UNRULED}: no x-modelreg-role rule"):
        check_every_route_has_a_rule(with_unruled_route)


def test_a_route_without_a_rule_is_refused(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path / "auth")
    upgrade_schema(settings)
    app = with_unruled_route(settings)
    with TestClient(app, raise_server_exceptions=False) as c:
        admin = mint_admin_token(app)
        for headers in ({}, bearer(admin), bearer("mrg_1_not-a-real-secret-at-all-xxxx")):
            r = c.get(UNRULED, headers=headers)
            refused(r, 403, "no permission rule")
            assert "nobody should see" not in r.text
        # A route that has its rule still works beside it.
        assert c.get("/api/modelreg/v1/whoami", headers=bearer(admin)).status_code == 200

    # Single-user mode: every request is an admin; the route is refused all the same.
    single = Settings(data_dir=tmp_path / "single", access_log=False)
    upgrade_schema(single)
    with TestClient(with_unruled_route(single), raise_server_exceptions=False) as c:
        refused(c.get(UNRULED), 403, "no permission rule")
        assert c.get("/api/model_registry/v1/registered_models").status_code == 200


def test_unchecked_routes_are_reported(tmp_path: Path) -> None:
    settings = auth_settings(tmp_path)
    upgrade_schema(settings)
    app = create_app(settings)
    try:
        # A rule, but mounted straight on the app: `authorize` never runs.
        app.add_api_route(
            "/api/modelreg/v1/bypass", lambda: "x", methods=["GET"], openapi_extra=role("viewer")
        )
        # Not a FastAPI route at all.
        app.add_route("/raw", lambda request: PlainTextResponse("x"), methods=["GET"])
        # A rule nobody knows.
        router = APIRouter()
        router.add_api_route(
            "/api/modelreg/v1/odd", lambda: "x", methods=["GET"], openapi_extra=role("superuser")
        )
        app.include_router(router, dependencies=[Depends(authorize)])
        assert sorted(rule_problems(app)) == [
            "GET /api/modelreg/v1/bypass: declares 'viewer' but does not run authorize",
            "GET /api/modelreg/v1/odd: unknown rule 'superuser'",
            "GET /raw: no x-modelreg-role rule",
        ]
        # An unknown rule fails closed too, for admins as well (not a 500 for the others).
        with TestClient(app, raise_server_exceptions=False) as c:
            admin = mint_admin_token(app)
            refused(c.get("/api/modelreg/v1/odd", headers=bearer(admin)), 403, "'superuser' is unknown")
    finally:
        app.state.registries.close()
