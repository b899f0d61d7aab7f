"""A create writes its entity, properties, history event and ancestors' update times
together or not at all; on PostgreSQL, as one statement (no BEGIN, no COMMIT)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from modelreg.entities import REGISTERED_MODEL
from modelreg.service import resources
from modelreg.service.transactions import transaction
from tests.api import factories as f
from tests.conftest import V1
from tests.store.test_query_count import counting

HISTORY = "/api/modelreg/v1/history"


def _events(client: TestClient) -> list[dict[str, object]]:
    return f.ok(client.get(HISTORY, params={"pageSize": "1000", "sortOrder": "ASC"}))["items"]  # type: ignore[no-any-return]


def _props() -> dict[str, object]:
    return {
        "team": {"metadataType": "MetadataStringValue", "string_value": "t"},
        "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": 0.5},
        "epochs": {"metadataType": "MetadataIntValue", "int_value": "3"},
        "ok": {"metadataType": "MetadataBoolValue", "bool_value": True},
    }


def test_a_registration_is_a_statement_a_create_on_postgresql(client: TestClient) -> None:
    with counting(client) as statements:
        m = f.ok(
            client.post(f"{V1}/registered_models", json={"name": "m", "customProperties": _props()}), 201
        )
        v = f.ok(
            client.post(
                f"{V1}/registered_models/{m['id']}/versions", json={"name": "v", "customProperties": _props()}
            ),
            201,
        )
        a = f.ok(
            client.post(
                f"{V1}/model_versions/{v['id']}/artifacts",
                json={"artifactType": "model-artifact", "name": "a", "uri": "s3://b/a"},
            ),
            201,
        )
    if client.app.state.db.dialect == "postgresql":  # type: ignore[attr-defined]
        assert len(statements) == 3, statements
    # What the one statement wrote reads back whole.
    assert f.get(client, f"/registered_models/{m['id']}") == {
        **m,
        "lastUpdateTimeSinceEpoch": a["createTimeSinceEpoch"],
    }
    assert f.get(client, f"/model_versions/{v['id']}")["customProperties"] == _props()
    assert (
        f.get(client, f"/model_versions/{v['id']}")["lastUpdateTimeSinceEpoch"] == a["createTimeSinceEpoch"]
    )
    assert f.get(client, f"/artifacts/{a['id']}") == a
    created = [(e["action"], e["entityType"], e["entityId"]) for e in _events(client)]
    assert created == [
        ("create", "registered_model", m["id"]),
        ("create", "model_version", v["id"]),
        ("create", "artifact", a["id"]),
    ]
    assert _events(client)[1]["changes"]["customProperties"]["after"]["accuracy"] == 0.5  # type: ignore[index]


def test_a_refused_create_writes_nothing(client: TestClient) -> None:
    m = f.ok(client.post(f"{V1}/registered_models", json={"name": "m"}), 201)
    v = f.ok(client.post(f"{V1}/registered_models/{m['id']}/versions", json={"name": "v"}), 201)
    before = _events(client)
    model_before = f.get(client, f"/registered_models/{m['id']}")

    f.err(client.post(f"{V1}/registered_models", json={"name": "m", "customProperties": _props()}), 409)
    f.err(client.post(f"{V1}/registered_models/{m['id']}/versions", json={"name": "v"}), 409)
    f.err(client.post(f"{V1}/registered_models/{v['id']}/versions", json={"name": "w"}), 404)
    f.err(client.post(f"{V1}/registered_models/999999/versions", json={"name": "w"}), 404)
    f.err(
        client.post(
            f"{V1}/model_versions/{m['id']}/artifacts",
            json={"artifactType": "model-artifact", "name": "a", "uri": "s3://b/a"},
        ),
        404,
    )

    assert _events(client) == before
    assert f.get(client, f"/registered_models/{m['id']}") == model_before
    assert f.get(client, "/registered_models")["size"] == 1
    assert f.get(client, "/model_versions")["size"] == 1
    assert f.get(client, "/artifacts")["size"] == 0


def test_a_unit_of_work_that_committed_its_one_statement_runs_no_other(client: TestClient) -> None:
    """A unit of work that says it writes once (`one_write`) and then writes again fails
    loudly on PostgreSQL, where its first create has committed on its own; elsewhere the
    two are one transaction."""
    db = client.app.state.db  # type: ignore[attr-defined]

    def two_creates() -> None:
        with transaction(db, write=True, one_write=True) as session:
            resources.create(session, REGISTERED_MODEL, {"name": "first"}, {})
            resources.create(session, REGISTERED_MODEL, {"name": "second"}, {})

    if db.dialect == "postgresql":
        with pytest.raises(RuntimeError, match="one statement"):
            two_creates()
        made = ["first"]
    else:
        two_creates()
        made = ["first", "second"]
    assert [m["name"] for m in f.get(client, "/registered_models")["items"]] == made


def test_a_create_with_ten_thousand_properties(client: TestClient) -> None:
    """More properties than PostgreSQL takes parameters in one statement (65,535 / 8)."""
    props = {f"p{i:05d}": {"metadataType": "MetadataIntValue", "int_value": str(i)} for i in range(10_000)}
    m = f.ok(client.post(f"{V1}/registered_models", json={"name": "wide", "customProperties": props}), 201)
    assert f.get(client, f"/registered_models/{m['id']}")["customProperties"] == props
