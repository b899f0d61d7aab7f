"""Opening a registry's database: engine, schema migrations; the first admin's token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelreg.settings import Settings
from modelreg.store import migrations
from modelreg.store.engine import make_engine
from modelreg.store.files import FileStore, LocalFileStore
from modelreg.store.session import Database

if TYPE_CHECKING:
    from modelreg.service.tokens import TokenInfo


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


def issue_token_locally(
    settings: Settings, user: str, name: str | None, expires_in_s: int | None, by: str
) -> tuple[TokenInfo, str]:
    """Issue a token straight in the server's own database, as `by`, recorded in its history.

    How the first admin gets a token before any exists: run on the server's machine, with
    the server's settings. The database must already be the server's (migrated to this
    modelreg's schema): a wrong data directory is refused rather than given a new database.
    """
    from modelreg.service import history, tokens
    from modelreg.service.errors import InvalidArgument, Unavailable
    from modelreg.service.registries import _first_line
    from modelreg.service.transactions import transaction

    if not settings.database_url and not (settings.data_dir / "modelreg.db").exists():
        raise InvalidArgument(
            f"there is no modelreg database in {settings.data_dir}; give the server's --data-dir "
            "(or --database-url), or start the server once first"
        )
    try:
        current, head = schema_revision(settings)
    except Exception as exc:
        raise Unavailable(f"cannot open the server's database: {_first_line(exc)}") from None
    if current != head:
        raise InvalidArgument(
            f"the database's schema is at {current or 'nothing'}, this modelreg needs {head}: "
            "run 'modelreg db upgrade' (or start the server) first"
        )
    db = open_database(settings)
    try:
        context = history.Context(actor=by, registry=history.SERVER, request_id=None)
        with transaction(db, write=True, context=context) as session:
            return tokens.issue_recorded(session, user, name, expires_in_s, by)
    finally:
        db.dispose()
