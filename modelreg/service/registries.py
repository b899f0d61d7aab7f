"""Many registries in one server, each with its own database and file store.

The server's own database holds the default registry and the list of the others. A
registry's database is either one the administrator names (a URL, optionally with a TLS
CA) or one the server makes on its own store (a SQLite file beside its own, or a new
database on its PostgreSQL or MariaDB server). Each is opened on first use; one whose
database is down answers 503 without touching the others.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.engine import make_url

from modelreg.service import access, history
from modelreg.service.errors import AlreadyExists, InvalidArgument, NotFound
from modelreg.service.registry import open_database, open_file_store
from modelreg.settings import Settings
from modelreg.store import migrations
from modelreg.store.engine import make_engine, normalize_url
from modelreg.store.schema import registries
from modelreg.store.session import Database, Session

DEFAULT = "default"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class RegistryInfo:
    name: str
    description: str | None
    database: str  # where its data lives, password hidden
    managed: bool  # the server made its database, and can drop it
    has_tls_ca: bool
    create_time: int | None
    update_time: int | None


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise InvalidArgument(
            "a registry name is 1 to 63 characters: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def _now() -> int:
    return time.time_ns() // 1_000_000


class Registries:
    """Opens, creates, edits and deletes the server's registries."""

    def __init__(self, settings: Settings, control: Database | None = None) -> None:
        self.settings = settings
        self.control = control or open_database(settings)
        self._open: dict[str, Database] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- reads

    def database(self, name: str) -> Database:
        """The database of a registry (opened and migrated on first use); NotFound if none."""
        if name == DEFAULT:
            return self.control
        db = self._open.get(name)
        if db is not None:
            return db
        with self.control.read_only() as session:
            row = session.execute(select(registries).where(registries.c.name == name)).first()
        if row is None:
            raise NotFound(f"registry {name!r} not found")
        with self._lock:
            if name not in self._open:
                self._open[name] = self._connect(row._mapping)
            return self._open[name]

    def exists(self, name: str) -> bool:
        if name == DEFAULT:
            return True
        with self.control.read_only() as session:
            return (
                session.execute(select(registries.c.name).where(registries.c.name == name)).first()
                is not None
            )

    def list(self, visible: set[str] | None = None) -> list[RegistryInfo]:
        with self.control.read_only() as session:
            rows = [r._mapping for r in session.execute(select(registries).order_by(registries.c.name))]
        infos = [self._default_info()] + [self._info(r) for r in rows]
        return [i for i in infos if visible is None or i.name in visible]

    def show(self, name: str) -> RegistryInfo:
        if name == DEFAULT:
            return self._default_info()
        with self.control.read_only() as session:
            row = session.execute(select(registries).where(registries.c.name == name)).first()
        if row is None:
            raise NotFound(f"registry {name!r} not found")
        return self._info(row._mapping)

    # ---------------------------------------------------------------- writes

    def create(
        self,
        session: Session,
        name: str,
        *,
        description: str | None = None,
        database_url: str | None = None,
        tls_ca: str | None = None,
    ) -> RegistryInfo:
        """Create a registry and its database (made here, or the one named), migrated."""
        check_name(name)
        if (
            name == DEFAULT
            or session.execute(select(registries.c.name).where(registries.c.name == name)).first()
        ):
            raise AlreadyExists(f"registry {name!r} already exists")
        if database_url is not None:
            database_url = self._check_url(database_url)
        tls_ca = _check_ca(tls_ca, database_url or self._managed_url(name))
        if database_url is None:
            self._make_database(name)
        row = {
            "name": name,
            "description": description,
            "database_url": database_url,
            "tls_ca": tls_ca,
            "create_time": _now(),
            "update_time": _now(),
        }
        db = self._connect(row)
        try:
            migrations.upgrade(db.engine)
        except Exception as exc:
            db.dispose()
            if database_url is None:
                self._drop_database(name)
            raise InvalidArgument(f"cannot prepare the registry's database: {_first_line(exc)}") from None
        session.execute(registries.insert().values(**row))
        with self._lock:
            self._open[name] = db
        history.record(
            session,
            "create",
            "registry",
            name,
            name,
            {"description": {"before": None, "after": description}},
            registry=history.SERVER,
        )
        return self._info(row)

    def update(
        self,
        session: Session,
        name: str,
        *,
        description: str | None = None,
        database_url: str | None = None,
        tls_ca: str | None = None,
    ) -> RegistryInfo:
        if name == DEFAULT:
            raise InvalidArgument(
                "the default registry lives in the server's own database; it cannot be edited"
            )
        row = session.execute(select(registries).where(registries.c.name == name)).first()
        if row is None:
            raise NotFound(f"registry {name!r} not found")
        before = dict(row._mapping)
        values: dict[str, Any] = {"update_time": _now()}
        if description is not None:
            values["description"] = description
        if database_url is not None:
            values["database_url"] = self._check_url(database_url)
        if tls_ca is not None:
            url = values.get("database_url", before["database_url"]) or self._managed_url(name)
            values["tls_ca"] = _check_ca(tls_ca, url)
        after = {**before, **values}
        if database_url is not None or tls_ca is not None:
            db = self._connect(after)
            try:
                migrations.upgrade(db.engine)
            except Exception as exc:
                db.dispose()
                raise InvalidArgument(f"cannot use that database: {_first_line(exc)}") from None
            self._forget(name)
            with self._lock:
                self._open[name] = db
        session.execute(update(registries).where(registries.c.name == name).values(**values))

        def shown(key: str, value: Any) -> Any:  # never a password in the history
            return _redact(value) if key == "database_url" and value else value

        changed = {
            k: {"before": shown(k, before.get(k)), "after": shown(k, v)}
            for k, v in values.items()
            if k != "update_time" and before.get(k) != v
        }
        history.record(session, "update", "registry", name, name, changed, registry=history.SERVER)
        return self._info(after)

    def delete(self, session: Session, name: str, *, confirm: str, purge: bool = False) -> str:
        """Delete a registry; its data is kept unless `purge`. Returns what became of it."""
        if name == DEFAULT:
            raise InvalidArgument("the default registry cannot be deleted")
        if confirm != name:
            raise InvalidArgument(f"to delete registry {name!r}, confirm with its name, exactly")
        row = session.execute(select(registries).where(registries.c.name == name)).first()
        if row is None:
            raise NotFound(f"registry {name!r} not found")
        info = self._info(row._mapping)
        session.execute(delete(registries).where(registries.c.name == name))
        access.remove_all_grants(session, name)
        history.record(
            session,
            "delete",
            "registry",
            name,
            name,
            {"purged": {"before": None, "after": purge}},
            registry=history.SERVER,
        )
        db = self.database_if_open(name)
        self._forget(name)
        if not purge:
            return f"registry {name!r} deleted; its data is kept in {info.database}"
        if info.managed:
            if db is not None and db.files is not None:
                db.files.delete_prefix("")
            self._drop_database(name)
            return f"registry {name!r} deleted, and its database and files removed"
        target = self._connect(dict(row._mapping))
        try:
            from modelreg.store.schema import metadata

            metadata.drop_all(target.engine)
            with target.engine.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {migrations.VERSION_TABLE}"))
            if target.files is not None:
                target.files.delete_prefix("")
        finally:
            target.dispose()
        return f"registry {name!r} deleted, and its tables and files removed from {info.database}"

    def database_if_open(self, name: str) -> Database | None:
        return self._open.get(name)

    def close(self) -> None:
        for name in list(self._open):
            self._forget(name)
        self.control.dispose()

    # ---------------------------------------------------------------- where the data lives

    def _forget(self, name: str) -> None:
        with self._lock:
            db = self._open.pop(name, None)
        if db is not None:
            db.dispose()

    def _own_url(self) -> str:
        return normalize_url(self.settings.resolved_database_url())

    def _managed_url(self, name: str) -> str:
        own = make_url(self._own_url())
        if own.get_backend_name() == "sqlite":
            return f"sqlite:///{self._sqlite_dir() / f'{name}.db'}"
        return own.set(database=_db_name(name)).render_as_string(hide_password=False)

    def _sqlite_dir(self) -> Path:
        path = self.settings.data_dir / "registries"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _make_database(self, name: str) -> None:
        own = make_url(self._own_url())
        if own.get_backend_name() == "sqlite":
            self._sqlite_dir()
            return
        admin = create_engine(own.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {_db_name(name)}"))
        except Exception as exc:
            raise InvalidArgument(
                f"cannot create a database for registry {name!r}: {_first_line(exc)}"
            ) from None
        finally:
            admin.dispose()

    def _drop_database(self, name: str) -> None:
        own = make_url(self._own_url())
        if own.get_backend_name() == "sqlite":
            for suffix in ("", "-wal", "-shm", ".write-lock"):
                (self._sqlite_dir() / f"{name}.db{suffix}").unlink(missing_ok=True)
            return
        admin = create_engine(own.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
        force = " WITH (FORCE)" if own.get_backend_name() == "postgresql" else ""
        try:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {_db_name(name)}{force}"))
        finally:
            admin.dispose()

    def _connect(self, row: Any) -> Database:
        name = row["name"]
        url = row["database_url"] or self._managed_url(name)
        connect_args: dict[str, Any] = {}
        if row.get("tls_ca"):
            ca = self._sqlite_dir() / f"{name}-ca.pem"
            ca.write_text(row["tls_ca"])
            backend = make_url(normalize_url(url)).get_backend_name()
            if backend == "postgresql":
                connect_args = {"sslmode": "verify-full", "sslrootcert": str(ca)}
            elif backend in ("mysql", "mariadb"):
                connect_args = {"ssl": {"ca": str(ca)}}
        engine = make_engine(url, pool_size=self.settings.pool_size, connect_args=connect_args)
        files = open_file_store(self.settings, f"registries/{name}")
        return Database(engine, files)

    def _check_url(self, url: str) -> str:
        try:
            u = make_url(normalize_url(url))
        except Exception:
            raise InvalidArgument(
                "database URL is not a URL, e.g. postgresql://user:pass@host:5432/db"
            ) from None
        if u.get_backend_name() not in ("sqlite", "postgresql", "mysql", "mariadb"):
            raise InvalidArgument("the database must be PostgreSQL, MariaDB/MySQL or SQLite")
        return url

    def _info(self, row: Any) -> RegistryInfo:
        url = row["database_url"] or self._managed_url(row["name"])
        return RegistryInfo(
            name=row["name"],
            description=row["description"],
            database=_redact(url),
            managed=row["database_url"] is None,
            has_tls_ca=bool(row.get("tls_ca")),
            create_time=row["create_time"],
            update_time=row["update_time"],
        )

    def _default_info(self) -> RegistryInfo:
        return RegistryInfo(
            DEFAULT, "The server's own registry", _redact(self._own_url()), False, False, None, None
        )


def _check_ca(pem: str | None, url: str) -> str | None:
    """A CA certificate (PEM) to verify the database server with, or None for none.

    It secures PostgreSQL (sslmode=verify-full) and MySQL/MariaDB connections only, and
    must parse as one or more certificates."""
    if pem is None or not pem.strip():
        return None
    if make_url(normalize_url(url)).get_backend_name() not in ("postgresql", "mysql", "mariadb"):
        raise InvalidArgument(
            "a CA certificate secures a connection to a PostgreSQL or MySQL server; "
            "this registry's database is SQLite"
        )
    pem = pem.strip() + "\n"
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise InvalidArgument("the CA certificate must be PEM text: -----BEGIN CERTIFICATE----- ...")
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidArgument(f"the CA certificate cannot be read: {_first_line(exc)}") from None
    return pem


def _db_name(name: str) -> str:
    return "modelreg_" + name.replace("-", "_")


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
