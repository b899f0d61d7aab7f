"""Gets by id on SQLite are answered from kept answers while nothing is committed: a
commit by any connection (this worker's writes, another worker's, another process's)
must show in the next get."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.conftest import V1


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, Settings]]:
    """Two apps on one SQLite registry, each with its own connections, as two workers."""
    settings = Settings(data_dir=tmp_path, access_log=False)
    upgrade_schema(settings)
    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as a,
        TestClient(create_app(settings), raise_server_exceptions=False) as b,
    ):
        yield a, b, settings


def _version(c: TestClient) -> str:
    model = c.post(f"{V1}/registered_models", json={"name": "m"}).json()["id"]
    r = c.post(
        f"{V1}/registered_models/{model}/versions",
        json={"name": "v1", "registeredModelId": model, "description": "first"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _description(c: TestClient, version: str) -> str:
    r = c.get(f"{V1}/model_versions/{version}")
    assert r.status_code == 200, r.text
    return str(r.json()["description"])


def test_a_change_by_this_worker_shows_in_its_next_get(
    two_workers: tuple[TestClient, TestClient, Settings],
) -> None:
    a, _, _ = two_workers
    version = _version(a)
    assert _description(a, version) == "first"
    assert _description(a, version) == "first"
    a.patch(f"{V1}/model_versions/{version}", json={"description": "second"})
    assert _description(a, version) == "second"


def test_a_change_by_another_worker_shows_in_the_next_get(
    two_workers: tuple[TestClient, TestClient, Settings],
) -> None:
    a, b, _ = two_workers
    version = _version(a)
    assert _description(a, version) == "first"
    assert _description(b, version) == "first"
    r = b.patch(f"{V1}/model_versions/{version}", json={"description": "second", "state": "ARCHIVED"})
    assert r.status_code == 200, r.text
    got = a.get(f"{V1}/model_versions/{version}").json()
    assert (got["description"], got["state"]) == ("second", "ARCHIVED")
    # A change to what a get shows of other rows too: the version's properties.
    r = b.patch(
        f"{V1}/model_versions/{version}",
        json={"customProperties": {"team": {"metadataType": "MetadataStringValue", "string_value": "t"}}},
    )
    assert r.status_code == 200, r.text
    assert a.get(f"{V1}/model_versions/{version}").json()["customProperties"]["team"]["string_value"] == "t"


def test_a_commit_by_another_process_shows_in_the_next_get(
    two_workers: tuple[TestClient, TestClient, Settings],
) -> None:
    a, _, settings = two_workers
    version = _version(a)
    assert _description(a, version) == "first"
    database = settings.resolved_database_url().removeprefix("sqlite:///")
    with sqlite3.connect(database) as other:  # not modelreg's code at all
        other.execute("UPDATE model_versions SET description = 'edited' WHERE id = ?", (int(version),))
    assert _description(a, version) == "edited"
    with sqlite3.connect(database) as other:
        other.execute("DELETE FROM custom_properties WHERE resource_id = ?", (int(version),))
        other.execute("DELETE FROM model_versions WHERE id = ?", (int(version),))
    assert a.get(f"{V1}/model_versions/{version}").status_code == 404
