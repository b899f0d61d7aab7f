"""Fixtures for the web UI's tests: the app on SQLite, as a browser would call it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.access.conftest import ADMIN_USER, mint_admin_token

HTML = {"accept": "text/html,application/xhtml+xml"}
V1 = "/api/model_registry/v1"


def browser(app: Any) -> TestClient:
    return TestClient(app, headers=HTML, raise_server_exceptions=False)


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[TestClient]:
    """Single-user mode: no sign-in, the local user is an admin."""
    s = Settings(data_dir=tmp_path, access_log=False, single_user_name="ana")
    upgrade_schema(s)
    with browser(create_app(s)) as client:
        yield client


@pytest.fixture
def auth_ui(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    """Authentication on: (client, an admin's token)."""
    s = Settings(data_dir=tmp_path, access_log=False, auth=True, admin_users=[ADMIN_USER])
    upgrade_schema(s)
    app = create_app(s)
    with browser(app) as client:
        yield client, mint_admin_token(app)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]*)"', html)
    return m.group(1) if m else ""


def seed_model(client: TestClient, name: str = "fraud-detector", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "owner": "ana", "description": "card fraud scoring", **extra}
    r = client.post(f"{V1}/registered_models", json=body, headers={"accept": "application/json"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def seed_version(
    client: TestClient, model_id: str, name: str = "1.0.0", uri: str | None = None
) -> dict[str, Any]:
    r = client.post(f"{V1}/registered_models/{model_id}/versions",
                    json={"name": name, "author": "ana", "registeredModelId": model_id})  # fmt: skip
    assert r.status_code == 201, r.text
    version = dict(r.json())
    if uri:
        r = client.post(f"{V1}/model_versions/{version['id']}/artifacts",
                        json={"artifactType": "model-artifact", "name": name, "uri": uri,
                              "modelFormatName": "onnx", "modelFormatVersion": "1"})  # fmt: skip
        assert r.status_code in (200, 201), r.text
    return version


def no_trace(r: httpx.Response) -> None:
    assert "Traceback" not in r.text and 'File "' not in r.text, r.text[:2000]
