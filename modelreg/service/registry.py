"""Opening a registry's database: engine, schema migrations."""

from __future__ import annotations

from modelreg.settings import Settings
from modelreg.store import migrations
from modelreg.store.engine import make_engine
from modelreg.store.session import Database


def open_database(settings: Settings) -> Database:
    settings.ensure_data_dir()
    return Database(make_engine(settings.resolved_database_url(), pool_size=settings.pool_size))


def upgrade_schema(settings: Settings) -> str | None:
    """Apply every pending migration; returns the revision the database is now at."""
    db = open_database(settings)
    try:
        migrations.upgrade(db.engine)
        return migrations.current_revision(db.engine)
    finally:
        db.dispose()


def schema_revision(settings: Settings) -> tuple[str | None, str | None]:
    """The database's revision and the newest this modelreg knows."""
    db = open_database(settings)
    try:
        return migrations.current_revision(db.engine), migrations.head_revision()
    finally:
        db.dispose()
