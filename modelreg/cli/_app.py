"""The `modelreg` command: the root app, its global options, and one place for errors."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from modelreg.cli import _admin, _files, _history, _login, _models, _server
from modelreg.cli._config import ConfigError
from modelreg.cli._output import EXIT_DENIED, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, fail

EPILOG = (
    "Exit status: 0 done; 1 the registry refused (not found, conflict, invalid, server error); "
    "2 usage; 3 cannot reach the registry; 4 permission denied."
)


def _exit_code(exc: Exception) -> int | None:
    """The status for a client error; None for anything else. The client is looked up, not
    imported: `modelreg serve` never loads it, and then no client error can occur."""
    client = sys.modules.get("modelreg.client")
    if client is None or not isinstance(exc, client.ModelregError):
        return None
    if isinstance(exc, client.Unavailable):
        return EXIT_UNREACHABLE
    if isinstance(exc, client.PermissionDenied):
        return EXIT_DENIED
    return EXIT_REFUSED


class _Group(TyperGroup):
    """Turns registry and configuration errors into one line on stderr and an exit status."""

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors its own click)
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        except BrokenPipeError:
            raise
        except OSError as exc:  # a local file or directory the command cannot use
            where = f": {exc.filename}" if exc.filename else ""
            fail(f"{exc.strerror or exc}{where}", EXIT_REFUSED)
        except Exception as exc:
            code = _exit_code(exc)
            if code is None:
                raise
            fail(str(exc), code)


app = typer.Typer(
    cls=_Group,
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Talk to the registry of this saved profile (see 'modelreg login').",
            envvar="MODELREG_PROFILE",
        ),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            help="Use this one of the server's registries (default: the profile's, else the server's default).",
            envvar="MODELREG_REGISTRY",
        ),
    ] = None,
) -> None:
    """modelreg: a model registry speaking the Kubeflow Model Registry REST API.

    Which server: --profile, else MODELREG_URL (and MODELREG_TOKEN), else the active profile, else http://127.0.0.1:8080. Which of its registries: --registry, else the profile's, else the default one.

    Example: modelreg --registry team-a models list --filter "owner = 'ana'"
    """
    ctx.obj = {"profile": profile, "registry": registry}


app.command()(_server.serve)
db_app = typer.Typer(
    help="Inspect and migrate the registry's database schema.\n\nExample: modelreg db current",
    no_args_is_help=True,
)
db_app.command("upgrade")(_server.db_upgrade)
db_app.command("current")(_server.db_current)
app.add_typer(db_app, name="db")

_login.register(app)
app.add_typer(_models.models_app, name="models")
app.add_typer(_models.versions_app, name="versions")
_files.register(app)
_admin.register(app)
_history.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
