"""The administration pages: registries, permissions, tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from modelreg.api import params
from modelreg.service import access, history, tokens
from modelreg.service.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from modelreg.service.principals import ROLES, SUBJECT_KINDS
from modelreg.service.registries import DEFAULT, Registries
from modelreg.store.session import Session
from modelreg.ui.web import control, form, page, redirect, render, sentence, ui

ADMIN = "/admin"


def _registries(request: Request) -> Registries:
    registries: Registries = request.app.state.registries
    return registries


# ---------------------------------------------------------------- registries


async def registries_page(request: Request, errors: dict[str, str] | None = None,
                          values: dict[str, str] | None = None) -> Response:  # fmt: skip
    p = await page(request)
    infos = await run_in_threadpool(_registries(request).list)
    return render(p, "admin_registries.html", infos=infos, errors=errors or {}, values=values or {},
                  status=200)  # fmt: skip


async def registries_get(request: Request) -> Response:
    return await registries_page(request)


def _registry_problem(exc: InvalidArgument | Conflict, errors: dict[str, str], other: str) -> None:
    """Put the service's complaint beside the field it is about."""
    said = exc.message.lower()
    key = (
        "tls_ca"
        if "certificate" in said
        else "database_url"
        if "database" in said or "url" in said
        else other
    )
    errors[key] = sentence(exc.message)


async def registry_create(request: Request) -> Response:
    f = await form(request)
    name = f.get("name", "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "A registry needs a name."
    if not errors:
        try:
            await control(
                request,
                lambda s: _registries(request).create(
                    s, name, description=f.get("description", "").strip() or None,
                    database_url=f.get("database_url", "").strip() or None,
                    tls_ca=f.get("tls_ca", "").strip() or None,
                ),
                write=True,
            )  # fmt: skip
        except AlreadyExists as exc:
            errors["name"] = sentence(exc.message)
        except InvalidArgument as exc:
            _registry_problem(exc, errors, "name")
    if errors:
        return await registries_page(request, errors, f)
    return redirect(f"{ADMIN}/registries", f"Registry {name} created.")


async def registry_edit_form(request: Request, errors: dict[str, str] | None = None,
                             values: dict[str, str] | None = None) -> Response:  # fmt: skip
    p = await page(request)
    name = request.path_params["registry"]
    info = await run_in_threadpool(_registries(request).show, name)
    return render(p, "admin_registry.html", info=info, errors=errors or {}, values=values or {})


async def registry_edit_get(request: Request) -> Response:
    return await registry_edit_form(request)


def _ca_change(f: dict[str, str]) -> str | None:
    """The edit form's CA choice: keep (None), remove (""), or the new PEM."""
    if f.get("tls_ca_action") == "remove":
        return ""
    return f.get("tls_ca", "").strip() or None


async def registry_edit(request: Request) -> Response:
    name = request.path_params["registry"]
    f = await form(request)
    errors: dict[str, str] = {}
    if name == DEFAULT:
        errors["description"] = "The default registry is set up by the server's own settings."
    else:
        try:
            await control(
                request,
                lambda s: _registries(request).update(
                    s, name, description=f.get("description", "").strip(),
                    database_url=f.get("database_url", "").strip() or None, tls_ca=_ca_change(f),
                ),
                write=True,
            )  # fmt: skip
        except (InvalidArgument, Conflict) as exc:
            _registry_problem(exc, errors, "database_url")
    if errors:
        return await registry_edit_form(request, errors, f)
    return redirect(f"{ADMIN}/registries", f"Registry {name} saved.")


async def registry_delete(request: Request) -> Response:
    name = request.path_params["registry"]
    f = await form(request)
    confirm = f.get("confirm", "")
    if confirm != name:
        return await registry_edit_form(
            request, {"confirm": f"Type the registry's name, {name}, to delete it."}, f
        )
    try:
        message = await control(
            request, lambda s: _registries(request).delete(s, name, confirm=confirm, purge=False), write=True
        )
    except (InvalidArgument, Conflict, NotFound) as exc:
        return await registry_edit_form(request, {"confirm": exc.message}, f)
    return redirect(f"{ADMIN}/registries", str(message))


# ---------------------------------------------------------------- permissions


async def permissions_page(request: Request, errors: dict[str, str] | None = None,
                           values: dict[str, str] | None = None) -> Response:  # fmt: skip
    p = await page(request)
    name = request.path_params["registry"]
    if not _registries(request).exists(name):
        raise NotFound(f"registry {name!r} not found")
    rows = await control(request, lambda s: access.list_grants(s, name), write=False)
    return render(p, "admin_permissions.html", name=name, grants=rows, roles=ROLES, kinds=SUBJECT_KINDS,
                  errors=errors or {}, values=values or {})  # fmt: skip


async def permissions_get(request: Request) -> Response:
    return await permissions_page(request)


async def grant(request: Request) -> Response:
    name = request.path_params["registry"]
    f = await form(request)
    kind, subject, role = f.get("subject_kind", "user"), f.get("subject", "").strip(), f.get("role", "viewer")
    errors: dict[str, str] = {}
    if not subject:
        errors["subject"] = "Name the user, group or service account."
    if not errors:
        who = request.state.principal.name

        def work(s: Session) -> None:
            if not _registries(request).exists(name):
                raise NotFound(f"registry {name!r} not found")
            access.put_grant(s, name, kind, subject, role, who)

        try:
            await control(request, work, write=True)
        except InvalidArgument as exc:
            errors["subject"] = exc.message
    if errors:
        return await permissions_page(request, errors, f)
    return redirect(f"{ADMIN}/registries/{name}/permissions", f"{subject} is now {role}.")


async def revoke(request: Request) -> Response:
    name = request.path_params["registry"]
    f = await form(request)
    kind, subject = f.get("subject_kind", ""), f.get("subject", "")

    def work(s: Session) -> None:
        access.remove_grant(s, name, kind, subject)

    try:
        await control(request, work, write=True)
    except (InvalidArgument, NotFound) as exc:
        return await permissions_page(request, {"revoke": exc.message})
    return redirect(f"{ADMIN}/registries/{name}/permissions", f"Access of {subject} removed.")


# ---------------------------------------------------------------- tokens


async def tokens_page(request: Request, errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                      secret: str | None = None) -> Response:  # fmt: skip
    p = await page(request)
    infos = await control(request, lambda s: tokens.list_tokens(s), write=False)
    return render(
        p, "admin_tokens.html", infos=infos, errors=errors or {}, values=values or {}, secret=secret
    )


async def tokens_get(request: Request) -> Response:
    return await tokens_page(request)


async def token_create(request: Request) -> Response:
    f = await form(request)
    user, name = f.get("user", "").strip(), f.get("name", "").strip()
    errors: dict[str, str] = {}
    days_text = f.get("days", "").strip()
    days: int | None = None
    if not user:
        errors["user"] = "Name the user the token signs in as."
    if days_text:
        try:
            days = int(days_text)
            if not 0 < days <= tokens.MAX_LIFETIME_S // 86400:
                raise ValueError
        except ValueError:
            errors["days"] = (
                f"Give a whole number of days from 1 to {tokens.MAX_LIFETIME_S // 86400}, or leave it empty."
            )
    if errors:
        return await tokens_page(request, errors, f)
    by = request.state.principal.name
    expires = days * 86400 if days else None
    try:
        info, secret = await control(
            request, lambda s: tokens.issue_recorded(s, user, name or None, expires, by), write=True
        )
    except InvalidArgument as exc:
        return await tokens_page(request, {"user": exc.message}, f)
    response = await tokens_page(request, secret=secret, values={"created_for": info.user})
    response.headers["Cache-Control"] = "no-store"
    return response


async def token_revoke(request: Request) -> Response:
    tid = params.parse_id(request.path_params.get("token_id"), "token_id")
    await form(request)

    def work(s: Session) -> Any:
        before = tokens.get(s, tid)
        info = tokens.revoke(s, tid)
        if before.revoke_time is None:
            history.record(s, "revoke", "token", str(tid), info.name,
                           {"user": {"before": info.user, "after": info.user},
                            "revoked": {"before": False, "after": True}},
                           registry=history.SERVER)  # fmt: skip
        return info

    info = await control(request, work, write=True)
    return redirect(f"{ADMIN}/tokens", f"Token {info.name} of {info.user} revoked.")


def add_routes(router: APIRouter) -> None:
    def add(path: str, handler: Any, method: str, rule: str) -> None:
        router.add_api_route(path, handler, methods=[method], openapi_extra=ui(rule), include_in_schema=False)

    add(f"{ADMIN}/registries", registries_get, "GET", "admin")
    add(f"{ADMIN}/registries", registry_create, "POST", "admin")
    add(f"{ADMIN}/registries/{{registry}}", registry_edit_get, "GET", "admin")
    add(f"{ADMIN}/registries/{{registry}}", registry_edit, "POST", "admin")
    add(f"{ADMIN}/registries/{{registry}}/delete", registry_delete, "POST", "admin")
    add(f"{ADMIN}/registries/{{registry}}/permissions", permissions_get, "GET", "owner")
    add(f"{ADMIN}/registries/{{registry}}/permissions", grant, "POST", "owner")
    add(f"{ADMIN}/registries/{{registry}}/permissions/revoke", revoke, "POST", "owner")
    add(f"{ADMIN}/tokens", tokens_get, "GET", "admin")
    add(f"{ADMIN}/tokens", token_create, "POST", "admin")
    add(f"{ADMIN}/tokens/{{token_id}}/revoke", token_revoke, "POST", "admin")
