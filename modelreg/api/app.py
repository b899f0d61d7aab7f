"""The ASGI application: one registry database behind both API versions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from modelreg import __version__
from modelreg.api import errors, openapi_docs
from modelreg.api.extra_routes import extra_router
from modelreg.api.health import health_router
from modelreg.api.middleware import RequestContext
from modelreg.api.routes import entity_router
from modelreg.api.storage_routes import storage_router, unlimited_body
from modelreg.entities import V1, V1ALPHA3
from modelreg.service.registry import open_database
from modelreg.settings import Settings

API_PREFIX = "/api/model_registry"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the database is opened (not migrated) when it starts."""
    settings = settings or Settings()
    db = open_database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        db.dispose()

    app = FastAPI(
        title="modelreg",
        version=__version__,
        description="A model registry speaking the Kubeflow Model Registry REST API.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.db = db
    app.state.settings = settings
    errors.install(app)
    for api in (V1, V1ALPHA3):
        # The fixed paths (e.g. /experiment_runs/metric_history) must come before /{id}.
        app.include_router(extra_router(api), prefix=f"{API_PREFIX}/{api}")
        app.include_router(entity_router(api), prefix=f"{API_PREFIX}/{api}")
    app.include_router(storage_router())
    app.include_router(health_router())
    openapi_docs.install(app)
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        log_requests=settings.access_log,
        unlimited=unlimited_body,
    )
    logging.getLogger("modelreg").setLevel(settings.log_level.upper())
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: each reads its settings from MODELREG_* variables."""
    return create_app(Settings())
