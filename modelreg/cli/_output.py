"""How the CLI answers: Rich tables for people, JSON or YAML for scripts, one-line errors,
and progress bars on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from pydantic import BaseModel

    from modelreg.client import TransferProgress


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


OutputOption = Annotated[
    Output,
    typer.Option("--output", help="table for people; json or yaml for scripts.", case_sensitive=False),
]
ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar on stderr (default: when stderr is a terminal).",
        show_default=False,
    ),
]

# Exit statuses (also in `modelreg --help`).
EXIT_REFUSED = 1  # not found, conflict, invalid, server error
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_DENIED = 4


def plain(value: Any) -> Any:
    """A result as JSON-ready data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def emit_data(data: Any, output: Output) -> None:
    """JSON or YAML on stdout, written as is (never through Rich's markup)."""
    if output is Output.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(plain(data), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


def short(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def table(rows: Iterable[Sequence[Any]], columns: Sequence[str], title: str | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(*columns, title=title, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        t.add_row(*(escape(short(c)) for c in row))
    console().print(t)


def details(pairs: Sequence[tuple[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    for key, value in pairs:
        t.add_row(key, escape(short(value)))
    console().print(t)


def metadata_text(metadata: dict[str, Any]) -> str:
    return ", ".join(f"{k}={short(v)}" for k, v in sorted(metadata.items()))


def show(result: BaseModel | list[Any], output: Output, render: Callable[[], None]) -> None:
    if output is Output.table:
        render()
    else:
        emit_data(result, output)


def note(message: str) -> None:
    """A human remark on stderr (never mixed into stdout's data)."""
    sys.stderr.write(message + "\n")


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, whatever the message held, and the exit status."""
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    raise typer.Exit(code)


@contextmanager
def transfer_progress(verb: str, enabled: bool | None) -> Iterator[Callable[[TransferProgress], None] | None]:
    """A Rich progress bar on stderr (bytes, rate, time left), or nothing."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
    )
    task = progress.add_task(verb, total=None)

    def update(p: TransferProgress) -> None:
        if not progress.live.is_started:  # only once bytes move: no bar when nothing is sent
            progress.start()
        label = f"{verb} {p.path} ({p.files_done}/{p.files_total} files)"
        progress.update(task, total=p.bytes_total, completed=p.bytes_done, description=label)

    try:
        yield update
    finally:
        if progress.live.is_started:
            progress.stop()
