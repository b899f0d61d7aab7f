"""Local files: the manifest of a directory, safe destination paths, verified writes.

Pure and synchronous; both clients use them (the async one from a worker thread for the
hashing). Memory stays constant: files are read and written in `CHUNK`-sized pieces.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from modelreg.client._errors import ChecksumMismatch, InvalidRequest
from modelreg.client._models import FileEntry

CHUNK = 1024 * 1024
MAX_FILES = 10_000


def sha256_of(path: Path) -> tuple[int, str]:
    """A file's size and SHA-256, read in constant memory."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def scan(root: Path) -> list[FileEntry]:
    """Every regular file under `root` (or `root` itself if it is a file), sorted by path."""
    root = Path(root)
    if not root.exists():
        raise InvalidRequest(f"{root} does not exist")
    if root.is_file():
        paths = [(root.name, root)]
    else:
        paths = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in filenames:
                full = Path(dirpath) / name
                if full.is_file():
                    paths.append((full.relative_to(root).as_posix(), full))
        if not paths:
            raise InvalidRequest(f"{root} holds no files")
    if len(paths) > MAX_FILES:
        raise InvalidRequest(f"{root} holds {len(paths)} files; the registry takes at most {MAX_FILES}")
    entries = []
    for rel, full in sorted(paths):
        size, digest = sha256_of(full)
        entries.append(FileEntry(path=rel, size=size, sha256=digest))
    return entries


def local_source(root: Path, rel: str) -> Path:
    root = Path(root)
    return root if root.is_file() else root / PurePosixPath(rel)


def safe_destination(dest_dir: Path, rel: str) -> Path:
    """Where a manifest path lands under `dest_dir`, refusing anything that escapes it."""
    parts = rel.split("/")
    if "\\" in rel or "\x00" in rel or any(p in ("", ".", "..") for p in parts):
        raise InvalidRequest(f"the server sent an unsafe file path {rel!r}; nothing was written")
    return Path(dest_dir).joinpath(*parts)


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def already_there(dest: Path, entry: FileEntry) -> bool:
    """A file already at `dest` with exactly the declared bytes needs no download."""
    if not dest.is_file() or dest.stat().st_size != entry.size:
        return False
    return sha256_of(dest)[1] == entry.sha256


class Verifier:
    """Hashes the bytes of one file as they are written; `finish` checks size and digest."""

    def __init__(self, entry: FileEntry, url: str) -> None:
        self.entry = entry
        self.url = url
        self.digest = hashlib.sha256()
        self.size = 0

    def check_header(self, declared: str | None) -> None:
        """The server's X-Checksum-Sha256 must agree with the manifest before any byte is kept."""
        if declared and declared.lower() != self.entry.sha256:
            raise self._mismatch(f"a file announced as sha256 {declared}, not {self.entry.sha256}")

    def update(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.size += len(chunk)
        if self.size > self.entry.size:
            raise self._mismatch(f"more than the {self.entry.size} bytes declared")

    def finish(self) -> None:
        if self.size != self.entry.size:
            raise self._mismatch(f"{self.size} bytes where {self.entry.size} were declared")
        if self.digest.hexdigest() != self.entry.sha256:
            raise self._mismatch(f"sha256 {self.digest.hexdigest()} where {self.entry.sha256} was declared")

    def _mismatch(self, what: str) -> ChecksumMismatch:
        return ChecksumMismatch(f"{self.entry.path}: received {what}; nothing was kept", url=self.url)


def file_url_path(rel: str) -> str:
    """A manifest path as URL path segments, each percent-encoded."""
    from urllib.parse import quote

    return "/".join(quote(seg, safe="") for seg in rel.split("/"))
