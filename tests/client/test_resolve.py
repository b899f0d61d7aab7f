"""resolve: model-registry:// URIs read and resolved the way KServe's storage initializer does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelreg.client import Client, InvalidRequest, NotFound, Unavailable
from tests.client.conftest import Registry, ThreadServer, fresh_app


def test_model_and_version_or_the_latest(client: Client) -> None:
    client.register_model("fraud", "1", uri="s3://fraud/1")
    client.register_model("fraud", "2", uri="s3://fraud/2")
    assert client.resolve("model-registry://fraud/1") == "s3://fraud/1"
    assert client.resolve("model-registry://fraud") == "s3://fraud/2"
    assert client.resolve("model-registry://fraud?namespace=") == "s3://fraud/2"


def test_the_newest_artifact_wins_and_must_be_a_model_artifact(client: Client, registry: Registry) -> None:
    v = client.register_model("fraud", "1", uri="s3://fraud/1")
    url = f"{registry.url}/api/model_registry/v1/model_versions/{v.id}/artifacts"
    r = httpx.post(url, json={"artifactType": "model-artifact", "name": "retrained", "uri": "s3://fraud/1b"})
    assert r.status_code == 201, r.text
    assert client.resolve("model-registry://fraud/1") == "s3://fraud/1b"
    r = httpx.post(url, json={"artifactType": "doc-artifact", "name": "readme", "uri": "s3://fraud/README"})
    assert r.status_code == 201, r.text
    with pytest.raises(NotFound, match="not a model artifact"):
        client.resolve("model-registry://fraud/1")


def test_own_host_in_the_uri(client: Client, registry: Registry) -> None:
    client.register_model("fraud", "1", uri="s3://fraud/1")
    host = registry.url.removeprefix("http://")
    assert client.resolve(f"model-registry://{host}/fraud/1") == "s3://fraud/1"
    assert client.resolve(f"model-registry://{host}/fraud") == "s3://fraud/1"


class HeaderSpy(httpx.BaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.seen: list[tuple[str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.netloc.decode(), request.headers.get("authorization")))
        return self.inner.handle_request(request)


def test_another_registry_named_in_the_uri_gets_no_token(
    registry: Registry, migrated_template: Path, tmp_path: Path
) -> None:
    other_app = fresh_app(migrated_template, tmp_path / "other")
    with ThreadServer(other_app) as other_url:
        with Client(other_url) as other:
            other.register_model("elsewhere", "1", uri="s3://elsewhere/1")
        spy = HeaderSpy()
        host = other_url.removeprefix("http://")
        with Client(registry.url, token="secret", transport=spy) as c:
            assert c.resolve(f"model-registry://{host}/elsewhere/1") == "s3://elsewhere/1"
            # Two parts: the first is a host because a registry answers there.
            assert c.resolve(f"model-registry://{host}/elsewhere") == "s3://elsewhere/1"
            c.register_model("local", "1", uri="s3://local/1")
    assert {auth for netloc, auth in spy.seen if netloc == host} == {None}
    assert {auth for netloc, auth in spy.seen if netloc != host} == {"Bearer secret"}


def test_two_parts_that_are_not_a_host_are_model_and_version(client: Client) -> None:
    client.register_model("fraud-detector", "v1", uri="s3://fd/v1")
    assert client.resolve("model-registry://fraud-detector/v1") == "s3://fd/v1"


@pytest.mark.parametrize(
    "uri",
    [
        "model-registry://",
        "model-registry:///iris",
        "model-registry://localhost:8080/",
        "model-registry://iris/",
        "model-registry://localhost:8080/iris/",
        "s3://bucket/model",
    ],
)
def test_malformed_uris_are_refused(client: Client, uri: str) -> None:
    with pytest.raises(InvalidRequest):
        client.resolve(uri)


def test_missing_model_or_version(client: Client) -> None:
    with pytest.raises(NotFound):
        client.resolve("model-registry://nothing-here")
    client.register_model("fraud", "1", uri="s3://fraud/1")
    with pytest.raises(Unavailable, match=r"127\.0\.0\.1:1"):
        client.resolve("model-registry://127.0.0.1:1/fraud/1")  # three parts: always a host
    with pytest.raises(NotFound):
        client.resolve("model-registry://fraud/9")


def test_a_namespace_names_that_namespace_registry_service(client: Client) -> None:
    with pytest.raises(Unavailable, match=r"model-registry-service\.team-a\.svc\.cluster\.local"):
        client.resolve("model-registry://fraud/1?namespace=team-a")
