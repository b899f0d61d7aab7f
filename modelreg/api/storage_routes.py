"""modelreg's own storage API: upload a model's files, download them back (docs/storage-api.md)."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse
from starlette.types import Scope

from modelreg.api import params, wire
from modelreg.api.routes import json_response, read_body, run, validate
from modelreg.api.security import database, role
from modelreg.entities import ARTIFACT, V1
from modelreg.service import uploads
from modelreg.service.errors import InvalidArgument
from modelreg.store.files import CHUNK, FileStore, artifact_key

PREFIX = "/api/modelreg/v1"
# File bodies are streamed to the store: no body-size limit for them.
UNLIMITED_PATH = re.compile(rf"^(/registries/[^/]+)?{PREFIX}/artifacts/[^/]+/files/")


class FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    path: str
    size: Annotated[int, Field(ge=0)]
    sha256: str


class UploadStart(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    files: list[FileSpec]
    name: str | None = None
    description: str | None = None
    modelFormatName: str | None = None
    modelFormatVersion: str | None = None
    modelSourceKind: str | None = None
    modelSourceClass: str | None = None
    modelSourceGroup: str | None = None
    modelSourceId: str | None = None
    modelSourceName: str | None = None
    customProperties: dict[str, wire.MetadataValue] | None = None


_ARTIFACT_FIELDS = {
    "name": "name",
    "description": "description",
    "modelFormatName": "model_format_name",
    "modelFormatVersion": "model_format_version",
    "modelSourceKind": "model_source_kind",
    "modelSourceClass": "model_source_class",
    "modelSourceGroup": "model_source_group",
    "modelSourceId": "model_source_id",
    "modelSourceName": "model_source_name",
}


def _store(request: Request) -> FileStore:
    store: FileStore | None = database(request).files
    if store is None:
        raise InvalidArgument("this registry stores no files; register a URI instead")
    return store


def storage_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["Artifact storage"])

    @router.post(
        "/model_versions/{version_id}/uploads",
        summary="Declare the files to upload for a version (or resume, or find them stored)",
        openapi_extra=role("editor"),
    )
    async def start_upload(request: Request, version_id: str) -> Response:
        vid = params.parse_id(version_id, "version_id")
        body = validate(UploadStart, await read_body(request))
        assert isinstance(body, UploadStart)
        files = [uploads.FileEntry(f.path, f.size, f.sha256) for f in body.files]
        data = body.model_dump(exclude_none=True)
        values = {column: data[field] for field, column in _ARTIFACT_FIELDS.items() if field in data}
        if len(values.get("name", "")) > wire.NAME_MAX:
            raise InvalidArgument(f"name is longer than {wire.NAME_MAX} characters")
        props = wire.decode_properties(body.customProperties) if body.customProperties else {}
        store = _store(request)
        state = await run(request, lambda s: uploads.start(s, vid, files, values, props, store), write=True)
        answer = {"artifactId": str(state.artifact_id), "state": state.state, "missing": state.missing}
        return json_response(answer, 201 if state.created else 200)

    @router.put(
        "/artifacts/{artifact_id}/files/{path:path}",
        summary="Upload one declared file's bytes",
        openapi_extra=role("editor"),
    )
    async def put_file(request: Request, artifact_id: str, path: str) -> Response:
        aid = params.parse_id(artifact_id, "artifact_id")
        uploads.check_path(path)
        expected = await run(request, lambda s: uploads.expected_file(s, aid, path), write=False)
        size, digest = await _receive(request, _store(request), artifact_key(aid, path), expected)
        await run(request, lambda s: uploads.mark_stored(s, aid, path), write=True)
        return json_response({"path": path, "size": size, "sha256": digest})

    @router.post(
        "/artifacts/{artifact_id}/complete",
        summary="Finish an upload: the artifact turns LIVE",
        openapi_extra=role("editor"),
    )
    async def complete(request: Request, artifact_id: str) -> Response:
        aid = params.parse_id(artifact_id, "artifact_id")
        store = _store(request)
        record = await run(request, lambda s: uploads.complete(s, aid, store), write=True)
        return json_response(wire.encode(ARTIFACT, record, V1))

    @router.get(
        "/artifacts/{artifact_id}/manifest",
        summary="The files of an uploaded artifact",
        openapi_extra=role("viewer"),
    )
    async def manifest(request: Request, artifact_id: str) -> Response:
        aid = params.parse_id(artifact_id, "artifact_id")
        found = await run(request, lambda s: uploads.manifest(s, aid), write=False)
        return json_response(
            {
                "artifactId": str(aid),
                "state": found.artifact["state"],
                "uri": found.artifact["uri"],
                "totalSize": found.total_size,
                "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in found.files],
            }
        )

    @router.get(
        "/artifacts/{artifact_id}/files/{path:path}",
        summary="Download one file, streamed",
        openapi_extra=role("viewer"),
    )
    async def get_file(request: Request, artifact_id: str, path: str) -> Response:
        aid = params.parse_id(artifact_id, "artifact_id")
        entry = await run(request, lambda s: uploads.downloadable(s, aid, path), write=False)
        store = _store(request)
        return StreamingResponse(
            store.read(artifact_key(aid, path)),
            media_type="application/octet-stream",
            headers={"content-length": str(entry.size), "x-checksum-sha256": entry.sha256},
        )

    return router


async def _receive(
    request: Request, store: FileStore, key: str, expected: uploads.FileEntry
) -> tuple[int, str]:
    """Stream the request body into the store, hashing as it goes; commit only if it matches."""
    writer = await run_in_threadpool(store.writer, key)
    digest = hashlib.sha256()
    size = 0
    pending = bytearray()

    def write_block(block: bytes) -> None:
        digest.update(block)
        writer.write(block)

    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > expected.size:
                raise InvalidArgument(f"{expected.path!r} is larger than the declared {expected.size} bytes")
            pending += chunk
            if len(pending) >= CHUNK:
                await run_in_threadpool(write_block, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(write_block, bytes(pending))
        if size != expected.size:
            raise InvalidArgument(f"{expected.path!r} has {size} bytes, not the declared {expected.size}")
        if digest.hexdigest() != expected.sha256:
            raise InvalidArgument(f"{expected.path!r} does not match its declared sha256")
        await run_in_threadpool(writer.commit)
    except (Exception, ClientDisconnect):
        await run_in_threadpool(writer.abort)
        raise
    return size, digest.hexdigest()


def unlimited_body(scope: Scope) -> bool:
    return scope.get("method") == "PUT" and UNLIMITED_PATH.match(str(scope.get("path", ""))) is not None


__all__ = ["storage_router", "unlimited_body"]
