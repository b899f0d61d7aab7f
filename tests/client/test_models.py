"""Registered models through the client: create, find, list with paging, change, archive,
delete; metadata and labels as plain Python values both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from modelreg.client import Client, Conflict, InvalidRequest, NotFound, RegisteredModel
from tests.client.conftest import CountingTransport, Registry

V1 = "/api/model_registry/v1"


def test_create_and_get_by_name_or_id(client: Client) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    m = client.create_model("fraud", description="card fraud", owner="ana")
    assert isinstance(m, RegisteredModel)
    assert (m.name, m.description, m.owner, m.state) == ("fraud", "card fraud", "ana", "LIVE")
    assert isinstance(m.id, str) and m.created_at >= before and m.created_at.tzinfo is not None
    assert client.get_model("fraud") == m
    assert client.get_model(m.id) == m
    assert client.get_model(m) == m


def test_a_numeric_name_wins_over_an_id(client: Client) -> None:
    first = client.create_model("first")
    named = client.create_model(first.id)  # a model called "1"
    assert client.get_model(first.id).id == named.id
    assert client.get_model(first).id == first.id


def test_metadata_round_trips_as_python_values(client: Client, registry: Registry) -> None:
    metadata = {"team": "risk", "epochs": 12, "auc": 0.93, "approved": True, "config": {"layers": [3, 4]}}
    m = client.create_model("typed", metadata=metadata, labels=["production", "gpu"])
    assert m.metadata == metadata
    assert type(m.metadata["epochs"]) is int and type(m.metadata["approved"]) is bool
    assert sorted(m.labels) == ["gpu", "production"]
    # On the wire they are Kubeflow MetadataValues; labels are empty strings, as the UI stores them.
    raw = httpx.get(f"{registry.url}{V1}/registered_models/{m.id}").json()["customProperties"]
    assert raw["epochs"] == {"metadataType": "MetadataIntValue", "int_value": "12"}
    assert raw["auc"] == {"metadataType": "MetadataDoubleValue", "double_value": 0.93}
    assert raw["approved"] == {"metadataType": "MetadataBoolValue", "bool_value": True}
    assert raw["production"] == {"metadataType": "MetadataStringValue", "string_value": ""}
    assert raw["config"]["metadataType"] == "MetadataStructValue"


def test_update_merges_metadata_and_keeps_what_it_does_not_know(client: Client, registry: Registry) -> None:
    m = client.create_model("merge", metadata={"a": 1, "b": "two"}, labels=["x", "y"])
    # A proto value the client cannot show must survive an update untouched.
    proto = {"metadataType": "MetadataProtoValue", "type": "t.Msg", "proto_value": "AAE="}
    props = httpx.get(f"{registry.url}{V1}/registered_models/{m.id}").json()["customProperties"]
    r = httpx.patch(
        f"{registry.url}{V1}/registered_models/{m.id}", json={"customProperties": {**props, "p": proto}}
    )
    assert r.status_code == 200, r.text
    updated = client.update_model(
        "merge", owner="bo", metadata={"a": 2, "b": None, "c": 0.5}, labels=["y", "z"]
    )
    assert updated.owner == "bo"
    assert updated.metadata == {"a": 2, "c": 0.5}
    assert sorted(updated.labels) == ["y", "z"]
    raw = httpx.get(f"{registry.url}{V1}/registered_models/{m.id}").json()["customProperties"]
    assert raw["p"] == proto
    unchanged = client.update_model("merge", description="now described")
    assert unchanged.metadata == updated.metadata and unchanged.description == "now described"


def test_values_the_registry_cannot_hold_are_refused_before_sending(client: Client) -> None:
    with pytest.raises(InvalidRequest, match="outside the integers"):
        client.create_model("big", metadata={"n": 10**12})
    with pytest.raises(InvalidRequest, match="finite"):
        client.create_model("nan", metadata={"x": float("nan")})
    with pytest.raises(InvalidRequest, match="list"):
        client.create_model("list", metadata={"x": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(NotFound):
        client.get_model("big")


def test_errors_are_typed(client: Client) -> None:
    client.create_model("taken")
    with pytest.raises(Conflict) as conflict:
        client.create_model("taken")
    assert conflict.value.status == 409 and "taken" in conflict.value.message
    with pytest.raises(NotFound, match="no registered model named 'missing'"):
        client.get_model("missing")
    with pytest.raises(InvalidRequest, match="position") as bad:
        list(client.list_models(filter="name = "))
    assert bad.value.status == 400 and bad.value.code == "Bad Request"


def test_listing_pages_transparently(client: Client, transport: CountingTransport) -> None:
    for i in range(7):
        client.create_model(f"m{i}", owner="ana" if i % 2 else "bo")
    transport.requests.clear()
    names = [m.name for m in client.list_models(page_size=3)]
    assert names == [f"m{i}" for i in range(7)]
    assert transport.count("GET", "/registered_models") == 3  # pages of 3, 3 and 1
    assert [m.name for m in client.list_models(order_by="name", descending=True, page_size=2)][:2] == [
        "m6",
        "m5",
    ]
    assert [m.name for m in client.list_models(filter="owner = 'ana'")] == ["m1", "m3", "m5"]
    assert [m.name for m in client.list_models(limit=4, page_size=3)] == ["m0", "m1", "m2", "m3"]
    assert client.list_models(filter="owner = 'nobody'").first() is None
    with pytest.raises(InvalidRequest, match="order_by"):
        client.list_models(order_by="size")


def test_archive_restore_delete(client: Client) -> None:
    client.create_model("life")
    assert client.archive("life").state == "ARCHIVED"
    assert client.get_model("life").state == "ARCHIVED"
    assert client.restore("life").state == "LIVE"
    client.delete("life")
    with pytest.raises(NotFound):
        client.get_model("life")
    with pytest.raises(NotFound):
        client.delete("life")
