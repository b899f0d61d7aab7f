"""The interface both file stores implement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

CHUNK = 1024 * 1024


def artifact_key(artifact_id: int, path: str = "") -> str:
    """Where an artifact's file lives inside a store: artifacts/<id>/<path>."""
    return f"artifacts/{artifact_id}/{path}"


class FileWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    def commit(self) -> None:
        """Make the whole file visible at its key."""

    def abort(self) -> None:
        """Drop what was written; the key keeps whatever it held before."""


class FileStore(Protocol):
    def uri(self, prefix: str) -> str:
        """The URI a deployment fetches this prefix (a directory of files) from."""

    def writer(self, key: str) -> FileWriter: ...

    def read(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]: ...

    def size(self, key: str) -> int | None:
        """The stored size, or None when nothing is stored at the key."""

    def delete_prefix(self, prefix: str) -> None: ...

    def check(self) -> None:
        """Raise if the store cannot be used (missing bucket, unwritable directory)."""
