"""Our own OpenAPI document: the generated routes described from the same declarations.

Handlers read their parameters themselves (strictly, with upstream's error shapes), so
FastAPI cannot see them; `describe` tells it what each route takes and answers, and
`install` adds the request schemas to the document's components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from modelreg.api.security import role
from modelreg.entities import EntitySpec
from modelreg.service.access import role_for

REF = "#/components/schemas/{model}"
_LIST_PARAMS = ("filterQuery", "pageSize", "orderBy", "sortOrder", "nextPageToken")
_PARAM_DOCS: dict[str, dict[str, Any]] = {
    "filterQuery": {
        "description": "SQL-like filter, e.g. `name LIKE 'bert%' AND accuracy > 0.9`",
        "schema": {"type": "string"},
    },
    "pageSize": {"description": "items per page; all when absent", "schema": {"type": "string"}},
    "orderBy": {"schema": {"type": "string", "enum": ["ID", "CREATE_TIME", "LAST_UPDATE_TIME", "NAME"]}},
    "sortOrder": {"schema": {"type": "string", "enum": ["ASC", "DESC"]}},
    "nextPageToken": {"description": "token from the previous page", "schema": {"type": "string"}},
    "name": {"schema": {"type": "string"}},
    "externalId": {"schema": {"type": "string"}},
    "parentResourceId": {"schema": {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"}},
    "artifactType": {
        "schema": {
            "type": "string",
            "enum": ["model-artifact", "doc-artifact", "dataset-artifact", "metric", "parameter"],
        }
    },
}
_SUMMARIES = {
    "list": "List {label}s, filtered, ordered and paged",
    "create": "Create a {label}",
    "nested_create": "Create a {label} under its parent",
    "upsert": "Create, update or link a {label} under its parent",
    "get": "Get a {label} by id",
    "update": "Update a {label}: fields merge, customProperties replace",
    "delete": "Delete a {label} and everything under it",
    "find": "Find one {label} by name or externalId",
}
# (spec, variant, api, shape) of every request body a route takes; their models are
# built when the document is first asked for, not at start-up.
_request_bodies: list[tuple[EntitySpec, str | None, str, str]] = []


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, **_PARAM_DOCS[name]}


def describe(
    *,
    spec: EntitySpec,
    api: str,
    variant: str | None,
    schema: str,
    kind: str,
    param: str | None = None,
) -> dict[str, Any]:
    """summary and openapi_extra for one generated route."""
    from modelreg.api import wire

    v = spec.variant(variant) if variant else None
    label = v.label if v is not None else spec.label
    parameters: list[dict[str, Any]] = []
    if param:
        parameters.append({"name": param, "in": "path", "required": True, "schema": {"type": "string"}})
    if kind == "list":
        parameters += [_query(p) for p in _LIST_PARAMS]
        if spec.parent is not None:
            parameters += [_query("name"), _query("externalId")]
        if spec.discriminator and variant is None:
            parameters.append(_query("artifactType"))
    if kind == "find":
        parameters += [_query("name"), _query("externalId")]
        if spec.parent is not None:
            parameters.append(_query("parentResourceId"))
    extra: dict[str, Any] = {"parameters": parameters, **role(role_for(spec.kind, kind))}
    shape = {"create": "create", "nested_create": spec.nested_body, "upsert": "full", "update": "update"}.get(
        kind
    )
    if shape is not None:
        variants = [variant] if variant or not spec.discriminator else [v.type for v in spec.variants]
        bodies = [(spec, v, api, shape) for v in variants]
        _request_bodies.extend(bodies)
        refs = [{"$ref": REF.format(model=wire.model_name(*b))} for b in bodies]  # type: ignore[arg-type]
        body_schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    return {"summary": _SUMMARIES[kind].format(label=label), "openapi_extra": extra}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        from modelreg.api import wire

        for body in _request_bodies:
            model = wire.request_model(*body)  # type: ignore[arg-type]
            js = model.model_json_schema(ref_template=REF)
            for name, sub in js.pop("$defs", {}).items():
                schemas.setdefault(name, sub)
            schemas.setdefault(model.__name__, js)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
