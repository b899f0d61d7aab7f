"""Model versions: their state, and the artifacts listed and upserted under them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import APIS, err
from tests.conftest import V1ALPHA3


@pytest.fixture
def mv(client: TestClient) -> dict[str, str]:
    m = f.model(client)
    return f.version(client, m["id"])


@pytest.mark.parametrize("base", APIS)
def test_artifacts_under_a_version_by_type_and_name(client: TestClient, base: str) -> None:
    m = f.model(client, base=base)
    v = f.version(client, m["id"], base=base)
    other = f.version(client, m["id"], "v2", base=base)
    weights = f.artifact(client, v["id"], "weights", base=base)
    doc = f.artifact(client, v["id"], "card", "doc-artifact", base=base)
    data = f.artifact(client, v["id"], "train", "dataset-artifact", base=base, digest="sha256:1")
    acc = f.artifact(client, v["id"], "acc", "metric", base=base, value=0.9)
    lr = f.artifact(client, v["id"], "lr", "parameter", base=base, value="0.01", parameterType="number")
    f.artifact(client, other["id"], "weights", base=base)

    path = f"/model_versions/{v['id']}/artifacts"
    everything = f.get(client, path, base=base)
    assert f.ids(everything["items"]) == f.ids([weights, doc, data, acc, lr])
    assert everything["items"] == [weights, doc, data, acc, lr]
    for a in (weights, doc, data, acc, lr):
        assert f.get(client, path, base=base, artifactType=a["artifactType"])["items"] == [a]
    assert f.get(client, path, base=base, name="card")["items"] == [doc]
    assert f.get(client, "/artifact", base=base, name="weights", parentResourceId=v["id"]) == weights
    err(client.get(f"{base}{path}", params={"artifactType": "model"}), 400, "artifactType")
    # The top-level list holds every artifact of every version.
    assert f.get(client, "/artifacts", base=base)["size"] == 6
    assert f.get(client, "/artifacts", base=base, artifactType="metric")["items"] == [acc]
    assert f.get(client, "/model_artifacts", base=base)["size"] == 2


def test_artifacts_of_unknown_version_are_404(client: TestClient) -> None:
    m = f.model(client)
    for parent in ("999999", m["id"]):
        err(client.get(f"{V1ALPHA3}/model_versions/{parent}/artifacts"), 404, code="Not Found")
        r = client.post(
            f"{V1ALPHA3}/model_versions/{parent}/artifacts", json={"artifactType": "doc-artifact", "uri": "u"}
        )
        err(r, 404, code="Not Found")
    assert f.get(client, "/artifacts")["items"] == []


def test_same_artifact_name_in_one_version_is_409(client: TestClient, mv: dict[str, str]) -> None:
    f.artifact(client, mv["id"], "weights")
    r = client.post(
        f"{V1ALPHA3}/model_versions/{mv['id']}/artifacts",
        json={"artifactType": "doc-artifact", "name": "weights", "uri": "u"},
    )
    err(r, 409, "weights", "Conflict")
    assert f.get(client, f"/model_versions/{mv['id']}/artifacts")["size"] == 1


def test_upsert_by_id_updates_the_versions_artifact(client: TestClient, mv: dict[str, str]) -> None:
    a = f.artifact(client, mv["id"], "weights", uri="s3://b/1")
    f.tick()
    body = {"id": a["id"], "artifactType": "model-artifact", "uri": "s3://b/2", "state": "LIVE"}
    updated = f.post(client, f"/model_versions/{mv['id']}/artifacts", body, status=200)
    assert updated["id"] == a["id"]
    assert (updated["uri"], updated["state"], updated["name"]) == ("s3://b/2", "LIVE", "weights")
    assert int(updated["lastUpdateTimeSinceEpoch"]) > int(a["lastUpdateTimeSinceEpoch"])
    assert f.get(client, f"/model_versions/{mv['id']}/artifacts")["items"] == [updated]


@pytest.mark.parametrize("base", APIS)
def test_metric_and_parameter_upsert_by_name(client: TestClient, base: str) -> None:
    m = f.model(client, base=base)
    v = f.version(client, m["id"], base=base)
    first = f.artifact(client, v["id"], "accuracy", "metric", base=base, value=0.5)
    again = f.artifact(client, v["id"], "accuracy", "metric", base=base, status=200, value=0.75)
    assert again["id"] == first["id"]
    assert again["value"] == 0.75
    p = f.artifact(client, v["id"], "epochs", "parameter", base=base, value="3", parameterType="number")
    p2 = f.artifact(client, v["id"], "epochs", "parameter", base=base, status=200, value="5")
    assert p2["id"] == p["id"]
    assert (p2["value"], p2["parameterType"]) == ("5", "number")
    # Names are unique within the version across artifact types: a parameter cannot
    # take a metric's name (upsert matches by name and type, so this is a clash).
    r = client.post(
        f"{base}/model_versions/{v['id']}/artifacts",
        json={"artifactType": "parameter", "name": "accuracy", "value": "high"},
    )
    err(r, 409, "accuracy", "Conflict")

    items = f.get(client, f"/model_versions/{v['id']}/artifacts", base=base)["items"]
    assert [(i["name"], i["value"]) for i in items] == [("accuracy", 0.75), ("epochs", "5")]


def test_archive_a_version_on_its_own(client: TestClient) -> None:
    m = f.model(client)
    v1 = f.version(client, m["id"], "v1")
    v2 = f.version(client, m["id"], "v2")
    archived = f.patch(client, f"/model_versions/{v1['id']}", {"state": "ARCHIVED"})
    assert archived["state"] == "ARCHIVED"
    assert f.get(client, f"/model_versions/{v2['id']}")["state"] == "LIVE"
    assert f.get(client, f"/registered_models/{m['id']}")["state"] == "LIVE"
    assert f.patch(client, f"/model_versions/{v1['id']}", {"state": "LIVE"})["state"] == "LIVE"
    err(client.patch(f"{V1ALPHA3}/model_versions/{v1['id']}", json={"state": "DELETED"}), 400)


def test_version_lists_by_model_and_filter(client: TestClient) -> None:
    a = f.model(client, "a")
    b = f.model(client, "b")
    va = f.version(client, a["id"], "1", author="x")
    vb = f.version(client, b["id"], "1", author="y")
    assert f.get(client, "/model_versions")["items"] == [va, vb]
    assert f.get(client, "/model_versions", filterQuery="author = 'y'")["items"] == [vb]
    assert f.get(client, "/model_versions", filterQuery=f"registeredModelId = {a['id']}")["items"] == [va]
    assert f.get(client, "/model_versions", name="1")["size"] == 2
