"""Every operation of both reference specs, driven through a realistic scenario, answers
with the body its spec declares.

Each call names the spec's operationId; the driver fills in the path, checks the
status, and validates the body with jsonschema against the schema the spec declares
for that operation and status (spec components converted from OpenAPI 3.0, see
spec_support). Error bodies must be `Error`s. At the end every operation of the spec
must have been called. Runs on SQLite, PostgreSQL and MariaDB.

Allowed deviations (see spec_support): v1alpha3 createInferenceService answers 201
where the spec says 200 (upstream does the same; the body is checked against the 200
schema), and error statuses the spec leaves out of an operation but upstream returns
(`undeclared_but_allowed`). Artifact unions are validated with their discriminator.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.compat.spec_support import (
    APIS,
    KNOWN_SPEC_BUGS,
    ResponseSchemas,
    response_schemas,
    undeclared_but_allowed,
    undeclared_fields,
)

STRUCT = base64.b64encode(json.dumps({"layers": 12, "tags": ["a", "b"]}).encode()).decode()
PROPS = {
    "framework": {"metadataType": "MetadataStringValue", "string_value": "pytorch"},
    "epochs": {"metadataType": "MetadataIntValue", "int_value": "12"},
    "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": 0.93},
    "prod": {"metadataType": "MetadataBoolValue", "bool_value": True},
    "config": {"metadataType": "MetadataStructValue", "struct_value": STRUCT},
    "ui-label": {"metadataType": "MetadataStringValue", "string_value": ""},
}


@dataclass
class Driver:
    """Calls operations by operationId and checks each answer against the spec."""

    client: TestClient
    schemas: ResponseSchemas
    called: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    undeclared: set[tuple[str, int]] = field(default_factory=set)

    def __call__(
        self,
        operation_id: str,
        *ids: str,
        expect: int | tuple[int, ...] = 200,
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        op = self.schemas.ops[operation_id]
        it = iter(ids)
        url = re.sub(r"\{[^}]+\}", lambda _: next(it), op.path)
        assert next(it, None) is None, f"{operation_id}: too many ids"
        kwargs: dict[str, Any] = {"params": dict(query or {})}
        if body is not None:
            kwargs["json"] = body
        r = self.client.request(op.method.upper(), url, **kwargs)
        self.called.add(operation_id)
        where = f"{op.method.upper()} {url} ({operation_id})"
        expected = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in expected, f"{where}: expected {expect}, got {r.status_code}: {r.text}"
        data = r.json()
        self.check(operation_id, op.method, op.path, r.status_code, data, where)
        return data

    def check(self, operation_id: str, method: str, path: str, status: int, data: Any, where: str) -> None:
        api = self.schemas.api
        schema = self.schemas.declared_schema(operation_id, status)
        if schema is None:
            alias = KNOWN_SPEC_BUGS.get((api, operation_id, status))
            if alias is not None:
                schema = self.schemas.declared_schema(operation_id, int(alias))
            elif status >= 400 and status in undeclared_but_allowed(api, operation_id, method, path):
                self.undeclared.add((operation_id, status))
                schema = self.schemas.error_schema()
            else:
                self.problems.append(f"{where}: status {status} is not declared by the spec")
                return
        assert schema is not None
        for problem in self.schemas.problems(schema, data):
            self.problems.append(f"{where} -> {status}: {problem}")
        for problem in decimal_strings(data):
            self.problems.append(f"{where} -> {status}: {problem}")
        for problem in undeclared_fields(self.schemas.spec, schema, data):
            self.problems.append(f"{where} -> {status}: {problem}")
        if status >= 400:
            for problem in self.schemas.problems(self.schemas.error_schema(), data):
                self.problems.append(f"{where} -> {status}: not an Error: {problem}")


DECIMAL = re.compile(r"^[0-9]+$")
DECIMAL_FIELDS = ("id", "createTimeSinceEpoch", "lastUpdateTimeSinceEpoch")


def decimal_strings(data: Any, at: str = "") -> list[str]:
    """Ids and timestamps are strings of decimal integers (the spec says only `format: int64`)."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in DECIMAL_FIELDS and not (isinstance(value, str) and DECIMAL.match(value)):
                found.append(f"at {at}/{key}: {value!r} is not a decimal string")
            found += decimal_strings(value, f"{at}/{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += decimal_strings(value, f"{at}/{i}")
    return found


def list_ops(call: Driver, operation_id: str, *ids: str, **query: str) -> list[dict[str, Any]]:
    """Page through a list with pageSize 1, checking every page, and return all items."""
    items: list[dict[str, Any]] = []
    token = ""
    for _ in range(50):
        q = {"pageSize": "1", **query, **({"nextPageToken": token} if token else {})}
        page = call(operation_id, *ids, query=q)
        items += page["items"]
        token = page["nextPageToken"]
        if not token:
            return items
    raise AssertionError(f"{operation_id}: more than 50 pages")


def registry_scenario(call: Driver, api: str) -> dict[str, str]:
    """Models, versions, artifacts of every type, serving: every operation both specs share."""
    ids: dict[str, str] = {}

    # --- registered models
    rm = call(
        "createRegisteredModel",
        expect=201,
        body={
            "name": "fraud-detector",
            "description": "Flags odd transactions",
            "externalId": "rm-ext-1",
            "owner": "alice",
            "customProperties": PROPS,
            "readme": "# Fraud detector",
            "maturity": "Generally Available",
            "language": ["en", "fr"],
            "tasks": ["text-classification"],
            "provider": "Acme",
            "logo": "data:image/png;base64,iVBORw0KGgo=",
            "license": "apache-2.0",
            "licenseLink": "https://www.apache.org/licenses/LICENSE-2.0",
            "libraryName": "transformers",
        },
    )
    ids["rm"] = rm["id"]
    call("createRegisteredModel", expect=201, body={"name": "second-model", "state": "ARCHIVED"})
    assert len(list_ops(call, "getRegisteredModels")) == 2
    call("getRegisteredModels", query={"orderBy": "CREATE_TIME", "sortOrder": "DESC"})
    call("getRegisteredModels", query={"filterQuery": "name = 'fraud-detector' AND framework = 'pytorch'"})
    call("getRegisteredModel", ids["rm"])
    call("findRegisteredModel", query={"name": "fraud-detector"})
    call("findRegisteredModel", query={"externalId": "rm-ext-1"})
    call(
        "updateRegisteredModel",
        ids["rm"],
        body={"description": "v2", "state": "LIVE", "customProperties": {"team": PROPS["framework"]}},
    )

    # --- model versions, both ways of creating one
    mv = call(
        "createModelVersion",
        expect=201,
        body={
            "name": "v1",
            "registeredModelId": ids["rm"],
            "author": "alice",
            "description": "first",
            "externalId": "mv-ext-1",
            "customProperties": PROPS,
        },
    )
    ids["mv"] = mv["id"]
    mv2 = call("createRegisteredModelVersion", ids["rm"], expect=201, body={"name": "v2", "author": "bob"})
    ids["mv2"] = mv2["id"]
    assert len(list_ops(call, "getRegisteredModelVersions", ids["rm"])) == 2
    call("getRegisteredModelVersions", ids["rm"], query={"name": "v1"})
    list_ops(call, "getModelVersions", orderBy="LAST_UPDATE_TIME")
    call("getModelVersion", ids["mv"])
    call("findModelVersion", query={"name": "v1", "parentResourceId": ids["rm"]})
    call("findModelVersion", query={"externalId": "mv-ext-1"})
    call("updateModelVersion", ids["mv2"], body={"state": "ARCHIVED", "author": "carol"})

    # --- artifacts of every type under a version (upsert: 201 on create)
    bodies = {
        "model-artifact": {
            "uri": "s3://models/fraud/v1",
            "modelFormatName": "onnx",
            "modelFormatVersion": "1",
            "storageKey": "aws-connection",
            "storagePath": "fraud/v1",
            "serviceAccountName": "sa",
            "modelSourceKind": "kfp",
            "modelSourceClass": "pipelinerun",
            "modelSourceGroup": "ns",
            "modelSourceId": "run-1",
            "modelSourceName": "train",
            "state": "LIVE",
        },
        "doc-artifact": {"uri": "https://example.com/card.md", "state": "PENDING"},
        "dataset-artifact": {
            "uri": "s3://data/train.parquet",
            "digest": "sha256:abc",
            "sourceType": "s3",
            "source": "s3://data",
            "schema": '{"cols": 3}',
            "profile": "profile",
        },
        "metric": {"value": 0.87, "timestamp": "1700000000000", "step": 3 if api == "v1alpha3" else "3"},
        "parameter": {"value": "0.001", "parameterType": "number"},
    }
    for artifact_type, extra in bodies.items():
        art = call(
            "upsertModelVersionArtifact",
            ids["mv"],
            expect=201,
            body={
                "artifactType": artifact_type,
                "name": f"mv-{artifact_type}",
                "description": artifact_type,
                "externalId": f"mv-{artifact_type}-ext",
                "customProperties": {"k": PROPS["epochs"]},
                **extra,
            },
        )
        ids[f"mv-{artifact_type}"] = art["id"]
    assert len(list_ops(call, "getModelVersionArtifacts", ids["mv"])) == 5
    call("getModelVersionArtifacts", ids["mv"], query={"artifactType": "model-artifact"})

    # --- standalone artifacts through /artifacts, each type
    for artifact_type, extra in bodies.items():
        art = call(
            "createArtifact",
            expect=201,
            body={"artifactType": artifact_type, "name": f"loose-{artifact_type}", **extra},
        )
        ids[artifact_type] = art["id"]
        call("getArtifact", art["id"])
        update = {k: v for k, v in extra.items() if k not in ("step",)}
        call(
            "updateArtifact",
            art["id"],
            body={"artifactType": artifact_type, "description": "updated", **update},
        )
    # Linking an existing artifact to a version by id: 200, not a create.
    call(
        "upsertModelVersionArtifact",
        ids["mv2"],
        expect=200,
        body={"artifactType": "doc-artifact", "id": ids["doc-artifact"], "description": "linked"},
    )
    list_ops(call, "getArtifacts")
    call("getArtifacts", query={"artifactType": "dataset-artifact", "orderBy": "ID", "sortOrder": "DESC"})
    call("findArtifact", query={"externalId": "mv-doc-artifact-ext"})
    call("findArtifact", query={"name": "mv-metric", "parentResourceId": ids["mv"]})

    # --- the model-artifact view
    ma = call(
        "createModelArtifact",
        expect=201,
        body={
            "name": "standalone-weights",
            "uri": "s3://m/w",
            "externalId": "ma-ext",
            "modelFormatName": "pt",
        },
    )
    ids["ma"] = ma["id"]
    list_ops(call, "getModelArtifacts")
    call("getModelArtifact", ids["ma"])
    call("findModelArtifact", query={"externalId": "ma-ext"})
    call("findModelArtifact", query={"name": "mv-model-artifact", "parentResourceId": ids["mv"]})
    call("updateModelArtifact", ids["ma"], body={"state": "LIVE", "modelFormatVersion": "2"})

    # --- serving
    se = call(
        "createServingEnvironment",
        expect=201,
        body={"name": "team-a", "externalId": "se-ext", "customProperties": PROPS},
    )
    ids["se"] = se["id"]
    list_ops(call, "getServingEnvironments")
    call("getServingEnvironment", ids["se"])
    call("findServingEnvironment", query={"name": "team-a"})
    call("updateServingEnvironment", ids["se"], body={"description": "namespace team-a"})

    isvc_status = 201  # also in v1alpha3, whose spec says 200: see KNOWN_SPEC_BUGS
    isvc = call(
        "createInferenceService",
        expect=isvc_status,
        body={
            "name": "fraud-svc",
            "registeredModelId": ids["rm"],
            "servingEnvironmentId": ids["se"],
            "modelVersionId": ids["mv"],
            "runtime": "kserve",
            "externalId": "is-ext",
            "customProperties": PROPS,
        },
    )
    ids["isvc"] = isvc["id"]
    latest = call(
        "createEnvironmentInferenceService",
        ids["se"],
        expect=201,
        body={"name": "fraud-latest", "registeredModelId": ids["rm"], "desiredState": "UNDEPLOYED"},
    )
    ids["isvc-latest"] = latest["id"]
    list_ops(call, "getInferenceServices")
    list_ops(call, "getEnvironmentInferenceServices", ids["se"])
    call("getInferenceService", ids["isvc"])
    call("findInferenceService", query={"name": "fraud-svc", "parentResourceId": ids["se"]})
    call("findInferenceService", query={"externalId": "is-ext"})
    call("updateInferenceService", ids["isvc"], body={"desiredState": "UNDEPLOYED", "runtime": "vllm"})
    call("getInferenceServiceModel", ids["isvc"])
    assert call("getInferenceServiceVersion", ids["isvc"])["id"] == ids["mv"]
    call("getInferenceServiceVersion", ids["isvc-latest"])
    call(
        "createInferenceServiceServe",
        ids["isvc"],
        expect=201,
        body={"modelVersionId": ids["mv"], "lastKnownState": "RUNNING", "name": "serve-1"},
    )
    list_ops(call, "getInferenceServiceServes", ids["isvc"])
    return ids


def experiment_scenario(call: Driver, ids: dict[str, str]) -> None:
    """Experiments, runs, their artifacts and metric history (v1alpha3 only)."""
    exp = call(
        "createExperiment",
        expect=201,
        body={"name": "tuning", "owner": "alice", "externalId": "exp-ext", "customProperties": PROPS},
    )
    list_ops(call, "getExperiments")
    call("getExperiment", exp["id"])
    call("findExperiment", query={"name": "tuning"})
    call("updateExperiment", exp["id"], body={"description": "lr sweep", "state": "LIVE"})

    run = call(
        "createExperimentRun",
        expect=201,
        body={
            "name": "run-1",
            "experimentId": exp["id"],
            "status": "RUNNING",
            "startTimeSinceEpoch": "1700000000000",
            "externalId": "run-ext",
        },
    )
    run2 = call("createExperimentExperimentRun", exp["id"], expect=201, body={"name": "run-2"})
    list_ops(call, "getExperimentRuns")
    list_ops(call, "getExperimentExperimentRuns", exp["id"])
    call("getExperimentRun", run["id"])
    call("findExperimentRun", query={"name": "run-1", "parentResourceId": exp["id"]})
    call(
        "updateExperimentRun",
        run2["id"],
        body={"status": "FINISHED", "endTimeSinceEpoch": "1700000100000"},
    )
    # Logging a metric again under the same name updates it and appends to its history.
    for step, value in ((1, 0.5), (2, 0.7), (3, 0.9)):
        call(
            "upsertExperimentRunArtifact",
            run["id"],
            expect=(200, 201),
            body={
                "artifactType": "metric",
                "name": "loss",
                "value": value,
                "step": step,
                "timestamp": str(1700000000000 + step),
            },
        )
    call(
        "upsertExperimentRunArtifact",
        run["id"],
        expect=201,
        body={"artifactType": "parameter", "name": "lr", "value": "0.01", "parameterType": "number"},
    )
    call(
        "upsertExperimentRunArtifact",
        run["id"],
        expect=201,
        body={"artifactType": "dataset-artifact", "name": "train-set", "uri": "s3://d/train"},
    )
    list_ops(call, "getExperimentRunArtifacts", run["id"])
    call("getExperimentRunArtifacts", run["id"], query={"artifactType": "metric"})
    history = list_ops(call, "getExperimentRunMetricHistory", run["id"])
    assert len(history) >= 3, history
    call("getExperimentRunMetricHistory", run["id"], query={"name": "loss", "stepIds": "1,3"})
    list_ops(call, "getExperimentRunsMetricHistory")
    call("getExperimentRunsMetricHistory", query={"name": "loss", "stepIds": "2"})


def error_scenario(call: Driver, ids: dict[str, str], api: str) -> None:
    """The error answers clients meet most; their bodies must be `Error`s."""
    call("getRegisteredModel", "999999", expect=404)
    call("getModelVersion", ids["rm"], expect=404)  # an id of another kind
    call("getArtifact", "999999", expect=404)
    call("getInferenceServiceModel", "999999", expect=404)
    call("findRegisteredModel", query={"name": "no-such-model"}, expect=404)
    call("findModelVersion", query={"name": "nope", "parentResourceId": ids["rm"]}, expect=404)
    call("createRegisteredModel", body={"name": "fraud-detector"}, expect=409)
    call("createRegisteredModel", body={"description": "no name"}, expect=422)
    call("createModelVersion", body={"name": "orphan"}, expect=422)
    call("createRegisteredModel", body={"name": "x", "color": "red"}, expect=400)
    call("updateRegisteredModel", ids["rm"], body={"name": "renamed"}, expect=400)
    call("createModelVersion", body={"name": "v9", "registeredModelId": "999999"}, expect=404)
    call("getRegisteredModels", query={"filterQuery": "name = = 'x'"}, expect=400)
    call("getRegisteredModels", query={"pageSize": "abc"}, expect=400)
    call("getModelVersions", query={"nextPageToken": "not-a-token"}, expect=400)
    call("findServingEnvironment", expect=400)
    call(
        "updateArtifact",
        ids["doc-artifact"],
        body={"artifactType": "model-artifact", "uri": "s3://x"},
        expect=400,
    )
    call(
        "createInferenceService",
        body={"name": "dup", "registeredModelId": ids["rm"], "servingEnvironmentId": "999999"},
        expect=404,
    )
    if api == "v1alpha3":
        call("getExperimentRun", "999999", expect=404)
        call("createExperiment", body={"name": "tuning"}, expect=409)


@pytest.mark.parametrize("api", APIS)
def test_every_operation_answers_per_spec(api: str, client: TestClient) -> None:
    schemas = response_schemas(api)
    call = Driver(client, schemas)
    ids = registry_scenario(call, api)
    if api == "v1alpha3":
        experiment_scenario(call, ids)
    error_scenario(call, ids, api)

    assert not call.problems, "responses that do not match the spec:\n" + "\n".join(call.problems)
    missing = sorted(set(schemas.ops) - call.called)
    assert not missing, f"operations of the {api} spec the scenario never called: {missing}"
    if call.undeclared:
        print(
            f"\n{api}: error statuses the spec does not declare but upstream returns: {sorted(call.undeclared)}"
        )


@pytest.mark.parametrize("api", APIS)
def test_declared_schemas_convert_to_json_schema(api: str) -> None:
    """Every declared response schema converts to a valid draft-4 schema (checked on build)."""
    schemas = response_schemas(api)
    for op in schemas.ops.values():
        for status in op.responses:
            if status.isdigit():
                schema = schemas.declared_schema(op.operation_id, int(status))
                if schema:
                    schemas.validator(schema)
