"""Typed errors rebuilt from `{code, message}`, and from failures before any answer."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import httpx
import pytest

from modelreg.api.app import create_app
from modelreg.client import (
    Client,
    Conflict,
    InvalidRequest,
    ModelregError,
    NotFound,
    PermissionDenied,
    ServerError,
    Unavailable,
)
from modelreg.settings import Settings
from tests.client.conftest import ThreadServer


def answering(
    status: int, body: bytes | dict[str, str], seen: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content = json.dumps(body).encode() if isinstance(body, dict) else body
        return httpx.Response(status, content=content)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequest),
        (401, PermissionDenied),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (413, InvalidRequest),
        (422, InvalidRequest),
        (500, ServerError),
        (502, Unavailable),
        (503, Unavailable),
    ],
)
def test_each_status_has_its_error(status: int, cls: type[ModelregError]) -> None:
    body = {"code": "Whatever", "message": "what went wrong"}
    with Client("http://registry.test", transport=answering(status, body)) as c, pytest.raises(cls) as err:
        c.create_model("m")
    assert err.value.status == status and err.value.code == "Whatever"
    assert "what went wrong" in str(err.value)
    assert err.value.url == "http://registry.test/api/model_registry/v1/registered_models"


def test_a_wrong_token_is_permission_denied_in_one_line() -> None:
    seen: list[httpx.Request] = []
    body = {"code": "Unauthorized", "message": "invalid token\nsee the docs"}
    denied = answering(401, body, seen)
    with (
        Client("http://registry.test", token="wrong", transport=denied) as c,
        pytest.raises(PermissionDenied) as err,
    ):
        c.get_model("fraud")
    assert seen[0].headers["authorization"] == "Bearer wrong"
    message = str(err.value)
    assert "\n" not in message
    assert "invalid token" in message and "401" in message and "check the token" in message


def test_a_proxy_page_is_not_taken_for_an_error_message() -> None:
    html = b"<html><body><h1>403 Forbidden</h1></body></html>"
    with (
        Client("http://registry.test", transport=answering(403, html)) as c,
        pytest.raises(PermissionDenied) as err,
    ):
        c.get_model("fraud")
    assert str(err.value).startswith("Forbidden") and "<" not in str(err.value)


def test_an_answer_that_is_not_json_is_a_server_error() -> None:
    html = answering(200, b"<html>hello</html>")
    with Client("http://registry.test", transport=html) as c, pytest.raises(ServerError, match="not JSON"):
        c.get_model("fraud")


def test_no_server_is_unavailable_with_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}") as c, pytest.raises(Unavailable) as err:
        c.get_model("fraud")
    assert f"http://127.0.0.1:{port}" in str(err.value) and err.value.status is None


def test_a_timeout_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    slow = httpx.MockTransport(handler)
    with Client("http://registry.test", transport=slow) as c, pytest.raises(Unavailable, match="in time"):
        c.get_model("fraud")


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://reg.example.com/", "https://reg.example.com"),
        ("https://reg.example.com/api/model_registry/v1", "https://reg.example.com"),
        ("https://example.com/registry/api/model_registry/v1alpha3/", "https://example.com/registry"),
    ],
)
def test_the_url_is_the_registry_root(given: str, base: str) -> None:
    assert Client(given).url == base


def test_url_and_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELREG_URL", "http://env.test:1234")
    monkeypatch.setenv("MODELREG_TOKEN", "from-env")
    seen: list[httpx.Request] = []
    with Client(transport=answering(404, {"code": "Not Found", "message": "no"}, seen)) as c:
        assert c.url == "http://env.test:1234"
        with pytest.raises(NotFound):
            c.get_model("x")
    assert seen[0].headers["authorization"] == "Bearer from-env"
    monkeypatch.delenv("MODELREG_URL")
    assert Client().url == "http://127.0.0.1:8080"


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        Client("ftp://example.com")


def test_a_registry_that_requires_a_token_refuses_a_wrong_one(
    migrated_template: Path, tmp_path: Path
) -> None:
    shutil.copytree(migrated_template, tmp_path / "data")
    app = create_app(Settings(data_dir=tmp_path / "data", access_log=False, auth=True))
    with ThreadServer(app) as url:
        for token in (None, "not-a-real-token"):
            with Client(url, token=token) as c, pytest.raises(PermissionDenied) as err:
                c.list_models().first()
            assert err.value.status == 401 and "check the token" in str(err.value)
