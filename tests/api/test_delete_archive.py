"""Archiving cascades and restores; deleting cascades; deployments guard both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from modelreg.store.schema import custom_properties
from tests.api import factories as f
from tests.api.factories import APIS, Json, err
from tests.conftest import V1ALPHA3


def states(c: TestClient, model_id: str) -> dict[str, str]:
    return {v["name"]: v["state"] for v in f.get(c, f"/registered_models/{model_id}/versions")["items"]}


@pytest.mark.parametrize("base", APIS)
def test_archive_cascades_and_restore_restores_exactly_those(client: TestClient, base: str) -> None:
    m = f.model(client, base=base)
    v1 = f.version(client, m["id"], "v1", base=base)
    f.version(client, m["id"], "v2", base=base)
    f.version(client, m["id"], "old", base=base, state="ARCHIVED")
    sibling = f.model(client, "sibling", base=base)
    sv = f.version(client, sibling["id"], "v1", base=base)
    f.tick()

    archived = f.patch(client, f"/registered_models/{m['id']}", {"state": "ARCHIVED"}, base=base)
    assert archived["state"] == "ARCHIVED"
    assert states(client, m["id"]) == {"v1": "ARCHIVED", "v2": "ARCHIVED", "old": "ARCHIVED"}
    moved = f.get(client, f"/model_versions/{v1['id']}", base=base)
    assert int(moved["lastUpdateTimeSinceEpoch"]) > int(v1["lastUpdateTimeSinceEpoch"])
    assert f.get(client, f"/model_versions/{sv['id']}", base=base) == sv

    # Archiving again is no change; patching other fields keeps the cascade's record.
    f.patch(client, f"/registered_models/{m['id']}", {"state": "ARCHIVED", "description": "x"}, base=base)
    restored = f.patch(client, f"/registered_models/{m['id']}", {"state": "LIVE"}, base=base)
    assert restored["state"] == "LIVE"
    assert states(client, m["id"]) == {"v1": "LIVE", "v2": "LIVE", "old": "ARCHIVED"}


def test_version_archived_by_hand_after_the_model_stays_archived(client: TestClient) -> None:
    m = f.model(client)
    v1 = f.version(client, m["id"], "v1")
    f.version(client, m["id"], "v2")
    f.patch(client, f"/registered_models/{m['id']}", {"state": "ARCHIVED"})
    # v1 is restored by hand and archived again on its own while the model is archived.
    f.patch(client, f"/model_versions/{v1['id']}", {"state": "LIVE"})
    f.patch(client, f"/model_versions/{v1['id']}", {"state": "ARCHIVED"})
    f.patch(client, f"/registered_models/{m['id']}", {"state": "LIVE"})
    assert states(client, m["id"]) == {"v1": "ARCHIVED", "v2": "LIVE"}


def build(c: TestClient) -> dict[str, Json]:
    """A model with two versions, artifacts and properties everywhere, served in one environment."""
    props = {"k": f.string_prop("v"), "n": {"metadataType": "MetadataIntValue", "int_value": "7"}}
    m = f.model(c, "m", customProperties=props)
    v1 = f.version(c, m["id"], "v1", customProperties=props)
    f.tick()
    v2 = f.version(c, m["id"], "v2", customProperties=props)
    env = f.environment(c, "ns", customProperties=props)
    return {
        "model": m,
        "v1": v1,
        "v2": v2,
        "a1": f.artifact(c, v1["id"], "w1", customProperties=props),
        "a2": f.artifact(c, v2["id"], "w2", customProperties=props),
        "metric": f.artifact(c, v2["id"], "acc", "metric", value=0.9),
        "env": env,
    }


def stored_properties(c: TestClient) -> int:
    """Rows of custom properties in the database: the one thing HTTP cannot show is a leak."""
    with c.app.state.db.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(custom_properties)).scalar_one())


def snapshot(c: TestClient) -> dict[str, list[Json]]:
    paths = (
        "/registered_models",
        "/model_versions",
        "/artifacts",
        "/serving_environments",
        "/inference_services",
    )
    return {p: f.get(c, p)["items"] for p in paths}


def test_delete_model_cascades(client: TestClient) -> None:
    w = build(client)
    other = f.model(client, "other")
    other_v = f.version(client, other["id"], "v1")
    svc = f.inference_service(
        client, w["env"]["id"], w["model"]["id"], w["v1"]["id"], desiredState="UNDEPLOYED"
    )
    f.post(client, f"/inference_services/{svc['id']}/serves", {"modelVersionId": w["v1"]["id"]})

    f.delete(client, f"/registered_models/{w['model']['id']}")

    for key in ("v1", "v2"):
        f.gone(client, f"/model_versions/{w[key]['id']}")
    for key in ("a1", "a2", "metric"):
        f.gone(client, f"/artifacts/{w[key]['id']}")
    f.gone(client, f"/registered_models/{w['model']['id']}")
    # A service of a deleted model has nothing left to serve: it goes too.
    f.gone(client, f"/inference_services/{svc['id']}")
    assert f.ids(f.get(client, "/registered_models")["items"]) == [other["id"]]
    assert f.ids(f.get(client, "/model_versions")["items"]) == [other_v["id"]]
    assert f.get(client, "/artifacts")["items"] == []
    assert f.get(client, "/serving_environments")["items"] == [
        f.get(client, f"/serving_environments/{w['env']['id']}")
    ]
    err(client.get(f"{V1ALPHA3}/registered_model", params={"name": "m"}), 404)
    # Their custom properties went with them.
    for path in ("/registered_models", "/model_versions", "/artifacts"):
        assert f.get(client, path, filterQuery="k = 'v'")["items"] == []
    assert stored_properties(client) == 2  # the environment's two
    # The name is free again.
    again = f.model(client, "m")
    assert again["customProperties"] == {}
    assert f.get(client, f"/registered_models/{again['id']}/versions")["items"] == []


def test_delete_version_cascades_to_its_artifacts_only(client: TestClient) -> None:
    w = build(client)
    svc = f.inference_service(
        client, w["env"]["id"], w["model"]["id"], w["v1"]["id"], desiredState="UNDEPLOYED"
    )
    serve = f.post(client, f"/inference_services/{svc['id']}/serves", {"modelVersionId": w["v1"]["id"]})
    f.tick()

    f.delete(client, f"/model_versions/{w['v1']['id']}")

    f.gone(client, f"/model_versions/{w['v1']['id']}")
    f.gone(client, f"/artifacts/{w['a1']['id']}")
    assert f.get(client, f"/artifacts/{w['a2']['id']}") == w["a2"]
    assert f.ids(f.get(client, "/model_versions")["items"]) == [w["v2"]["id"]]
    assert f.get(client, "/model_versions", filterQuery="k = 'v'")["size"] == 1
    assert f.get(client, "/artifacts", filterQuery="k = 'v'")["size"] == 1
    assert stored_properties(client) == 2 * 4  # two each on the model, v2, a2 and the environment
    model = f.get(client, f"/registered_models/{w['model']['id']}")
    assert int(model["lastUpdateTimeSinceEpoch"]) > int(w["model"]["lastUpdateTimeSinceEpoch"])
    # The service no longer names the deleted version (it now floats), and its serve
    # records of that version are gone.
    left = f.get(client, f"/inference_services/{svc['id']}")
    assert "modelVersionId" not in left
    assert f.get(client, f"/inference_services/{svc['id']}/version") == f.get(
        client, f"/model_versions/{w['v2']['id']}"
    )
    assert serve["id"] not in f.ids(f.get(client, f"/inference_services/{svc['id']}/serves")["items"])


def test_delete_environment_and_service(client: TestClient) -> None:
    w = build(client)
    svc = f.inference_service(client, w["env"]["id"], w["model"]["id"], desiredState="UNDEPLOYED")
    f.post(client, f"/inference_services/{svc['id']}/serves", {"modelVersionId": w["v2"]["id"]})
    second = f.inference_service(
        client, w["env"]["id"], w["model"]["id"], name="second", desiredState="UNDEPLOYED"
    )
    f.delete(client, f"/inference_services/{second['id']}")
    f.gone(client, f"/inference_services/{second['id']}")
    assert f.ids(f.get(client, "/inference_services")["items"]) == [svc["id"]]

    f.delete(client, f"/serving_environments/{w['env']['id']}")
    f.gone(client, f"/serving_environments/{w['env']['id']}")
    f.gone(client, f"/inference_services/{svc['id']}")
    err(client.get(f"{V1ALPHA3}/inference_services/{svc['id']}/serves"), 404)
    # The model side is untouched.
    assert f.get(client, f"/registered_models/{w['model']['id']}")["state"] == "LIVE"
    assert f.get(client, "/model_versions")["size"] == 2
    assert f.get(client, "/artifacts")["size"] == 3


def test_delete_standalone_artifact(client: TestClient) -> None:
    a = f.post(
        client, "/model_artifacts", {"name": "w", "uri": "u", "customProperties": {"k": f.string_prop("v")}}
    )
    f.delete(client, f"/model_artifacts/{a['id']}")
    f.gone(client, f"/artifacts/{a['id']}")
    doc = f.post(client, "/artifacts", {"artifactType": "doc-artifact", "uri": "u"})
    # The model-artifact view cannot delete another type.
    err(client.delete(f"{V1ALPHA3}/model_artifacts/{doc['id']}"), 404)
    assert f.get(client, f"/artifacts/{doc['id']}") == doc


@pytest.mark.parametrize("pinned", [True, False], ids=["pinned", "floating"])
def test_deployed_service_guards_delete_and_archive(client: TestClient, pinned: bool) -> None:
    w = build(client)
    served = w["v1"] if pinned else w["v2"]  # a floating service serves the latest (v2)
    unserved = w["v2"] if pinned else w["v1"]
    svc = f.inference_service(
        client, w["env"]["id"], w["model"]["id"], w["v1"]["id"] if pinned else None, name="prod-svc"
    )
    before = snapshot(client)

    refused = [
        client.delete(f"{V1ALPHA3}/registered_models/{w['model']['id']}"),
        client.delete(f"{V1ALPHA3}/model_versions/{served['id']}"),
        client.delete(f"{V1ALPHA3}/serving_environments/{w['env']['id']}"),
        client.delete(f"{V1ALPHA3}/inference_services/{svc['id']}"),
        client.patch(f"{V1ALPHA3}/registered_models/{w['model']['id']}", json={"state": "ARCHIVED"}),
        client.patch(f"{V1ALPHA3}/model_versions/{served['id']}", json={"state": "ARCHIVED"}),
    ]
    for r in refused:
        body = err(r, 409, "prod-svc", "Conflict")
        assert svc["id"] in body["message"]
    assert snapshot(client) == before

    # What the service does not serve can still go.
    f.patch(client, f"/model_versions/{unserved['id']}", {"state": "ARCHIVED"})
    f.delete(client, f"/model_versions/{unserved['id']}")

    # Once undeployed, everything can.
    f.patch(client, f"/inference_services/{svc['id']}", {"desiredState": "UNDEPLOYED"})
    f.patch(client, f"/registered_models/{w['model']['id']}", {"state": "ARCHIVED"})
    f.delete(client, f"/registered_models/{w['model']['id']}")
    f.delete(client, f"/serving_environments/{w['env']['id']}")
    assert all(items == [] for items in snapshot(client).values())


def test_deployed_service_of_another_model_does_not_block(client: TestClient) -> None:
    w = build(client)
    other = f.model(client, "other")
    f.version(client, other["id"], "v1")
    f.inference_service(client, w["env"]["id"], other["id"])
    f.patch(client, f"/registered_models/{w['model']['id']}", {"state": "ARCHIVED"})
    f.delete(client, f"/registered_models/{w['model']['id']}")
    f.gone(client, f"/registered_models/{w['model']['id']}")
    err(client.delete(f"{V1ALPHA3}/registered_models/{other['id']}"), 409)
