"""The server's commands: serve the registry, manage its database schema."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from modelreg.settings import Settings

DataDir = Annotated[
    Path | None,
    typer.Option(help="Where the embedded SQLite database lives [env MODELREG_DATA_DIR]."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="PostgreSQL or MariaDB/MySQL URL instead of SQLite, e.g. "
        "postgresql://user@host/db or mysql://root@host/db [env MODELREG_DATABASE_URL].",
    ),
]


def _settings(data_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    """Settings from the environment, with options given on the command line on top.

    The chosen values are written back to the environment so uvicorn's worker processes,
    which build their own Settings, see the same ones.
    """
    overrides = {
        k: v
        for k, v in {"data_dir": data_dir, "database_url": database_url, **extra}.items()
        if v is not None
    }
    for key, value in overrides.items():
        os.environ[f"MODELREG_{key.upper()}"] = str(value)
    from modelreg.settings import Settings

    return Settings()


def _log_config(level: str) -> dict[str, Any]:
    from modelreg.api.log_stream import PLAIN

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": PLAIN},
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "access": {
                "class": "modelreg.api.log_stream.BatchedStreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stdout",
            },
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "modelreg.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "modelreg": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
        },
    }


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default 1).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="Listen beyond loopback with no authentication: anyone who reaches the port can do anything.",
        ),
    ] = False,
) -> None:
    """Start the registry (migrating its database first).

    Example: modelreg serve --port 8080 --data-dir ./registry
    """
    import uvicorn

    from modelreg.service.identity import describe_mode, refuse_unsafe_listen
    from modelreg.service.registry import upgrade_schema

    settings = _settings(
        data_dir,
        database_url,
        host=host,
        port=port,
        workers=workers,
        insecure_no_auth=insecure_no_auth or None,
    )
    try:
        refuse_unsafe_listen(settings)
    except Exception as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        revision = upgrade_schema(settings)
    except Exception as exc:  # one clear line, not a traceback
        typer.echo(f"error: cannot prepare the database: {_one_line(exc)}", err=True)
        raise typer.Exit(2) from None
    where = (settings.database_url and _redact(settings.database_url)) or str(settings.data_dir)
    typer.echo(
        f"modelreg serving http://{settings.host}:{settings.port}/api/model_registry/v1 "
        f"(database {where}, schema {revision}, {settings.workers} worker(s))",
        err=True,
    )
    typer.echo(f"modelreg {describe_mode(settings)}", err=True)
    typer.echo(f"modelreg web UI at http://{settings.host}:{settings.port}/", err=True)
    from modelreg.api.spread import workers_file

    with workers_file(settings.workers):
        uvicorn.run(
            "modelreg.api.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=_log_config(settings.log_level),
            access_log=False,
            timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
            server_header=False,
            ws="none",  # no WebSocket routes; not loading a WebSocket library saves start time
        )


def _one_line(exc: BaseException) -> str:
    """The driver's own first line, without SQLAlchemy's statement and background link."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply pending schema migrations.

    Example: modelreg db upgrade --database-url postgresql://modelreg@db/modelreg
    """
    from modelreg.service.registry import upgrade_schema

    revision = upgrade_schema(_settings(data_dir, database_url))
    typer.echo(f"database schema at revision {revision}")


def db_current(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Show the database's schema revision and whether it is current.

    Example: modelreg db current --data-dir ./registry
    """
    from modelreg.service.registry import schema_revision

    current, head = schema_revision(_settings(data_dir, database_url))
    state = "up to date" if current == head else f"behind: run 'modelreg db upgrade' to reach {head}"
    typer.echo(f"{current or 'empty'} ({state})")
    if current != head:
        raise typer.Exit(1)
