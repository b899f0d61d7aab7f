"""What several commands share: the client for this invocation, option types, parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelreg.cli._config import target
from modelreg.cli._output import EXIT_USAGE, fail

if TYPE_CHECKING:
    from modelreg.client import Client


@contextmanager
def connect(ctx: typer.Context, timeout: float = 30.0) -> Iterator[Client]:
    """The client for the registry this invocation talks to (see `_config`)."""
    from modelreg.client import Client

    root = ctx.find_root().obj or {}
    where = target(root.get("profile"), root.get("registry"))
    with Client(where.url, where.token, registry=where.registry, timeout=timeout) as client:
        yield client


def complete_model(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of model names, from the registry; nothing if it cannot answer."""
    try:
        from modelreg.client import Client

        root = ctx.find_root().params or {}
        where = target(root.get("profile"), root.get("registry"))
        escaped = incomplete.replace("'", "\\'")
        with Client(where.url, where.token, registry=where.registry, timeout=2.0) as client:
            models = client.list_models(filter=f"name LIKE '{escaped}%'", order_by="NAME", limit=50)
            return [m.name for m in models]
    except Exception:
        return []


class OrderBy(StrEnum):
    id = "id"
    name = "name"
    create_time = "create_time"
    last_update_time = "last_update_time"


ModelArg = Annotated[
    str, typer.Argument(help="The model's name (or id).", autocompletion=complete_model, show_default=False)
]
VersionArg = Annotated[str, typer.Argument(help='A version name, id, or "latest".')]
FilterOption = Annotated[
    str | None,
    typer.Option(
        "--filter", help="A filterQuery, e.g. \"owner = 'ana' AND auc > 0.9\" (custom properties by key)."
    ),
]
OrderOption = Annotated[OrderBy, typer.Option("--order-by", help="Sort by this field.", case_sensitive=False)]
DescOption = Annotated[bool, typer.Option("--desc", help="Sort in descending order.")]
LimitOption = Annotated[int | None, typer.Option("--limit", min=1, help="Show at most this many.")]
MetaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--meta",
        help="KEY=VALUE metadata, repeatable. VALUE is read as JSON when it can be "
        "(12, 0.93, true, {...}), else as text.",
    ),
]
LabelOption = Annotated[list[str] | None, typer.Option("--label", help="A label, repeatable.")]
DescriptionOption = Annotated[str | None, typer.Option("--description", help="A description.")]


def parse_meta(items: list[str] | None) -> dict[str, Any] | None:
    """`KEY=VALUE` options as metadata; values that parse as JSON scalars or objects keep
    their type (`12` an int, `0.93` a float, `true` a bool), anything else is text."""
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"--meta takes KEY=VALUE, got {item!r}", EXIT_USAGE)
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if not isinstance(value, bool | int | float | str | dict) or value is None:
            value = raw
        out[key] = value
    return out


def split_ref(ref: str, version: str | None) -> tuple[str, str | None]:
    """`MODEL[:VERSION]` (the version after the last colon), unless --version is given."""
    if version is not None or ":" not in ref:
        return ref, version
    model, _, ver = ref.rpartition(":")
    if not model or not ver:
        fail(f"{ref!r} is not MODEL[:VERSION]", EXIT_USAGE)
    return model, ver
