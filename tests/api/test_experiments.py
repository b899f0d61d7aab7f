"""Experiments, their runs, run artifacts and metric history (v1alpha3 only)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import Json, err
from tests.conftest import V1, V1ALPHA3


def log(c: TestClient, run_id: str, body: Json, status: int = 201) -> Json:
    return f.post(c, f"/experiment_runs/{run_id}/artifacts", body, status)


def metric(c: TestClient, run_id: str, name: str, value: float, step: int, status: int = 201) -> Json:
    return log(c, run_id, {"artifactType": "metric", "name": name, "value": value, "step": step}, status)


def test_runs_under_an_experiment(client: TestClient) -> None:
    e = f.experiment(client, "e")
    other = f.experiment(client, "other")
    path = f"/experiments/{e['id']}/experiment_runs"
    r1 = f.post(client, path, {"name": "r1", "status": "SCHEDULED"})
    assert (r1["experimentId"], r1["status"], r1["state"]) == (e["id"], "SCHEDULED", "LIVE")
    r2 = f.post(client, path, {"experimentId": e["id"]})
    assert r2["name"]
    elsewhere = f.run(client, other["id"], "r1")
    assert f.get(client, path)["items"] == [r1, r2]
    assert f.get(client, "/experiment_runs")["items"] == [r1, r2, elsewhere]
    assert f.get(client, "/experiment_run", name="r1", parentResourceId=other["id"]) == elsewhere
    err(client.post(f"{V1ALPHA3}{path}", json={"name": "r1"}), 409, code="Conflict")
    err(client.post(f"{V1ALPHA3}{path}", json={"name": "r3", "experimentId": other["id"]}), 400)
    err(client.post(f"{V1ALPHA3}/experiment_runs", json={"name": "r3"}), 422, "experimentId", "Bad Request")
    err(client.post(f"{V1ALPHA3}/experiment_runs", json={"name": "r3", "experimentId": "999999"}), 404)
    err(client.get(f"{V1ALPHA3}/experiments/999999/experiment_runs"), 404)
    err(client.post(f"{V1ALPHA3}{path}", json={"name": "r4", "status": "DONE"}), 400)


def test_run_artifacts_carry_their_experiment(client: TestClient) -> None:
    e = f.experiment(client)
    r = f.run(client, e["id"])
    data = log(client, r["id"], {"artifactType": "dataset-artifact", "name": "train", "uri": "s3://d"})
    assert (data["experimentId"], data["experimentRunId"]) == (e["id"], r["id"])
    p = log(
        client,
        r["id"],
        {"artifactType": "parameter", "name": "lr", "value": "0.1", "parameterType": "number"},
    )
    p2 = log(client, r["id"], {"artifactType": "parameter", "name": "lr", "value": "0.2"}, status=200)
    assert p2["id"] == p["id"] and p2["value"] == "0.2"
    items = f.get(client, f"/experiment_runs/{r['id']}/artifacts")["items"]
    assert f.ids(items) == [data["id"], p["id"]]
    assert f.get(client, f"/experiment_runs/{r['id']}/artifacts", artifactType="parameter")["items"] == [p2]
    assert f.get(client, "/artifact", name="lr", parentResourceId=r["id"]) == p2
    err(client.get(f"{V1ALPHA3}/experiment_runs/999999/artifacts"), 404)
    err(
        client.post(
            f"{V1ALPHA3}/experiment_runs/{e['id']}/artifacts", json={"artifactType": "metric", "value": 1.0}
        ),
        404,
    )


def test_metric_upsert_and_history(client: TestClient) -> None:
    e = f.experiment(client)
    r = f.run(client, e["id"], "r")
    other = f.run(client, e["id"], "other")
    first = metric(client, r["id"], "loss", 0.9, 1)
    f.tick()
    second = metric(client, r["id"], "loss", 0.5, 2, status=200)
    f.tick()
    third = metric(client, r["id"], "loss", 0.2, 3, status=200)
    assert first["id"] == second["id"] == third["id"]
    assert (third["value"], third["step"]) == (0.2, 3)
    metric(client, r["id"], "acc", 0.7, 1)
    metric(client, other["id"], "loss", 0.8, 1)

    # The run holds the metric once, with its last value ...
    metrics = f.get(client, f"/experiment_runs/{r['id']}/artifacts", artifactType="metric")["items"]
    assert [(m["name"], m["value"]) for m in metrics] == [("loss", 0.2), ("acc", 0.7)]
    # ... and its history holds every value it took.
    hist = f.get(client, f"/experiment_runs/{r['id']}/metric_history", name="loss")
    assert [(h["value"], h["step"]) for h in hist["items"]] == [(0.9, 1), (0.5, 2), (0.2, 3)]
    assert all(h["artifactType"] == "metric" and h["name"] == "loss" for h in hist["items"])
    assert all(h["experimentRunId"] == r["id"] for h in hist["items"])

    steps = f.get(client, f"/experiment_runs/{r['id']}/metric_history", name="loss", stepIds="1,3")
    assert [h["step"] for h in steps["items"]] == [1, 3]
    all_of_run = f.get(client, f"/experiment_runs/{r['id']}/metric_history")
    assert sorted((h["name"], h["step"]) for h in all_of_run["items"]) == [
        ("acc", 1),
        ("loss", 1),
        ("loss", 2),
        ("loss", 3),
    ]
    everywhere = f.get(client, "/experiment_runs/metric_history", name="loss", stepIds="1")
    assert sorted((h["experimentRunId"], h["value"]) for h in everywhere["items"]) == sorted(
        [(r["id"], 0.9), (other["id"], 0.8)]
    )
    paged = f.get(client, f"/experiment_runs/{r['id']}/metric_history", name="loss", pageSize="2")
    assert paged["size"] == 2 and paged["nextPageToken"]
    rest = f.get(
        client,
        f"/experiment_runs/{r['id']}/metric_history",
        name="loss",
        pageSize="2",
        nextPageToken=paged["nextPageToken"],
    )
    assert [h["step"] for h in rest["items"]] == [3] and rest["nextPageToken"] == ""

    for bad in ("a", "1,,2", "1;2", "-1", "1234567890"):
        err(client.get(f"{V1ALPHA3}/experiment_runs/{r['id']}/metric_history", params={"stepIds": bad}), 400)
    err(client.get(f"{V1ALPHA3}/experiment_runs/999999/metric_history"), 404)
    err(client.get(f"{V1ALPHA3}/experiment_runs/{e['id']}/metric_history"), 404)


def test_version_metrics_have_no_history(client: TestClient) -> None:
    m = f.model(client)
    v = f.version(client, m["id"])
    f.artifact(client, v["id"], "acc", "metric", value=0.1)
    f.artifact(client, v["id"], "acc", "metric", status=200, value=0.2)
    assert f.get(client, "/experiment_runs/metric_history")["items"] == []


def test_archive_an_experiment_archives_its_runs(client: TestClient) -> None:
    e = f.experiment(client)
    r1 = f.run(client, e["id"], "r1")
    r2 = f.run(client, e["id"], "r2", state="ARCHIVED")
    f.patch(client, f"/experiments/{e['id']}", {"state": "ARCHIVED"})
    assert [x["state"] for x in f.get(client, "/experiment_runs")["items"]] == ["ARCHIVED", "ARCHIVED"]
    f.patch(client, f"/experiments/{e['id']}", {"state": "LIVE"})
    assert f.get(client, f"/experiment_runs/{r1['id']}")["state"] == "LIVE"
    assert f.get(client, f"/experiment_runs/{r2['id']}")["state"] == "ARCHIVED"


def test_delete_an_experiment_deletes_runs_artifacts_and_history(client: TestClient) -> None:
    keep = f.experiment(client, "keep")
    kept_run = f.run(client, keep["id"], "r")
    kept_metric = metric(client, kept_run["id"], "loss", 1.0, 1)
    e = f.experiment(client, "drop", customProperties={"k": f.string_prop("v")})
    r = f.run(client, e["id"], "r", customProperties={"k": f.string_prop("v")})
    m = metric(client, r["id"], "loss", 0.5, 1)
    metric(client, r["id"], "loss", 0.4, 2, status=200)

    f.delete(client, f"/experiments/{e['id']}")

    for path in (f"/experiments/{e['id']}", f"/experiment_runs/{r['id']}", f"/artifacts/{m['id']}"):
        f.gone(client, path)
    assert f.ids(f.get(client, "/experiment_runs")["items"]) == [kept_run["id"]]
    assert f.ids(f.get(client, "/artifacts")["items"]) == [kept_metric["id"]]
    hist = f.get(client, "/experiment_runs/metric_history")["items"]
    assert [h["experimentRunId"] for h in hist] == [kept_run["id"]]
    assert f.get(client, "/experiment_runs", filterQuery="k = 'v'")["items"] == []


def test_delete_a_run_keeps_its_experiment(client: TestClient) -> None:
    e = f.experiment(client)
    r = f.run(client, e["id"])
    metric(client, r["id"], "loss", 0.5, 1)
    f.tick()
    f.delete(client, f"/experiment_runs/{r['id']}")
    after = f.get(client, f"/experiments/{e['id']}")
    assert int(after["lastUpdateTimeSinceEpoch"]) > int(e["lastUpdateTimeSinceEpoch"])
    assert f.get(client, "/artifacts")["items"] == []
    assert f.get(client, "/experiment_runs/metric_history")["items"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/experiments"),
        ("POST", "/experiments"),
        ("GET", "/experiment"),
        ("GET", "/experiments/{e}"),
        ("PATCH", "/experiments/{e}"),
        ("DELETE", "/experiments/{e}"),
        ("GET", "/experiments/{e}/experiment_runs"),
        ("POST", "/experiments/{e}/experiment_runs"),
        ("GET", "/experiment_runs"),
        ("POST", "/experiment_runs"),
        ("GET", "/experiment_run"),
        ("GET", "/experiment_runs/{r}"),
        ("PATCH", "/experiment_runs/{r}"),
        ("GET", "/experiment_runs/{r}/artifacts"),
        ("POST", "/experiment_runs/{r}/artifacts"),
        ("GET", "/experiment_runs/{r}/metric_history"),
        ("GET", "/experiment_runs/metric_history"),
    ],
)
def test_v1_has_no_experiment_paths(client: TestClient, method: str, path: str) -> None:
    e = f.experiment(client)
    r = f.run(client, e["id"])
    url = V1 + path.format(e=e["id"], r=r["id"])
    resp = client.request(method, url, json={"name": "x"} if method in ("POST", "PATCH") else None)
    err(resp, 404, code="Not Found")
    assert f.get(client, f"/experiments/{e['id']}") == f.get(client, "/experiment", name="exp")
    assert f.get(client, "/experiment_runs")["size"] == 1
    # The same path answers under v1alpha3.
    name = "exp" if path == "/experiment" else "run"
    alpha = client.request(method, V1ALPHA3 + path.format(e=e["id"], r=r["id"]), params={"name": name})
    assert alpha.status_code != 404, alpha.text


def test_patching_a_run_metric_extends_its_history(client: TestClient) -> None:
    e = f.experiment(client)
    r = f.run(client, e["id"])
    m = metric(client, r["id"], "loss", 0.9, 1)
    f.patch(client, f"/artifacts/{m['id']}", {"artifactType": "metric", "value": 0.3, "step": 2})
    hist = f.get(client, f"/experiment_runs/{r['id']}/metric_history", name="loss")["items"]
    assert [(h["value"], h["step"]) for h in hist] == [(0.9, 1), (0.3, 2)]
    assert f.get(client, f"/artifacts/{m['id']}")["value"] == 0.3
