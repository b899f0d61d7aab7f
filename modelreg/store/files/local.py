"""Files in a directory on the server's disk (the default: inside the data directory)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from modelreg.store.files.base import CHUNK


class _LocalWriter:
    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.temp = final.with_name(f".{final.name}.part-{uuid.uuid4().hex}")
        self.handle = open(self.temp, "wb")  # noqa: SIM115 - closed in commit/abort

    def write(self, data: bytes) -> None:
        self.handle.write(data)

    def commit(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temp, self.final)

    def abort(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"key {key!r} leaves the store")
        return path

    def uri(self, prefix: str) -> str:
        return self._path(prefix).as_uri() + "/"

    def writer(self, key: str) -> _LocalWriter:
        return _LocalWriter(self._path(key))

    def read(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        with open(self._path(key), "rb") as f:
            while block := f.read(chunk_size):
                yield block

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"cannot write to {self.root}")
