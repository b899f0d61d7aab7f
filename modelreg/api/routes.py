"""The registry's routes, generated from the entity declarations for each API version.

Every entity gets the same set: list and create on its collection, get, patch and delete
on an item, a find endpoint, and list and create under its parent. The few routes that
are not of that shape live in `extra_routes.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from modelreg.api import params, wire
from modelreg.api.fastpath import lean
from modelreg.api.openapi_docs import describe
from modelreg.api.read_cache import ReadCache
from modelreg.api.security import database, history_context
from modelreg.api.threads import run_sync
from modelreg.entities import BY_KIND, ENTITIES, V1ALPHA3, EntitySpec
from modelreg.service import artifacts, resources
from modelreg.service.errors import InvalidArgument
from modelreg.service.transactions import (
    ReadTooLong,
    TurnTaken,
    awaited_change_stamp,
    awaits_keyed_reads,
    change_stamp,
    keyed_read,
    keyed_read_here,
    transaction,
)
from modelreg.store.session import Session

Handler = Callable[[Request], Any]
_INLINE_TRIES = 100
_GETS = ReadCache()  # gets by id on SQLite and PostgreSQL registries, while nothing is committed


def json_response(body: object, status: int = 200) -> Response:
    return _json_bytes(orjson.dumps(body), status)


def _json_bytes(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


async def run(
    request: Request,
    work: Callable[[Session], Any],
    *,
    write: bool,
    keyed: bool = False,
    small: bool = False,
) -> Any:
    """Run `work` in one transaction on a worker thread, so the event loop never blocks.

    On SQLite some work runs right here instead, where the thread hop cost more than it
    saves. SQLite's reads never wait for a writer (WAL), so every read runs here: `keyed`
    (get by id, find by name) without a transaction of its own, others (pages) in one.
    Python's sqlite3 lets go of the GIL for every row it steps, and on a thread each of
    those became a handoff with the event loop: filtered pages of 100 at concurrency 8 on
    2 workers went 264-315/s on one reader thread against 359-479/s here (alternating
    A/B, p99 90-110 ms against 60-67 ms). A read SQLite takes long over (a scan for a
    rare LIKE among a million versions) would hold this worker's loop meanwhile: one that
    runs past the setting `sqlite_loop_read_ms` (10 ms) is stopped and run again on a
    thread, losing that much work (a filtered page of 100 takes a few ms). `small` says a
    write touches one entity and its properties (create, update): on a pool thread it let go of
    the GIL at every SQLite call and waited to get it back behind the event loop, holding
    the database's one write lock all the while, so writes queued behind those waits
    (registrations at concurrency 8: 160-195/s on threads, 240-320/s here). It runs here
    when the turn is free. While another writer (another worker) holds it, it looks again
    every 50 us for some 5 ms, the time a few small writes take; a writer that holds on
    longer (a large delete, a migration) is waited for on a thread, so the loop never
    stalls behind it. On PostgreSQL, `small` lets a create be one statement, committed
    on its own (see resources.create)."""
    context = history_context(request) if write else None
    db = database(request)

    def in_transaction(pin: bool = False, wait: bool = True, budget: float | None = None) -> Any:
        with transaction(
            db, write=write, context=context, pin=pin, wait=wait, one_write=small, budget=budget
        ) as session:
            return work(session)

    if keyed and not write and awaits_keyed_reads(db):
        return await keyed_read(db, work)
    if db.dialect == "sqlite":
        if write and small:
            for _ in range(_INLINE_TRIES):
                try:
                    return in_transaction(wait=False)
                except TurnTaken:
                    time.sleep(0.00005)
        elif not write and keyed:
            return keyed_read_here(db, work)
        elif not write:
            try:
                return in_transaction(True, budget=request.app.state.settings.sqlite_loop_read_ms / 1000)
            except ReadTooLong:
                pass  # a long scan: again on a thread, where it holds up nothing
    return await run_sync(in_transaction)


async def read_body(request: Request) -> bytes:
    body = await request.body()
    if not body.strip():
        raise InvalidArgument("request body is empty; send a JSON object")
    if b"\x00" in body or b"\\u0000" in body:
        raise InvalidArgument("request body must not contain NUL characters")
    return body


def validate(model: type[BaseModel], body: bytes) -> BaseModel:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        from modelreg.api.errors import from_validation

        raise from_validation(list(exc.errors())) from None  # type: ignore[arg-type]


def variant_of(spec: EntitySpec, body: bytes, fixed: str | None) -> str | None:
    """Which variant a union body is, from its discriminator (or the collection's)."""
    if not spec.discriminator:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument("request body must be a JSON object")
    given = data.get(spec.discriminator)
    if fixed is not None:
        if given not in (None, fixed):
            raise InvalidArgument(f"{spec.discriminator} must be {fixed!r} here, got {given!r}")
        return fixed
    types = [v.type for v in spec.variants]
    if given not in types:
        raise InvalidArgument(f"{spec.discriminator} must be one of {', '.join(types)}, got {given!r}")
    return str(given)


async def decode_body(
    request: Request,
    spec: EntitySpec,
    api: str,
    shape: wire.Shape,
    fixed: str | None = None,
    *,
    nested: bool = False,
) -> wire.Decoded:
    body = await read_body(request)
    variant = variant_of(spec, body, fixed)
    model = wire.request_model(spec, variant, api, shape)
    return wire.decode(spec, validate(model, body), variant, api, shape, nested=nested)


class EntityRoutes:
    """Builds the handlers of one entity (or one variant view of it) in one API version."""

    def __init__(self, spec: EntitySpec, api: str, variant: str | None = None) -> None:
        self.spec = spec
        self.api = api
        self.variant = variant
        self.param = params.path_param(spec.kind if variant is None else _view_kind(spec, variant), api)

    def item_id(self, request: Request) -> int:
        return params.parse_id(request.path_params.get(self.param), self.param)

    def list_(self, parent_kind: str | None = None, parent_param: str | None = None) -> Handler:
        spec, api = self.spec, self.api

        async def handler(request: Request) -> Response:
            q = request.query_params
            page, echo = params.page_request(q)
            scope: dict[str, Any] = {}
            variant = self.variant
            if spec.discriminator and q.get("artifactType"):
                variant = _artifact_type(spec, q["artifactType"], self.variant)
            name = params.optional_text(q, "name")
            external_id = params.optional_text(q, "externalId")
            if external_id is not None:
                scope["external_id"] = external_id
            elif name is not None:
                scope["name"] = name
            parent_id = None
            if parent_kind is not None:
                assert parent_param is not None
                parent_id = params.parse_id(request.path_params.get(parent_param), parent_param)
                scope["parent_id"] = parent_id
            filter_query = q.get("filterQuery") or None

            def work(session: Session) -> tuple[list[Any], str]:
                if parent_kind is not None and parent_id is not None:
                    resources.require_exists(session, parent_kind, parent_id)
                return resources.list_page(
                    session, spec, page, scope=scope, filter_query=filter_query, variant=variant
                )

            records, token = await run(request, work, write=False)
            return json_response(wire.encode_list(spec, records, api, echo, token))

        return lean(handler)

    def create(self, parent_kind: str | None = None, parent_param: str | None = None) -> Handler:
        spec, api = self.spec, self.api
        shape: wire.Shape = spec.nested_body if parent_kind is not None else "create"  # type: ignore[assignment]

        async def handler(request: Request) -> Response:
            decoded = await decode_body(
                request, spec, api, shape, self.variant, nested=parent_kind is not None
            )
            values = decoded.values
            if parent_kind is not None:
                assert parent_param is not None
                parent_id = params.parse_id(request.path_params.get(parent_param), parent_param)
                _same_parent(spec, values, parent_id)
                values["parent_id"] = parent_id

            def work(session: Session) -> Any:
                return resources.create(session, spec, values, decoded.properties or {})

            record = await run(request, work, write=True, small=True)
            return json_response(wire.encode(spec, record, api), 201)

        return lean(handler)

    def upsert_in(self, parent_kind: str, parent_param: str) -> Handler:
        """POST /model_versions/{id}/artifacts: create, or update/link by id, as upstream."""
        spec, api = self.spec, self.api

        async def handler(request: Request) -> Response:
            parent_id = params.parse_id(request.path_params.get(parent_param), parent_param)
            decoded = await decode_body(request, spec, api, "full")

            def work(session: Session) -> Any:
                return artifacts.upsert_in_parent(
                    session, parent_kind, parent_id, decoded.values, decoded.properties, decoded.id
                )

            record, created = await run(request, work, write=True, small=True)
            return json_response(wire.encode(spec, record, api), 201 if created else 200)

        return lean(handler)

    def get(self) -> Handler:
        spec, api = self.spec, self.api

        async def handler(request: Request) -> Response:
            id_ = self.item_id(request)
            db = database(request)
            # Taken before the read: see api.read_cache.
            stamp = await awaited_change_stamp(db) if awaits_keyed_reads(db) else change_stamp(db)
            if stamp is not None and (kept := _GETS.get(stamp, (self, id_))) is not None:
                return _json_bytes(kept)
            record = await run(
                request, lambda s: resources.get(s, spec, id_, variant=self.variant), write=False, keyed=True
            )
            body = orjson.dumps(wire.encode(spec, record, api))
            if stamp is not None:
                _GETS.put(stamp, (self, id_), body)
            return _json_bytes(body)

        return lean(handler)

    def patch(self) -> Handler:
        spec, api = self.spec, self.api

        async def handler(request: Request) -> Response:
            id_ = self.item_id(request)
            decoded = await decode_body(request, spec, api, "update", self.variant)
            variant = decoded.values.pop("type", None) or self.variant

            def work(session: Session) -> Any:
                if variant is not None:
                    current = resources.get(session, spec, id_)
                    if current["type"] != variant:
                        raise InvalidArgument(
                            f"artifact {id_} is a {current['type']}, not a {variant}; "
                            f"send artifactType {current['type']!r}"
                        )
                return resources.patch(
                    session, spec, id_, decoded.values, decoded.properties, variant=self.variant
                )

            record = await run(request, work, write=True, small=True)
            return json_response(wire.encode(spec, record, api))

        return lean(handler)

    def delete(self) -> Handler:
        spec = self.spec

        async def handler(request: Request) -> Response:
            id_ = self.item_id(request)
            await run(request, lambda s: resources.delete(s, spec, id_, variant=self.variant), write=True)
            return Response(status_code=204)

        return lean(handler)

    def find(self) -> Handler:
        spec, api = self.spec, self.api

        async def handler(request: Request) -> Response:
            q = request.query_params
            name = params.optional_text(q, "name")
            external_id = params.optional_text(q, "externalId")
            parent_id = params.optional_id(q, "parentResourceId")
            # An index leads with what the query names (a unique name within a parent
            # needs the parent): then it is one row by key.
            keyed = (
                external_id is not None
                or parent_id is not None
                or spec.parent is None
                or not spec.name_unique
            )
            record = await run(
                request,
                lambda s: resources.find(
                    s,
                    spec,
                    name=name,
                    external_id=external_id,
                    parent_id=parent_id,
                    variant=self.variant,
                ),
                write=False,
                keyed=keyed,
            )
            return json_response(wire.encode(spec, record, api))

        return lean(handler)


def _view_kind(spec: EntitySpec, variant: str) -> str:
    return next(v.kind for v in spec.views if v.variant == variant)


def _artifact_type(spec: EntitySpec, given: str, fixed: str | None) -> str:
    types = [v.type for v in spec.variants]
    if given not in types:
        raise InvalidArgument(f"artifactType must be one of {', '.join(types)}, got {given!r}")
    if fixed is not None and given != fixed:
        raise InvalidArgument(f"artifactType must be {fixed!r} here, got {given!r}")
    return given


def _same_parent(spec: EntitySpec, values: dict[str, Any], parent_id: int) -> None:
    """A body may repeat the parent id of its path, but not name another parent."""
    if spec.parent is None or not spec.parent.field:
        return
    given = values.get("parent_id")
    if given is not None and given != parent_id:
        raise InvalidArgument(
            f"{spec.parent.field} {given} in the body does not match {parent_id} in the path"
        )


def _add(
    router: APIRouter,
    path: str,
    method: str,
    handler: Handler,
    op: str,
    status: int,
    **doc: Any,
) -> None:
    router.add_api_route(
        path,
        handler,
        methods=[method],
        operation_id=f"{op}_{doc['api']}",
        name=f"{op}_{doc['api']}",
        response_model=None,
        status_code=status,
        **describe(**doc),
    )


def entity_router(api: str) -> APIRouter:
    """Every generated route of one API version, mounted under /api/model_registry/<api>."""
    router = APIRouter(tags=[f"Model Registry {api}"])
    for spec in ENTITIES:
        if api not in spec.apis or not spec.generic_routes:
            continue
        _entity_routes(router, spec, api)
    return router


def _entity_routes(router: APIRouter, spec: EntitySpec, api: str) -> None:
    views: list[tuple[str | None, str, str | None, str]] = [
        (None, spec.collection, spec.find_path, spec.schema)
    ]
    views += [(v.variant, v.collection, v.find_path, spec.variant(v.variant).schema) for v in spec.views]  # type: ignore[union-attr]
    for variant, collection, find_path, schema in views:
        r = EntityRoutes(spec, api, variant)
        item = f"/{collection}/{{{r.param}}}"
        doc = {"spec": spec, "api": api, "variant": variant, "schema": schema}
        if spec.top_level:
            _add(router, f"/{collection}", "GET", r.list_(), f"get{schema}s", 200, kind="list", **doc)
            _add(router, f"/{collection}", "POST", r.create(), f"create{schema}", 201, kind="create", **doc)
            _add(router, item, "GET", r.get(), f"get{schema}", 200, kind="get", param=r.param, **doc)
            _add(
                router, item, "PATCH", r.patch(), f"update{schema}", 200, kind="update", param=r.param, **doc
            )
            _add(
                router,
                item,
                "DELETE",
                r.delete(),
                f"delete{schema}",
                204,
                kind="delete",
                param=r.param,
                **doc,
            )
        if find_path:
            _add(router, f"/{find_path}", "GET", r.find(), f"find{schema}", 200, kind="find", **doc)
    if spec.parent is None:
        return
    r = EntityRoutes(spec, api)
    for parent_kind in spec.parent.kinds:
        pspec = BY_KIND[parent_kind]
        if api not in pspec.apis:
            continue
        pparam = params.path_param(parent_kind, api)
        path = f"/{pspec.collection}/{{{pparam}}}/{spec.nested}"
        op = f"{pspec.schema}{spec.schema}s"
        doc = {"spec": spec, "api": api, "variant": None, "schema": spec.schema, "param": pparam}
        _add(router, path, "GET", r.list_(parent_kind, pparam), f"get{op}", 200, kind="list", **doc)
        if spec.discriminator:
            handler = r.upsert_in(parent_kind, pparam)
            _add(router, path, "POST", handler, f"upsert{op}", 201, kind="upsert", **doc)
        else:
            handler = r.create(parent_kind, pparam)
            _add(router, path, "POST", handler, f"create{op}", 201, kind="nested_create", **doc)


__all__ = ["V1ALPHA3", "entity_router", "json_response", "run"]
