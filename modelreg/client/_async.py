"""`AsyncClient`: the asyncio (or trio) twin of `Client`. Same operations from `_ops`;
only the way effects are performed differs: awaited, and local file work (hashing,
reading, writing) done off the event loop."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import timedelta
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
    registry_base,
    split_registry,
    ssl_verify,
    transport_error,
)
from modelreg.client._models import (
    Grant,
    HistoryEvent,
    Identity,
    IssuedToken,
    Manifest,
    MetadataValue,
    ModelArtifact,
    ModelVersion,
    RegisteredModel,
    Registry,
    Token,
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
            items, token = await self._client._run(_ops.page(path, listing.params, token, listing.root))
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
        registry: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str | ssl.SSLContext = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.root, self.registry = split_registry(normalize_base(url), registry)
        self.url = registry_base(self.root, self.registry)
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
        if self.registry:
            return f"AsyncClient({self.root!r}, registry={self.registry!r})"
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

    # ------------------------------------------------------------ who, and which registries

    async def whoami(self) -> Identity:
        return await self._run(_ops.whoami())

    async def list_registries(self) -> list[Registry]:
        return await self._run(_ops.list_registries())

    async def admin_registries(self) -> list[Registry]:
        return await self._run(_ops.admin_registries())

    async def create_registry(
        self,
        name: str,
        *,
        description: str | None = None,
        database_url: str | None = None,
        tls_ca: str | None = None,
    ) -> Registry:
        return await self._run(_ops.create_registry(name, description, database_url, tls_ca))

    async def get_registry(self, name: str) -> Registry:
        return await self._run(_ops.get_registry(name))

    async def update_registry(
        self,
        name: str,
        *,
        description: str | None = None,
        database_url: str | None = None,
        tls_ca: str | None = None,
    ) -> Registry:
        return await self._run(_ops.update_registry(name, description, database_url, tls_ca))

    async def delete_registry(self, name: str, confirm: str, *, purge: bool = False) -> str:
        return await self._run(_ops.delete_registry(name, confirm, purge))

    # ------------------------------------------------------------ grants and tokens

    async def list_grants(self, registry: str) -> list[Grant]:
        return await self._run(_ops.list_grants(registry))

    async def grant(self, registry: str, subject: str, role: str, *, kind: str = "user") -> Grant:
        return await self._run(_ops.grant(registry, subject, role, kind))

    async def revoke_grant(self, registry: str, subject: str, *, kind: str = "user") -> None:
        await self._run(_ops.revoke_grant(registry, subject, kind))

    async def create_token(
        self, user: str, *, name: str | None = None, expires_in: float | timedelta | None = None
    ) -> IssuedToken:
        return await self._run(_ops.create_token(user, name, expires_in))

    async def list_tokens(self, user: str | None = None) -> list[Token]:
        return await self._run(_ops.list_tokens(user))

    async def revoke_token(self, id: str | int) -> Token:
        return await self._run(_ops.revoke_token(id))

    # ------------------------------------------------------------ history

    def history(
        self,
        *,
        actor: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        since: _ops.When = None,
        until: _ops.When = None,
        oldest_first: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncPager[HistoryEvent]:
        return AsyncPager(
            self,
            _ops.history(
                None,
                None,
                actor=actor,
                entity_type=entity_type,
                entity_id=entity_id,
                action=action,
                since=since,
                until=until,
                oldest_first=oldest_first,
                page_size=page_size,
                limit=limit,
            ),
        )

    def model_history(
        self,
        model: str | RegisteredModel,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: _ops.When = None,
        until: _ops.When = None,
        oldest_first: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncPager[HistoryEvent]:
        return AsyncPager(
            self,
            _ops.history(
                model,
                None,
                actor=actor,
                action=action,
                since=since,
                until=until,
                oldest_first=oldest_first,
                page_size=page_size,
                limit=limit,
            ),
        )

    def version_history(
        self,
        model: str | RegisteredModel,
        version: str | ModelVersion,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: _ops.When = None,
        until: _ops.When = None,
        oldest_first: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncPager[HistoryEvent]:
        return AsyncPager(
            self,
            _ops.history(
                model,
                version,
                actor=actor,
                action=action,
                since=since,
                until=until,
                oldest_first=oldest_first,
                page_size=page_size,
                limit=limit,
            ),
        )

    def server_history(
        self,
        *,
        registry: str | None = None,
        actor: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        since: _ops.When = None,
        until: _ops.When = None,
        oldest_first: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> AsyncPager[HistoryEvent]:
        return AsyncPager(
            self,
            _ops.server_history(
                registry=registry,
                actor=actor,
                entity_type=entity_type,
                entity_id=entity_id,
                action=action,
                since=since,
                until=until,
                oldest_first=oldest_first,
                page_size=page_size,
                limit=limit,
            ),
        )

    async def export_history(
        self,
        *,
        model: str | RegisteredModel | None = None,
        version: str | ModelVersion | None = None,
        server: bool = False,
        actor: str | None = None,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        since: _ops.When = None,
        until: _ops.When = None,
        oldest_first: bool = False,
        limit: int | None = None,
    ) -> AsyncIterator[HistoryEvent]:
        """`async for event in client.export_history(...)`: as `Client.export_history`."""
        filters: dict[str, Any] = {
            "actor": actor,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "action": action,
            "since": since,
            "until": until,
            "oldest_first": oldest_first,
            "limit": limit,
        }
        if server and (model is not None or version is not None):
            raise InvalidRequest("the server's history is not a model's: give server or model, not both")
        listing = _ops.server_history(**filters) if server else _ops.history(model, version, **filters)
        call = await self._run(_ops.export(listing))
        base, auth = self._target(call.base, call.root)
        url = base + call.path
        seen = 0
        try:
            async with self._http.stream("GET", url, params=dict(call.params or {}), headers=auth) as r:
                if r.status_code >= 400:
                    raise error_from_response(r.status_code, await r.aread(), url)
                async for line in r.aiter_lines():
                    if not line.strip():
                        continue
                    yield listing.convert(json.loads(line))
                    seen += 1
                    if limit is not None and seen >= limit:
                        return
        except httpx.TransportError as exc:
            raise transport_error(exc, base) from None

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

    def _target(self, base: str | None, root: bool = False) -> tuple[str, dict[str, str]]:
        if base is not None:
            return base, {}
        return (self.root if root else self.url), self._auth

    async def _call(self, c: Call) -> Any:
        base, auth = self._target(c.base, c.root)
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
