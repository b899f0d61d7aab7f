"""Serving: environments, inference services, what they serve, and serve records."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import APIS, Json, err
from tests.conftest import V1ALPHA3


@pytest.fixture
def world(client: TestClient) -> dict[str, Json]:
    m = f.model(client, "m")
    return {
        "env": f.environment(client, "ns"),
        "model": m,
        "v1": f.version(client, m["id"], "v1"),
        "v2": f.version(client, m["id"], "v2"),
    }


@pytest.mark.parametrize("base", APIS)
def test_services_under_an_environment(client: TestClient, base: str) -> None:
    env = f.environment(client, "ns", base=base)
    other_env = f.environment(client, "other", base=base)
    m = f.model(client, base=base)
    path = f"/serving_environments/{env['id']}/inference_services"
    nested = f.post(client, path, {"name": "svc", "registeredModelId": m["id"]}, base=base)
    assert nested["servingEnvironmentId"] == env["id"]
    assert nested["desiredState"] == "DEPLOYED"
    assert "modelVersionId" not in nested
    elsewhere = f.inference_service(client, other_env["id"], m["id"], name="svc", base=base)

    assert f.get(client, path, base=base)["items"] == [nested]
    assert f.get(client, "/inference_services", base=base)["items"] == [nested, elsewhere]
    assert (
        f.get(client, "/inference_service", base=base, name="svc", parentResourceId=other_env["id"])
        == elsewhere
    )
    err(
        client.post(f"{base}{path}", json={"name": "svc", "registeredModelId": m["id"]}), 409, code="Conflict"
    )
    r = client.post(
        f"{base}{path}", json={"registeredModelId": m["id"], "servingEnvironmentId": other_env["id"]}
    )
    err(r, 400, "does not match")


def test_service_references_are_checked(client: TestClient, world: dict[str, Json]) -> None:
    env, m, v1 = world["env"], world["model"], world["v1"]
    other = f.model(client, "other")
    other_v = f.version(client, other["id"], "x")
    base: dict[str, Any] = {"servingEnvironmentId": env["id"], "registeredModelId": m["id"]}
    path = f"{V1ALPHA3}/inference_services"

    err(client.post(path, json={**base, "registeredModelId": "999999"}), 404, code="Not Found")
    err(client.post(path, json={**base, "registeredModelId": v1["id"]}), 404, code="Not Found")
    err(client.post(path, json={**base, "servingEnvironmentId": m["id"]}), 404, code="Not Found")
    err(client.post(path, json={**base, "modelVersionId": "999999"}), 404, code="Not Found")
    err(client.post(path, json={**base, "modelVersionId": other_v["id"]}), 400, other["id"])
    err(client.post(path, json={"servingEnvironmentId": env["id"]}), 422, "registeredModelId", "Bad Request")
    err(client.post(path, json={"registeredModelId": m["id"]}), 422, "servingEnvironmentId", "Bad Request")
    err(client.post(path, json={**base, "desiredState": "RUNNING"}), 400)
    assert f.get(client, "/inference_services")["items"] == []

    svc = f.inference_service(client, env["id"], m["id"], v1["id"], desiredState="UNDEPLOYED")
    r = client.patch(f"{path}/{svc['id']}", json={"modelVersionId": other_v["id"]})
    err(r, 400, other["id"])
    assert (
        f.patch(client, f"/inference_services/{svc['id']}", {"modelVersionId": world["v2"]["id"]})[
            "modelVersionId"
        ]
        == world["v2"]["id"]
    )


@pytest.mark.parametrize("base", APIS)
def test_model_and_version_of_a_service(client: TestClient, base: str) -> None:
    env = f.environment(client, base=base)
    m = f.model(client, base=base)
    floating = f.inference_service(client, env["id"], m["id"], name="floating", base=base)
    err(client.get(f"{base}/inference_services/{floating['id']}/version"), 404, code="Not Found")
    assert f.get(client, f"/inference_services/{floating['id']}/model", base=base) == f.get(
        client, f"/registered_models/{m['id']}", base=base
    )

    v1 = f.version(client, m["id"], "v1", base=base)
    assert f.get(client, f"/inference_services/{floating['id']}/version", base=base) == v1
    f.tick()
    v2 = f.version(client, m["id"], "v2", base=base)
    pinned = f.inference_service(client, env["id"], m["id"], v1["id"], name="pinned", base=base)
    # Without a modelVersionId a service serves its model's newest version.
    assert f.get(client, f"/inference_services/{floating['id']}/version", base=base) == v2
    assert f.get(client, f"/inference_services/{pinned['id']}/version", base=base) == v1
    f.tick()
    v3 = f.version(client, m["id"], "v0-but-newest", base=base)
    assert f.get(client, f"/inference_services/{floating['id']}/version", base=base) == v3

    for sub in ("model", "version"):
        err(client.get(f"{base}/inference_services/999999/{sub}"), 404, code="Not Found")
        err(client.get(f"{base}/inference_services/{m['id']}/{sub}"), 404, code="Not Found")
        err(client.get(f"{base}/inference_services/abc/{sub}"), 400, code="Bad Request")


@pytest.mark.parametrize("base", APIS)
def test_serves(client: TestClient, base: str) -> None:
    env = f.environment(client, base=base)
    m = f.model(client, base=base)
    v = f.version(client, m["id"], base=base)
    svc = f.inference_service(client, env["id"], m["id"], v["id"], base=base)
    path = f"/inference_services/{svc['id']}/serves"
    f.tick()

    serve = f.post(client, path, {"modelVersionId": v["id"], "name": "deploy-1"}, base=base)
    assert serve["lastKnownState"] == "UNKNOWN"
    assert serve["modelVersionId"] == v["id"]
    unnamed = f.post(client, path, {"modelVersionId": v["id"], "lastKnownState": "RUNNING"}, base=base)
    assert unnamed["name"] and unnamed["lastKnownState"] == "RUNNING"
    assert f.get(client, path, base=base)["items"] == [serve, unnamed]
    assert int(
        f.get(client, f"/inference_services/{svc['id']}", base=base)["lastUpdateTimeSinceEpoch"]
    ) > int(svc["lastUpdateTimeSinceEpoch"])
    assert int(
        f.get(client, f"/serving_environments/{env['id']}", base=base)["lastUpdateTimeSinceEpoch"]
    ) > int(env["lastUpdateTimeSinceEpoch"])

    err(client.post(f"{base}{path}", json={"modelVersionId": "999999"}), 404, code="Not Found")
    err(client.post(f"{base}{path}", json={}), 422, "modelVersionId", "Bad Request")
    err(client.post(f"{base}{path}", json={"modelVersionId": v["id"], "lastKnownState": "DONE"}), 400)
    err(client.post(f"{base}/inference_services/999999/serves", json={"modelVersionId": v["id"]}), 404)
    err(client.get(f"{base}/inference_services/999999/serves"), 404)
    assert f.get(client, path, base=base)["size"] == 2


@pytest.mark.parametrize(
    ("gate", "refused"),
    [
        (f.string_prop("true"), True),
        (f.string_prop("yes"), True),
        ({"metadataType": "MetadataBoolValue", "bool_value": True}, True),
        (f.string_prop("false"), False),
        (f.string_prop(""), False),
        ({"metadataType": "MetadataBoolValue", "bool_value": False}, False),
    ],
)
def test_gated_hugging_face_models_cannot_be_served(
    client: TestClient, world: dict[str, Json], gate: Json, refused: bool
) -> None:
    v = f.version(client, world["model"]["id"], "hf", customProperties={"hf_gated": gate})
    svc = f.inference_service(client, world["env"]["id"], world["model"]["id"], v["id"])
    r = client.post(f"{V1ALPHA3}/inference_services/{svc['id']}/serves", json={"modelVersionId": v["id"]})
    if refused:
        err(r, 400, "gated", "Bad Request")
        assert f.get(client, f"/inference_services/{svc['id']}/serves")["items"] == []
    else:
        assert r.status_code == 201, r.text


def test_serving_environment_lists_and_find(client: TestClient) -> None:
    a = f.environment(client, "a", externalId="ns-a")
    b = f.environment(client, "b")
    assert f.get(client, "/serving_environments")["items"] == [a, b]
    assert f.get(client, "/serving_environment", externalId="ns-a") == a
    assert f.get(client, "/serving_environments", filterQuery="name = 'b'")["items"] == [b]
