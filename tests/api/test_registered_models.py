"""Registered models: their catalog fields, and their versions listed and created under them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import APIS, err
from tests.conftest import V1ALPHA3

CATALOG_FIELDS = {
    "owner": "team-a",
    "readme": "# Model\n\nlong text " + "x" * 5000,
    "maturity": "Generally Available",
    "language": ["en", "de"],
    "tasks": ["text-generation"],
    "provider": "ACME",
    "logo": "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
    "license": "apache-2.0",
    "licenseLink": "https://www.apache.org/licenses/LICENSE-2.0",
    "libraryName": "transformers",
}


@pytest.mark.parametrize("base", APIS)
def test_catalog_fields_round_trip_and_patch(client: TestClient, base: str) -> None:
    m = f.model(client, "granite", base=base, **CATALOG_FIELDS)
    for k, v in CATALOG_FIELDS.items():
        assert m[k] == v, k
    assert f.get(client, f"/registered_models/{m['id']}", base=base) == m

    p = f.patch(client, f"/registered_models/{m['id']}", {"language": [], "tasks": ["a", "b"]}, base=base)
    assert p["language"] == []
    assert p["tasks"] == ["a", "b"]
    assert p["readme"] == CATALOG_FIELDS["readme"]


@pytest.mark.parametrize("body", [{"state": "DELETED"}, {"language": "en"}, {"language": [1]}, {"owner": 5}])
def test_invalid_field_values_are_400(client: TestClient, body: dict[str, object]) -> None:
    err(client.post(f"{V1ALPHA3}/registered_models", json={"name": "m", **body}), 400, code="Bad Request")
    m = f.model(client)
    err(client.patch(f"{V1ALPHA3}/registered_models/{m['id']}", json=body), 400, code="Bad Request")
    assert f.get(client, f"/registered_models/{m['id']}") == m
    assert f.get(client, "/registered_models")["size"] == 1


@pytest.mark.parametrize("base", APIS)
def test_versions_under_a_model(client: TestClient, base: str) -> None:
    a = f.model(client, "a", base=base)
    b = f.model(client, "b", base=base)
    nested = f.post(
        client, f"/registered_models/{a['id']}/versions", {"name": "v1", "author": "x"}, base=base
    )
    assert nested["registeredModelId"] == a["id"]
    # The nested POST takes the full ModelVersion, so it may repeat its parent's id.
    v2 = f.post(
        client,
        f"/registered_models/{a['id']}/versions",
        {"name": "v2", "registeredModelId": a["id"]},
        base=base,
    )
    other = f.version(client, b["id"], "v1", base=base)

    listed = f.get(client, f"/registered_models/{a['id']}/versions", base=base)
    assert f.ids(listed["items"]) == [nested["id"], v2["id"]]
    assert f.ids(f.get(client, f"/registered_models/{b['id']}/versions", base=base)["items"]) == [other["id"]]
    by_name = f.get(client, f"/registered_models/{a['id']}/versions", base=base, name="v2")
    assert f.ids(by_name["items"]) == [v2["id"]]
    assert f.get(client, f"/registered_models/{a['id']}/versions", base=base, name="v3")["items"] == []


def test_nested_version_with_another_parent_id_is_400(client: TestClient) -> None:
    a = f.model(client, "a")
    b = f.model(client, "b")
    r = client.post(
        f"{V1ALPHA3}/registered_models/{a['id']}/versions", json={"name": "v", "registeredModelId": b["id"]}
    )
    err(r, 400, code="Bad Request")
    assert f.get(client, "/model_versions")["items"] == []


def test_versions_of_unknown_model_are_404(client: TestClient) -> None:
    e = f.environment(client)
    for parent in ("999999", e["id"]):
        err(client.get(f"{V1ALPHA3}/registered_models/{parent}/versions"), 404, code="Not Found")
        err(client.post(f"{V1ALPHA3}/registered_models/{parent}/versions", json={"name": "v"}), 404)
        err(client.post(f"{V1ALPHA3}/model_versions", json={"name": "v", "registeredModelId": parent}), 404)
    assert f.get(client, "/model_versions")["items"] == []


def test_same_version_name_in_two_models_and_find_by_parent(client: TestClient) -> None:
    a = f.model(client, "a")
    b = f.model(client, "b")
    va = f.version(client, a["id"], "1.0.0")
    vb = f.version(client, b["id"], "1.0.0")
    assert f.get(client, "/model_version", name="1.0.0", parentResourceId=a["id"]) == va
    assert f.get(client, "/model_version", name="1.0.0", parentResourceId=b["id"]) == vb
    # Without a parent the name is ambiguous: refused rather than answering with either.
    err(client.get(f"{V1ALPHA3}/model_version", params={"name": "1.0.0"}), 400, "parentResourceId")


def test_version_names_may_hold_colons_and_slashes(client: TestClient) -> None:
    m = f.model(client, "org/model:x")
    v = f.version(client, m["id"], "model:latest/2")
    assert f.get(client, "/registered_model", name="org/model:x")["id"] == m["id"]
    assert f.get(client, "/model_version", name="model:latest/2", parentResourceId=m["id"]) == v


def test_model_update_time_follows_its_versions(client: TestClient) -> None:
    m = f.model(client)
    created = int(m["lastUpdateTimeSinceEpoch"])

    f.tick()
    v = f.version(client, m["id"])
    after_create = f.get(client, f"/registered_models/{m['id']}")
    assert int(after_create["lastUpdateTimeSinceEpoch"]) > created
    assert int(after_create["lastUpdateTimeSinceEpoch"]) >= int(v["createTimeSinceEpoch"])
    assert after_create["createTimeSinceEpoch"] == m["createTimeSinceEpoch"]

    f.tick()
    f.patch(client, f"/model_versions/{v['id']}", {"description": "d"})
    after_patch = int(f.get(client, f"/registered_models/{m['id']}")["lastUpdateTimeSinceEpoch"])
    assert after_patch > int(after_create["lastUpdateTimeSinceEpoch"])

    f.tick()
    a = f.artifact(client, v["id"])
    after_artifact = f.get(client, f"/registered_models/{m['id']}")
    assert int(after_artifact["lastUpdateTimeSinceEpoch"]) > after_patch
    v_after_artifact = f.get(client, f"/model_versions/{v['id']}")
    assert int(v_after_artifact["lastUpdateTimeSinceEpoch"]) > int(v["lastUpdateTimeSinceEpoch"])

    f.tick()
    f.delete(client, f"/artifacts/{a['id']}")
    after_delete = f.get(client, f"/registered_models/{m['id']}")
    assert int(after_delete["lastUpdateTimeSinceEpoch"]) > int(after_artifact["lastUpdateTimeSinceEpoch"])
    v_after_delete = f.get(client, f"/model_versions/{v['id']}")
    assert int(v_after_delete["lastUpdateTimeSinceEpoch"]) > int(v_after_artifact["lastUpdateTimeSinceEpoch"])

    f.tick()
    f.delete(client, f"/model_versions/{v['id']}")
    final = f.get(client, f"/registered_models/{m['id']}")
    assert int(final["lastUpdateTimeSinceEpoch"]) > int(after_delete["lastUpdateTimeSinceEpoch"])


def test_sibling_models_are_not_touched(client: TestClient) -> None:
    a = f.model(client, "a")
    b = f.model(client, "b")
    f.tick()
    f.version(client, a["id"])
    assert f.get(client, f"/registered_models/{b['id']}") == b


def test_long_names(client: TestClient) -> None:
    m = f.model(client, "m" * 255)
    assert f.get(client, f"/registered_models/{m['id']}")["name"] == "m" * 255
    v = f.version(client, m["id"], "v" * 255)
    assert f.get(client, "/model_version", name="v" * 255, parentResourceId=m["id"]) == v
    # Length counts characters, not bytes.
    wide = f.model(client, "é✓" * 127)
    assert f.get(client, "/registered_model", name="é✓" * 127)["id"] == wide["id"]
    err(client.post(f"{V1ALPHA3}/registered_models", json={"name": "n" * 256}), 400, code="Bad Request")
    err(
        client.post(f"{V1ALPHA3}/model_versions", json={"name": "w" * 256, "registeredModelId": m["id"]}), 400
    )
    err(client.post(f"{V1ALPHA3}/registered_models", json={"name": "e", "externalId": "x" * 256}), 400)
    err(client.post(f"{V1ALPHA3}/registered_models", json={"name": "o", "owner": "x" * 256}), 400)
    # Long text fields are not names: a long description is fine.
    d = f.model(client, "d", description="x" * 100_000)
    assert f.get(client, f"/registered_models/{d['id']}")["description"] == "x" * 100_000
    assert f.get(client, "/registered_models")["size"] == 3
