"""Versions through the client: by name, id or "latest", listed, changed, archived."""

from __future__ import annotations

import httpx
import pytest

from modelreg.client import Client, NotFound
from tests.client.conftest import Registry


def _versions(client: Client, model: str, *names: str) -> None:
    for name in names:
        client.register_model(model, name, uri=f"s3://bucket/{model}/{name}", author="ana")


def test_get_version_by_name_id_and_latest(client: Client) -> None:
    _versions(client, "fraud", "1.0.0", "1.1.0", "2.0.0")
    v = client.get_version("fraud", "1.1.0")
    assert (v.name, v.author, v.state) == ("1.1.0", "ana", "LIVE")
    assert v.model_id == client.get_model("fraud").id
    assert client.get_version("fraud", v.id) == v
    assert client.get_version("fraud", "latest").name == "2.0.0"
    assert client.get_version("fraud").name == "2.0.0"
    assert client.get_version("fraud", v) == v


def test_a_version_id_of_another_model_is_not_found(client: Client) -> None:
    _versions(client, "a", "1")
    _versions(client, "b", "1")
    other = client.get_version("b", "1")
    with pytest.raises(NotFound, match="no version"):
        client.get_version("a", other.id)
    with pytest.raises(NotFound, match="has no versions"):
        client.create_model("empty")
        client.get_version("empty")


def test_list_versions_with_filter_and_order(client: Client) -> None:
    for name, auc in (("1", 0.8), ("2", 0.95), ("3", 0.91)):
        client.register_model("m", name, uri=f"s3://m/{name}", metadata={"auc": auc})
    assert [v.name for v in client.list_versions("m", page_size=2)] == ["1", "2", "3"]
    assert [v.name for v in client.list_versions("m", filter="auc > 0.9", descending=True)] == ["3", "2"]
    with pytest.raises(NotFound):
        list(client.list_versions("no-such-model"))


def test_update_version(client: Client) -> None:
    client.register_model("m", "1", uri="s3://m/1", metadata={"auc": 0.9}, labels=["candidate"])
    v = client.update_version("m", "1", author="bo", metadata={"f1": 0.7}, labels=["production"])
    assert v.author == "bo" and v.metadata == {"auc": 0.9, "f1": 0.7} and v.labels == ["production"]
    assert client.get_version("m", "1").labels == ["production"]


def test_archive_and_restore_a_version_or_the_model_with_its_versions(client: Client) -> None:
    _versions(client, "m", "1", "2")
    assert client.archive("m", "1").state == "ARCHIVED"
    assert client.get_version("m", "2").state == "LIVE"
    client.archive("m")
    assert {v.name: v.state for v in client.list_versions("m")} == {"1": "ARCHIVED", "2": "ARCHIVED"}
    client.restore("m")  # brings back what was archived with it, not version 1
    assert {v.name: v.state for v in client.list_versions("m")} == {"1": "ARCHIVED", "2": "LIVE"}
    assert client.restore("m", "1").state == "LIVE"


def test_delete_a_version(client: Client) -> None:
    _versions(client, "m", "1", "2")
    client.delete("m", "1")
    assert [v.name for v in client.list_versions("m")] == ["2"]
    with pytest.raises(NotFound):
        client.get_version("m", "1")


def test_get_artifact_is_the_newest_model_artifact(client: Client, registry: Registry) -> None:
    client.register_model("m", "1", uri="s3://m/1", model_format_name="onnx", model_format_version="1")
    a = client.get_artifact("m", "1")
    assert (a.uri, a.model_format_name, a.model_format_version, a.name) == ("s3://m/1", "onnx", "1", "m")
    bare = client.create_model("bare")
    httpx.post(
        f"{registry.url}/api/model_registry/v1/registered_models/{bare.id}/versions", json={"name": "0"}
    )
    with pytest.raises(NotFound, match="no model artifact"):
        client.get_artifact("bare", "0")
