"""The I/O an operation asks for, as plain values: the sans-IO half of the client.

An operation (see `_ops`) is a generator. It yields one of these effects and is sent
back the result; a failure (a `ModelregError`) is thrown into it at the `yield`, so an
operation handles errors with an ordinary `try`. `Client` and `AsyncClient` each
perform effects in their own way (blocking or awaiting); nothing else differs.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from modelreg.client._models import FileEntry, TransferProgress

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One JSON request; the result is the decoded body (None for 204), or
    `(status, body)` when `with_status`.

    `base` names another registry (from a `model-registry://host/...` URI): the request
    goes there, without this client's token. `root` says the path is the server's, not
    the chosen registry's (administration, `whoami`): it goes to the server's root URL.
    """

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    base: str | None = None
    timeout: float | None = None
    with_status: bool = False
    root: bool = False


@dataclass(frozen=True)
class Scan:
    """Hash every file under `root`; the result is a list of FileEntry."""

    root: Path


@dataclass(frozen=True)
class Present:
    """Whether `dest` already holds exactly the bytes of `entry` (hashing it); a bool."""

    dest: Path
    entry: FileEntry


@dataclass(frozen=True)
class SendFile:
    """PUT one file's bytes, streamed from `source`; the result is the server's JSON."""

    path: str
    source: Path
    entry: FileEntry
    tracker: Tracker


@dataclass(frozen=True)
class FetchFile:
    """GET one file into `dest`, verifying size and SHA-256 while writing; result None."""

    path: str
    dest: Path
    entry: FileEntry
    tracker: Tracker
    base: str | None = None


Effect = Call | Scan | Present | SendFile | FetchFile
Op = Generator[Effect, Any, T]


@dataclass
class Tracker:
    """Counts the bytes of a transfer and reports them to a `progress` callback."""

    callback: Callable[[TransferProgress], None] | None
    bytes_total: int
    files_total: int
    bytes_done: int = 0
    files_done: int = 0
    current: str = field(default="")

    def advance(self, path: str, nbytes: int) -> None:
        self.bytes_done += nbytes
        self.current = path
        self._report()

    def file_done(self, path: str) -> None:
        self.files_done += 1
        self.current = path
        self._report()

    def _report(self) -> None:
        if self.callback is not None:
            self.callback(
                TransferProgress(
                    path=self.current,
                    bytes_done=self.bytes_done,
                    bytes_total=self.bytes_total,
                    files_done=self.files_done,
                    files_total=self.files_total,
                )
            )
