"""Small helpers for the HTTP tests: make entities, check answers, wait for the clock.

Every helper takes the test client and, where it matters, the API prefix (`V1ALPHA3` by
default, since it has every endpoint). They assert the status they expect, so a test
that builds a fixture fails at the line that went wrong.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import V1, V1ALPHA3

APIS = (V1, V1ALPHA3)
Json = dict[str, Any]


def ok(r: Response, status: int = 200) -> Any:
    """The JSON body of `r`, after checking its status."""
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text}"
    return r.json() if r.content else None


def err(r: Response, status: int, contains: str | None = None, code: str | None = None) -> Json:
    """Check an error answer: its status, the `{code, message}` body, and the message text."""
    assert r.status_code == status, f"{r.request.method} {r.request.url} -> {r.status_code} {r.text}"
    body = r.json()
    assert set(body) == {"code", "message"}, body
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code, body
    if contains is not None:
        assert contains in body["message"], body
    return body


def post(c: TestClient, path: str, body: Any, status: int = 201, base: str = V1ALPHA3) -> Any:
    return ok(c.post(base + path, json=body), status)


def get(c: TestClient, path: str, status: int = 200, base: str = V1ALPHA3, **params: Any) -> Any:
    return ok(c.get(base + path, params=params or None), status)


def patch(c: TestClient, path: str, body: Any, status: int = 200, base: str = V1ALPHA3) -> Any:
    return ok(c.patch(base + path, json=body), status)


def delete(c: TestClient, path: str, status: int = 204, base: str = V1ALPHA3) -> None:
    r = c.delete(base + path)
    assert r.status_code == status, f"DELETE {path} -> {r.status_code} {r.text}"


def gone(c: TestClient, path: str, base: str = V1ALPHA3) -> None:
    err(c.get(base + path), 404, code="Not Found")


def model(c: TestClient, name: str = "model", base: str = V1ALPHA3, **fields: Any) -> Json:
    return post(c, "/registered_models", {"name": name, **fields}, base=base)


def version(c: TestClient, model_id: str, name: str = "v1", base: str = V1ALPHA3, **fields: Any) -> Json:
    return post(c, "/model_versions", {"name": name, "registeredModelId": model_id, **fields}, base=base)


def artifact(
    c: TestClient,
    version_id: str,
    name: str = "weights",
    artifact_type: str = "model-artifact",
    base: str = V1ALPHA3,
    status: int = 201,
    **fields: Any,
) -> Json:
    """An artifact under a model version, through the version's upsert endpoint."""
    body = {"artifactType": artifact_type, "name": name, **fields}
    if artifact_type in ("model-artifact", "doc-artifact", "dataset-artifact"):
        body.setdefault("uri", f"s3://bucket/{name}")
    return post(c, f"/model_versions/{version_id}/artifacts", body, status, base=base)


def environment(c: TestClient, name: str = "env", base: str = V1ALPHA3, **fields: Any) -> Json:
    return post(c, "/serving_environments", {"name": name, **fields}, base=base)


def inference_service(
    c: TestClient,
    env_id: str,
    model_id: str,
    version_id: str | None = None,
    name: str = "isvc",
    base: str = V1ALPHA3,
    **fields: Any,
) -> Json:
    body: Json = {"name": name, "servingEnvironmentId": env_id, "registeredModelId": model_id, **fields}
    if version_id is not None:
        body["modelVersionId"] = version_id
    return post(c, "/inference_services", body, base=base)


def experiment(c: TestClient, name: str = "exp", **fields: Any) -> Json:
    return post(c, "/experiments", {"name": name, **fields})


def run(c: TestClient, experiment_id: str, name: str = "run", **fields: Any) -> Json:
    return post(c, "/experiment_runs", {"name": name, "experimentId": experiment_id, **fields})


def b64json(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def all_property_kinds() -> Json:
    """One custom property of each of the six MetadataValue kinds."""
    return {
        "text": {"metadataType": "MetadataStringValue", "string_value": "héllo, wörld ✓"},
        "label": {"metadataType": "MetadataStringValue", "string_value": ""},
        "count": {"metadataType": "MetadataIntValue", "int_value": "-123456789"},
        "zero": {"metadataType": "MetadataIntValue", "int_value": "0"},
        "ratio": {"metadataType": "MetadataDoubleValue", "double_value": 0.125},
        "flag": {"metadataType": "MetadataBoolValue", "bool_value": False},
        "struct": {
            "metadataType": "MetadataStructValue",
            "struct_value": b64json({"layers": [1, 2], "name": "x"}),
        },
        "proto": {
            "metadataType": "MetadataProtoValue",
            "type": "type.googleapis.com/example.Thing",
            "proto_value": base64.b64encode(b"\x08\x96\x01").decode(),
        },
    }


def string_prop(value: str) -> Json:
    return {"metadataType": "MetadataStringValue", "string_value": value}


def tick() -> None:
    """Wait until the millisecond clock has moved, so the next write gets a later timestamp."""
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 <= start + 1:
        time.sleep(0.0005)


def ids(items: list[Json]) -> list[str]:
    return [i["id"] for i in items]
