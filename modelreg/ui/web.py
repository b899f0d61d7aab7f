"""The UI's plumbing: templates, the page context, forms, CSRF and error pages."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from modelreg.api import errors as api_errors
from modelreg.api.security import SESSION_COOKIE, UI_KEY, csrf_token, database, history_context, role
from modelreg.service import access
from modelreg.service.errors import Forbidden, ModelregError, Unauthenticated
from modelreg.service.principals import RANK, Principal
from modelreg.service.registries import DEFAULT, Registries
from modelreg.service.transactions import transaction
from modelreg.store.session import Session

HERE = Path(__file__).parent
SCOPES = ("", "/registries/{registry}")


def when(ms: Any) -> str:
    if ms in (None, ""):
        return "—"
    t = dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def size(n: Any) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


_ENV: Any = None


def templates() -> Any:
    """The Jinja2 environment, made on first use: start-up does not pay for it."""
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["when"] = when
        env.filters["size"] = size
        env.filters["q"] = lambda s: quote(str(s), safe="")
        _ENV = env
    return _ENV


def ui(rule: str) -> dict[str, Any]:
    """openapi_extra of a UI route: its permission rule, and that it is a UI route."""
    return {**role(rule), UI_KEY: True}


@dataclass
class Page:
    """Who is looking, at which registry, and what they may do there."""

    request: Request
    principal: Principal
    registry: str
    prefix: str  # "" or "/registries/<name>"
    registries: list[str]
    role: str | None
    single_user: bool
    csrf: str
    notice: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def can(self, need: str) -> bool:
        return self.principal.admin or (self.role is not None and RANK[self.role] >= RANK[need])

    def url(self, path: str, **query: Any) -> str:
        q = {k: v for k, v in query.items() if v not in (None, "")}
        return self.prefix + path + (("?" + urlencode(q)) if q else "")

    def api(self, path: str) -> str:
        return self.prefix + path

    def switch(self, name: str) -> str:
        return "/models" if name == DEFAULT else f"/registries/{name}/models"


async def page(request: Request) -> Page:
    """The page context: principal and registry come from `authorize`; the picker and the
    caller's role from the control database (two small queries)."""
    principal: Principal = request.state.principal
    name: str = getattr(request.state, "registry", DEFAULT)
    state = request.app.state
    registries: Registries = state.registries

    def load() -> tuple[list[str], str | None]:
        with transaction(registries.control, write=False) as session:
            visible = access.visible_registries(session, principal) if not principal.anonymous else set()
            held = access.role_in(session, principal, name) if not principal.anonymous else None
        names = [i.name for i in registries.list(visible)]
        return names, held

    names, held = await run_in_threadpool(load)
    cookie = request.cookies.get(SESSION_COOKIE) or ""
    prefix = f"/registries/{name}" if request.url.path.startswith("/registries/") else ""
    return Page(
        request=request,
        principal=principal,
        registry=name,
        prefix=prefix,
        registries=names,
        role=held,
        single_user=state.authenticator.single_user,
        csrf=csrf_token(cookie) if cookie else "",
        notice=request.query_params.get("notice"),
    )


def render(p: Page | None, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    html = templates().get_template(template).render(p=p, **ctx)
    return HTMLResponse(html, status_code=status)


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (first value of each), after the CSRF check.

    A form signed in by the session cookie carries its CSRF field. Behind a trusted proxy
    there is no cookie of ours to tie it to, so a form a browser says it posted from
    another site (Sec-Fetch-Site) is refused outright."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        raise Forbidden("this form did not come from this site; reload the page and try again")
    body = (await request.body()).decode("utf-8", "replace")
    data = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
    if getattr(request.state, "via_cookie", False):
        cookie = request.cookies.get(SESSION_COOKIE) or ""
        sent = data.get("csrf") or request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent, csrf_token(cookie)):
            raise Forbidden(
                "this form has expired or did not come from this site; reload the page and try again"
            )
    return data


async def read(request: Request, work: Callable[[Session], Any]) -> Any:
    def go() -> Any:
        with transaction(database(request), write=False) as session:
            return work(session)

    return await run_in_threadpool(go)


async def write(request: Request, work: Callable[[Session], Any]) -> Any:
    context = history_context(request)

    def go() -> Any:
        with transaction(database(request), write=True, context=context) as session:
            return work(session)

    return await run_in_threadpool(go)


async def control(request: Request, work: Callable[[Session], Any], *, write: bool) -> Any:
    """A unit of work on the control database (registries, grants, tokens)."""
    registries: Registries = request.app.state.registries
    context = history_context(request) if write else None

    def go() -> Any:
        with transaction(registries.control, write=write, context=context) as session:
            return work(session)

    return await run_in_threadpool(go)


def sentence(message: str) -> str:
    """A service message as the UI shows it: a capital first letter and a full stop."""
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "?", "!")) else ".")


def scope_prefix(request: Request) -> str:
    """What the registry's page addresses start with: "" or "/registries/<name>"."""
    registry = request.path_params.get("registry")
    return f"/registries/{registry}" if registry else ""


def redirect(url: str, notice: str | None = None) -> RedirectResponse:
    if notice:
        url += ("&" if "?" in url else "?") + urlencode({"notice": notice})
    return RedirectResponse(url, status_code=303)


# ---------------------------------------------------------------- error pages


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or "/api/" in path:
        return False
    return "text/html" in request.headers.get("accept", "")


TITLES = {
    400: "That request could not be understood",
    401: "Please sign in",
    403: "You do not have access to this",
    404: "Not found",
    409: "That cannot be done right now",
    422: "Something is missing",
    503: "The registry is busy or unavailable",
}


def error_page(request: Request, status: int, message: str) -> Response:
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse("/signin?" + urlencode({"next": target}), status_code=303)
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    title = TITLES.get(status, "Something went wrong")
    html = templates().get_template("error.html").render(p=None, title=title, message=message, status=status)
    return HTMLResponse(html, status_code=status)


def install(app: FastAPI) -> None:
    """Error handlers that answer browsers with a page (never a stack trace) and everything
    else exactly as the API's own handlers do."""

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelregError)
        if wants_html(request):
            return error_page(request, api_errors.status_of(exc), exc.message)
        return api_errors.from_domain(exc)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, (RequestValidationError, ValidationError))
        domain = api_errors.from_validation(list(exc.errors()))  # type: ignore[arg-type]
        if wants_html(request):
            return error_page(request, api_errors.status_of(domain), domain.message)
        return api_errors.from_domain(domain)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if wants_html(request):
            message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
            return error_page(request, exc.status_code, message)
        return api_errors.error_response(exc.status_code, str(exc.detail))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        api_errors.log_unexpected(request)
        if wants_html(request):
            return error_page(request, 500, "The server hit an unexpected error; its log has the details.")
        return api_errors.error_response(500, "internal error; the server log has the details")

    app.add_exception_handler(ModelregError, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


__all__ = ["Forbidden", "Unauthenticated", "install", "page", "render", "ui"]
