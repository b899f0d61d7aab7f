"""The ASGI application: one registry database behind both API versions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp

from modelreg import __version__
from modelreg.api import errors, fastpath, openapi_docs, spread
from modelreg.api.admin_routes import admin_router
from modelreg.api.extra_routes import extra_router
from modelreg.api.health import health_router
from modelreg.api.history_routes import history_router
from modelreg.api.middleware import RequestContext
from modelreg.api.routes import entity_router
from modelreg.api.security import authorize
from modelreg.api.storage_routes import storage_router, unlimited_body
from modelreg.entities import V1, V1ALPHA3
from modelreg.service.identity import Authenticator
from modelreg.service.registries import Registries
from modelreg.settings import Settings
from modelreg.ui import install as install_ui_errors
from modelreg.ui import ui_router

API_PREFIX = "/api/model_registry"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is opened (not migrated) when it starts."""
    settings = settings or Settings()
    registries = Registries(settings)
    authenticator = Authenticator(settings, registries.control)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        registries.close()

    app = fastpath.FrontDoor(
        title="modelreg",
        version=__version__,
        description="A model registry speaking the Kubeflow Model Registry REST API.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # served by the UI from packaged assets, not a CDN
        redoc_url=None,
    )
    app.state.db = registries.control  # the default registry's
    app.state.registries = registries
    app.state.authenticator = authenticator
    app.state.settings = settings
    errors.install(app)
    install_ui_errors(app)  # browsers get pages for errors; API callers the same JSON as before
    checked = [Depends(authorize)]
    # Each registry's API under /registries/<name>; the default registry's also at the
    # plain paths, so single-registry setups and upstream clients keep working.
    # Each router is built once and included at both places (building its routes is most
    # of create_app's time, and create_app is part of how soon `modelreg serve` answers).
    # The fixed paths (e.g. /experiment_runs/metric_history) must come before /{id}.
    api_routers = [
        (api, router) for api in (V1, V1ALPHA3) for router in (extra_router(api), entity_router(api))
    ]
    file_routers = (storage_router(), history_router())
    for scope, documented in (("", True), ("/registries/{registry}", False)):
        for api, router in api_routers:
            app.include_router(
                router,
                prefix=f"{scope}{API_PREFIX}/{api}",
                dependencies=checked,
                include_in_schema=documented,
            )
        for router in file_routers:
            app.include_router(router, prefix=scope, dependencies=checked, include_in_schema=documented)
    app.include_router(admin_router(), dependencies=checked)
    app.include_router(health_router(), dependencies=checked)
    app.include_router(ui_router(), dependencies=checked)  # the web UI, at / and /registries/<name>/...
    openapi_docs.install(app)
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        log_requests=settings.access_log,
        unlimited=unlimited_body,
    )
    fastpath.install(app, authorize)  # the registry's own routes, found and run without FastAPI's walk
    logging.getLogger("modelreg").setLevel(settings.log_level.upper())
    return app


def app_from_env() -> ASGIApp:
    """Factory for uvicorn workers: each reads its settings from MODELREG_* variables, and
    one of several workers also spreads connections with the others (api/spread.py)."""
    return spread.install(create_app(Settings()))
