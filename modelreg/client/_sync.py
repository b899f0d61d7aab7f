"""`Client`: the blocking client. Each method runs one operation of `_ops`, performing
its effects with httpx as they come."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

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


class Pager(Generic[T]):
    """The results of a listing, fetched a page at a time as you iterate."""

    def __init__(self, client: Client, listing: _ops.Listing[T]) -> None:
        self._client = client
        self._listing = listing

    def __iter__(self) -> Iterator[T]:
        listing = self._listing
        path = self._client._run(listing.locate())
        token, seen = "", 0
        while True:
            items, token = self._client._run(_ops.page(path, listing.params, token, listing.root))
            for item in items:
                yield listing.convert(item)
                seen += 1
                if listing.limit is not None and seen >= listing.limit:
                    return
            if not token or not items:
                return

    def first(self) -> T | None:
        """The first result, or None when there is none."""
        return next(iter(self), None)


class Client:
    """A registry client: `Client("http://127.0.0.1:8080", token=...)`.

    `url` defaults to MODELREG_URL, else http://127.0.0.1:8080; `token` (sent as a Bearer
    token) to MODELREG_TOKEN. `registry` picks one of the server's registries (or end the
    URL in `/registries/<name>`); without it, the server's default registry. Models,
    versions, files and history are the chosen registry's; administration (registries,
    grants, tokens) and `whoami` are the server's. `verify` is True, False, an SSLContext
    or the path of a CA bundle; `transport` takes any httpx transport (a test's, say).
    Methods take a model as a name, an id or a RegisteredModel, and a version as a
    name, an id, "latest" or a ModelVersion. Errors are `modelreg.client.ModelregError`s.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        registry: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str | ssl.SSLContext = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.root, self.registry = split_registry(normalize_base(url), registry)
        self.url = registry_base(self.root, self.registry)
        self._auth = auth_headers(token)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=ssl_verify(verify),
            headers=default_headers(headers),
            follow_redirects=False,
        )

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.registry:
            return f"Client({self.root!r}, registry={self.registry!r})"
        return f"Client({self.url!r})"

    # ------------------------------------------------------------ models

    def get_model(self, model: str | RegisteredModel) -> RegisteredModel:
        """A registered model by name (or id)."""
        return self._run(_ops.get_model(model))

    def list_models(
        self,
        *,
        filter: str | None = None,
        order_by: str = "ID",
        descending: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Pager[RegisteredModel]:
        """Registered models, paged transparently. `filter` is a filterQuery, e.g.
        `"owner = 'ana' AND team = 'risk'"`; `order_by` is ID, CREATE_TIME,
        LAST_UPDATE_TIME or NAME."""
        return Pager(self, _ops.list_models(filter, order_by, descending, page_size, limit))

    def create_model(
        self,
        name: str,
        *,
        description: str | None = None,
        owner: str | None = None,
        metadata: Mapping[str, MetadataValue] | None = None,
        labels: Iterable[str] | None = None,
    ) -> RegisteredModel:
        """Create a registered model with no versions (Conflict if the name is taken)."""
        return self._run(
            _ops.create_model(name, description=description, owner=owner, metadata=metadata, labels=labels)
        )

    def update_model(
        self,
        model: str | RegisteredModel,
        *,
        description: str | None = None,
        owner: str | None = None,
        metadata: Mapping[str, MetadataValue | None] | None = None,
        labels: Iterable[str] | None = None,
    ) -> RegisteredModel:
        """Change a model. `metadata` merges (a None value removes the key); `labels`
        replaces the set of labels."""
        return self._run(
            _ops.update_model(model, description=description, owner=owner, metadata=metadata, labels=labels)
        )

    # ------------------------------------------------------------ versions

    def get_version(
        self, model: str | RegisteredModel, version: str | ModelVersion = "latest"
    ) -> ModelVersion:
        """A version by name, id, or "latest" (the most recently created)."""
        return self._run(_ops.get_version(model, version))

    def list_versions(
        self,
        model: str | RegisteredModel,
        *,
        filter: str | None = None,
        order_by: str = "ID",
        descending: bool = False,
        page_size: int = 100,
        limit: int | None = None,
    ) -> Pager[ModelVersion]:
        """A model's versions, paged transparently."""
        return Pager(self, _ops.list_versions(model, filter, order_by, descending, page_size, limit))

    def update_version(
        self,
        model: str | RegisteredModel,
        version: str | ModelVersion,
        *,
        description: str | None = None,
        author: str | None = None,
        metadata: Mapping[str, MetadataValue | None] | None = None,
        labels: Iterable[str] | None = None,
    ) -> ModelVersion:
        """Change a version, as `update_model` changes a model."""
        return self._run(
            _ops.update_version(
                model, version, description=description, author=author, metadata=metadata, labels=labels
            )
        )

    def get_artifact(
        self, model: str | RegisteredModel, version: str | ModelVersion = "latest"
    ) -> ModelArtifact:
        """A version's newest model artifact (the one KServe would serve)."""
        return self._run(_ops.get_artifact(model, version))

    # ------------------------------------------------------------ lifecycle of entities

    @overload
    def archive(self, model: str | RegisteredModel, version: None = None) -> RegisteredModel: ...
    @overload
    def archive(self, model: str | RegisteredModel, version: str | ModelVersion) -> ModelVersion: ...
    def archive(
        self, model: str | RegisteredModel, version: str | ModelVersion | None = None
    ) -> RegisteredModel | ModelVersion:
        """Archive a model (its live versions follow) or, given `version`, one version."""
        return self._run(_ops.set_state(model, version, "ARCHIVED"))

    @overload
    def restore(self, model: str | RegisteredModel, version: None = None) -> RegisteredModel: ...
    @overload
    def restore(self, model: str | RegisteredModel, version: str | ModelVersion) -> ModelVersion: ...
    def restore(
        self, model: str | RegisteredModel, version: str | ModelVersion | None = None
    ) -> RegisteredModel | ModelVersion:
        """Bring an archived model (and the versions archived with it) or a version back."""
        return self._run(_ops.set_state(model, version, "LIVE"))

    def delete(self, model: str | RegisteredModel, version: str | ModelVersion | None = None) -> None:
        """Delete a model and everything under it, or one version (Conflict while deployed)."""
        self._run(_ops.delete(model, version))

    # ------------------------------------------------------------ files

    def register_model(
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
        """Register `version` of model `name`, with its files (`path`, uploaded to the
        registry) or where they already are (`uri`).

        The model is created if new (with `description` and `owner`, defaulting to
        `author`); `metadata` and `labels` go on the version. Registering the same name,
        version and content again returns the existing version and sends nothing;
        different content under an existing version raises Conflict.
        """
        return self._run(
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

    def download(
        self,
        model: str | RegisteredModel,
        version: str | ModelVersion | None,
        dest_dir: str | os.PathLike[str],
        progress: _ops.Progress = None,
    ) -> Manifest:
        """Fetch a version's stored files into `dest_dir`, verifying each SHA-256 while
        writing (a mismatch deletes the file and raises ChecksumMismatch). Files already
        there with the right bytes are kept. `model` may be a `model-registry://` URI
        (then `version` is None)."""
        return self._run(_ops.download(model, version, Path(dest_dir), progress, self.url))

    def get_manifest(self, model: str | RegisteredModel, version: str | ModelVersion = "latest") -> Manifest:
        """The files stored for a version: path, size and SHA-256 of each."""
        return self._run(_ops.get_manifest(model, version))

    def resolve(self, uri: str) -> str:
        """What a `model-registry://[host[:port]/]model[/version]` URI points at, exactly as
        KServe's storage initializer resolves it: the storage URI of the version's newest
        artifact."""
        return self._run(_ops.resolve(uri, self.url))

    # ------------------------------------------------------------ who, and which registries

    def whoami(self) -> Identity:
        """Who the server takes this client's token for."""
        return self._run(_ops.whoami())

    def list_registries(self) -> list[Registry]:
        """The registries this caller may use, each with the caller's role."""
        return self._run(_ops.list_registries())

    def admin_registries(self) -> list[Registry]:
        """Every registry of the server (server admins only)."""
        return self._run(_ops.admin_registries())

    def create_registry(
        self,
        name: str,
        *,
        description: str | None = None,
        database_url: str | None = None,
        tls_ca: str | None = None,
    ) -> Registry:
        """Create a registry (server admins only). Its data goes to `database_url` (with
        `tls_ca`, a PEM CA certificate, to check the server), else to a new database the
        server makes on its own store."""
        return self._run(_ops.create_registry(name, description, database_url, tls_ca))

    def get_registry(self, name: str) -> Registry:
        """One registry (server admins only)."""
        return self._run(_ops.get_registry(name))

    def update_registry(
        self,
        name: str,
        *,
        description: str | None = None,
        database_url: str | None = None,
        tls_ca: str | None = None,
    ) -> Registry:
        """Change a registry's description or database (server admins only)."""
        return self._run(_ops.update_registry(name, description, database_url, tls_ca))

    def delete_registry(self, name: str, confirm: str, *, purge: bool = False) -> str:
        """Delete a registry; `confirm` must be its name again. Its data is kept unless
        `purge`. Returns the server's account of what became of the data."""
        return self._run(_ops.delete_registry(name, confirm, purge))

    # ------------------------------------------------------------ grants and tokens

    def list_grants(self, registry: str) -> list[Grant]:
        """Who holds which role in a registry (its owners and server admins)."""
        return self._run(_ops.list_grants(registry))

    def grant(self, registry: str, subject: str, role: str, *, kind: str = "user") -> Grant:
        """Give a user (or `kind="group"` or `"serviceaccount"`) a role in a registry:
        viewer, editor or owner. It replaces the subject's earlier role there."""
        return self._run(_ops.grant(registry, subject, role, kind))

    def revoke_grant(self, registry: str, subject: str, *, kind: str = "user") -> None:
        """Take a subject's role in a registry away."""
        self._run(_ops.revoke_grant(registry, subject, kind))

    def create_token(
        self, user: str, *, name: str | None = None, expires_in: float | timedelta | None = None
    ) -> IssuedToken:
        """Issue an API token for `user` (server admins only); `expires_in` in seconds or
        a timedelta, else it never expires. Its `secret` is in this answer only."""
        return self._run(_ops.create_token(user, name, expires_in))

    def list_tokens(self, user: str | None = None) -> list[Token]:
        """API tokens, all or `user`'s, without their secrets (server admins only)."""
        return self._run(_ops.list_tokens(user))

    def revoke_token(self, id: str | int) -> Token:
        """Revoke an API token: it stops working at once."""
        return self._run(_ops.revoke_token(id))

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
    ) -> Pager[HistoryEvent]:
        """The registry's changes, newest first, paged transparently. Filters: who
        (`actor`), what (`entity_type` such as "registered_model", `entity_id`,
        `action` such as "update"), and when (`since` inclusive, `until` exclusive: a
        datetime, epoch milliseconds or ISO 8601 text)."""
        return Pager(
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
    ) -> Pager[HistoryEvent]:
        """The changes of one registered model, newest first."""
        return Pager(
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
    ) -> Pager[HistoryEvent]:
        """The changes of one model version, newest first."""
        return Pager(
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
    ) -> Pager[HistoryEvent]:
        """The server's own changes, newest first (server admins only): registries,
        grants, tokens, users and groups, and the default registry's. `registry` keeps one
        registry's (its grants; "" the server-level events); the other filters are
        `history()`'s."""
        return Pager(
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

    def export_history(
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
    ) -> Iterator[HistoryEvent]:
        """Every matching event, streamed from the server's JSON-lines export as you
        iterate (never a page in memory): the registry's, with `model` (and `version`)
        one entity's, or with `server` the server's own (`server_history()`). The filters
        are `history()`'s."""
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
        return self._lines(self._run(_ops.export(listing)), listing)

    # ------------------------------------------------------------ the runner

    def _run(self, op: Op[T]) -> T:
        """Drive an operation: perform each effect it yields, send back the result, throw
        back the error."""
        try:
            effect = next(op)
            while True:
                try:
                    result = self._perform(effect)
                except ModelregError as exc:
                    effect = op.throw(exc)
                else:
                    effect = op.send(result)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            op.close()

    def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Call):
            return self._call(effect)
        if isinstance(effect, Scan):
            return _files.scan(effect.root)
        if isinstance(effect, Present):
            return _files.already_there(effect.dest, effect.entry)
        if isinstance(effect, SendFile):
            return self._send(effect)
        return self._fetch(effect)

    def _target(self, base: str | None, root: bool = False) -> tuple[str, dict[str, str]]:
        if base is not None:
            return base, {}
        return (self.root if root else self.url), self._auth

    def _call(self, c: Call) -> Any:
        base, auth = self._target(c.base, c.root)
        url = base + c.path
        try:
            r = self._http.request(
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

    def _lines(self, c: Call, listing: _ops.Listing[T]) -> Iterator[T]:
        """Stream a JSON-lines answer, one converted line at a time, up to the listing's limit."""
        base, auth = self._target(c.base, c.root)
        url = base + c.path
        seen = 0
        try:
            with self._http.stream("GET", url, params=dict(c.params or {}), headers=auth) as r:
                if r.status_code >= 400:
                    raise error_from_response(r.status_code, r.read(), url)
                for line in r.iter_lines():
                    if not line.strip():
                        continue
                    yield listing.convert(json.loads(line))
                    seen += 1
                    if listing.limit is not None and seen >= listing.limit:
                        return
        except httpx.TransportError as exc:
            raise transport_error(exc, base) from None

    def _send(self, s: SendFile) -> Any:
        url = self.url + s.path

        def chunks() -> Iterator[bytes]:
            sent = 0
            with s.source.open("rb") as f:
                while chunk := f.read(_files.CHUNK):
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
            r = self._http.put(url, content=chunks(), headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(exc, self.url) from None
        body = decode(r.status_code, r.content, url)
        s.tracker.file_done(s.entry.path)
        return body

    def _fetch(self, f: FetchFile) -> None:
        base, auth = self._target(f.base)
        url = base + f.path
        f.dest.parent.mkdir(parents=True, exist_ok=True)
        part = _files.partial_path(f.dest)
        verifier = _files.Verifier(f.entry, url)
        try:
            with self._http.stream("GET", url, headers=auth) as r:
                if r.status_code >= 400:
                    raise error_from_response(r.status_code, r.read(), url)
                verifier.check_header(r.headers.get("x-checksum-sha256"))
                with part.open("wb") as out:
                    for chunk in r.iter_bytes(_files.CHUNK):
                        verifier.update(chunk)
                        out.write(chunk)
                        f.tracker.advance(f.entry.path, len(chunk))
            verifier.finish()
            os.replace(part, f.dest)
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise transport_error(exc, base) from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        f.tracker.file_done(f.entry.path)
