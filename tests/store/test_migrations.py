"""The migrations build exactly the schema the entity declarations describe, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

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
