"""Alembic migrations, run programmatically: no alembic.ini needed at run time.

Alembic is imported only when there is something to migrate: a new database gets the
declared schema with `create_all` and is stamped at HEAD (a test checks that the
migrations build exactly that schema), and a current one needs nothing. That keeps
`modelreg serve` answering within two seconds of starting.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Engine, MetaData, String, Table, inspect, select

from modelreg.store.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).parent
# The newest revision in versions/; tests/store/test_migrations.py keeps it honest.
HEAD = "0005"
VERSION_TABLE = "alembic_version"

_version_table = Table(VERSION_TABLE, MetaData(), Column("version_num", String(32), primary_key=True))


def config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return HEAD


def script_head() -> str | None:
    """The head as Alembic reads it from the revision files."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        return conn.execute(select(_version_table.c.version_num)).scalar()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (HEAD by default)."""
    current = current_revision(engine)
    if revision in ("head", HEAD) and current == HEAD:
        return
    if revision in ("head", HEAD) and current is None and not inspect(engine).get_table_names():
        with engine.begin() as conn:
            metadata.create_all(conn)
            _version_table.create(conn)
            conn.execute(_version_table.insert().values(version_num=HEAD))
        return
    from alembic import command

    cfg = config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def upgrade_with_alembic(engine: Engine, revision: str = "head") -> None:
    """Always through Alembic's revision files, as an existing database would be."""
    from alembic import command

    cfg = config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
