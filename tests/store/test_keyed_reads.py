"""PostgreSQL's gets and finds by key (store.keyed_reads): prepared statements on
connections of their own, which must outlive what the server does to them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from modelreg.api.app import create_app
from modelreg.service.registry import upgrade_schema
from modelreg.settings import Settings
from tests.api import factories as f
from tests.conftest import V1, _scratch_database


@pytest.fixture
def pg_client(tmp_path: Path, worker_id_safe: str) -> Iterator[tuple[TestClient, str]]:
    """The app on a PostgreSQL database of its own, and that database's URL."""
    for url in _scratch_database("postgresql", worker_id_safe):
        s = Settings(data_dir=tmp_path, database_url=url, access_log=False)
        upgrade_schema(s)
        with TestClient(create_app(s), raise_server_exceptions=False) as c:
            yield c, url


def _reads(client: TestClient, model: dict[str, object]) -> tuple[object, object, object]:
    return (
        f.get(client, f"/registered_models/{model['id']}"),
        f.get(client, "/registered_model", name=model["name"]),
        f.get(client, f"/model_versions/{f.get(client, '/model_versions')['items'][0]['id']}"),
    )


def _model(client: TestClient) -> dict[str, object]:
    props = {
        "team": {"metadataType": "MetadataStringValue", "string_value": "équipe ✓"},
        "epochs": {"metadataType": "MetadataIntValue", "int_value": "-123456789"},
        "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": 0.1},
        "ok": {"metadataType": "MetadataBoolValue", "bool_value": False},
    }
    m = f.ok(client.post(f"{V1}/registered_models", json={"name": "m ✓", "customProperties": props}), 201)
    f.ok(
        client.post(
            f"{V1}/registered_models/{m['id']}/versions", json={"name": "v1", "customProperties": props}
        ),
        201,
    )
    return f.get(client, f"/registered_models/{m['id']}")  # type: ignore[no-any-return]


def _links(client: TestClient) -> list[object]:
    reads = client.app.state.db.keyed_reads  # type: ignore[attr-defined]
    assert reads is not None and reads._idle, "the reads above left their connections idle"
    return list(reads._idle)


def test_statements_the_server_forgot_are_prepared_again(pg_client: tuple[TestClient, str]) -> None:
    client, _ = pg_client
    model = _model(client)
    before = _reads(client, model)
    assert before[0] == model
    for link in _links(client):
        # What a connection pooler's DISCARD ALL, or an administrator, may do to a session.
        assert link.pgconn.exec_(b"DEALLOCATE ALL").status == 1  # type: ignore[attr-defined]
    assert _reads(client, model) == before


def test_connections_the_server_closed_while_idle_are_replaced(pg_client: tuple[TestClient, str]) -> None:
    client, url = pg_client
    model = _model(client)
    before = _reads(client, model)
    assert _links(client)
    name = make_url(url).database
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            ).scalar_one()
        assert ended >= 1
    finally:
        admin.dispose()
    # No 503: a connection the server closed is found before it is used, and replaced.
    assert _reads(client, model) == before


def test_reads_from_one_loop_then_another_share_the_connections(pg_client: tuple[TestClient, str]) -> None:
    # A connection's socket stays watched by the loop that last read on it; a read on
    # another loop (each request of a client outside `with` runs on a loop of its own, on
    # a thread of its own, closed after it) must take it over from that loop, running or
    # closed, rather than open more connections or wait for a wake-up that goes elsewhere.
    client, _ = pg_client
    model = _model(client)
    before = _reads(client, model)
    app = client.app
    for _ in range(5):
        assert _reads(TestClient(app, raise_server_exceptions=False), model) == before
        assert _reads(client, model) == before
    reads = app.state.db.keyed_reads  # type: ignore[attr-defined]
    assert reads._open <= 2, "each loop's reads took connections of their own"


def test_a_stamp_asked_while_another_is_out_follows_what_was_committed_meanwhile(
    pg_client: tuple[TestClient, str],
) -> None:
    """Gets asked together share one question for their stamp, but one asked while a
    question is out must not be answered by it: that question may have left before a
    commit that the get was sent after."""
    client, url = pg_client
    _model(client)  # a row for the commit to change (one that changes none commits nothing)
    reads = client.app.state.db.keyed_reads  # type: ignore[attr-defined]
    other = create_engine(url)

    async def asked_around_a_commit() -> tuple[bytes, bytes, bytes]:
        await reads.change_stamp()  # a connection open, the question prepared on it
        first = asyncio.ensure_future(reads.change_stamp())
        together = asyncio.ensure_future(reads.change_stamp())
        await asyncio.sleep(0)
        asks = reads._asks[asyncio.get_running_loop()]
        assert len(asks.waiting) == 2
        while asks.waiting:
            await asyncio.sleep(0)  # until their question has left
        with other.begin() as conn:  # a commit, and only then the next ask
            conn.execute(text("UPDATE registered_models SET description = 'x'"))
        after = await reads.change_stamp()
        return await first, await together, after

    try:
        first, together, after = asyncio.run(asked_around_a_commit())
    finally:
        other.dispose()
    assert first == together, "asks made together share one question"
    assert after != first
