"""Routes that are not of the generic shape: what an inference service serves, metric history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from modelreg.api import params, wire
from modelreg.api.routes import json_response, run
from modelreg.api.security import role
from modelreg.entities import (
    INFERENCE_SERVICE,
    METRIC_HISTORY,
    MODEL_VERSION,
    REGISTERED_MODEL,
    V1ALPHA3,
)
from modelreg.service import resources
from modelreg.service.deployments import latest_version
from modelreg.service.errors import NotFound
from modelreg.store.schema import TABLES
from modelreg.store.session import Session


def extra_router(api: str) -> APIRouter:
    router = APIRouter(tags=[f"Model Registry {api}"])
    isvc = params.path_param("inference_service", api)

    async def served_model(request: Request) -> Response:
        id_ = params.parse_id(request.path_params[isvc], isvc)

        def work(session: Session) -> Any:
            service = resources.get(session, INFERENCE_SERVICE, id_)
            return resources.get(session, REGISTERED_MODEL, service["registered_model_id"])

        return json_response(wire.encode(REGISTERED_MODEL, await run(request, work, write=False), api))

    async def served_version(request: Request) -> Response:
        id_ = params.parse_id(request.path_params[isvc], isvc)

        def work(session: Session) -> Any:
            service = resources.get(session, INFERENCE_SERVICE, id_)
            if service["model_version_id"] is not None:
                return resources.get(session, MODEL_VERSION, service["model_version_id"])
            version = latest_version(session, service["registered_model_id"])
            if version is None:
                raise NotFound(
                    f"inference service {id_} names no version and its registered model "
                    f"{service['registered_model_id']} has none"
                )
            return version

        return json_response(wire.encode(MODEL_VERSION, await run(request, work, write=False), api))

    path = f"/inference_services/{{{isvc}}}"
    router.add_api_route(
        f"{path}/model",
        served_model,
        methods=["GET"],
        operation_id=f"getInferenceServiceModel_{api}",
        summary="The registered model an inference service serves",
        openapi_extra=role("viewer"),
    )
    router.add_api_route(
        f"{path}/version",
        served_version,
        methods=["GET"],
        operation_id=f"getInferenceServiceVersion_{api}",
        summary="The model version an inference service serves (its model's latest when unset)",
        openapi_extra=role("viewer"),
    )
    if api == V1ALPHA3:
        _metric_history(router)
    return router


def _metric_history(router: APIRouter) -> None:
    run_param = params.path_param("experiment_run", V1ALPHA3)
    table = TABLES[METRIC_HISTORY.kind]

    def handler(per_run: bool) -> Any:
        async def history(request: Request) -> Response:
            q = request.query_params
            page, echo = params.page_request(q)
            steps = params.step_ids(q)
            name = params.optional_text(q, "name")
            run_id = params.parse_id(request.path_params[run_param], run_param) if per_run else None
            filter_query = q.get("filterQuery") or None

            def work(session: Session) -> Any:
                scope: dict[str, Any] = {}
                if run_id is not None:
                    resources.get(session, resources.BY_KIND["experiment_run"], run_id)
                    scope["parent_id"] = run_id
                if name is not None:
                    scope["name"] = name
                query = filter_query
                if steps is not None:
                    step_filter = f"step IN ({', '.join(str(s) for s in steps)})"
                    query = f"({query}) AND {step_filter}" if query else step_filter
                return resources.list_page(session, METRIC_HISTORY, page, scope=scope, filter_query=query)

            records, token = await run(request, work, write=False)
            body = wire.encode_list(METRIC_HISTORY, records, V1ALPHA3, echo, token)
            for item in body["items"]:
                item["artifactType"] = "metric"
            return json_response(body)

        return history

    assert table is not None
    router.add_api_route(
        "/experiment_runs/metric_history",
        handler(False),
        methods=["GET"],
        operation_id="getExperimentRunsMetricHistory",
        summary="Metric history of every run",
        openapi_extra=role("viewer"),
    )
    router.add_api_route(
        f"/experiment_runs/{{{run_param}}}/metric_history",
        handler(True),
        methods=["GET"],
        operation_id="getExperimentRunMetricHistory",
        summary="Metric history of one run",
        openapi_extra=role("viewer"),
    )
