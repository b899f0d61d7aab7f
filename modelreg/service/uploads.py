"""Uploaded model files: a manifest declared up front, bytes stored file by file, and a
model artifact that turns LIVE only when every file is in place.

The artifact is the upload: PENDING while files are missing, LIVE once complete. A
version's uploaded files never change afterwards; the same manifest declared again is
recognised, so registering the same files twice stores them once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from modelreg.entities import ARTIFACT, MODEL_VERSION, REGISTERED_MODEL
from modelreg.entities.values import CustomProperties, PropertyValue
from modelreg.service import resources
from modelreg.service.errors import Conflict, InvalidArgument, NotFound
from modelreg.store.files import FileStore, artifact_key
from modelreg.store.repository import Record
from modelreg.store.schema import PATH_LENGTH, TABLES, artifact_files
from modelreg.store.session import Session

MAX_FILES = 10_000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
A = TABLES[ARTIFACT.kind]


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class UploadState:
    artifact_id: int
    state: str
    missing: list[str]
    created: bool


def check_path(path: str) -> str:
    """A relative, '/'-separated path that stays inside the artifact."""
    if not path or len(path) > PATH_LENGTH:
        raise InvalidArgument(f"file paths must be 1 to {PATH_LENGTH} characters")
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise InvalidArgument(f"file path {path!r} must be relative, without '.', '..' or empty parts")
    if any(ord(c) < 32 for c in path):
        raise InvalidArgument(f"file path {path!r} contains control characters")
    return path


def check_manifest(files: list[FileEntry]) -> list[FileEntry]:
    if not files:
        raise InvalidArgument("an upload needs at least one file")
    if len(files) > MAX_FILES:
        raise InvalidArgument(f"an upload holds at most {MAX_FILES} files")
    seen: set[str] = set()
    for f in files:
        check_path(f.path)
        if f.path in seen:
            raise InvalidArgument(f"file {f.path!r} is listed twice")
        if f.size < 0:
            raise InvalidArgument(f"file {f.path!r} has a negative size")
        if not _SHA256.match(f.sha256):
            raise InvalidArgument(f"sha256 of {f.path!r} must be 64 lowercase hex digits")
        seen.add(f.path)
    return sorted(files, key=lambda f: f.path)


def manifest_digest(files: list[FileEntry]) -> str:
    """One digest for the whole set of files: equal digests, equal contents."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"{f.sha256}  {f.size}  {f.path}\n".encode())
    return h.hexdigest()


def _files_of(session: Session, artifact_id: int) -> list[tuple[FileEntry, bool]]:
    rows = session.execute(
        select(artifact_files)
        .where(artifact_files.c.artifact_id == artifact_id)
        .order_by(artifact_files.c.path)
    )
    return [(FileEntry(r.path, int(r.size), r.sha256), bool(r.stored)) for r in rows]


def _uploads_of_version(session: Session, version_id: int) -> list[Record]:
    ids = select(artifact_files.c.artifact_id).distinct()
    return resources.Repository(session, ARTIFACT).select_where(A.c.parent_id == version_id, A.c.id.in_(ids))


def start(
    session: Session,
    version_id: int,
    files: list[FileEntry],
    values: dict[str, Any],
    properties: CustomProperties,
    store: FileStore,
) -> UploadState:
    """Declare an upload for a version, or find the one already declared for these files."""
    files = check_manifest(files)
    version = resources.get(session, MODEL_VERSION, version_id)
    wanted = {(f.path, f.size, f.sha256) for f in files}
    for existing in _uploads_of_version(session, version.id):
        have = _files_of(session, existing.id)
        same = {(f.path, f.size, f.sha256) for f, _ in have} == wanted
        if existing["state"] == "LIVE":
            if same:
                return UploadState(existing.id, "LIVE", [], False)
            raise Conflict(
                f"model version {version.id} already holds different files (artifact {existing.id}); "
                "uploaded files never change: register a new version"
            )
        if same:
            missing = [f.path for f, stored in have if not stored]
            return UploadState(existing.id, existing["state"], missing, False)
        # A different upload that never finished: this one replaces it.
        resources.delete(session, ARTIFACT, existing.id)
    model = resources.get(session, REGISTERED_MODEL, version["parent_id"])
    values = {**values, "type": "model-artifact", "state": "PENDING", "parent_id": version.id}
    values.setdefault("name", model["name"])
    record = resources.create(session, ARTIFACT, values, properties)
    session.execute(
        insert(artifact_files),
        [
            {"artifact_id": record.id, "path": f.path, "size": f.size, "sha256": f.sha256, "stored": False}
            for f in files
        ],
    )
    return UploadState(record.id, "PENDING", [f.path for f in files], True)


def expected_file(session: Session, artifact_id: int, path: str) -> FileEntry:
    """The declared file an upload is about to receive; the upload must still be open."""
    record = resources.get(session, ARTIFACT, artifact_id)
    row = session.execute(
        select(artifact_files).where(
            artifact_files.c.artifact_id == artifact_id, artifact_files.c.path == path
        )
    ).first()
    if row is None:
        raise NotFound(f"artifact {artifact_id} declares no file {path!r}")
    if record["state"] != "PENDING":
        raise Conflict(f"artifact {artifact_id} is {record['state']}; its files can no longer change")
    return FileEntry(row.path, int(row.size), row.sha256)


def mark_stored(session: Session, artifact_id: int, path: str) -> None:
    expected_file(session, artifact_id, path)
    session.execute(
        update(artifact_files)
        .where(artifact_files.c.artifact_id == artifact_id, artifact_files.c.path == path)
        .values(stored=True)
    )


def complete(session: Session, artifact_id: int, store: FileStore) -> Record:
    record = resources.get(session, ARTIFACT, artifact_id)
    files = _files_of(session, artifact_id)
    if not files:
        raise NotFound(f"artifact {artifact_id} was not uploaded through modelreg")
    if record["state"] == "LIVE":
        return record
    missing = [f.path for f, stored in files if not stored]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise Conflict(f"artifact {artifact_id} still misses {len(missing)} file(s): {shown}")
    entries = [f for f, _ in files]
    properties = dict(record.properties)
    properties["modelreg.total_size"] = PropertyValue("string", str(sum(f.size for f in entries)))
    properties["modelreg.file_count"] = PropertyValue("int", len(entries))
    properties["modelreg.sha256"] = PropertyValue("string", manifest_digest(entries))
    values = {"state": "LIVE", "uri": store.uri(artifact_key(artifact_id))}
    return resources.patch(session, ARTIFACT, artifact_id, values, properties)


@dataclass(frozen=True)
class Manifest:
    artifact: Record
    files: list[FileEntry]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


def manifest(session: Session, artifact_id: int) -> Manifest:
    record = resources.get(session, ARTIFACT, artifact_id)
    files = [f for f, _ in _files_of(session, artifact_id)]
    if not files:
        raise NotFound(
            f"artifact {artifact_id} has no files stored in modelreg (its uri is {record['uri']!r})"
        )
    return Manifest(record, files)


def downloadable(session: Session, artifact_id: int, path: str) -> FileEntry:
    found = manifest(session, artifact_id)
    if found.artifact["state"] != "LIVE":
        raise Conflict(
            f"artifact {artifact_id} is {found.artifact['state']}, not LIVE: its upload is unfinished"
        )
    for f in found.files:
        if f.path == path:
            return f
    raise NotFound(f"artifact {artifact_id} has no file {path!r}")
