"""Bad requests: every one is a 4xx with a `{code, message}` body, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api import factories as f
from tests.api.factories import APIS, Json, err
from tests.conftest import V1, V1ALPHA3

RM = f"{V1ALPHA3}/registered_models"


def nothing_stored(c: TestClient) -> None:
    for path in ("/registered_models", "/model_versions", "/artifacts", "/serving_environments"):
        assert f.get(c, path)["items"] == [], path


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"name": "m",}',
        b"{'name': 'm'}",
        b'{"name": "m"} trailing',
        b"[]",
        b'"m"',
        b"null",
        b"42",
        b"",
        b"   ",
        b"\xff\xfe",
    ],
)
@pytest.mark.parametrize("base", APIS)
def test_malformed_json_is_400(client: TestClient, raw: bytes, base: str) -> None:
    headers = {"content-type": "application/json"}
    err(client.post(f"{base}/registered_models", content=raw, headers=headers), 400, code="Bad Request")
    err(client.post(f"{base}/artifacts", content=raw, headers=headers), 400, code="Bad Request")
    m = f.model(client, base=base)
    err(
        client.patch(f"{base}/registered_models/{m['id']}", content=raw, headers=headers),
        400,
        code="Bad Request",
    )
    assert f.get(client, f"/registered_models/{m['id']}", base=base) == m
    assert f.get(client, "/artifacts", base=base)["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": 5},
        {"name": ["m"]},
        {"name": "m", "description": 1},
        {"name": "m", "externalId": True},
        {"name": "m", "state": 1},
        {"name": "m", "state": "live"},
        {"name": "m", "customProperties": []},
        {"name": "m", "customProperties": "x"},
        {"name": "m", "customProperties": {"k": "v"}},
        {"name": "m", "customProperties": {"k": {"string_value": "v"}}},
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataFooValue", "string_value": "v"}}},
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataStringValue", "string_value": 1}}},
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataStringValue", "int_value": "1"}}},
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataIntValue", "int_value": 1}}},
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataIntValue", "int_value": "1.5"}}},
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataIntValue", "int_value": "one"}}},
        {
            "name": "m",
            "customProperties": {"k": {"metadataType": "MetadataDoubleValue", "double_value": "1.5"}},
        },
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataBoolValue", "bool_value": "true"}}},
        {"name": "m", "customProperties": {"k": {"metadataType": "MetadataBoolValue", "bool_value": 1}}},
        {
            "name": "m",
            "customProperties": {"k": {"metadataType": "MetadataStructValue", "struct_value": "%%%"}},
        },
        {
            "name": "m",
            "customProperties": {
                "k": {"metadataType": "MetadataStructValue", "struct_value": f.b64json([1])}
            },
        },
        {
            "name": "m",
            "customProperties": {
                "k": {"metadataType": "MetadataProtoValue", "type": "t", "proto_value": "%"}
            },
        },
        {"name": "m", "customProperties": {"": f.string_prop("v")}},
        {"name": "m", "customProperties": {"k" * 256: f.string_prop("v")}},
    ],
)
def test_wrong_types_are_400(client: TestClient, body: Json) -> None:
    err(client.post(RM, json=body), 400, code="Bad Request")
    nothing_stored(client)


@pytest.mark.parametrize(
    "int_value",
    ["1234567890", "-1234567890", "99999999999999999999", "01", "--1", " 1", "1e3", ""],
)
def test_int_properties_are_at_most_nine_digits(client: TestClient, int_value: str) -> None:
    prop = {"k": {"metadataType": "MetadataIntValue", "int_value": int_value}}
    err(client.post(RM, json={"name": "m", "customProperties": prop}), 400, code="Bad Request")
    m = f.model(client)
    err(client.patch(f"{RM}/{m['id']}", json={"customProperties": prop}), 400)
    assert f.get(client, f"/registered_models/{m['id']}")["customProperties"] == {}


def test_int_property_limits_round_trip(client: TestClient) -> None:
    props = {
        "max": {"metadataType": "MetadataIntValue", "int_value": "999999999"},
        "min": {"metadataType": "MetadataIntValue", "int_value": "-999999999"},
        "big": {"metadataType": "MetadataDoubleValue", "double_value": 1.7976931348623157e308},
        "tiny": {"metadataType": "MetadataDoubleValue", "double_value": -5e-324},
        "long": f.string_prop("x" * 70_000),
    }
    m = f.model(client, customProperties=props)
    assert f.get(client, f"/registered_models/{m['id']}")["customProperties"] == props


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "a\\u0000b"}',
        b'{"name": "m", "description": "\\u0000"}',
        b'{"name": "m", "customProperties": {"k\\u0000": {"metadataType": "MetadataStringValue", "string_value": "v"}}}',
        b'{"name": "m", "customProperties": {"k": {"metadataType": "MetadataStringValue", "string_value": "\\u0000"}}}',
        b'{"name": "a\x00b"}',
    ],
)
@pytest.mark.parametrize("base", APIS)
def test_nul_characters_in_bodies_are_400(client: TestClient, raw: bytes, base: str) -> None:
    headers = {"content-type": "application/json"}
    err(client.post(f"{base}/registered_models", content=raw, headers=headers), 400, "NUL", "Bad Request")
    m = f.model(client, base=base)
    patch_raw = raw.replace(b'"name": ', b'"description": ')
    err(client.patch(f"{base}/registered_models/{m['id']}", content=patch_raw, headers=headers), 400, "NUL")
    assert f.get(client, "/registered_models", base=base)["items"] == [m]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/registered_model", {"name": "a\x00"}),
        ("/registered_models", {"filterQuery": "name = 'a\x00'"}),
        ("/registered_models", {"name": "\x00"}),
        ("/model_version", {"externalId": "x\x00y"}),
    ],
)
def test_nul_characters_in_queries_are_400(client: TestClient, path: str, params: dict[str, str]) -> None:
    err(client.get(V1ALPHA3 + path, params=params), 400, "NUL", "Bad Request")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/registered_models", {"name": "n" * 256}),
        ("/registered_models", {"name": "m", "externalId": "e" * 256}),
        ("/registered_models", {"name": "m", "owner": "o" * 256}),
        ("/serving_environments", {"name": "n" * 1000}),
        ("/artifacts", {"artifactType": "model-artifact", "name": "n" * 256}),
        ("/artifacts", {"artifactType": "model-artifact", "modelFormatName": "f" * 256}),
        ("/experiments", {"name": "n" * 256}),
    ],
)
def test_very_long_names_are_400(client: TestClient, path: str, body: Json) -> None:
    err(client.post(V1ALPHA3 + path, json=body), 400, "255", "Bad Request")
    nothing_stored(client)
    assert f.get(client, "/experiments")["items"] == []


def test_huge_body_is_refused(client: TestClient) -> None:
    r = client.post(RM, json={"name": "m", "description": "x" * (5 * 1024 * 1024)})
    err(r, 413)
    nothing_stored(client)


@pytest.mark.parametrize("base", APIS)
def test_unknown_paths_and_methods(client: TestClient, base: str) -> None:
    err(client.get(f"{base}/nothing_here"), 404, code="Not Found")
    err(client.get(f"{base}/registered_models/1/nothing"), 404)
    err(client.get("/api/model_registry/v2/registered_models"), 404)
    err(client.put(f"{base}/registered_models", json={"name": "m"}), 405, code="Method Not Allowed")
    err(client.delete(f"{base}/registered_models"), 405)
    err(client.post(f"{base}/registered_models/1", json={}), 405)
    err(client.patch(f"{base}/registered_model", json={}), 405)
    nothing_stored(client)


@pytest.mark.parametrize("base", APIS)
def test_required_fields_are_422_with_bad_request_code(client: TestClient, base: str) -> None:
    err(
        client.post(f"{base}/registered_models", json={}),
        422,
        "required field 'name' is zero value.",
        "Bad Request",
    )
    err(client.post(f"{base}/registered_models", json={"name": None}), 422, "'name'", "Bad Request")
    proto = {"k": {"metadataType": "MetadataProtoValue", "proto_value": "AAA="}}
    err(client.post(f"{base}/registered_models", json={"name": "m", "customProperties": proto}), 422, "type")
    err(client.post(f"{base}/serving_environments", json={"description": "d"}), 422, "'name'", "Bad Request")
    m = f.model(client, base=base)
    err(client.post(f"{base}/model_versions", json={"name": "v"}), 422, "registeredModelId", "Bad Request")
    err(
        client.post(f"{base}/model_versions", json={"registeredModelId": m["id"]}),
        422,
        "'name'",
        "Bad Request",
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/model_versions", {"name": "v", "registeredModelId": 1}),
        ("/model_versions", {"name": "v", "registeredModelId": "0"}),
        ("/model_versions", {"name": "v", "registeredModelId": "abc"}),
        ("/model_versions", {"name": "v", "registeredModelId": "1234567890"}),
        ("/registered_models", {"name": "m", "id": "1"}),
        ("/registered_models", {"name": "m", "createTimeSinceEpoch": "1"}),
    ],
)
def test_bad_ids_and_read_only_fields_are_400(client: TestClient, path: str, body: Json) -> None:
    err(client.post(V1ALPHA3 + path, json=body), 400, code="Bad Request")
    nothing_stored(client)


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/model_version", {"parentResourceId": "abc", "name": "v"}, 400),
        ("/model_version", {"parentResourceId": "0", "name": "v"}, 400),
        ("/registered_models", {"filterQuery": "name = "}, 400),
        ("/registered_models", {"filterQuery": "nosuchop ~ 1"}, 400),
        ("/registered_models", {"filterQuery": "(name = 'a'"}, 400),
        ("/artifacts", {"artifactType": "nope"}, 400),
    ],
)
def test_bad_query_parameters_are_400(
    client: TestClient, path: str, params: dict[str, Any], status: int
) -> None:
    err(client.get(V1ALPHA3 + path, params=params), status, code="Bad Request")


def test_errors_are_json_on_both_prefixes(client: TestClient) -> None:
    for base in (V1, V1ALPHA3):
        r = client.get(f"{base}/registered_models/999999")
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["code"] == "Not Found"
        assert "999999" in r.json()["message"]


def test_an_unexpected_failure_is_a_500_without_a_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The registry's own routes run on a short path (api/fastpath.FrontDoor); a bug there
    still meets the server's last handler: a JSON 500 with the request id, the traceback
    in the log only."""
    model = f.post(client, "/registered_models", {"name": "m"})

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("modelreg.service.resources.get", broken)
    r = client.get(f"{RM}/{model['id']}", headers={"X-Request-ID": "req-500"})
    err(r, 500, "server log")
    assert "secret" not in r.text and "Traceback" not in r.text
    assert r.headers["x-request-id"] == "req-500"
    assert "secret internals" in caplog.text and "req-500" in caplog.text
