"""modelreg's web UI: server-rendered pages (Jinja2, htmx) served by the registry itself.

Every route declares its permission rule like the API's (`x-modelreg-role`, plus
`x-modelreg-ui`) and runs behind `authorize`; pages call the service layer only.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import Response

from modelreg.ui import admin, deployments, pages, signin
from modelreg.ui.web import HERE, SCOPES, install, ui

__all__ = ["install", "ui_router"]

STATIC = {
    "modelreg.css": "text/css; charset=utf-8",
    "modelreg.js": "text/javascript; charset=utf-8",
    "vendor/htmx.min.js": "text/javascript; charset=utf-8",
    "vendor/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "vendor/swagger-ui.css": "text/css; charset=utf-8",
}


def _static(name: str, media_type: str) -> object:
    path = HERE / "static" / name

    async def serve(request: Request) -> Response:
        return Response(path.read_bytes(), media_type=media_type,
                        headers={"Cache-Control": "public, max-age=3600"})  # fmt: skip

    return serve


async def home(request: Request) -> Response:
    return await pages.models_list(request)


async def api_docs(request: Request) -> Response:
    """The API's Swagger UI, from the assets shipped in the package: FastAPI's own /docs
    loads them from a CDN, which a registry on a closed network cannot reach."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="modelreg API",
        swagger_js_url="/ui/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/ui/static/vendor/swagger-ui.css",
        swagger_favicon_url="data:,",
        oauth2_redirect_url=None,
    )


def ui_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.add_api_route("/", home, methods=["GET"], openapi_extra=ui("viewer"), include_in_schema=False)
    router.add_api_route(
        "/docs", api_docs, methods=["GET"], openapi_extra=ui("public"), include_in_schema=False
    )
    # A registry's pages, built once and included at the default registry's paths and
    # under /registries/<name> (building routes is most of what a server does as it starts).
    registry_pages = APIRouter(include_in_schema=False)
    pages.add_routes(registry_pages)
    deployments.add_routes(registry_pages)
    for scope in SCOPES:
        router.include_router(registry_pages, prefix=scope)
    admin.add_routes(router)
    signin.add_routes(router)
    for name, media_type in STATIC.items():
        router.add_api_route(f"/ui/static/{name}", _static(name, media_type), methods=["GET"],  # type: ignore[arg-type]
                             openapi_extra=ui("public"), include_in_schema=False)  # fmt: skip
    return router
