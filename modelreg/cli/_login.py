"""`modelreg login` and `modelreg profiles`: which registry the other commands talk to."""

from __future__ import annotations

from typing import Annotated

import typer

from modelreg.cli import _config
from modelreg.cli._output import EXIT_USAGE, Output, OutputOption, emit_data, fail, note, table

profiles_app = typer.Typer(
    help="List the saved registries and choose the active one.\n\nExample: modelreg profiles use prod",
    no_args_is_help=True,
)


def login(
    url: Annotated[str, typer.Argument(help="The registry's URL, e.g. https://registry.example.com.")],
    token: Annotated[
        str | None, typer.Option("--token", help="A bearer token to send with every request.")
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", help="Save it under this name.")
    ] = _config.DEFAULT_PROFILE,
    registry: Annotated[
        str | None,
        typer.Option("--registry", help="Use this one of the server's registries (default: its default)."),
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check that the registry answers before saving.")
    ] = True,
) -> None:
    """Save a registry (and its token) as a profile, and make it the active one.

    Example: modelreg login https://registry.example.com --token "$TOKEN" --profile prod --registry team-a
    """
    from modelreg.client import Client

    with Client(url, token, registry=registry, timeout=10.0) as client:
        normalized, chosen = client.root, client.registry
        if verify:
            client.list_models(limit=1).first()
    config = _config.load()
    config.profiles[profile] = _config.Profile(normalized, token, chosen)
    config.active = profile
    path = _config.save(config)
    which = f", registry {chosen!r}" if chosen else ""
    note(f"logged in to {normalized}{which} as profile {profile!r} (saved in {path})")


@profiles_app.command("list")
def profiles_list(output: OutputOption = Output.table) -> None:
    """List the saved profiles; the active one is marked.

    Example: modelreg profiles list --output json
    """
    config = _config.load()
    rows = [
        {
            "name": name,
            "url": p.url,
            "registry": p.registry,
            "active": name == config.active,
            "token": bool(p.token),
        }
        for name, p in sorted(config.profiles.items())
    ]
    if output is not Output.table:
        emit_data(rows, output)
        return
    if not rows:
        note("no profiles yet; run 'modelreg login URL'")
        return
    table(
        [
            ("*" if r["active"] else "", r["name"], r["url"], r["registry"], "yes" if r["token"] else "")
            for r in rows
        ],
        ["", "PROFILE", "URL", "REGISTRY", "TOKEN"],
    )


@profiles_app.command("use")
def profiles_use(name: Annotated[str, typer.Argument(help="A saved profile.")]) -> None:
    """Make a saved profile the active one.

    Example: modelreg profiles use prod
    """
    config = _config.load()
    if name not in config.profiles:
        fail(f"no profile {name!r}; run 'modelreg login URL --profile {name}'", EXIT_USAGE)
    config.active = name
    _config.save(config)
    note(f"now using profile {name!r} ({config.profiles[name].url})")


def register(app: typer.Typer) -> None:
    app.command()(login)
    app.add_typer(profiles_app, name="profiles")
