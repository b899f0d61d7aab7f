"""`modelreg history`: who changed what, and when."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelreg.cli._admin import parse_duration
from modelreg.cli._output import EXIT_USAGE, Output, emit_data, fail, note, short, table, when
from modelreg.cli._params import connect

if TYPE_CHECKING:
    from modelreg.client import HistoryEvent

SHOWN = 100  # events shown by default, except as JSON lines
_RELATIVE = re.compile(r"^\s*\d+\s*[smhdwy]\s*$")


class HistoryOutput(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    jsonl = "jsonl"


def _when(value: str | None, option: str) -> str | None:
    """A relative time (`2h`, `7d`: that long ago) as ISO 8601; anything else (ISO 8601,
    epoch milliseconds) as given, for the server to read."""
    if value is None or not _RELATIVE.match(value):
        return value
    ago = timedelta(seconds=parse_duration(value, option))
    return (datetime.now(UTC) - ago).isoformat()


def _value(value: Any) -> str:
    return short(value) if value is not None else "(none)"


def _changes(changes: dict[str, Any]) -> str:
    return "; ".join(
        f"{k}: {_value(v.get('before'))} -> {_value(v.get('after'))}" for k, v in changes.items()
    )


def _table(events: list[HistoryEvent]) -> None:
    table(
        [
            (
                when(e.time),
                e.actor,
                e.action,
                e.entity_type,
                e.entity_id,
                e.entity_name,
                _changes(e.changes),
            )
            for e in events
        ],
        ["TIME", "ACTOR", "ACTION", "TYPE", "ID", "NAME", "CHANGES"],
    )


def history(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Only this model's changes (a name or id).")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Only this version's changes (needs --model).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only the changes this user made.")] = None,
    entity_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Only changes to this kind of thing: registered_model, model_version, artifact, "
            "inference_service, serving_environment, experiment, experiment_run (with --server: "
            "registry, grant, token, user, group).",
        ),
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action", help="Only this kind of change: create, update, archive, restore, delete, ..."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="From this time: ISO 8601 (2025-01-31T12:00), epoch ms, or 7d / 2h ago."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this time (same forms as --since).")
    ] = None,
    server: Annotated[
        bool,
        typer.Option(
            "--server",
            help="The server's own history instead (server admins): registries, grants, tokens, "
            "users and groups, and the default registry's changes.",
        ),
    ] = False,
    oldest_first: Annotated[
        bool, typer.Option("--oldest-first", help="Oldest first (default: newest).")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help=f"Show at most this many (default {SHOWN}; jsonl: all)."),
    ] = None,
    output: Annotated[
        HistoryOutput,
        typer.Option(
            "--output",
            help="table for people; json or yaml for scripts; jsonl streams every event, one a line.",
            case_sensitive=False,
        ),
    ] = HistoryOutput.table,
) -> None:
    """Show the registry's history: who changed what, when, and each field before and after.

    Example: modelreg history --model fraud-detector --since 7d --output json
    """
    if version is not None and model is None:
        fail("--version needs --model", EXIT_USAGE)
    if server and model is not None:
        fail("--server goes without --model (the server's history is not a model's)", EXIT_USAGE)
    filters: dict[str, Any] = {
        "actor": actor,
        "action": action,
        "since": _when(since, "--since"),
        "until": _when(until, "--until"),
        "oldest_first": oldest_first,
    }
    if model is None:
        filters["entity_type"] = entity_type
    elif entity_type is not None:
        fail("--type goes without --model (a model's history is its own)", EXIT_USAGE)
    with connect(ctx) as client:
        if output is HistoryOutput.jsonl:
            lines = client.export_history(model=model, version=version, server=server, limit=limit, **filters)
            for event in lines:
                sys.stdout.write(json.dumps(event.model_dump(mode="json"), ensure_ascii=False) + "\n")
            sys.stdout.flush()
            return
        fetch = limit or SHOWN + 1  # one more than shown by default, to tell when there are more
        if server:
            pager = client.server_history(limit=fetch, **filters)
        elif model is None:
            pager = client.history(limit=fetch, **filters)
        elif version is None:
            pager = client.model_history(model, limit=fetch, **filters)
        else:
            pager = client.version_history(model, version, limit=fetch, **filters)
        events = list(pager)
    if limit is None and len(events) > SHOWN:
        events = events[:SHOWN]
        first = "oldest" if oldest_first else "newest"
        note(f"showing the {first} {SHOWN} events; more with --limit N, or all with --output jsonl")
    if output is HistoryOutput.table:
        _table(events)
    else:
        emit_data(events, Output(output.value))


def register(app: typer.Typer) -> None:
    app.command()(history)
