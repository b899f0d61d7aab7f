"""`AsyncClient`: the asyncio (or trio) twin of `Client`. Same operations from `_ops`;
only the way effects are performed differs: awaited, and local file work (hashing,
reading, writing) done off the event loop."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

import anyio
import anyio.to_thread
import httpx

from modelreg.client import _files, _ops
from modelreg.client._effects import Call, Effect, FetchFile, Op, Present, Scan, SendFile
from modelreg.client._errors import InvalidRequest, ModelregError, error_from_response
from modelreg.client._http import (
    DEFAULT_TIMEOUT,
    auth_headers,
    decode,
    default_headers,
    normalize_base,
    ssl_verify,
    transport_error,
)
from modelreg.client._models import (
    Manifest,
    MetadataValue,
    ModelArtifact,
    ModelVersion,
    RegisteredModel,
)

T = TypeVar("T")


class AsyncPager(Generic[T]):
    """The results of a listing, fetched a page at a time as you `async for` over them."""

    def __init__(self, client: AsyncClient, listing: _ops.Listing[T]) -> None:
        self._client = client
        self._listing = listing

    async def __aiter__(self) -> AsyncIterator[T]:
        listing = self._listing
        path = await self._client._run(listing.locate())
        token, seen = "", 0
        while True:
            items, token = await self._client._run(_ops.page(path, listing.params, token))
            for item in items:
                yield listing.convert(item)
                seen += 1
                if listing.limit is not None and seen >= listing.limit:
                    return
            if not token or not items:
                return

    async def first(self) -> T | None:
        """The first result, or None when there is none."""
        async for item in self:
            return item
        return None

    async def to_list(self) -> list[T]:
        return [item async for item in self]


class AsyncClient:
    """The async twin of `Client`: the same methods, awaited. Use `async with`."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str | ssl.SSLContext = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = normalize_base(url)
        self._auth = auth_headers(token)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=ssl_verify(verify),
            headers=default_headers(headers),
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"

    # ------------------------------------------------------------ models

    async def get_model(self, model: str | RegisteredModel) -> RegisteredModel:
        return await self._run(_ops.get_model(model))

    def list_models(
        self,
        *,
        filter: str | None = None,
        order_by: str = "ID",
        descending: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncPager[RegisteredModel]:
        return AsyncPager(self, _ops.list_models(filter, order_by, descending, page_size, limit))

    async def create_model(
        self,
        name: str,
        *,
        description: str | None = None,
        owner: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        labels: Iterable[str] | None = None,
    ) -> RegisteredModel:
        return await self._run(
            _ops.create_model(name, description=description, owner=owner, metadata=metadata, labels=labels)
        )

    async def update_model(
        self,
        model: str | RegisteredModel,
        *,
        description: str | None = None,
        owner: str | None = None,
        metadata: Mapping[str, MetadataValue | None] | None = None,
        labels: Iterable[str] | None = None,
    ) -> RegisteredModel:
        return await self._run(
            _ops.update_model(model, description=description, owner=owner, metadata=metadata, labels=labels)
        )

    # ------------------------------------------------------------ versions

    async def get_version(
        self, model: str | RegisteredModel, version: str | ModelVersion = "latest"
    ) -> ModelVersion:
        return await self._run(_ops.get_version(model, version))

    def list_versions(
        self,
        model: str | RegisteredModel,
        *,
        filter: str | None = None,
        order_by: str = "ID",
        descending: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncPager[ModelVersion]:
        return AsyncPager(self, _ops.list_versions(model, filter, order_by, descending, page_size, limit))

    async def update_version(
        self,
        model: str | RegisteredModel,
        version: str | ModelVersion,
        *,
        description: str | None = None,
        author: str | None = None,
        metadata: Mapping[str, MetadataValue | None] | None = None,
        labels: Iterable[str] | None = None,
    ) -> ModelVersion:
        return await self._run(
            _ops.update_version(
                model, version, description=description, author=author, metadata=metadata, labels=labels
            )
        )

    async def get_artifact(
        self, model: str | RegisteredModel, version: str | ModelVersion = "latest"
    ) -> ModelArtifact:
        return await self._run(_ops.get_artifact(model, version))

    # ------------------------------------------------------------ lifecycle of entities

    @overload
    async def archive(self, model: str | RegisteredModel, version: None = None) -> RegisteredModel: ...
    @overload
    async def archive(self, model: str | RegisteredModel, version: str | ModelVersion) -> ModelVersion: ...
    async def archive(
        self, model: str | RegisteredModel, version: str | ModelVersion | None = None
    ) -> RegisteredModel | ModelVersion:
        return await self._run(_ops.set_state(model, version, "ARCHIVED"))

    @overload
    async def restore(self, model: str | RegisteredModel, version: None = None) -> RegisteredModel: ...
    @overload
    async def restore(self, model: str | RegisteredModel, version: str | ModelVersion) -> ModelVersion: ...
    async def restore(
        self, model: str | RegisteredModel, version: str | ModelVersion | None = None
    ) -> RegisteredModel | ModelVersion:
        return await self._run(_ops.set_state(model, version, "LIVE"))

    async def delete(self, model: str | RegisteredModel, version: str | ModelVersion | None = None) -> None:
        await self._run(_ops.delete(model, version))

    # ------------------------------------------------------------ files

    async def register_model(
        self,
        name: str,
        version: str,
        *,
        path: str | os.PathLike[str] | None = None,
        uri: str | None = None,
        model_format_name: str | None = None,
        model_format_version: str | None = None,
        description: str | None = None,
        version_description: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        labels: Iterable[str] | None = None,
        author: str | None = None,
        owner: str | None = None,
        progress: _ops.Progress = None,
    ) -> ModelVersion:
        return await self._run(
            _ops.register_model(
                _ops.Registration(
                    name,
                    version,
                    Path(path) if path is not None else None,
                    uri,
                    model_format_name,
                    model_format_version,
                    description,
                    version_description,
                    metadata,
                    labels,
                    author,
                    owner,
                    progress,
                )
            )
        )

    async def download(
        self,
        model: str | RegisteredModel,
        version: str | ModelVersion | None,
        dest_dir: str | os.PathLike[str],
        progress: _ops.Progress = None,
    ) -> Manifest:
        return await self._run(_ops.download(model, version, Path(dest_dir), progress, self.url))

    async def get_manifest(
        self, model: str | RegisteredModel, version: str | ModelVersion = "latest"
    ) -> Manifest:
        return await self._run(_ops.get_manifest(model, version))

    async def resolve(self, uri: str) -> str:
        return await self._run(_ops.resolve(uri, self.url))

    # ------------------------------------------------------------ the runner

    async def _run(self, op: Op[T]) -> T:
        """Drive an operation as `Client._run` does, awaiting each effect."""
        try:
            effect = next(op)
            while True:
                try:
                    result = await self._perform(effect)
                except ModelregError as exc:
                    effect = op.throw(exc)
                else:
                    effect = op.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            op.close()

    async def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Call):
            return await self._call(effect)
        if isinstance(effect, Scan):
            return await anyio.to_thread.run_sync(_files.scan, effect.root)
        if isinstance(effect, Present):
            return await anyio.to_thread.run_sync(_files.already_there, effect.dest, effect.entry)
        if isinstance(effect, SendFile):
            return await self._send(effect)
        return await self._fetch(effect)

    def _target(self, base: str | None) -> tuple[str, dict[str, str]]:
        return (base, {}) if base is not None else (self.url, self._auth)

    async def _call(self, c: Call) -> Any:
        base, auth = self._target(c.base)
        url = base + c.path
        try:
            r = await self._http.request(
                c.method,
                url,
                params=dict(c.params) if c.params else None,
                json=c.json,
                headers=auth,
                timeout=c.timeout if c.timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, base) from None
        return decode(r.status_code, r.content, url, c.with_status)

    async def _send(self, s: SendFile) -> Any:
        url = self.url + s.path

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            async with await anyio.open_file(s.source, "rb") as f:
                while chunk := await f.read(_files.CHUNK):
                    sent += len(chunk)
                    if sent > s.entry.size:
                        raise InvalidRequest(f"{s.source} changed while it was being registered")
                    yield chunk
                    s.tracker.advance(s.entry.path, len(chunk))

        headers = {
            **self._auth,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(s.entry.size),
        }
        try:
            r = await self._http.put(url, content=chunks(), headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, self.url) from None
        body = decode(r.status_code, r.content, url)
        s.tracker.file_done(s.entry.path)
        return body

    async def _fetch(self, f: FetchFile) -> None:
        base, auth = self._target(f.base)
        url = base + f.path
        await anyio.Path(f.dest.parent).mkdir(parents=True, exist_ok=True)
        part = _files.partial_path(f.dest)
        verifier = _files.Verifier(f.entry, url)
        try:
            async with self._http.stream("GET", url, headers=auth) as r:
                if r.status_code >= 400:
                    raise error_from_response(r.status_code, await r.aread(), url)
                verifier.check_header(r.headers.get("x-checksum-sha256"))
                async with await anyio.open_file(part, "wb") as out:
                    async for chunk in r.aiter_bytes(_files.CHUNK):
                        verifier.update(chunk)
                        await out.write(chunk)
                        f.tracker.advance(f.entry.path, len(chunk))
            verifier.finish()
            await anyio.to_thread.run_sync(os.replace, part, f.dest)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise transport_error(exc, base) from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        f.tracker.file_done(f.entry.path)
