"""`modelreg admin ...` (registries, grants, API tokens) and `modelreg whoami`: who may do what."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelreg.cli._output import (
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Output,
    OutputOption,
    details,
    emit_data,
    fail,
    note,
    show,
    table,
    when,
)
from modelreg.cli._params import DescriptionOption, connect

if TYPE_CHECKING:
    from modelreg.client import Grant, IssuedToken, Registry, Token

admin_app = typer.Typer(
    help="Manage the server's registries, who may use them, and API tokens.\n\n"
    "Example: modelreg admin grants add team-a --user ana --role editor",
    no_args_is_help=True,
)
registries_app = typer.Typer(
    help="Create, list, show, change and delete the server's registries.\n\n"
    "Example: modelreg admin registries create team-a --description 'Team A models'",
    no_args_is_help=True,
)
grants_app = typer.Typer(
    help="Who holds which role (viewer, editor, owner) in a registry.\n\n"
    "Example: modelreg admin grants list team-a",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="Issue, list and revoke API tokens.\n\nExample: modelreg admin tokens create --user ana --expires 30d",
    no_args_is_help=True,
)


class Role(StrEnum):
    viewer = "viewer"
    editor = "editor"
    owner = "owner"


RegistryArg = Annotated[str, typer.Argument(help="The registry's name.", show_default=False)]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Keep the registry's data in this PostgreSQL, MariaDB/MySQL or SQLite database "
        "(default: a new database the server makes on its own store).",
    ),
]
TlsCaOption = Annotated[
    Path | None,
    typer.Option(
        "--tls-ca", help="A PEM file of the CA that signed the database server's certificate.", exists=True
    ),
]
LocalDataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="With --local: the server's data directory (default: MODELREG_DATA_DIR's)."
    ),
]
LocalDatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="With --local: the server's PostgreSQL or MariaDB/MySQL database (default: MODELREG_DATABASE_URL).",
    ),
]
UserOption = Annotated[str | None, typer.Option("--user", help="A user.")]
GroupOption = Annotated[str | None, typer.Option("--group", help="A group.")]
ServiceAccountOption = Annotated[
    str | None,
    typer.Option("--service-account", help="A service account, e.g. system:serviceaccount:ns:name."),
]


# ---------------------------------------------------------------- rendering


def _registry_details(r: Registry) -> None:
    details(
        [
            ("name", r.name),
            ("description", r.description),
            ("database", r.database),
            ("made by the server", "yes" if r.managed else "no"),
            ("TLS CA", "yes" if r.has_tls_ca else ""),
            ("created", when(r.created_at)),
            ("updated", when(r.updated_at)),
        ]
    )


def _registries_table(registries: list[Registry]) -> None:
    table(
        [(r.name, r.role, r.description, r.database, when(r.created_at)) for r in registries],
        ["NAME", "YOUR ROLE", "DESCRIPTION", "DATABASE", "CREATED"],
    )


def _grants_table(grants: list[Grant], registry: str) -> None:
    table(
        [(g.subject_kind, g.subject, g.role, g.created_by, when(g.created_at)) for g in grants],
        ["KIND", "SUBJECT", "ROLE", "GRANTED BY", "GRANTED"],
        title=f"grants of {registry}",
    )


def _state(t: Token) -> str:
    if t.revoked_at is not None:
        return "revoked"
    return "active" if t.active else "expired"


def _token_details(t: Token) -> None:
    details(
        [
            ("id", t.id),
            ("user", t.user),
            ("name", t.name),
            ("state", _state(t)),
            ("created", when(t.created_at)),
            ("created by", t.created_by),
            ("expires", when(t.expires_at) or "never"),
            ("revoked", when(t.revoked_at)),
            ("last used", when(t.last_used_at)),
        ]
    )


def _tokens_table(tokens: list[Token]) -> None:
    table(
        [
            (
                t.id,
                t.user,
                t.name,
                _state(t),
                when(t.created_at),
                when(t.expires_at) or "never",
                when(t.last_used_at),
                t.created_by,
            )
            for t in tokens
        ],
        ["ID", "USER", "NAME", "STATE", "CREATED", "EXPIRES", "LAST USED", "CREATED BY"],
    )


# ---------------------------------------------------------------- registries


def _read_ca(path: Path | None) -> str | None:
    return path.read_text() if path is not None else None


@registries_app.command("create")
def registries_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new registry's name: lowercase letters, digits and '-'.")],
    description: DescriptionOption = None,
    database_url: DatabaseUrlOption = None,
    tls_ca: TlsCaOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Create a registry, with a database of its own (server admins only).

    It is then served at /registries/NAME/api/model_registry/v1; pick it with --registry NAME.

    Example: modelreg admin registries create team-a --description "Team A" --database-url postgresql://mr@db/team_a
    """
    with connect(ctx) as client:
        r = client.create_registry(
            name, description=description, database_url=database_url, tls_ca=_read_ca(tls_ca)
        )
    show(r, output, lambda: _registry_details(r))


@registries_app.command("list")
def registries_list(ctx: typer.Context, output: OutputOption = Output.table) -> None:
    """List the registries you may use, with your role in each (server admins see all).

    Example: modelreg admin registries list --output json
    """
    with connect(ctx) as client:
        registries = client.list_registries()
    show(registries, output, lambda: _registries_table(registries))


@registries_app.command("show")
def registries_show(ctx: typer.Context, name: RegistryArg, output: OutputOption = Output.table) -> None:
    """Show one registry and where its data lives (server admins only).

    Example: modelreg admin registries show team-a
    """
    with connect(ctx) as client:
        r = client.get_registry(name)
    show(r, output, lambda: _registry_details(r))


@registries_app.command("update")
def registries_update(
    ctx: typer.Context,
    name: RegistryArg,
    description: DescriptionOption = None,
    database_url: DatabaseUrlOption = None,
    tls_ca: TlsCaOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Change a registry's description, or move it to another database (server admins only).

    Example: modelreg admin registries update team-a --description "Team A, production models"
    """
    with connect(ctx) as client:
        r = client.update_registry(
            name, description=description, database_url=database_url, tls_ca=_read_ca(tls_ca)
        )
    show(r, output, lambda: _registry_details(r))


@registries_app.command("delete")
def registries_delete(
    ctx: typer.Context,
    name: RegistryArg,
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="The registry's name again, instead of typing it when asked."),
    ] = None,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also remove its data (database and files) for good.")
    ] = False,
    output: OutputOption = Output.table,
) -> None:
    """Delete a registry (server admins only); asks for its name again.

    Its data (database and files) is kept unless --purge: it can be served again by creating a registry with --database-url pointing at it.

    Example: modelreg admin registries delete team-a --confirm team-a --purge
    """
    with connect(ctx) as client:
        r = client.get_registry(name)
        if purge:
            where = "its database and files" if r.managed else f"its tables in {r.database}, and its files,"
            fate = f"{where} will be removed for good"
        else:
            fate = f"its data is kept in {r.database} (add --purge to remove it)"
        note(f"Deleting registry {name!r}: its grants go with it; {fate}.")
        if confirm is None:
            confirm = typer.prompt(f"Type the registry's name ({name}) to confirm", err=True)
        message = client.delete_registry(name, confirm, purge=purge)
    if output is Output.table:
        note(message)
    else:
        emit_data({"registry": name, "purged": purge, "message": message}, output)


# ---------------------------------------------------------------- grants


def _subject(user: str | None, group: str | None, service_account: str | None) -> tuple[str, str]:
    given = [
        (kind, value)
        for kind, value in (("user", user), ("group", group), ("serviceaccount", service_account))
        if value is not None
    ]
    if len(given) != 1:
        fail("give exactly one of --user, --group or --service-account", EXIT_USAGE)
    return given[0]


@grants_app.command("list")
def grants_list(ctx: typer.Context, registry: RegistryArg, output: OutputOption = Output.table) -> None:
    """List who holds which role in a registry (its owners and server admins).

    Example: modelreg admin grants list team-a --output json
    """
    with connect(ctx) as client:
        grants = client.list_grants(registry)
    show(grants, output, lambda: _grants_table(grants, registry))


@grants_app.command("add")
def grants_add(
    ctx: typer.Context,
    registry: RegistryArg,
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="viewer reads; editor also registers, edits, archives and deploys; owner also "
            "deletes models and manages grants.",
            case_sensitive=False,
            show_default=False,
        ),
    ],
    user: UserOption = None,
    group: GroupOption = None,
    service_account: ServiceAccountOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Give a user, group or service account a role in a registry (replacing any earlier one).

    Example: modelreg admin grants add team-a --group data-science --role viewer
    """
    kind, subject = _subject(user, group, service_account)
    with connect(ctx) as client:
        g = client.grant(registry, subject, role.value, kind=kind)
    if output is Output.table:
        note(f"{kind} {subject!r} is now {g.role} of registry {registry!r}")
    else:
        emit_data(g, output)


@grants_app.command("remove")
def grants_remove(
    ctx: typer.Context,
    registry: RegistryArg,
    user: UserOption = None,
    group: GroupOption = None,
    service_account: ServiceAccountOption = None,
    output: OutputOption = Output.table,
) -> None:
    """Take a user's, group's or service account's role in a registry away.

    Example: modelreg admin grants remove team-a --user ana
    """
    kind, subject = _subject(user, group, service_account)
    with connect(ctx) as client:
        client.revoke_grant(registry, subject, kind=kind)
    if output is Output.table:
        note(f"{kind} {subject!r} no longer holds a role in registry {registry!r}")
    else:
        emit_data({"registry": registry, "subjectKind": kind, "subject": subject, "removed": True}, output)


# ---------------------------------------------------------------- tokens

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdwy]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_duration(text: str, option: str) -> int:
    """`90`, `90s`, `15m`, `12h`, `30d`, `8w` or `1y`, in seconds."""
    m = _DURATION.match(text.lower())
    if m is None or int(m.group(1)) == 0:
        fail(f"{option} takes a duration such as 12h, 30d or 1y, got {text!r}", EXIT_USAGE)
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def _show_issued(t: IssuedToken, output: Output) -> None:
    if output is Output.table:
        _token_details(t)
        typer.echo(t.secret)
    else:
        emit_data(t, output)
    note(
        "This is the only time the token is shown: store it now (the server keeps only a hash). "
        "Use it as 'Authorization: Bearer <token>', or 'modelreg login URL --token <token>'."
    )


def _issue_locally(
    user: str, name: str | None, expires_in: int | None, data_dir: Path | None, database_url: str | None
) -> IssuedToken:
    """Issue a token in the server's own database, through the service layer."""
    import getpass
    from datetime import UTC, datetime

    from modelreg.client import IssuedToken
    from modelreg.service.errors import ModelregError, Unavailable
    from modelreg.service.registry import issue_token_locally
    from modelreg.settings import Settings

    overrides = {
        k: v for k, v in {"data_dir": data_dir, "database_url": database_url}.items() if v is not None
    }
    settings = Settings().model_copy(update=overrides)
    try:
        login = getpass.getuser()
    except Exception:
        login = "unknown"
    try:
        info, secret = issue_token_locally(settings, user, name, expires_in, f"local:{login}")
    except Unavailable as exc:
        fail(exc.message, EXIT_UNREACHABLE)
    except ModelregError as exc:
        fail(exc.message, EXIT_USAGE)

    def at(ms: int | None) -> datetime | None:
        return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None

    return IssuedToken(
        id=str(info.id),
        user=info.user,
        name=info.name,
        created_at=at(info.create_time) or datetime.now(UTC),
        expires_at=at(info.expire_time),
        created_by=info.created_by,
        active=info.active,
        secret=secret,
    )


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Whom the token authenticates.", show_default=False)],
    name: Annotated[str | None, typer.Option("--name", help="What it is for, e.g. ci.")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, e.g. 12h, 30d or 1y (default: never).")
    ] = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Issue it straight in the server's database, on the server's machine: how the "
            "first admin gets a token.",
        ),
    ] = False,
    data_dir: LocalDataDir = None,
    database_url: LocalDatabaseUrl = None,
    output: OutputOption = Output.table,
) -> None:
    """Issue an API token for a user (server admins only); its secret is shown this once.

    The first admin's token, before any exists: run on the server's machine with --local, for a user named in MODELREG_ADMIN_USERS.

    Example: modelreg admin tokens create --user admin --local --data-dir /var/lib/modelreg
    """
    expires_in = parse_duration(expires, "--expires") if expires is not None else None
    if not local and (data_dir is not None or database_url is not None):
        fail("--data-dir and --database-url go with --local", EXIT_USAGE)
    if local:
        issued = _issue_locally(user, name, expires_in, data_dir, database_url)
    else:
        with connect(ctx) as client:
            issued = client.create_token(user, name=name, expires_in=expires_in)
    _show_issued(issued, output)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    output: OutputOption = Output.table,
) -> None:
    """List API tokens, without their secrets (server admins only).

    Example: modelreg admin tokens list --user ana
    """
    with connect(ctx) as client:
        tokens = client.list_tokens(user)
    show(tokens, output, lambda: _tokens_table(tokens))


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="The token's id (see 'modelreg admin tokens list').")],
    output: OutputOption = Output.table,
) -> None:
    """Revoke an API token: it stops working at once.

    Example: modelreg admin tokens revoke 12
    """
    with connect(ctx) as client:
        t = client.revoke_token(id)
    if output is Output.table:
        note(f"token {t.id} ({t.name!r} of {t.user!r}) is revoked")
    else:
        emit_data(t, output)


# ---------------------------------------------------------------- whoami


def whoami(ctx: typer.Context, output: OutputOption = Output.table) -> None:
    """Show who the registry takes you for, and the registries you may use.

    Example: modelreg whoami --output json
    """
    with connect(ctx) as client:
        me = client.whoami()
        registries = client.list_registries()
    if output is not Output.table:
        emit_data(
            {
                **me.model_dump(mode="json"),
                "registries": [{"name": r.name, "role": r.role} for r in registries],
            },
            output,
        )
        return
    details(
        [
            ("name", me.name),
            ("kind", me.kind),
            ("groups", ", ".join(me.groups)),
            ("server admin", "yes" if me.admin else "no"),
            ("authenticated by", me.authenticated_by),
            ("registries", ", ".join(f"{r.name} ({r.role})" for r in registries)),
        ]
    )


def register(app: typer.Typer) -> None:
    admin_app.add_typer(registries_app, name="registries")
    admin_app.add_typer(grants_app, name="grants")
    admin_app.add_typer(tokens_app, name="tokens")
    app.add_typer(admin_app, name="admin")
    app.command()(whoami)
