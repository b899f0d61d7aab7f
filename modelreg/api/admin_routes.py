"""Administration: registries, grants, API tokens, users and groups; and `whoami`.

Server admins manage registries, tokens, users and groups (`/api/admin/v1`). A registry's
owners manage its grants. Any authenticated caller may ask who they are and which
registries they can use (`/api/modelreg/v1/whoami`, `/api/modelreg/v1/registries`).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, insert, select, update
from starlette.responses import Response

from modelreg.api import params
from modelreg.api.routes import json_response, read_body, validate
from modelreg.api.security import history_context, role
from modelreg.service import access, history, tokens
from modelreg.service.errors import AlreadyExists, InvalidArgument, NotFound
from modelreg.service.principals import Principal
from modelreg.service.registries import Registries, RegistryInfo
from modelreg.service.transactions import transaction
from modelreg.store.schema import group_members, groups, users
from modelreg.store.session import Session

ADMIN = "/api/admin/v1"
SELF = "/api/modelreg/v1"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RegistryCreate(_Body):
    name: str
    description: str | None = None
    databaseUrl: str | None = None
    tlsCa: str | None = None


class RegistryUpdate(_Body):
    description: str | None = None
    databaseUrl: str | None = None
    tlsCa: str | None = None


class GrantPut(_Body):
    role: str


class TokenCreate(_Body):
    user: str
    name: str | None = None
    expiresInSeconds: int | None = None


class UserCreate(_Body):
    name: str
    kind: str = "user"
    admin: bool = False


class UserUpdate(_Body):
    admin: bool


class GroupCreate(_Body):
    name: str
    description: str | None = None


def _registries(request: Request) -> Registries:
    registries: Registries = request.app.state.registries
    return registries


async def _control(request: Request, work: Any, *, write: bool) -> Any:
    """Run `work` in one transaction on the server's own database, with history context."""
    from starlette.concurrency import run_in_threadpool

    registries = _registries(request)
    context = history_context(request) if write else None

    def go() -> Any:
        with transaction(registries.control, write=write, context=context) as session:
            return work(session)

    return await run_in_threadpool(go)


def _registry_wire(info: RegistryInfo, my_role: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": info.name,
        "description": info.description,
        "database": info.database,
        "managed": info.managed,
        "tlsCa": info.has_tls_ca,
        "createTimeSinceEpoch": str(info.create_time) if info.create_time else None,
        "lastUpdateTimeSinceEpoch": str(info.update_time) if info.update_time else None,
    }
    if my_role is not None:
        out["role"] = my_role
    return out


def _token_wire(info: tokens.TokenInfo) -> dict[str, Any]:
    return {
        "id": str(info.id),
        "user": info.user,
        "name": info.name,
        "createTimeSinceEpoch": str(info.create_time),
        "expireTimeSinceEpoch": str(info.expire_time) if info.expire_time else None,
        "revokeTimeSinceEpoch": str(info.revoke_time) if info.revoke_time else None,
        "lastUsedTimeSinceEpoch": str(info.last_used_time) if info.last_used_time else None,
        "createdBy": info.created_by,
        "active": info.active,
    }


def _grant_wire(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "registry": row["registry"],
        "subjectKind": row["subject_kind"],
        "subject": row["subject"],
        "role": row["role"],
        "createTimeSinceEpoch": str(row["create_time"]),
        "createdBy": row["created_by"],
    }


def _now() -> int:
    return time.time_ns() // 1_000_000


def admin_router() -> APIRouter:
    router = APIRouter(tags=["Administration"])
    _registry_routes(router)
    _grant_routes(router)
    _token_routes(router)
    _people_routes(router)
    _self_routes(router)
    _history_routes(router)
    return router


def _history_routes(router: APIRouter) -> None:
    @router.get(
        f"{ADMIN}/history",
        summary="The server's own history (registries, grants, tokens, users, groups) and the "
        "default registry's: filter by registry ('' for server-level events), actor, entityType, "
        "entityId, action, since, until",
        openapi_extra=role("admin"),
    )
    async def server_history(request: Request) -> Response:
        import dataclasses

        from modelreg.api import history_routes

        query = history_routes._query(request)
        query = dataclasses.replace(query, registry=request.query_params.get("registry"))
        return await history_routes._answer(request, query)


def _registry_routes(router: APIRouter) -> None:
    @router.get(f"{ADMIN}/registries", summary="Every registry", openapi_extra=role("admin"))
    async def list_registries(request: Request) -> Response:
        infos = await _control(request, lambda _: _registries(request).list(), write=False)
        return json_response({"items": [_registry_wire(i) for i in infos], "size": len(infos)})

    @router.post(
        f"{ADMIN}/registries",
        status_code=201,
        summary="Create a registry, with its own database (made here, or the one named)",
        openapi_extra=role("admin"),
    )
    async def create_registry(request: Request) -> Response:
        body = validate(RegistryCreate, await read_body(request))
        assert isinstance(body, RegistryCreate)
        info = await _control(
            request,
            lambda s: _registries(request).create(
                s, body.name, description=body.description, database_url=body.databaseUrl, tls_ca=body.tlsCa
            ),
            write=True,
        )
        return json_response(_registry_wire(info), 201)

    @router.get(f"{ADMIN}/registries/{{registry}}", summary="One registry", openapi_extra=role("admin"))
    async def show_registry(request: Request, registry: str) -> Response:
        info = await _control(request, lambda _: _registries(request).show(registry), write=False)
        return json_response(_registry_wire(info))

    @router.patch(
        f"{ADMIN}/registries/{{registry}}",
        summary="Edit a registry's description or database",
        openapi_extra=role("admin"),
    )
    async def update_registry(request: Request, registry: str) -> Response:
        body = validate(RegistryUpdate, await read_body(request))
        assert isinstance(body, RegistryUpdate)
        info = await _control(
            request,
            lambda s: _registries(request).update(
                s, registry, description=body.description, database_url=body.databaseUrl, tls_ca=body.tlsCa
            ),
            write=True,
        )
        return json_response(_registry_wire(info))

    @router.delete(
        f"{ADMIN}/registries/{{registry}}",
        summary="Delete a registry: ?confirm=<its name>; its data is kept unless ?purge=true",
        openapi_extra=role("admin"),
    )
    async def delete_registry(request: Request, registry: str) -> Response:
        q = request.query_params
        purge = (q.get("purge") or "false").lower()
        if purge not in ("true", "false"):
            raise InvalidArgument(f"purge must be true or false, got {purge!r}")
        message = await _control(
            request,
            lambda s: _registries(request).delete(
                s, registry, confirm=q.get("confirm") or "", purge=purge == "true"
            ),
            write=True,
        )
        return json_response({"message": message})


def _grant_routes(router: APIRouter) -> None:
    base = f"{ADMIN}/registries/{{registry}}/grants"

    def exists(request: Request, registry: str) -> None:
        if not _registries(request).exists(registry):
            raise NotFound(f"registry {registry!r} not found")

    @router.get(base, summary="Who holds which role in a registry", openapi_extra=role("owner"))
    async def list_grants(request: Request, registry: str) -> Response:
        def work(s: Session) -> list[dict[str, Any]]:
            exists(request, registry)
            return access.list_grants(s, registry)

        rows = await _control(request, work, write=False)
        return json_response({"items": [_grant_wire(r) for r in rows], "size": len(rows)})

    @router.put(
        f"{base}/{{subject_kind}}/{{subject}}",
        summary="Grant a user, group or service account a role (viewer, editor, owner)",
        openapi_extra=role("owner"),
    )
    async def put_grant(request: Request, registry: str, subject_kind: str, subject: str) -> Response:
        body = validate(GrantPut, await read_body(request))
        assert isinstance(body, GrantPut)
        principal: Principal = request.state.principal

        def work(s: Session) -> dict[str, Any]:
            exists(request, registry)
            return access.put_grant(s, registry, subject_kind, subject, body.role, principal.name)

        return json_response(_grant_wire(await _control(request, work, write=True)))

    @router.delete(
        f"{base}/{{subject_kind}}/{{subject}}", summary="Take a role away", openapi_extra=role("owner")
    )
    async def delete_grant(request: Request, registry: str, subject_kind: str, subject: str) -> Response:
        def work(s: Session) -> None:
            exists(request, registry)
            access.remove_grant(s, registry, subject_kind, subject)

        await _control(request, work, write=True)
        return Response(status_code=204)


def _token_routes(router: APIRouter) -> None:
    @router.get(f"{ADMIN}/tokens", summary="API tokens, without their secrets", openapi_extra=role("admin"))
    async def list_tokens(request: Request) -> Response:
        user = request.query_params.get("user") or None
        infos = await _control(request, lambda s: tokens.list_tokens(s, user), write=False)
        return json_response({"items": [_token_wire(i) for i in infos], "size": len(infos)})

    @router.post(
        f"{ADMIN}/tokens",
        status_code=201,
        summary="Issue an API token for a user: its secret is in this answer only",
        openapi_extra=role("admin"),
    )
    async def create_token(request: Request) -> Response:
        body = validate(TokenCreate, await read_body(request))
        assert isinstance(body, TokenCreate)
        if body.expiresInSeconds is not None and not 0 < body.expiresInSeconds <= tokens.MAX_LIFETIME_S:
            raise InvalidArgument(f"expiresInSeconds must be from 1 to {tokens.MAX_LIFETIME_S}")
        principal: Principal = request.state.principal
        info, secret = await _control(request, lambda s: _issue(s, body, principal.name), write=True)
        return json_response({**_token_wire(info), "token": secret}, 201)

    @router.delete(f"{ADMIN}/tokens/{{token_id}}", summary="Revoke an API token", openapi_extra=role("admin"))
    async def revoke_token(request: Request, token_id: str) -> Response:
        tid = params.parse_id(token_id, "token_id")

        def work(s: Session) -> tokens.TokenInfo:
            before = tokens.get(s, tid)
            info = tokens.revoke(s, tid)
            if before.revoke_time is None:
                history.record(
                    s,
                    "revoke",
                    "token",
                    str(tid),
                    info.name,
                    {
                        "user": {"before": info.user, "after": info.user},
                        "revoked": {"before": False, "after": True},
                    },
                    registry=history.SERVER,
                )
            return info

        return json_response(_token_wire(await _control(request, work, write=True)))


# The one way tokens are issued lives in the service layer; this name stays for callers
# that imported it from here.
issue_token = tokens.issue_recorded


def _issue(session: Session, body: TokenCreate, by: str) -> tuple[tokens.TokenInfo, str]:
    return tokens.issue_recorded(session, body.user, body.name, body.expiresInSeconds, by)


def _people_routes(router: APIRouter) -> None:
    @router.get(f"{ADMIN}/users", summary="Known users and service accounts", openapi_extra=role("admin"))
    async def list_users(request: Request) -> Response:
        def work(s: Session) -> list[dict[str, Any]]:
            rows = s.execute(select(users).order_by(users.c.name))
            return [{"name": r.name, "kind": r.kind, "admin": bool(r.is_admin)} for r in rows]

        items = await _control(request, work, write=False)
        return json_response({"items": items, "size": len(items)})

    @router.post(
        f"{ADMIN}/users",
        status_code=201,
        summary="Add a user or service account",
        openapi_extra=role("admin"),
    )
    async def create_user(request: Request) -> Response:
        body = validate(UserCreate, await read_body(request))
        assert isinstance(body, UserCreate)
        if body.kind not in ("user", "serviceaccount") or not 0 < len(body.name) <= 255:
            raise InvalidArgument(
                "a user needs a name of 1 to 255 characters and kind user or serviceaccount"
            )

        def work(s: Session) -> None:
            if s.execute(select(users.c.name).where(users.c.name == body.name)).first():
                raise AlreadyExists(f"user {body.name!r} already exists")
            s.execute(
                insert(users).values(name=body.name, kind=body.kind, is_admin=body.admin, create_time=_now())
            )
            history.record(
                s,
                "create",
                "user",
                body.name,
                body.name,
                {"admin": {"before": None, "after": body.admin}},
                registry=history.SERVER,
            )

        await _control(request, work, write=True)
        return json_response({"name": body.name, "kind": body.kind, "admin": body.admin}, 201)

    @router.patch(
        f"{ADMIN}/users/{{user}}", summary="Make a user a server admin, or not", openapi_extra=role("admin")
    )
    async def update_user(request: Request, user: str) -> Response:
        body = validate(UserUpdate, await read_body(request))
        assert isinstance(body, UserUpdate)

        def work(s: Session) -> dict[str, Any]:
            row = s.execute(select(users).where(users.c.name == user)).first()
            if row is None:
                raise NotFound(f"user {user!r} not found")
            s.execute(update(users).where(users.c.name == user).values(is_admin=body.admin))
            history.record(
                s,
                "update",
                "user",
                user,
                user,
                {"admin": {"before": bool(row.is_admin), "after": body.admin}},
                registry=history.SERVER,
            )
            return {"name": user, "kind": row.kind, "admin": body.admin}

        return json_response(await _control(request, work, write=True))

    @router.get(f"{ADMIN}/groups", summary="Groups and their members", openapi_extra=role("admin"))
    async def list_groups(request: Request) -> Response:
        def work(s: Session) -> list[dict[str, Any]]:
            members: dict[str, list[str]] = {}
            for r in s.execute(select(group_members).order_by(group_members.c.user_name)):
                members.setdefault(r.group_name, []).append(r.user_name)
            rows = s.execute(select(groups).order_by(groups.c.name))
            return [
                {"name": r.name, "description": r.description, "members": members.get(r.name, [])}
                for r in rows
            ]

        items = await _control(request, work, write=False)
        return json_response({"items": items, "size": len(items)})

    @router.post(f"{ADMIN}/groups", status_code=201, summary="Add a group", openapi_extra=role("admin"))
    async def create_group(request: Request) -> Response:
        body = validate(GroupCreate, await read_body(request))
        assert isinstance(body, GroupCreate)
        if not 0 < len(body.name) <= 255:
            raise InvalidArgument("a group needs a name of 1 to 255 characters")

        def work(s: Session) -> None:
            if s.execute(select(groups.c.name).where(groups.c.name == body.name)).first():
                raise AlreadyExists(f"group {body.name!r} already exists")
            s.execute(insert(groups).values(name=body.name, description=body.description, create_time=_now()))
            history.record(s, "create", "group", body.name, body.name, {}, registry=history.SERVER)

        await _control(request, work, write=True)
        return json_response({"name": body.name, "description": body.description, "members": []}, 201)

    @router.put(
        f"{ADMIN}/groups/{{group}}/members/{{user}}",
        summary="Add a user to a group",
        openapi_extra=role("admin"),
    )
    async def add_member(request: Request, group: str, user: str) -> Response:
        def work(s: Session) -> None:
            if not s.execute(select(groups.c.name).where(groups.c.name == group)).first():
                raise NotFound(f"group {group!r} not found")
            key = (group_members.c.group_name == group, group_members.c.user_name == user)
            if not s.execute(select(group_members).where(*key)).first():
                s.execute(insert(group_members).values(group_name=group, user_name=user))
                history.record(
                    s,
                    "update",
                    "group",
                    group,
                    group,
                    {"members": {"before": None, "after": user}},
                    registry=history.SERVER,
                )

        await _control(request, work, write=True)
        return Response(status_code=204)

    @router.delete(
        f"{ADMIN}/groups/{{group}}/members/{{user}}",
        summary="Remove a user from a group",
        openapi_extra=role("admin"),
    )
    async def remove_member(request: Request, group: str, user: str) -> Response:
        def work(s: Session) -> None:
            key = (group_members.c.group_name == group, group_members.c.user_name == user)
            if not s.execute(select(group_members).where(*key)).first():
                raise NotFound(f"{user!r} is not a member of group {group!r}")
            s.execute(delete(group_members).where(*key))
            history.record(
                s,
                "update",
                "group",
                group,
                group,
                {"members": {"before": user, "after": None}},
                registry=history.SERVER,
            )

        await _control(request, work, write=True)
        return Response(status_code=204)


def _self_routes(router: APIRouter) -> None:
    @router.get(f"{SELF}/whoami", summary="Who the server takes you for", openapi_extra=role("authenticated"))
    async def whoami(request: Request) -> Response:
        p: Principal = request.state.principal
        return json_response(
            {
                "name": p.name,
                "kind": p.kind,
                "groups": sorted(p.groups),
                "admin": p.admin,
                "authenticatedBy": p.method,
            }
        )

    @router.get(
        f"{SELF}/registries",
        summary="The registries you can use, with your role",
        openapi_extra=role("authenticated"),
    )
    async def my_registries(request: Request) -> Response:
        p: Principal = request.state.principal

        def work(s: Session) -> list[dict[str, Any]]:
            visible = access.visible_registries(s, p)
            infos = _registries(request).list(visible)
            return [_registry_wire(i, access.role_in(s, p, i.name)) for i in infos]

        items = await _control(request, work, write=False)
        return json_response({"items": items, "size": len(items)})
