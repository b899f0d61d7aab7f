"""The migrations build exactly the schema the entity declarations describe, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import text

from modelreg.store import migrations
from modelreg.store.engine import make_engine
from modelreg.store.schema import metadata
from tests.conftest import _scratch_database


def test_migrated_schema_matches_declarations(client: TestClient) -> None:
    engine = client.app.state.db.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        diff = compare_metadata(ctx, metadata)
    # A field added to an entity without a migration shows up here.
    assert diff == [], f"the declarations and the migrations disagree; add a migration: {diff}"


def test_database_is_at_head(client: TestClient) -> None:
    engine = client.app.state.db.engine  # type: ignore[attr-defined]
    assert migrations.current_revision(engine) == migrations.head_revision()


def test_head_constant_matches_revision_files() -> None:
    assert migrations.script_head() == migrations.HEAD


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, worker_id_safe: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'via-alembic.db'}"
        return
    yield from _scratch_database(backend, worker_id_safe)


def test_revision_files_build_the_declared_schema(empty_database_url: str) -> None:
    """A new database is created from the declarations and stamped; the revision files
    must build the very same schema, or databases made either way would differ."""
    engine = make_engine(empty_database_url)
    try:
        migrations.upgrade_with_alembic(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
        assert migrations.current_revision(engine) == migrations.HEAD
    finally:
        engine.dispose()


def test_upgrade_gives_each_property_its_owners_creation_time(empty_database_url: str) -> None:
    """0005 fills `owner_create_time` of the properties already there from their owners."""
    engine = make_engine(empty_database_url)
    try:
        migrations.upgrade_with_alembic(engine, "0004")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO resource_ids (id, kind) VALUES (1, 'registered_model'), (2, 'model_version')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO registered_models (id, name, create_time, update_time, state,"
                    " archived_with_parent) VALUES (1, 'm', 1000, 5000, 'LIVE', :f)"
                ),
                {"f": False},
            )
            conn.execute(
                text(
                    "INSERT INTO model_versions (id, name, parent_id, create_time, update_time, state,"
                    " archived_with_parent) VALUES (2, 'v1', 1, 2000, 6000, 'LIVE', :f)"
                ),
                {"f": False},
            )
            conn.execute(
                text(
                    "INSERT INTO custom_properties (resource_id, name, value_type, string_value, string_prefix)"
                    " VALUES (1, 'team', 'string', 'a', 'a'), (2, 'team', 'string', 'b', 'b'),"
                    " (2, 'dataset', 'string', 'c', 'c'), (99, 'orphan', 'string', 'd', 'd')"
                )
            )
        migrations.upgrade_with_alembic(engine)
        with engine.connect() as conn:
            got = conn.execute(
                text(
                    "SELECT resource_id, name, owner_create_time FROM custom_properties ORDER BY resource_id, name"
                )
            ).all()
        assert [tuple(r) for r in got] == [
            (1, "team", 1000),
            (2, "dataset", 2000),
            (2, "team", 2000),
            (99, "orphan", 0),
        ]
    finally:
        engine.dispose()
