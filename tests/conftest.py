"""Fixtures: the app on each of the three databases, cleaned between tests.

Every storage test runs on SQLite, PostgreSQL and MariaDB. The server databases come
from MODELREG_TEST_POSTGRES_URL and MODELREG_TEST_MARIADB_URL (defaults: the local
servers this project's machines run). Where one cannot be reached its cases skip with
the reason, except under CI=true, where that is a failure: CI must run them all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from modelreg.store.engine import normalize_url
from modelreg.store.schema import metadata

SERVER_URLS = {
    "postgresql": os.environ.get("MODELREG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("MODELREG_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test"),
}
BACKENDS = ("sqlite", "postgresql", "mariadb")
V1 = "/api/model_registry/v1"
V1ALPHA3 = "/api/model_registry/v1alpha3"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _unreachable(backend: str, exc: Exception) -> None:
    reason = f"{backend} at {make_url(SERVER_URLS[backend]).render_as_string()} is unreachable: {exc}"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run every backend; .ci/run starts the servers)")
    pytest.skip(reason)


def _scratch_database(backend: str, worker: str) -> Iterator[str]:
    """A fresh database on the server for this test session, dropped at the end."""
    admin_url = normalize_url(SERVER_URLS[backend])
    name = f"modelreg_test_{worker}_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        _unreachable(backend, exc)
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if backend == "postgresql":
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def database_url(backend: str, worker: str) -> Iterator[str | None]:
    """The URL to give Settings for `backend`: None on SQLite (the data directory's own
    file), else a scratch database's on the server, dropped at the end."""
    if backend == "sqlite":
        yield None
        return
    yield from _scratch_database(backend, worker)


@pytest.fixture(scope="session")
def worker_id_safe(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, worker_id_safe: str
) -> Iterator[Settings]:
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    for url in database_url(backend, worker_id_safe):
        s = Settings(data_dir=data_dir, database_url=url, access_log=False)
        upgrade_schema(s)
        yield s


@pytest.fixture(scope="session")
def app_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def wipe(client: TestClient) -> None:
    db = client.app.state.db  # type: ignore[attr-defined]
    with db.unit_of_work() as session:
        for table in reversed(metadata.sorted_tables):
            session.execute(delete(table))


@pytest.fixture
def client(app_client: TestClient) -> Iterator[TestClient]:
    """The app on one backend, empty at the start of each test."""
    wipe(app_client)
    yield app_client


@pytest.fixture
def sqlite_client(tmp_path: Path) -> Iterator[TestClient]:
    """The app on a private SQLite database, for tests that need no other backend."""
    s = Settings(data_dir=tmp_path, access_log=False)
    upgrade_schema(s)
    with TestClient(create_app(s), raise_server_exceptions=False) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An S3-compatible server for storage tests: moto's standalone server, over HTTP."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None:
                pytest.fail(f"moto server exited: {log.read_text()}")
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"moto server did not start: {log.read_text()}")
    yield url
    proc.terminate()
    proc.wait(timeout=10)
