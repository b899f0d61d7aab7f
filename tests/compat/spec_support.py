"""The reference OpenAPI specs, made usable by test tools: loading, JSON Schema, seed data.

The specs live in ../shared/reference (see `SHARED` in tests/conftest.py), which some
machines do not have; `load_spec` skips the calling test with the reason when it is
absent.

Two transformations are applied to what the tools see, both faithful to OpenAPI 3.0:

* **Discriminators made explicit.** `Artifact`, `ArtifactCreate` and `ArtifactUpdate` are
  `oneOf` unions told apart only by their `discriminator` (`artifactType`). Their members
  are open objects whose fields are all optional, so in plain JSON Schema (which has no
  `discriminator`) any ModelArtifact also matches DocArtifact, DataSet... and `oneOf`
  fails as "valid under more than one". Upstream's responses would fail the same way:
  it is a limitation of the spec, not of either server. OpenAPI says the discriminator
  value selects the member, so each member gets `artifactType: {enum: [<its value>]}`
  (required, as OpenAPI requires the discriminator property to be).
* **OpenAPI 3.0 schema objects to JSON Schema** (for jsonschema): `nullable` becomes a
  `null` type; `discriminator`, `readOnly`, `writeOnly`, `example`, `xml`,
  `externalDocs` and `deprecated` are dropped (annotations, or handled above).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from jsonschema import Draft4Validator

from tests.conftest import SHARED, V1, V1ALPHA3

REFERENCE = SHARED / "reference"
SPEC_FILES = {
    "v1alpha3": REFERENCE / "kubeflow-model-registry-v1alpha3.openapi.yaml",
    "v1": REFERENCE / "kubeflow-model-registry-v1.openapi.yaml",
}
PREFIXES = {"v1alpha3": V1ALPHA3, "v1": V1}
APIS = tuple(SPEC_FILES)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.cache
def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    assert isinstance(data, dict), f"{path} is not an OpenAPI document"
    return data


def load_spec(api: str) -> dict[str, Any]:
    """The reference spec of one API version, with explicit discriminators; skips when absent."""
    path = SPEC_FILES[api]
    if not path.is_file():
        pytest.skip(
            f"reference spec {path} is absent: the shared reference directory ({SHARED}) "
            "is not on this machine, so the conformance tests cannot run here"
        )
    return explicit_discriminators(_read(path))


# ------------------------------------------------------------------ transformations


def explicit_discriminators(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of `spec` whose discriminated unions select their member by the discriminator value."""
    spec = copy.deepcopy(spec)
    for schema in spec.get("components", {}).get("schemas", {}).values():
        disc = schema.get("discriminator") if isinstance(schema, dict) else None
        if not disc or "oneOf" not in schema or not disc.get("mapping"):
            continue
        prop = disc["propertyName"]
        schema["oneOf"] = [
            {
                "allOf": [
                    {"$ref": target},
                    {
                        "type": "object",
                        "required": [prop],
                        "properties": {prop: {"type": "string", "enum": [value]}},
                    },
                ]
            }
            for value, target in disc["mapping"].items()
        ]
        del schema["discriminator"]
    return spec


_DROPPED = {"discriminator", "readOnly", "writeOnly", "example", "xml", "externalDocs", "deprecated"}
_SUBSCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
_SUBSCHEMA = ("items", "not", "additionalProperties")


def to_json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema (draft 4, which 3.0's dialect is built on)."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [to_json_schema(sub) for sub in value]
        elif key in _SUBSCHEMA:
            out[key] = to_json_schema(value)
        elif key != "nullable":
            out[key] = value
    if node.get("nullable"):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


# ------------------------------------------------------------------ operations


@dataclass(frozen=True)
class Operation:
    api: str
    operation_id: str
    method: str
    path: str  # the spec's template, with its prefix
    responses: dict[str, Any]  # status -> response object, refs resolved one level

    @property
    def label(self) -> str:
        return f"{self.api} {self.method.upper()} {self.path}"


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def operations(spec: dict[str, Any], api: str) -> Iterator[Operation]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            responses = {str(k): _resolve(spec, v) for k, v in op.get("responses", {}).items()}
            yield Operation(api, op["operationId"], method, path, responses)


@dataclass
class ResponseSchemas:
    """Validators for the response bodies one spec declares, by operationId and status."""

    api: str
    spec: dict[str, Any]
    ops: dict[str, Operation] = field(init=False)
    _validators: dict[str, Draft4Validator] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.ops = {op.operation_id: op for op in operations(self.spec, self.api)}
        self.components = {
            "schemas": {k: to_json_schema(v) for k, v in self.spec["components"]["schemas"].items()}
        }

    def validator(self, schema: dict[str, Any]) -> Draft4Validator:
        key = repr(schema)
        if key not in self._validators:
            root = {**to_json_schema(schema), "components": self.components}
            Draft4Validator.check_schema(root)
            self._validators[key] = Draft4Validator(root)
        return self._validators[key]

    def declared_schema(self, operation_id: str, status: int) -> dict[str, Any] | None:
        """The JSON body schema declared for this status (or `default`), None when undeclared."""
        responses = self.ops[operation_id].responses
        response = (
            responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        )
        if response is None:
            return None
        content = response.get("content", {}).get("application/json")
        return content.get("schema", {}) if content else {}

    def error_schema(self) -> dict[str, Any]:
        return {"$ref": "#/components/schemas/Error"}

    def problems(self, schema: dict[str, Any], body: Any) -> list[str]:
        errors = sorted(self.validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
        return [f"at /{'/'.join(map(str, e.absolute_path))}: {e.message}"[:600] for e in errors]


# 2xx answers the spec gets wrong: upstream answers createInferenceService with 201
# (as every other create); the v1alpha3 spec says 200. The body is an InferenceService.
KNOWN_SPEC_BUGS = {("v1alpha3", "createInferenceService", 201): "200"}


def undeclared_but_allowed(api: str, operation_id: str, method: str, path: str) -> set[int]:
    """Statuses upstream really returns that the spec leaves out of this operation.

    The spec lists only some of the error statuses per operation. Upstream answers 400
    for malformed params, bodies and filterQuery on every operation; 404 for an unknown
    id in the path, a find without a match, or a POST body naming a parent or referenced
    entity that does not exist; 409 for a unique name or externalId clash on POST and
    PATCH; 422 for a missing required field on POST. Their bodies are `Error`s, which
    the tests check whatever the status.
    """
    method = method.upper()
    last = path.rstrip("/").rsplit("/", 1)[-1]
    extra = {400}
    if "{" in path or last in FIND_KINDS or method == "POST":
        extra.add(404)
    if method in ("POST", "PATCH"):
        extra.add(409)
    if method == "POST":
        extra.add(422)
    extra |= {status for (a, op, status) in KNOWN_SPEC_BUGS if (a, op) == (api, operation_id)}
    return extra


def declared_properties(spec: dict[str, Any], schema: Any) -> set[str]:
    """Every property name a (request) schema declares, through refs and compositions."""
    names: set[str] = set()
    seen: set[int] = set()

    def walk(node: Any) -> None:
        node = _resolve(spec, node)
        if not isinstance(node, dict) or id(node) in seen:
            return
        seen.add(id(node))
        names.update(node.get("properties", {}))
        for key in ("allOf", "oneOf", "anyOf"):
            for sub in node.get(key, []):
                walk(sub)

    walk(schema)
    return names


def property_schema(spec: dict[str, Any], schema: Any, name: str) -> Any:
    """The schema a (composed) object schema declares for one property, or None."""
    node = _resolve(spec, schema)
    if not isinstance(node, dict):
        return None
    if name in node.get("properties", {}):
        return node["properties"][name]
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in node.get(key, []):
            found = property_schema(spec, sub, name)
            if found is not None:
                return found
    return None


def undeclared_fields(spec: dict[str, Any], schema: Any, data: Any, at: str = "") -> list[str]:
    """Fields of a response entity (or of a list's items) that its schema does not declare.

    The spec's object schemas are open, so JSON Schema lets anything extra through;
    upstream's responses carry only declared fields, and clients with generated models
    may reject others.
    """
    if not isinstance(data, dict):
        return []
    found = [
        f"at {at}/{key}: field not declared by the spec"
        for key in sorted(set(data) - declared_properties(spec, schema))
    ]
    items = property_schema(spec, schema, "items")
    if isinstance(data.get("items"), list) and isinstance(items, dict) and "items" in items:
        for i, item in enumerate(data["items"]):
            found += undeclared_fields(spec, items["items"], item, f"{at}/items/{i}")
    return found


def request_body_properties(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    body = _resolve(spec, operation.get("requestBody", {}))
    schema = body.get("content", {}).get("application/json", {}).get("schema") if body else None
    return declared_properties(spec, schema) if schema else set()


@functools.cache
def response_schemas(api: str) -> ResponseSchemas:
    return ResponseSchemas(api, load_spec(api))


# ------------------------------------------------------------------ seed data


@dataclass
class Seed:
    """One of each entity, so operations that take an id can hit a real row."""

    ids: dict[str, str]  # kind -> id
    external_ids: dict[str, str]  # kind -> externalId
    artifacts: dict[str, str]  # artifactType -> id of one artifact of that type


def _post(client: TestClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(url, json=body)
    assert r.status_code in (200, 201), f"seeding POST {url}: {r.status_code} {r.text}"
    data = r.json()
    assert isinstance(data, dict)
    return data


def seed(client: TestClient, tag: str = "seed") -> Seed:
    """Create a model, version, artifacts, environment, service, serve (and experiment data in v1alpha3)."""
    a = V1ALPHA3
    ids: dict[str, str] = {}
    ext: dict[str, str] = {}

    def made(kind: str, body: dict[str, Any]) -> None:
        ids[kind] = str(body["id"])
        if "externalId" in body:
            ext[kind] = body["externalId"]

    made(
        "registered_model",
        _post(client, f"{a}/registered_models", {"name": f"{tag}-model", "externalId": f"{tag}-rm"}),
    )
    rm = ids["registered_model"]
    made(
        "model_version",
        _post(
            client,
            f"{a}/model_versions",
            {"name": f"{tag}-v1", "registeredModelId": rm, "externalId": f"{tag}-mv"},
        ),
    )
    mv = ids["model_version"]
    made(
        "model_artifact",
        _post(
            client,
            f"{a}/model_versions/{mv}/artifacts",
            {
                "artifactType": "model-artifact",
                "name": f"{tag}-weights",
                "uri": "s3://bucket/weights",
                "externalId": f"{tag}-ma",
            },
        ),
    )
    artifacts = {"model-artifact": ids["model_artifact"]}
    for artifact_type, body in (
        ("doc-artifact", {"uri": "s3://b/readme"}),
        ("dataset-artifact", {"uri": "s3://b/data", "digest": "sha256:0", "sourceType": "s3"}),
        ("metric", {"value": 0.5, "timestamp": "1700000000000", "step": 1}),
        ("parameter", {"value": "0.01", "parameterType": "number"}),
    ):
        made(
            "artifact",
            _post(
                client,
                f"{a}/model_versions/{mv}/artifacts",
                {"artifactType": artifact_type, "name": f"{tag}-{artifact_type}", **body},
            ),
        )
        artifacts[artifact_type] = ids["artifact"]
    ext["artifact"] = ext["model_artifact"]
    made(
        "serving_environment",
        _post(client, f"{a}/serving_environments", {"name": f"{tag}-env", "externalId": f"{tag}-se"}),
    )
    se = ids["serving_environment"]
    made(
        "inference_service",
        _post(
            client,
            f"{a}/inference_services",
            {
                "name": f"{tag}-isvc",
                "registeredModelId": rm,
                "modelVersionId": mv,
                "servingEnvironmentId": se,
                "externalId": f"{tag}-is",
            },
        ),
    )
    isvc = ids["inference_service"]
    made("serve_model", _post(client, f"{a}/inference_services/{isvc}/serves", {"modelVersionId": mv}))
    made("experiment", _post(client, f"{a}/experiments", {"name": f"{tag}-exp", "externalId": f"{tag}-ex"}))
    made(
        "experiment_run",
        _post(
            client,
            f"{a}/experiment_runs",
            {"name": f"{tag}-run", "experimentId": ids["experiment"], "externalId": f"{tag}-er"},
        ),
    )
    _post(
        client,
        f"{a}/experiment_runs/{ids['experiment_run']}/artifacts",
        {"artifactType": "metric", "name": "accuracy", "value": 0.9, "step": 1},
    )
    return Seed(ids, ext, artifacts)


# Path parameter names, both spellings, -> the kind of entity they name.
PATH_PARAM_KINDS = {
    "id": "artifact",
    "registeredmodelId": "registered_model",
    "registered_model_id": "registered_model",
    "modelversionId": "model_version",
    "model_version_id": "model_version",
    "modelartifactId": "model_artifact",
    "model_artifact_id": "model_artifact",
    "servingenvironmentId": "serving_environment",
    "serving_environment_id": "serving_environment",
    "inferenceserviceId": "inference_service",
    "inference_service_id": "inference_service",
    "experimentId": "experiment",
    "experimentrunId": "experiment_run",
}
# Body fields that reference another entity -> its kind.
BODY_REF_KINDS = {
    "registeredModelId": "registered_model",
    "modelVersionId": "model_version",
    "servingEnvironmentId": "serving_environment",
    "experimentId": "experiment",
    "experimentRunId": "experiment_run",
}
# Find endpoints (last path segment) -> the kind they find.
FIND_KINDS = {
    "artifact": "artifact",
    "model_artifact": "model_artifact",
    "model_version": "model_version",
    "registered_model": "registered_model",
    "serving_environment": "serving_environment",
    "inference_service": "inference_service",
    "experiment": "experiment",
    "experiment_run": "experiment_run",
}
