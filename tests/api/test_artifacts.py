"""Artifacts: the five types in one collection, the model-artifact view, linking, v1 vs v1alpha3."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import APIS, Json, err
from tests.conftest import V1, V1ALPHA3

VARIANTS: dict[str, Json] = {
    "model-artifact": {
        "uri": "s3://bucket/model?endpoint=http://minio:9000",
        "modelFormatName": "onnx",
        "modelFormatVersion": "1",
        "storageKey": "aws-connection",
        "storagePath": "models/m/" + "p" * 500,
        "serviceAccountName": "sa",
        "modelSourceKind": "kfp",
        "modelSourceClass": "pipelinerun",
        "modelSourceGroup": "ns",
        "modelSourceId": "run-1",
        "modelSourceName": "train",
        "state": "PENDING",
    },
    "doc-artifact": {"uri": "https://example.com/card.md", "state": "LIVE"},
    "dataset-artifact": {
        "uri": "s3://bucket/data.csv",
        "digest": "sha256:abc",
        "sourceType": "s3",
        "source": "s3://bucket",
        "schema": '{"cols": ["a"]}',
        "profile": "{}",
        "state": "REFERENCE",
    },
    "metric": {"value": 0.25, "timestamp": "1700000000000"},
    "parameter": {"value": "relu", "parameterType": "string", "state": "ABANDONED"},
}
DEFAULTS = {"metric": {"state": "UNKNOWN"}, "parameter": {}}


@pytest.mark.parametrize("base", APIS)
@pytest.mark.parametrize("artifact_type", VARIANTS)
def test_each_type_round_trips_standalone(client: TestClient, artifact_type: str, base: str) -> None:
    body = {"artifactType": artifact_type, "name": "a", "description": "d", **VARIANTS[artifact_type]}
    created = f.post(client, "/artifacts", body, base=base)
    for k, v in body.items():
        assert created[k] == v, k
    assert created.get("state") == VARIANTS[artifact_type].get("state", "UNKNOWN")
    assert f.get(client, f"/artifacts/{created['id']}", base=base) == created
    assert f.get(client, "/artifact", base=base, name="a") == created
    assert f.get(client, "/artifacts", base=base, artifactType=artifact_type)["items"] == [created]
    if artifact_type != "model-artifact":
        # The model-artifact view does not serve the other types.
        f.gone(client, f"/model_artifacts/{created['id']}", base=base)
        err(client.get(f"{base}/model_artifact", params={"name": "a"}), 404)
        assert f.get(client, "/model_artifacts", base=base)["items"] == []
    else:
        assert f.get(client, f"/model_artifacts/{created['id']}", base=base) == created


def test_parameter_type_defaults_to_string(client: TestClient) -> None:
    p = f.post(client, "/artifacts", {"artifactType": "parameter", "name": "p", "value": "x"})
    assert p["parameterType"] == "string"
    err(client.post(f"{V1ALPHA3}/artifacts", json={"artifactType": "parameter", "parameterType": "int"}), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a", "uri": "u"},  # no artifactType
        {"artifactType": "model", "uri": "u"},
        {"artifactType": None, "uri": "u"},
        {"artifactType": "doc-artifact", "modelFormatName": "onnx"},  # another type's field
        {"artifactType": "metric", "uri": "s3://x"},  # metrics have no uri
        {"artifactType": "model-artifact", "state": "GONE"},
    ],
)
def test_bad_artifact_bodies_are_400(client: TestClient, body: Json) -> None:
    err(client.post(f"{V1ALPHA3}/artifacts", json=body), 400, code="Bad Request")
    assert f.get(client, "/artifacts")["items"] == []


def test_model_artifacts_view(client: TestClient) -> None:
    created = f.post(client, "/model_artifacts", {"name": "w", "uri": "s3://b/w"})
    assert created["artifactType"] == "model-artifact"
    explicit = f.post(client, "/model_artifacts", {"name": "x", "artifactType": "model-artifact"})
    r = client.post(f"{V1ALPHA3}/model_artifacts", json={"name": "d", "artifactType": "doc-artifact"})
    err(r, 400, "artifactType")
    assert f.get(client, "/model_artifacts")["items"] == [created, explicit]
    assert f.get(client, "/model_artifact", name="x") == explicit
    p = f.patch(client, f"/model_artifacts/{created['id']}", {"modelFormatName": "gguf"})
    assert p["modelFormatName"] == "gguf"
    r = client.patch(f"{V1ALPHA3}/model_artifacts/{created['id']}", json={"artifactType": "doc-artifact"})
    err(r, 400)
    assert f.get(client, f"/artifacts/{created['id']}") == p


def test_patch_needs_the_stored_artifact_type(client: TestClient) -> None:
    doc = f.post(client, "/artifacts", {"artifactType": "doc-artifact", "name": "d", "uri": "u"})
    path = f"{V1ALPHA3}/artifacts/{doc['id']}"
    err(
        client.patch(path, json={"artifactType": "model-artifact", "uri": "v"}),
        400,
        "doc-artifact",
        "Bad Request",
    )
    err(client.patch(path, json={"uri": "v"}), 400, "artifactType")
    err(
        client.patch(path, json={"artifactType": "doc-artifact", "modelFormatName": "x"}),
        400,
        "unknown field",
    )
    assert f.get(client, f"/artifacts/{doc['id']}") == doc
    p = f.patch(client, f"/artifacts/{doc['id']}", {"artifactType": "doc-artifact", "uri": "v"})
    assert p["uri"] == "v"


def test_metric_fields_are_checked(client: TestClient) -> None:
    base = f"{V1ALPHA3}/artifacts"
    err(client.post(base, json={"artifactType": "metric", "value": "high"}), 400)
    err(client.post(base, json={"artifactType": "metric", "value": 1, "timestamp": 5}), 400)
    err(client.post(base, json={"artifactType": "metric", "value": 1, "timestamp": "soon"}), 400)
    err(client.post(base, json={"artifactType": "metric", "value": 1, "step": 1.5}), 400)
    assert f.get(client, "/artifacts")["items"] == []


@pytest.mark.parametrize("base", APIS)
def test_link_a_standalone_artifact_to_a_version(client: TestClient, base: str) -> None:
    m = f.model(client, base=base)
    v = f.version(client, m["id"], base=base)
    standalone = f.post(client, "/model_artifacts", {"name": "weights", "uri": "s3://b/w"}, base=base)
    assert f.get(client, f"/model_versions/{v['id']}/artifacts", base=base)["items"] == []

    body = {"id": standalone["id"], "artifactType": "model-artifact"}
    linked = f.post(client, f"/model_versions/{v['id']}/artifacts", body, status=200, base=base)
    assert linked["id"] == standalone["id"]
    assert (linked["name"], linked["uri"]) == ("weights", "s3://b/w")
    assert f.get(client, f"/model_versions/{v['id']}/artifacts", base=base)["items"] == [linked]
    assert f.get(client, "/model_artifact", base=base, name="weights", parentResourceId=v["id"]) == linked
    assert f.get(client, "/artifacts", base=base)["size"] == 1

    # Linking again is idempotent; linking to another version is refused.
    f.post(client, f"/model_versions/{v['id']}/artifacts", body, status=200, base=base)
    other = f.version(client, m["id"], "v2", base=base)
    err(client.post(f"{base}/model_versions/{other['id']}/artifacts", json=body), 409, code="Conflict")
    assert f.get(client, f"/model_versions/{other['id']}/artifacts", base=base)["items"] == []
    # Deleting the version takes its linked artifact with it.
    f.delete(client, f"/model_versions/{v['id']}", base=base)
    f.gone(client, f"/artifacts/{standalone['id']}", base=base)


def test_link_checks_id_type_and_name(client: TestClient) -> None:
    m = f.model(client)
    v = f.version(client, m["id"])
    doc = f.post(client, "/artifacts", {"artifactType": "doc-artifact", "name": "card", "uri": "u"})
    path = f"{V1ALPHA3}/model_versions/{v['id']}/artifacts"
    err(client.post(path, json={"id": "999999", "artifactType": "doc-artifact"}), 404, code="Not Found")
    err(client.post(path, json={"id": m["id"], "artifactType": "doc-artifact"}), 404, code="Not Found")
    err(client.post(path, json={"id": doc["id"], "artifactType": "model-artifact"}), 400)
    err(client.post(path, json={"id": doc["id"], "artifactType": "doc-artifact", "name": "other"}), 400)
    assert f.get(client, f"/model_versions/{v['id']}/artifacts")["items"] == []
    # The link may also update fields.
    linked = f.post(
        client, path[len(V1ALPHA3) :], {"id": doc["id"], "artifactType": "doc-artifact", "uri": "u2"}, 200
    )
    assert linked["uri"] == "u2"


def test_standalone_artifacts_may_share_a_name(client: TestClient) -> None:
    a = f.post(client, "/model_artifacts", {"name": "weights", "uri": "s3://b/1"})
    b = f.post(client, "/model_artifacts", {"name": "weights", "uri": "s3://b/2"})
    assert a["id"] != b["id"]
    m = f.model(client)
    v = f.version(client, m["id"])
    f.post(
        client, f"/model_versions/{v['id']}/artifacts", {"id": a["id"], "artifactType": "model-artifact"}, 200
    )
    r = client.post(
        f"{V1ALPHA3}/model_versions/{v['id']}/artifacts",
        json={"id": b["id"], "artifactType": "model-artifact"},
    )
    err(r, 409, "weights")
    assert f.ids(f.get(client, f"/model_versions/{v['id']}/artifacts")["items"]) == [a["id"]]


def test_v1_artifacts_have_no_experiment_fields(client: TestClient) -> None:
    for field_name in ("experimentId", "experimentRunId"):
        r = client.post(f"{V1}/artifacts", json={"artifactType": "metric", "value": 1.0, field_name: "1"})
        err(r, 400, f'json: unknown field "{field_name}"', "Bad Request")
    e = f.experiment(client)
    r = f.run(client, e["id"])
    metric = f.post(
        client,
        f"/experiment_runs/{r['id']}/artifacts",
        {"artifactType": "metric", "name": "loss", "value": 0.5},
    )
    assert (metric["experimentId"], metric["experimentRunId"]) == (e["id"], r["id"])
    seen_in_v1 = f.get(client, f"/artifacts/{metric['id']}", base=V1)
    assert "experimentId" not in seen_in_v1 and "experimentRunId" not in seen_in_v1
    assert seen_in_v1["value"] == 0.5
    err(
        client.patch(
            f"{V1}/artifacts/{metric['id']}", json={"artifactType": "metric", "experimentId": e["id"]}
        ),
        400,
    )


def test_metric_step_is_a_string_in_v1_and_a_number_in_v1alpha3(client: TestClient) -> None:
    m = f.post(
        client, "/artifacts", {"artifactType": "metric", "name": "m", "value": 1.0, "step": "7"}, base=V1
    )
    assert m["step"] == "7"
    assert f.get(client, f"/artifacts/{m['id']}", base=V1ALPHA3)["step"] == 7
    n = f.post(client, "/artifacts", {"artifactType": "metric", "name": "n", "value": 1.0, "step": 8})
    assert n["step"] == 8
    assert f.get(client, f"/artifacts/{n['id']}", base=V1)["step"] == "8"
    err(client.post(f"{V1}/artifacts", json={"artifactType": "metric", "value": 1.0, "step": 9}), 400)
    err(client.post(f"{V1ALPHA3}/artifacts", json={"artifactType": "metric", "value": 1.0, "step": "9"}), 400)
    p = f.patch(client, f"/artifacts/{n['id']}", {"artifactType": "metric", "step": "10"}, base=V1)
    assert p["step"] == "10"
    assert f.get(client, f"/artifacts/{n['id']}")["step"] == 10


def test_huge_metric_step_is_400_not_500(client: TestClient) -> None:
    r = client.post(f"{V1ALPHA3}/artifacts", json={"artifactType": "metric", "value": 1.0, "step": 2**64})
    err(r, 400, code="Bad Request")
    assert f.get(client, "/artifacts")["items"] == []


def test_artifacts_under_a_missing_or_wrong_parent_are_404(client: TestClient) -> None:
    m = f.model(client)
    for parent in ("999999", m["id"]):  # none at all, and a registered model's id
        for body in (
            {"artifactType": "model-artifact", "name": "w", "uri": "s3://b/w"},
            {"artifactType": "metric", "name": "loss", "value": 0.5},
        ):
            r = client.post(f"{V1ALPHA3}/model_versions/{parent}/artifacts", json=body)
            err(r, 404, f"model version with id {parent} not found")
    assert f.get(client, "/artifacts")["items"] == []
