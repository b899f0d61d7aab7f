"""Deployments: deploy a version as an inference service in a serving environment, then
see, edit and delete it. The same service calls as the REST API's, so the same rules: a
version belongs to its model, nothing archived is deployed, nothing deployed is deleted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelreg.entities import INFERENCE_SERVICE, MODEL_VERSION, REGISTERED_MODEL, SERVING_ENVIRONMENT
from modelreg.service import deployments, resources
from modelreg.service.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from modelreg.store.repository import PageRequest, Record
from modelreg.store.session import Session
from modelreg.ui import forms
from modelreg.ui.pages import VERSION_PARAM, path_id
from modelreg.ui.web import form, page, read, redirect, render, scope_prefix, sentence, ui, write

SERVICE_PARAM = "inference_service_id"
NEW = "new"  # the environment choice that names a new one
STATES = next(f.enum for f in INFERENCE_SERVICE.fields if f.name == "desiredState")
SERVES = ("version", "latest")


def _check(c: forms.Checked) -> None:
    """The fields the deploy and edit forms share."""
    c.optional("description", "Description")
    c.optional("runtime", "Serving runtime", forms.NAME_MAX)
    if c.values.get("desired_state") not in STATES:
        c.errors["desired_state"] = "Choose whether it is deployed or not."


# ---------------------------------------------------------------- deploy a version


async def _deploy_context(request: Request) -> dict[str, Any]:
    vid = path_id(request, VERSION_PARAM)

    def work(s: Session) -> dict[str, Any]:
        version = resources.get(s, MODEL_VERSION, vid)
        return {
            "version": version,
            "model": resources.get(s, REGISTERED_MODEL, version["parent_id"]),
            "environments": resources.list_page(
                s, SERVING_ENVIRONMENT, PageRequest(size=200, order_by="NAME")
            )[0],
        }

    found: dict[str, Any] = await read(request, work)
    return found


async def deploy_form(request: Request) -> Response:
    p = await page(request)
    data = await _deploy_context(request)
    envs = data["environments"]
    values = {"name": data["model"]["name"], "environment": str(envs[0].id) if envs else NEW,
              "serves": "version", "desired_state": STATES[0]}  # fmt: skip
    return render(p, "deploy.html", values=values, errors={}, states=STATES, **data)


async def deploy(request: Request) -> Response:
    p = await page(request)
    data = await _deploy_context(request)
    version, model = data["version"], data["model"]
    c = forms.Checked(await form(request))
    name = c.need("name", "Deployment name")
    _check(c)
    choice = c.values.get("environment", NEW)
    new_env = c.need("new_environment", "New environment name") if choice == NEW else ""
    if choice != NEW and choice not in {str(e.id) for e in data["environments"]}:
        c.errors["environment"] = "Choose an environment from the list, or a new one."
    if c.values.get("serves") not in SERVES:
        c.errors["serves"] = "Choose this version or the model's latest."
    v = c.values

    def work(s: Session) -> Record:
        env_id = int(choice) if choice != NEW else None
        if env_id is None:
            try:
                env_id = resources.find(s, SERVING_ENVIRONMENT, name=new_env).id
            except NotFound:
                env_id = resources.create(s, SERVING_ENVIRONMENT, {"name": new_env}, {}).id
        return resources.create(
            s, INFERENCE_SERVICE,
            {"name": name, "description": v.get("description", "").strip() or None,
             "parent_id": env_id, "registered_model_id": model.id,
             "model_version_id": version.id if v["serves"] == "version" else None,
             "runtime": v.get("runtime", "").strip() or None, "desired_state": v["desired_state"]},
            {},
        )  # fmt: skip

    if not c.errors:
        try:
            await write(request, work)
        except AlreadyExists:
            c.errors["name"] = "That environment already has a deployment with this name; pick another."
        except (Conflict, InvalidArgument, NotFound) as exc:
            c.errors["form"] = sentence(exc.message)
    if c.errors:
        return render(p, "deploy.html", values=v, errors=c.errors, states=STATES, **data)
    return redirect(p.url(f"/versions/{version.id}", tab="deployments"), f"Deployment {name} created.")


# ---------------------------------------------------------------- one deployment


async def deployment_page(request: Request) -> Response:
    return await show_deployment(request, {}, None)


async def show_deployment(request: Request, errors: dict[str, str], typed: dict[str, str] | None) -> Response:
    p = await page(request)
    sid = path_id(request, SERVICE_PARAM)

    def work(s: Session) -> dict[str, Any]:
        svc = resources.get(s, INFERENCE_SERVICE, sid)
        pinned = svc["model_version_id"]
        model_id = svc["registered_model_id"]
        return {
            "svc": svc,
            "model": resources.get(s, REGISTERED_MODEL, model_id),
            "environment": resources.get(s, SERVING_ENVIRONMENT, svc["parent_id"]),
            "version": (
                resources.get(s, MODEL_VERSION, pinned) if pinned else deployments.latest_version(s, model_id)
            ),
        }

    data = await read(request, work)
    svc = data["svc"]
    shown = {"description": svc["description"] or "", "runtime": svc["runtime"] or "",
             "desired_state": svc["desired_state"]}  # fmt: skip
    edit_values = typed if typed is not None and "confirm" not in errors else shown
    return render(p, "deployment.html", errors=errors, values=edit_values, typed=typed or {}, states=STATES,
                  **data)  # fmt: skip


async def edit(request: Request) -> Response:
    sid = path_id(request, SERVICE_PARAM)
    c = forms.Checked(await form(request))
    _check(c)
    if not c.errors:
        values = {"description": c.values.get("description", "").strip(),
                  "runtime": c.values.get("runtime", "").strip(), "desired_state": c.values["desired_state"]}  # fmt: skip
        try:
            await write(request, lambda s: resources.patch(s, INFERENCE_SERVICE, sid, values, None))
        except (Conflict, InvalidArgument) as exc:
            c.errors["desired_state"] = sentence(exc.message)
    if c.errors:
        return await show_deployment(request, c.errors, c.values)
    return redirect(f"{scope_prefix(request)}/deployments/{sid}", "Deployment saved.")


async def delete(request: Request) -> Response:
    sid = path_id(request, SERVICE_PARAM)
    f = await form(request)

    def work(s: Session) -> tuple[str | None, Record]:
        svc = resources.get(s, INFERENCE_SERVICE, sid)
        if f.get("confirm", "") != svc["name"]:
            return f"Type the deployment's name, {svc['name']}, to confirm.", svc
        resources.delete(s, INFERENCE_SERVICE, sid)
        return None, svc

    try:
        problem, svc = await write(request, work)
    except Conflict as exc:
        problem = sentence(exc.message)
    if problem:
        return await show_deployment(request, {"confirm": problem}, f)
    back = (
        f"/versions/{svc['model_version_id']}"
        if svc["model_version_id"]
        else f"/models/{svc['registered_model_id']}"
    )
    return redirect(f"{scope_prefix(request)}{back}?tab=deployments", f"Deployment {svc['name']} deleted.")


def add_routes(router: APIRouter) -> None:
    """A registry's deployment pages, under its scope (ui_router includes them at each)."""

    def add(path: str, handler: Any, method: str, rule: str) -> None:
        router.add_api_route(path, handler, methods=[method], openapi_extra=ui(rule), include_in_schema=False)

    add(f"/versions/{{{VERSION_PARAM}}}/deploy", deploy_form, "GET", "editor")
    add(f"/versions/{{{VERSION_PARAM}}}/deploy", deploy, "POST", "editor")
    add(f"/deployments/{{{SERVICE_PARAM}}}", deployment_page, "GET", "viewer")
    add(f"/deployments/{{{SERVICE_PARAM}}}", edit, "POST", "editor")
    add(f"/deployments/{{{SERVICE_PARAM}}}/delete", delete, "POST", "editor")
