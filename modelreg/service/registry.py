"""Opening a registry's database: engine, schema migrations."""

from __future__ import annotations

from modelreg.settings import Settings
from modelreg.store import migrations
from modelreg.store.engine import make_engine
from modelreg.store.files import FileStore, LocalFileStore
from modelreg.store.session import Database


def open_file_store(settings: Settings, below: str = "") -> FileStore:
    """The configured file store, or the part of it `below` a sub-path (one registry's)."""
    if settings.storage == "s3":
        from modelreg.store.files.s3 import S3FileStore

        if not settings.s3_bucket:
            raise ValueError("MODELREG_STORAGE=s3 needs MODELREG_S3_BUCKET")
        secret = settings.s3_secret_access_key
        return S3FileStore(
            bucket=settings.s3_bucket,
            prefix="/".join(p for p in (settings.s3_prefix.strip("/"), below) if p),
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
        )
    return LocalFileStore(settings.resolved_storage_path() / below)


def open_database(settings: Settings) -> Database:
    settings.ensure_data_dir()
    engine = make_engine(settings.resolved_database_url(), pool_size=settings.pool_size)
    return Database(engine, open_file_store(settings))


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
