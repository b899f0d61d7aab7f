"""Behaviour every entity shares, tested once per kind and per API version that serves it.

Each kind says how to make one (its parents first), which collection and find endpoint
serve it, and a PATCH that changes one of its own fields. The tests then check the
generic contract: create/get/find/list/patch/delete, customProperties of every value
kind, 404 for ids of another kind, 409 on duplicate names and externalIds, and names
(and parent ids) that PATCH cannot change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import Json, err, ok
from tests.conftest import V1, V1ALPHA3


@dataclass(frozen=True)
class Made:
    """Where to POST a new entity of a kind, with what, and how to find it again."""

    create_path: str
    body: Json
    scope: Json = field(default_factory=dict)  # extra find parameters (parentResourceId)


@dataclass(frozen=True)
class Kind:
    id: str
    collection: str
    find: str
    prepare: Callable[[TestClient, str], Made]  # makes the parents, in the given API
    update: Json  # a PATCH that changes the kind's own fields
    defaults: Json  # fields the server fills in on create
    immutable: tuple[str, ...] = ()  # fields PATCH must refuse besides name
    alpha_only: bool = False

    def __str__(self) -> str:
        return self.id


def _model(c: TestClient, base: str) -> Made:
    return Made("/registered_models", {"owner": "alice"})


def _version(c: TestClient, base: str) -> Made:
    m = f.model(c, "parent-model", base=base)
    return Made(
        "/model_versions",
        {"registeredModelId": m["id"], "author": "bob"},
        {"parentResourceId": m["id"]},
    )


def _artifact(c: TestClient, base: str) -> Made:
    m = f.model(c, "parent-model", base=base)
    v = f.version(c, m["id"], base=base)
    return Made(
        f"/model_versions/{v['id']}/artifacts",
        {"artifactType": "model-artifact", "uri": "s3://b/k", "modelFormatName": "onnx"},
        {"parentResourceId": v["id"]},
    )


def _environment(c: TestClient, base: str) -> Made:
    return Made("/serving_environments", {})


def _inference_service(c: TestClient, base: str) -> Made:
    e = f.environment(c, "parent-env", base=base)
    m = f.model(c, "served-model", base=base)
    return Made(
        "/inference_services",
        {
            "servingEnvironmentId": e["id"],
            "registeredModelId": m["id"],
            "runtime": "kserve",
            "desiredState": "UNDEPLOYED",
        },
        {"parentResourceId": e["id"]},
    )


def _experiment(c: TestClient, base: str) -> Made:
    return Made("/experiments", {"owner": "carol"})


def _run(c: TestClient, base: str) -> Made:
    e = f.experiment(c, "parent-exp")
    return Made(
        "/experiment_runs",
        {"experimentId": e["id"], "owner": "carol", "startTimeSinceEpoch": "1700000000000"},
        {"parentResourceId": e["id"]},
    )


KINDS = (
    Kind(
        "registered_model",
        "/registered_models",
        "/registered_model",
        _model,
        {"owner": "dave", "state": "ARCHIVED", "maturity": "stable", "language": ["en", "fr"]},
        {"state": "LIVE"},
    ),
    Kind(
        "model_version",
        "/model_versions",
        "/model_version",
        _version,
        {"author": "eve", "state": "ARCHIVED"},
        {"state": "LIVE"},
        ("registeredModelId",),
    ),
    Kind(
        "artifact",
        "/artifacts",
        "/artifact",
        _artifact,
        {"artifactType": "model-artifact", "uri": "s3://b/other", "state": "LIVE"},
        {"state": "UNKNOWN"},
    ),
    Kind(
        "model_artifact",
        "/model_artifacts",
        "/model_artifact",
        _artifact,
        {"uri": "oci://quay.io/m:1", "modelFormatVersion": "1", "storageKey": "conn"},
        {"state": "UNKNOWN", "artifactType": "model-artifact"},
    ),
    Kind("serving_environment", "/serving_environments", "/serving_environment", _environment, {}, {}),
    Kind(
        "inference_service",
        "/inference_services",
        "/inference_service",
        _inference_service,
        {"runtime": "vllm"},
        {},
        ("registeredModelId", "servingEnvironmentId"),
    ),
    Kind(
        "experiment",
        "/experiments",
        "/experiment",
        _experiment,
        {"owner": "frank", "state": "ARCHIVED"},
        {"state": "LIVE"},
        alpha_only=True,
    ),
    Kind(
        "experiment_run",
        "/experiment_runs",
        "/experiment_run",
        _run,
        {"status": "FINISHED", "endTimeSinceEpoch": "1700000005000"},
        {"status": "RUNNING", "state": "LIVE"},
        ("experimentId", "startTimeSinceEpoch"),
        alpha_only=True,
    ),
)

CASES = [
    pytest.param(k, base, id=f"{k.id}-{base.rsplit('/', 1)[1]}")
    for k in KINDS
    for base in (V1, V1ALPHA3)
    if not (k.alpha_only and base == V1)
]


def make(c: TestClient, kind: Kind, base: str, name: str = "thing", **extra: Any) -> tuple[Json, Made]:
    made = kind.prepare(c, base)
    created = f.post(c, made.create_path, {"name": name, **made.body, **extra}, base=base)
    return created, made


def _strip_times(e: Json) -> Json:
    return {k: v for k, v in e.items() if k != "lastUpdateTimeSinceEpoch"}


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_create_get_find_list(client: TestClient, kind: Kind, base: str) -> None:
    created, made = make(client, kind, base, externalId="ext-1", description="first")

    assert created["name"] == "thing"
    assert created["externalId"] == "ext-1"
    assert created["description"] == "first"
    for k, v in made.body.items():
        assert created[k] == v, k
    for k, v in kind.defaults.items():
        assert created[k] == v, k
    assert created["id"].isdigit() and not created["id"].startswith("0")
    assert created["createTimeSinceEpoch"].isdigit()
    assert created["createTimeSinceEpoch"] == created["lastUpdateTimeSinceEpoch"]
    assert created["customProperties"] == {}

    assert f.get(client, f"{kind.collection}/{created['id']}", base=base) == created
    assert f.get(client, kind.find, base=base, name="thing", **made.scope) == created
    assert f.get(client, kind.find, base=base, externalId="ext-1") == created

    listed = f.get(client, kind.collection, base=base)
    assert listed["items"] == [created]
    assert (listed["size"], listed["pageSize"], listed["nextPageToken"]) == (1, 0, "")
    assert f.get(client, kind.collection, base=base, name="thing")["items"] == [created]
    assert f.get(client, kind.collection, base=base, externalId="ext-1")["items"] == [created]
    assert f.get(client, kind.collection, base=base, externalId="nope")["items"] == []


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_find_misses_are_404_and_bare_find_is_400(client: TestClient, kind: Kind, base: str) -> None:
    _, made = make(client, kind, base, externalId="ext-1")
    err(client.get(base + kind.find, params={"name": "other", **made.scope}), 404, code="Not Found")
    err(client.get(base + kind.find, params={"externalId": "ext-2"}), 404, code="Not Found")
    err(client.get(base + kind.find), 400, code="Bad Request")
    if made.scope:
        # The right name under another parent is not a match.
        err(client.get(base + kind.find, params={"name": "thing", "parentResourceId": "999999"}), 404)


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_patch_merges_fields(client: TestClient, kind: Kind, base: str) -> None:
    created, _ = make(client, kind, base, externalId="ext-1", description="keep me")
    path = f"{kind.collection}/{created['id']}"
    f.tick()

    updated = f.patch(client, path, {**kind.update, "externalId": "ext-2"}, base=base)

    expected = {**created, **kind.update, "externalId": "ext-2"}
    assert _strip_times(updated) == _strip_times(expected)
    assert updated["description"] == "keep me"
    assert int(updated["lastUpdateTimeSinceEpoch"]) > int(created["lastUpdateTimeSinceEpoch"])
    assert updated["createTimeSinceEpoch"] == created["createTimeSinceEpoch"]
    assert f.get(client, path, base=base) == updated
    assert f.get(client, kind.find, base=base, externalId="ext-2") == updated

    # An empty PATCH keeps everything but still counts as an update.
    f.tick()
    again = f.patch(
        client, path, {"artifactType": "model-artifact"} if kind.id == "artifact" else {}, base=base
    )
    assert _strip_times(again) == _strip_times(updated)
    assert int(again["lastUpdateTimeSinceEpoch"]) > int(updated["lastUpdateTimeSinceEpoch"])


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_delete(client: TestClient, kind: Kind, base: str) -> None:
    keep, made = make(client, kind, base, name="keep")
    drop = f.post(client, made.create_path, {"name": "drop", **made.body}, base=base)

    f.delete(client, f"{kind.collection}/{drop['id']}", base=base)

    f.gone(client, f"{kind.collection}/{drop['id']}", base=base)
    err(client.delete(f"{base}{kind.collection}/{drop['id']}"), 404, code="Not Found")
    err(client.patch(f"{base}{kind.collection}/{drop['id']}", json=kind.update), 404)
    err(client.get(base + kind.find, params={"name": "drop", **made.scope}), 404)
    assert f.ids(f.get(client, kind.collection, base=base)["items"]) == [keep["id"]]
    assert f.get(client, f"{kind.collection}/{keep['id']}", base=base)["name"] == "keep"


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_custom_properties_round_trip_and_replace(client: TestClient, kind: Kind, base: str) -> None:
    props = f.all_property_kinds()
    created, made = make(client, kind, base, customProperties=props)
    path = f"{kind.collection}/{created['id']}"
    assert created["customProperties"] == props
    assert f.get(client, path, base=base)["customProperties"] == props
    assert f.get(client, kind.collection, base=base)["items"][0]["customProperties"] == props
    assert f.get(client, kind.find, base=base, name="thing", **made.scope)["customProperties"] == props

    # A PATCH without customProperties keeps them ...
    kept = f.patch(client, path, kind.update, base=base)
    assert kept["customProperties"] == props
    # ... one with them replaces the whole map ...
    only = {"only": f.string_prop("this")}
    assert (
        f.patch(client, path, {**kind.update, "customProperties": only}, base=base)["customProperties"]
        == only
    )
    assert f.get(client, path, base=base)["customProperties"] == only
    # ... and an empty map clears it.
    assert f.patch(client, path, {**kind.update, "customProperties": {}}, base=base)["customProperties"] == {}
    assert f.get(client, path, base=base)["customProperties"] == {}


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_ids_of_another_kind_are_404(client: TestClient, kind: Kind, base: str) -> None:
    created, _ = make(client, kind, base)
    if kind.id == "serving_environment":
        other, other_path = f.model(client, "a-model", base=base), "/registered_models"
    else:
        other, other_path = f.environment(client, "an-env", base=base), "/serving_environments"
    path = f"{base}{kind.collection}/{other['id']}"
    err(client.get(path), 404, code="Not Found")
    err(client.patch(path, json=kind.update), 404, code="Not Found")
    err(client.delete(path), 404, code="Not Found")
    # The other kind's collection does not serve this kind's ids either.
    err(client.get(f"{base}{other_path}/{created['id']}"), 404, code="Not Found")
    assert f.get(client, f"{other_path}/{other['id']}", base=base) == other
    assert f.get(client, f"{kind.collection}/{created['id']}", base=base) == created


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_unknown_and_malformed_ids(client: TestClient, kind: Kind, base: str) -> None:
    err(client.get(f"{base}{kind.collection}/999999999"), 404, code="Not Found")
    for bad in ("0", "abc", "-1", "1234567890", "1.5"):
        err(client.get(f"{base}{kind.collection}/{bad}"), 400, code="Bad Request")


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_duplicate_name_and_external_id_are_409(client: TestClient, kind: Kind, base: str) -> None:
    first, made = make(client, kind, base, externalId="ext-1")

    r = client.post(base + made.create_path, json={"name": "thing", **made.body})
    err(r, 409, contains="thing", code="Conflict")
    r = client.post(base + made.create_path, json={"name": "other", "externalId": "ext-1", **made.body})
    err(r, 409, code="Conflict")
    # A PATCH onto a taken externalId clashes as well.
    second = f.post(client, made.create_path, {"name": "second", **made.body}, base=base)
    err(
        client.patch(f"{base}{kind.collection}/{second['id']}", json={**kind.update, "externalId": "ext-1"}),
        409,
    )

    names = sorted(i["name"] for i in f.get(client, kind.collection, base=base)["items"])
    assert names == ["second", "thing"]
    assert f.get(client, f"{kind.collection}/{second['id']}", base=base).get("externalId") is None
    assert f.get(client, f"{kind.collection}/{first['id']}", base=base) == first


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_name_and_parent_cannot_change(client: TestClient, kind: Kind, base: str) -> None:
    created, _ = make(client, kind, base)
    path = f"{base}{kind.collection}/{created['id']}"
    extra = {"artifactType": "model-artifact"} if kind.id == "artifact" else {}
    err(
        client.patch(path, json={**extra, "name": "renamed"}),
        400,
        'json: unknown field "name"',
        "Bad Request",
    )
    for field_name in kind.immutable:
        err(
            client.patch(path, json={**extra, field_name: created[field_name]}),
            400,
            f'unknown field "{field_name}"',
        )
    assert f.get(client, f"{kind.collection}/{created['id']}", base=base) == created


@pytest.mark.parametrize(("kind", "base"), CASES)
def test_missing_name_and_unknown_field(client: TestClient, kind: Kind, base: str) -> None:
    made = kind.prepare(client, base)
    r = client.post(base + made.create_path, json={**made.body, "bogus": 1})
    err(r, 400, 'json: unknown field "bogus"', "Bad Request")
    r = client.post(base + made.create_path, json=made.body)
    if kind.id in ("registered_model", "model_version", "serving_environment", "experiment"):
        err(r, 422, "required field 'name' is zero value.", "Bad Request")
        err(client.post(base + made.create_path, json={**made.body, "name": ""}), 422, code="Bad Request")
    else:
        # Artifacts, inference services and runs get a generated name, as upstream.
        named = ok(r, 201)
        assert named["name"]
        assert f.get(client, f"{kind.collection}/{named['id']}", base=base)["name"] == named["name"]


def test_ids_are_global_decimal_strings(client: TestClient) -> None:
    m = f.model(client)
    v = f.version(client, m["id"])
    a = f.artifact(client, v["id"])
    e = f.environment(client)
    ids = [int(x["id"]) for x in (m, v, a, e)]
    assert len(set(ids)) == 4
    assert ids == sorted(ids)


def test_ids_are_not_reused_after_delete(client: TestClient) -> None:
    m = f.model(client, "a", customProperties={"k": f.string_prop("old")})
    f.delete(client, f"/registered_models/{m['id']}")
    again = f.model(client, "b")
    assert again["id"] != m["id"]
    assert again["customProperties"] == {}
    f.gone(client, f"/registered_models/{m['id']}")


def test_names_compare_exactly_on_every_database(client: TestClient) -> None:
    """Case, trailing spaces and accents make different names; lookups are exact."""
    names = ["model", "Model", "model ", "modèle", "model🚀"]
    made = {n: f.model(client, n) for n in names}
    for n in names:
        assert f.get(client, "/registered_model", name=n) == made[n]
        assert f.ids(f.get(client, "/registered_models", name=n)["items"]) == [made[n]["id"]]
    err(client.get(f"{V1ALPHA3}/registered_model", params={"name": "MODEL"}), 404)
    err(client.post(f"{V1ALPHA3}/registered_models", json={"name": "Model"}), 409)


def test_path_parameters_are_named_per_api_version(sqlite_client: TestClient) -> None:
    # The OpenAPI document does not depend on the database: one backend is enough.
    paths = ok(sqlite_client.get("/openapi.json"))["paths"]
    assert f"{V1}/registered_models/{{registered_model_id}}" in paths
    assert f"{V1}/model_versions/{{model_version_id}}/artifacts" in paths
    assert f"{V1}/inference_services/{{inference_service_id}}/version" in paths
    assert f"{V1ALPHA3}/registered_models/{{registeredmodelId}}" in paths
    assert f"{V1ALPHA3}/experiment_runs/{{experimentrunId}}/metric_history" in paths
    assert not any(p.startswith(f"{V1}/experiment") for p in paths)
