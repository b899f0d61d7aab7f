"""The registry's pages: models, a model, a version, the register forms, the archive."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelreg.api import params
from modelreg.entities import ARTIFACT, MODEL_VERSION, REGISTERED_MODEL, SERVING_ENVIRONMENT, EntitySpec
from modelreg.service import artifacts, catalog, history, resources, uploads
from modelreg.service.errors import AlreadyExists, Conflict, InvalidArgument, ModelregError, NotFound
from modelreg.store.repository import PageRequest, Record
from modelreg.store.session import Session
from modelreg.ui import forms
from modelreg.ui.web import (
    Page,
    form,
    page,
    read,
    redirect,
    render,
    scope_prefix,
    sentence,
    ui,
    write,
)

SORTS = {"updated": "LAST_UPDATE_TIME", "name": "NAME", "created": "CREATE_TIME"}
SIZES = (10, 20, 50, 100)
MODEL_PARAM = "registered_model_id"
VERSION_PARAM = "model_version_id"


def _page_request(q: Any, default_sort: str = "updated") -> tuple[PageRequest, dict[str, Any]]:
    sort = q.get("sort") or default_sort
    if sort not in SORTS:
        sort = default_sort
    order = q.get("order") or ("asc" if sort == "name" else "desc")
    if order not in ("asc", "desc"):
        order = "desc"
    try:
        size = int(q.get("size") or 20)
    except ValueError:
        size = 20
    if size not in SIZES:
        size = 20
    token = q.get("after") or ""
    req = PageRequest(size=size, order_by=SORTS[sort], descending=order == "desc", token=token)
    return req, {"sort": sort, "order": order, "size": size, "after": token}


def path_id(request: Request, name: str) -> int:
    return params.parse_id(request.path_params.get(name), name)


def by_ids(session: Session, spec: EntitySpec, ids: Any) -> dict[int, Record]:
    """The entities with these ids (None and repeats ignored), by id: one query."""
    wanted = sorted({int(i) for i in ids if i is not None})
    if not wanted:
        return {}
    found, _ = resources.list_page(
        session, spec, PageRequest(size=len(wanted)),
        filter_query="id IN (" + ",".join(str(i) for i in wanted) + ")",
    )  # fmt: skip
    return {r.id: r for r in found}


def deployment_names(session: Session, services: list[Record]) -> dict[str, dict[int, Record]]:
    """The environments and versions a list of deployments names, for showing them."""
    return {
        "environments": by_ids(session, SERVING_ENVIRONMENT, [d["parent_id"] for d in services]),
        "versions": by_ids(session, MODEL_VERSION, [d["model_version_id"] for d in services]),
    }


def _history(session: Session, registry: str, kind: str, id_: int) -> list[dict[str, Any]]:
    q = history.EventQuery(registry=registry, entity_kind=kind, entity_id=str(id_), page_size=50)
    return history.query(session, q)[0]


def _artifacts(session: Session, version_id: int) -> list[dict[str, Any]]:
    found, _ = resources.list_page(
        session, ARTIFACT, PageRequest(size=50), scope={"parent_id": version_id}, variant="model-artifact"
    )
    out = []
    for a in found:
        try:
            m = uploads.manifest(session, a.id)
            files = [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in m.files]
        except NotFound:
            files = []
        out.append({"record": a, "files": files, "s3": forms.object_storage_fields(a["uri"])})
    return out


def _latest_artifact(session: Session, model_id: int) -> tuple[Record | None, Record | None]:
    versions, _ = catalog.search_versions(
        session, PageRequest(size=1, order_by="CREATE_TIME", descending=True), model_id=model_id
    )
    if not versions:
        return None, None
    found, _ = resources.list_page(
        session, ARTIFACT, PageRequest(size=1), scope={"parent_id": versions[0].id}, variant="model-artifact"
    )
    return versions[0], (found[0] if found else None)


# ---------------------------------------------------------------- models


async def models_list(request: Request) -> Response:
    p = await page(request)
    q = request.query_params
    req, state = _page_request(q)
    keyword = (q.get("q") or "").strip()
    owner = (q.get("owner") or "").strip()
    error = None

    def work(s: Session) -> tuple[list[Record], str, dict[int, catalog.ModelSummary]]:
        found, token = catalog.search_models(s, req, keyword=keyword or None, owner=owner or None)
        return found, token, catalog.summaries(s, [r.id for r in found])

    try:
        found, token, summary = await read(request, work)
    except InvalidArgument as exc:
        found, token, summary, error = [], "", {}, exc.message
    ctx = dict(models=found, token=token, summary=summary, q=keyword, owner=owner, state=state,
               error=error, labels_of=forms.labels_of, sorts=SORTS, sizes=SIZES)  # fmt: skip
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "results":
        return render(p, "_models_table.html", **ctx)
    return render(p, "models.html", **ctx)


async def model_page(request: Request) -> Response:
    return await show_model(request, {})


async def show_model(request: Request, errors: dict[str, Any]) -> Response:
    p = await page(request)
    mid = path_id(request, MODEL_PARAM)
    tab = request.query_params.get("tab") or "overview"
    if tab not in ("overview", "versions", "deployments", "history"):
        tab = "overview"
    vq = (request.query_params.get("vq") or "").strip()

    def work(s: Session) -> dict[str, Any]:
        model = resources.get(s, REGISTERED_MODEL, mid)
        out: dict[str, Any] = {"model": model, "summary": catalog.summaries(s, [mid])[mid]}
        size = 5 if tab == "overview" else 100
        state = None if model["state"] == "ARCHIVED" else "LIVE"
        out["versions"] = catalog.search_versions(
            s, PageRequest(size=size, order_by="LAST_UPDATE_TIME", descending=True),
            model_id=mid, keyword=vq or None, state=state,
        )[0]  # fmt: skip
        out["deployments"] = (
            catalog.deployments_of(s, model_id=mid) if tab in ("overview", "deployments") else []
        )
        out["names"] = deployment_names(s, out["deployments"])
        out["events"] = _history(s, p.registry, "registered_model", mid) if tab == "history" else []
        return out

    data = await read(request, work)
    model = data["model"]
    return render(
        p, "model.html", tab=tab, vq=vq, labels=forms.labels_of(model.properties),
        properties=forms.plain_properties(model.properties), errors=errors, **data,
    )  # fmt: skip


# ---------------------------------------------------------------- a version


async def version_page(request: Request) -> Response:
    return await show_version(request, {})


async def show_version(request: Request, errors: dict[str, Any]) -> Response:
    p = await page(request)
    vid = path_id(request, VERSION_PARAM)
    tab = request.query_params.get("tab") or "details"
    if tab not in ("details", "deployments", "history"):
        tab = "details"

    def work(s: Session) -> dict[str, Any]:
        version = resources.get(s, MODEL_VERSION, vid)
        model = resources.get(s, REGISTERED_MODEL, version["parent_id"])
        siblings = catalog.search_versions(
            s, PageRequest(size=50, order_by="CREATE_TIME", descending=True), model_id=model.id, state=None
        )[0]
        services = catalog.deployments_of(s, version_id=vid) if tab == "deployments" else []
        return {
            "version": version,
            "model": model,
            "siblings": siblings,
            "artifacts": _artifacts(s, vid),
            "deployments": services,
            "names": deployment_names(s, services),
            "events": _history(s, p.registry, "model_version", vid) if tab == "history" else [],
        }

    data = await read(request, work)
    v = data["version"]
    return render(
        p, "version.html", tab=tab, labels=forms.labels_of(v.properties),
        properties=forms.plain_properties(v.properties), errors=errors,
        upload=request.query_params.get("upload") == "1",
        upload_values={k: request.query_params.get(k, "") for k in ("format", "format_version")}, **data,
    )  # fmt: skip


# ---------------------------------------------------------------- editing either


def _editing(spec: EntitySpec, param: str, show: Any, base: str) -> dict[str, Any]:
    """The POST handlers that edit a model or a version, by action name."""

    async def again(request: Request, **errors: Any) -> Response:
        response: Response = await show(request, errors)
        response.status_code = 200  # the form is shown again, with the problem beside it
        return response

    def back(request: Request, id_: int, notice: str | None = None, tab: str | None = None) -> Response:
        url = f"{scope_prefix(request)}{base}/{id_}" + (f"?tab={tab}" if tab else "")
        return redirect(url, notice)

    async def details(request: Request) -> Response:
        id_ = path_id(request, param)
        f = await form(request)
        values: dict[str, Any] = {"description": f.get("description", "").strip()}
        person = "owner" if spec is REGISTERED_MODEL else "author"
        if person in f:
            if len(f[person]) > forms.NAME_MAX:
                return await again(request, details=f"{person.title()} is at most {forms.NAME_MAX} characters.",
                                   typed=f)  # fmt: skip
            values[person] = f[person].strip()
        try:
            await write(request, lambda s: resources.patch(s, spec, id_, values, None))
        except InvalidArgument as exc:
            return await again(request, details=sentence(exc.message), typed=f)
        return back(request, id_, "Saved.")

    async def labels(request: Request) -> Response:
        id_ = path_id(request, param)
        f = await form(request)
        wanted, problem = forms.parse_labels(f.get("labels", ""))
        if problem:
            return await again(request, labels=problem, typed=f)

        def work(s: Session) -> None:
            record = resources.get(s, spec, id_)
            resources.patch(s, spec, id_, {}, forms.with_labels(record.properties, wanted))

        try:
            await write(request, work)
        except InvalidArgument as exc:
            return await again(request, labels=sentence(exc.message), typed=f)
        return back(request, id_, "Labels saved.")

    async def set_property(request: Request) -> Response:
        id_ = path_id(request, param)
        f = await form(request)
        key, value, original = f.get("key", "").strip(), f.get("value", ""), f.get("original", "").strip()
        if not key:
            return await again(request, property="A property needs a key.", typed=f)
        if len(key) > forms.NAME_MAX:
            return await again(request, property=f"A key is at most {forms.NAME_MAX} characters.", typed=f)
        if value == "":
            return await again(
                request, property="A property needs a value (a key alone is a label).", typed=f
            )

        def work(s: Session) -> None:
            record = resources.get(s, spec, id_)
            props = dict(record.properties)
            if key != original and key in props:
                raise AlreadyExists(f"there is already a property or label named {key!r}")
            like = props.pop(original, None) if original else None
            props[key] = forms.typed_value(value, like)
            resources.patch(s, spec, id_, {}, props)

        try:
            await write(request, work)
        except (InvalidArgument, AlreadyExists) as exc:
            return await again(request, property=sentence(exc.message), typed=f)
        return back(request, id_, f"Property {key} saved.")

    async def delete_property(request: Request) -> Response:
        id_ = path_id(request, param)
        f = await form(request)
        key = f.get("key", "")

        def work(s: Session) -> None:
            record = resources.get(s, spec, id_)
            props = dict(record.properties)
            if props.pop(key, None) is not None:
                resources.patch(s, spec, id_, {}, props)

        await write(request, work)
        return back(request, id_, f"Property {key} deleted." if key else None)

    async def archive(request: Request) -> Response:
        id_ = path_id(request, param)
        f = await form(request)

        def work(s: Session) -> str | None:
            record = resources.get(s, spec, id_)
            if f.get("confirm", "") != record["name"]:
                return f"Type the name, {record['name']}, to confirm."
            resources.patch(s, spec, id_, {"state": "ARCHIVED"}, None)
            return None

        try:
            problem = await write(request, work)
        except Conflict as exc:
            problem = sentence(exc.message)
        if problem:
            return await again(request, archive=problem, typed=f)
        return back(request, id_, "Archived.")

    async def restore(request: Request) -> Response:
        id_ = path_id(request, param)
        await form(request)
        try:
            await write(request, lambda s: resources.patch(s, spec, id_, {"state": "LIVE"}, None))
        except (Conflict, InvalidArgument) as exc:
            return await again(request, restore=sentence(exc.message))
        return back(request, id_, "Restored.")

    async def delete(request: Request) -> Response:
        id_ = path_id(request, param)
        f = await form(request)

        def work(s: Session) -> tuple[str | None, int | None]:
            record = resources.get(s, spec, id_)
            if f.get("confirm", "") != record["name"]:
                return f"Type the name, {record['name']}, to confirm.", None
            resources.delete(s, spec, id_)
            return None, record["parent_id"]

        try:
            problem, parent = await write(request, work)
        except Conflict as exc:
            problem, parent = sentence(exc.message), None
        if problem:
            return await again(request, delete=problem, typed=f)
        prefix = scope_prefix(request)
        if spec is MODEL_VERSION and parent:
            return redirect(f"{prefix}/models/{parent}?tab=versions", "Version deleted.")
        return redirect(f"{prefix}/models", "Model deleted.")

    return {
        "details": (details, "editor"),
        "labels": (labels, "editor"),
        "properties": (set_property, "editor"),
        "properties/delete": (delete_property, "editor"),
        "archive": (archive, "editor"),
        "restore": (restore, "editor"),
        "delete": (delete, "owner" if spec is REGISTERED_MODEL else "editor"),
    }


# ---------------------------------------------------------------- the register forms

ARTIFACT_FIELDS = ("format", "format_version", "location", "endpoint", "bucket", "region", "path", "uri")


def _artifact_values(c: forms.Checked, name: str, uri: str) -> dict[str, Any]:
    values: dict[str, Any] = {"type": "model-artifact", "name": name[: forms.NAME_MAX], "uri": uri}
    if c.values.get("format", "").strip():
        values["model_format_name"] = c.values["format"].strip()
    if c.values.get("format_version", "").strip():
        values["model_format_version"] = c.values["format_version"].strip()
    return values


def _check_version(c: forms.Checked) -> str | None:
    c.need("version_name", "Version name")
    c.optional("version_description", "Version description")
    c.optional("format", "Model format", forms.NAME_MAX)
    c.optional("format_version", "Format version", forms.NAME_MAX)
    c.optional("author", "Author", forms.NAME_MAX)
    return forms.check_location(c)


def _create_version(s: Session, c: forms.Checked, model_id: int, uri: str | None, who: str) -> Record:
    v = c.values
    version = resources.create(
        s, MODEL_VERSION,
        {"name": v["version_name"].strip(), "description": v.get("version_description", "").strip() or None,
         "author": v.get("author", "").strip() or who, "parent_id": model_id},
        {},
    )  # fmt: skip
    if uri is not None:
        artifacts.upsert_in_parent(
            s, "model_version", version.id, _artifact_values(c, v["version_name"], uri), {}, None
        )
    return version


async def register_model_form(request: Request) -> Response:
    p = await page(request)
    return render(p, "register.html", mode="model", values={"location": "object-storage"}, errors={})


async def register_model(request: Request) -> Response:
    p = await page(request)
    c = forms.Checked(await form(request))
    c.need("name", "Model name")
    c.optional("description", "Model description")
    uri = _check_version(c)
    if c.errors:
        return render(p, "register.html", mode="model", values=c.values, errors=c.errors)
    v, who = c.values, p.principal.name

    def work(s: Session) -> tuple[int, int]:
        model = resources.create(
            s, REGISTERED_MODEL,
            {"name": v["name"].strip(), "description": v.get("description", "").strip() or None, "owner": who},
            {},
        )  # fmt: skip
        try:
            version = _create_version(s, c, model.id, uri, who)
        except AlreadyExists as exc:
            raise Conflict(exc.message) from None
        return model.id, version.id

    try:
        mid, vid = await write(request, work)
    except AlreadyExists:
        c.errors["name"] = (
            "A model with this name already exists; pick another name, or register a new version of it."
        )
    except (Conflict, InvalidArgument) as exc:
        c.errors["form"] = sentence(exc.message)
    if c.errors:
        return render(p, "register.html", mode="model", values=c.values, errors=c.errors)
    if v.get("location") == "upload":
        return _to_upload(p, c, vid, "Model registered: now upload its files.")
    return redirect(p.url(f"/models/{mid}"), "Model registered.")


def _to_upload(p: Page, c: forms.Checked, version_id: int, notice: str) -> Response:
    """To the version's upload form, carrying the format typed: the artifact that holds it
    is made when the upload starts."""
    fmt = {k: c.values.get(k, "").strip() for k in ("format", "format_version")}
    return redirect(p.url(f"/versions/{version_id}", upload="1", **fmt), notice)


async def _model_for_form(request: Request) -> tuple[Record, dict[str, str]]:
    mid = path_id(request, MODEL_PARAM)

    def work(s: Session) -> tuple[Record, dict[str, str]]:
        model = resources.get(s, REGISTERED_MODEL, mid)
        version, artifact = _latest_artifact(s, mid)
        values = {"location": "object-storage"}
        if artifact is not None:
            values["format"] = artifact["model_format_name"] or ""
            values["format_version"] = artifact["model_format_version"] or ""
            s3 = forms.object_storage_fields(artifact["uri"])
            if s3:
                values.update(s3)
            elif artifact["uri"]:
                values.update(location="uri", uri=artifact["uri"])
        if version is not None:
            values["previous"] = version["name"]
        return model, values

    result: tuple[Record, dict[str, str]] = await read(request, work)
    return result


async def register_version_form(request: Request) -> Response:
    p = await page(request)
    model, values = await _model_for_form(request)
    return render(p, "register.html", mode="version", model=model, values=values, errors={})


async def register_version(request: Request) -> Response:
    p = await page(request)
    model, _ = await _model_for_form(request)
    c = forms.Checked(await form(request))
    uri = _check_version(c)
    if not c.errors:
        try:
            version = await write(request, lambda s: _create_version(s, c, model.id, uri, p.principal.name))
        except AlreadyExists:
            c.errors["version_name"] = f"{model['name']} already has a version with this name."
        except (Conflict, InvalidArgument, NotFound) as exc:
            c.errors["form"] = sentence(exc.message)
    if c.errors:
        return render(p, "register.html", mode="version", model=model, values=c.values, errors=c.errors)
    if c.values.get("location") == "upload":
        return _to_upload(p, c, version.id, "Version registered: now upload its files.")
    return redirect(p.url(f"/versions/{version.id}"), "Version registered.")


# ---------------------------------------------------------------- the archive


async def archived(request: Request) -> Response:
    p = await page(request)
    q = request.query_params
    tab = "versions" if q.get("tab") == "versions" else "models"
    req, state = _page_request(q)
    keyword = (q.get("q") or "").strip()

    def work(s: Session) -> dict[str, Any]:
        if tab == "models":
            found, token = catalog.search_models(s, req, keyword=keyword or None, state="ARCHIVED")
            return {"items": found, "token": token, "parents": {}}
        found, token = catalog.search_versions(s, req, keyword=keyword or None, state="ARCHIVED")
        parents = by_ids(s, REGISTERED_MODEL, [r["parent_id"] for r in found])
        return {"items": found, "token": token, "parents": parents}

    try:
        data = await read(request, work)
        error = None
    except InvalidArgument as exc:
        data, error = {"items": [], "token": "", "parents": {}}, exc.message
    return render(p, "archived.html", tab=tab, q=keyword, state=state, error=error, **data)


# ---------------------------------------------------------------- the router


def add_routes(router: APIRouter) -> None:
    """The pages of one registry, at the paths under its scope (ui_router includes them at each)."""
    router.add_api_route("/models", models_list, methods=["GET"], openapi_extra=ui("viewer"),
                         summary="Web UI: the models", include_in_schema=False)  # fmt: skip
    router.add_api_route("/models/new", register_model_form, methods=["GET"],
                         openapi_extra=ui("editor"), include_in_schema=False)  # fmt: skip
    router.add_api_route("/models/new", register_model, methods=["POST"],
                         openapi_extra=ui("editor"), include_in_schema=False)  # fmt: skip
    router.add_api_route(f"/models/{{{MODEL_PARAM}}}", model_page, methods=["GET"],
                         openapi_extra=ui("viewer"), include_in_schema=False)  # fmt: skip
    router.add_api_route(f"/models/{{{MODEL_PARAM}}}/versions/new", register_version_form,
                         methods=["GET"], openapi_extra=ui("editor"), include_in_schema=False)  # fmt: skip
    router.add_api_route(f"/models/{{{MODEL_PARAM}}}/versions/new", register_version,
                         methods=["POST"], openapi_extra=ui("editor"), include_in_schema=False)  # fmt: skip
    router.add_api_route(f"/versions/{{{VERSION_PARAM}}}", version_page, methods=["GET"],
                         openapi_extra=ui("viewer"), include_in_schema=False)  # fmt: skip
    router.add_api_route("/archived", archived, methods=["GET"], openapi_extra=ui("viewer"),
                         include_in_schema=False)  # fmt: skip
    for spec, param, show, base in (
        (REGISTERED_MODEL, MODEL_PARAM, show_model, "/models"),
        (MODEL_VERSION, VERSION_PARAM, show_version, "/versions"),
    ):
        for action, (handler, rule) in _editing(spec, param, show, base).items():
            router.add_api_route(f"{base}/{{{param}}}/{action}", handler, methods=["POST"],
                                 openapi_extra=ui(rule), include_in_schema=False)  # fmt: skip


__all__ = ["ModelregError", "add_routes"]
