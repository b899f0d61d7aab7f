"""SQLite list reads run on the worker's event loop, but a long one must not hold it:
past `sqlite_loop_read_ms` it is stopped and answered from a thread, the same answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench._loader import load
from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.conftest import V1

# Pages whose reads are many SQLite steps: filtered on properties, ordered, paged.
_PAGES = [
    {"pageSize": "7", "orderBy": "NAME", "sortOrder": "ASC"},
    {"pageSize": "5", "filterQuery": "team = 'team-3'"},
    {"pageSize": "50", "filterQuery": "dataset LIKE 'ds-00%' AND accuracy > 0.6", "orderBy": "ID"},
    {"pageSize": "3", "orderBy": "LAST_UPDATE_TIME", "sortOrder": "DESC"},
]


def _client(data_dir: Path, budget_ms: float) -> TestClient:
    settings = Settings(data_dir=data_dir, access_log=False, sqlite_loop_read_ms=budget_ms)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def _walk(c: TestClient, params: dict[str, str]) -> list[list[str]]:
    """The first pages of `params` (at most 6), as lists of version ids."""
    pages: list[list[str]] = []
    token = ""
    while len(pages) < 6:
        r = c.get(f"{V1}/model_versions", params={**params, "nextPageToken": token} if token else params)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append([item["id"] for item in body["items"]])
        token = body["nextPageToken"]
        if not token:
            break
    return pages


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SQLite registry of 500 models of 120 versions, each with three properties."""
    data_dir = tmp_path_factory.mktemp("long-reads")
    settings = Settings(data_dir=data_dir)
    upgrade_schema(settings)
    load(settings.resolved_database_url(), 500, 120, quiet=True)
    yield data_dir


def test_a_read_stopped_at_its_budget_answers_the_same_from_a_thread(catalog: Path) -> None:
    with _client(catalog, 10_000) as on_loop, _client(catalog, 0) as moved:
        for params in _PAGES:
            expected = _walk(on_loop, params)
            assert sum(map(len, expected)) > 0, params
            assert _walk(moved, params) == expected, params


def _get_while_scanning(c: TestClient) -> tuple[float, float]:
    """When a get by id, sent while a page scans every version for a value none has, was
    answered, and when the scan was (seconds from the scan's start)."""
    version = c.get(f"{V1}/model_versions", params={"pageSize": "1"}).json()["items"][0]["id"]
    nowhere = " OR ".join(
        f"{p} LIKE '%{w}%'" for w in ("none", "x", "y", "z", "q") for p in ("dataset", "team")
    )
    scan = {"filterQuery": nowhere, "pageSize": "10"}
    started = time.perf_counter()
    scanned: list[float] = []

    def run_scan() -> None:
        r = c.get(f"{V1}/model_versions", params=scan)
        assert r.status_code == 200 and r.json()["items"] == [], r.text
        scanned.append(time.perf_counter() - started)

    scanner = threading.Thread(target=run_scan)
    scanner.start()
    time.sleep(0.05)  # the scan has begun
    r = c.get(f"{V1}/model_versions/{version}")
    got = time.perf_counter() - started
    assert r.status_code == 200, r.text
    scanner.join(60)
    return got, scanned[0]


def test_a_long_scan_does_not_hold_up_the_requests_behind_it(catalog: Path) -> None:
    # The control: with no budget to speak of, the get waits for the whole scan.
    with _client(catalog, 1e9) as c:
        got, scanned = _get_while_scanning(c)
        assert scanned > 0.2, f"the scan took {scanned:.3f} s: too short to tell anything"
        assert got >= scanned - 0.01, (got, scanned)
    with _client(catalog, 10) as c:
        got, scanned = _get_while_scanning(c)
        assert got < scanned / 2, f"the get was answered at {got:.3f} s, the scan at {scanned:.3f} s"
