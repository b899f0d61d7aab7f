"""Gets by id on SQLite and PostgreSQL are answered from kept answers while nothing is
committed: a commit by any connection (this worker's writes, another worker's or
replica's, another program's) must show in the next get. MariaDB keeps none; the same
must hold there."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.conftest import BACKENDS, V1, database_url


@pytest.fixture(params=BACKENDS)
def two_workers(
    request: pytest.FixtureRequest, tmp_path: Path, worker_id_safe: str
) -> Iterator[tuple[TestClient, TestClient, Settings]]:
    """Two apps on one registry, each with its own connections, as two workers (or two
    replicas)."""
    for url in database_url(request.param, worker_id_safe):
        settings = Settings(data_dir=tmp_path, database_url=url, access_log=False)
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


def _commit_elsewhere(settings: Settings, *statements: str) -> None:
    """Run `statements` in one transaction on a connection that is not modelreg's."""
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as other:
            for statement in statements:
                other.execute(statement)
        return
    engine = create_engine(url)
    try:
        with engine.begin() as other:
            for statement in statements:
                other.execute(text(statement))
    finally:
        engine.dispose()


def test_a_commit_by_another_process_shows_in_the_next_get(
    two_workers: tuple[TestClient, TestClient, Settings],
) -> None:
    a, _, settings = two_workers
    version = _version(a)
    assert _description(a, version) == "first"
    _commit_elsewhere(settings, f"UPDATE model_versions SET description = 'edited' WHERE id = {int(version)}")
    assert _description(a, version) == "edited"
    _commit_elsewhere(
        settings,
        f"DELETE FROM custom_properties WHERE resource_id = {int(version)}",
        f"DELETE FROM model_versions WHERE id = {int(version)}",
    )
    assert a.get(f"{V1}/model_versions/{version}").status_code == 404


def test_kept_answers_stay_within_their_size() -> None:
    from modelreg.api.read_cache import ReadCache

    class Owner:  # a reading connection, say
        pass

    owner = Owner()
    cache = ReadCache(size=1000)
    for i in range(30):
        cache.put((owner, 1), i, bytes(100))
    kept = [i for i in range(30) if cache.get((owner, 1), i) is not None]
    assert kept == list(range(20, 30)), "the newest answers, up to the size"
    cache.put((owner, 1), 29, bytes(500))  # a key given again counts once
    assert sum(len(cache.get((owner, 1), i) or b"") for i in range(30)) <= 1000
    assert cache.get((owner, 1), 29) == bytes(500)
    cache.put((owner, 1), "big", bytes(1001))
    assert cache.get((owner, 1), "big") is None, "an answer bigger than the whole is not kept"
    assert cache.get((owner, 1), 29) == bytes(500), "nor does it drop the others"
    assert cache.get((owner, 2), 29) is None, "nothing kept under another stamp"
