"""Every client operation, written once as a generator of effects (see `_effects`).

Operations speak the wire (dicts in Kubeflow's shapes) and return wire dicts or typed
results; they never touch a socket or a file themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlsplit

from modelreg.client._effects import Call, FetchFile, Op, Present, Scan, SendFile, Tracker
from modelreg.client._errors import Conflict, InvalidRequest, ModelregError, NotFound
from modelreg.client._files import file_url_path, local_source, safe_destination
from modelreg.client._models import (
    FileEntry,
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
    TransferProgress,
    artifact_from_wire,
    event_from_wire,
    grant_from_wire,
    identity_from_wire,
    issued_token_from_wire,
    manifest_from_wire,
    merge_properties,
    model_from_wire,
    registry_from_wire,
    token_from_wire,
    version_from_wire,
)
from modelreg.client._uri import SCHEME, RegistryURI, namespace_host

KF = "/api/model_registry/v1"
STORE = "/api/modelreg/v1"
ADMIN = "/api/admin/v1"
ORDER_FIELDS = ("ID", "CREATE_TIME", "LAST_UPDATE_TIME", "NAME")
MODEL_ARTIFACT = "model-artifact"

SUBJECT_KINDS = ("user", "group", "serviceaccount")
ROLES = ("viewer", "editor", "owner")

T = TypeVar("T")
ModelRef = str | RegisteredModel
VersionRef = str | ModelVersion
Progress = Callable[[TransferProgress], None] | None
When = datetime | int | str | None  # a datetime, epoch milliseconds, or ISO 8601 text


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and not value.startswith("0") and len(value) <= 9


# ---------------------------------------------------------------- lookups


def model_raw(ref: ModelRef) -> Op[dict[str, Any]]:
    """A registered model by name, else by id (names win: a model may be called "12")."""
    if isinstance(ref, RegisteredModel):
        return (yield Call("GET", f"{KF}/registered_models/{ref.id}"))
    if not ref:
        raise InvalidRequest("a model name must not be empty")
    try:
        return (yield Call("GET", f"{KF}/registered_model", {"name": ref}))
    except NotFound:
        pass
    if _is_id(ref):
        try:
            return (yield Call("GET", f"{KF}/registered_models/{ref}"))
        except NotFound:
            pass
    raise NotFound(f"no registered model named {ref!r}", status=404, code="Not Found")


def version_raw(model: ModelRef, version: VersionRef | None) -> Op[dict[str, Any]]:
    """A version by name, else `"latest"` (the newest), else by id; None means latest."""
    if isinstance(version, ModelVersion):
        return (yield Call("GET", f"{KF}/model_versions/{version.id}"))
    rm = yield from model_raw(model)
    name = rm["name"]
    if version is not None:
        if not version:
            raise InvalidRequest("a version name must not be empty")
        try:
            return (yield Call("GET", f"{KF}/model_version", {"name": version, "parentResourceId": rm["id"]}))
        except NotFound:
            pass
    if version is None or version == "latest":
        latest = yield from _latest_version(rm)
        if latest is None:
            raise NotFound(f"registered model {name!r} has no versions", status=404, code="Not Found")
        return latest
    if _is_id(version):
        try:
            found = yield Call("GET", f"{KF}/model_versions/{version}")
        except NotFound:
            pass
        else:
            if found.get("registeredModelId") == rm["id"]:
                return found
    raise NotFound(f"registered model {name!r} has no version {version!r}", status=404, code="Not Found")


def _latest_version(rm: Mapping[str, Any], base: str | None = None) -> Op[dict[str, Any] | None]:
    """The newest version, as KServe picks it: versions by id, descending, the first."""
    body = yield Call(
        "GET",
        f"{KF}/registered_models/{rm['id']}/versions",
        {"sortOrder": "DESC", "pageSize": "1"},
        base=base,
    )
    items = body.get("items") or []
    return items[0] if items else None


def model_artifacts_raw(version_id: str, base: str | None = None) -> Op[list[dict[str, Any]]]:
    """A version's model artifacts, newest first (what KServe reads)."""
    body = yield Call(
        "GET",
        f"{KF}/model_versions/{version_id}/artifacts",
        {"artifactType": MODEL_ARTIFACT, "orderBy": "CREATE_TIME", "sortOrder": "DESC"},
        base=base,
    )
    return list(body.get("items") or [])


def get_model(ref: ModelRef) -> Op[RegisteredModel]:
    return model_from_wire((yield from model_raw(ref)))


def get_version(model: ModelRef, version: VersionRef | None) -> Op[ModelVersion]:
    return version_from_wire((yield from version_raw(model, version)))


def get_artifact(model: ModelRef, version: VersionRef | None) -> Op[ModelArtifact]:
    mv = yield from version_raw(model, version)
    items = yield from model_artifacts_raw(mv["id"])
    if not items:
        raise NotFound(f"version {mv['name']!r} has no model artifact", status=404, code="Not Found")
    return artifact_from_wire(items[0])


# ---------------------------------------------------------------- listings


@dataclass(frozen=True)
class Listing(Generic[T]):
    """What a pager needs: where the collection is (which may take lookups), its query,
    how to turn items into results, and how many to yield at most."""

    locate: Callable[[], Op[str]]
    params: Mapping[str, str]
    convert: Callable[[Mapping[str, Any]], T]
    limit: int | None = None
    root: bool = False  # the collection is the server's (see `Call.root`)


def _fixed(path: str) -> Callable[[], Op[str]]:
    def locate() -> Op[str]:
        return path
        yield  # pragma: no cover - makes this a generator

    return locate


def list_params(
    filter: str | None, order_by: str, descending: bool, page_size: int, limit: int | None
) -> dict[str, str]:
    order = order_by.upper().replace("-", "_")
    if order not in ORDER_FIELDS:
        raise InvalidRequest(f"order_by must be one of {', '.join(ORDER_FIELDS)}, got {order_by!r}")
    if page_size < 1:
        raise InvalidRequest(f"page_size must be at least 1, got {page_size}")
    if limit is not None and limit < 1:
        raise InvalidRequest(f"limit must be at least 1, got {limit}")
    size = min(page_size, limit) if limit else page_size
    params = {"orderBy": order, "sortOrder": "DESC" if descending else "ASC", "pageSize": str(size)}
    if filter:
        params["filterQuery"] = filter
    return params


def list_models(
    filter: str | None, order_by: str, descending: bool, page_size: int, limit: int | None
) -> Listing[RegisteredModel]:
    params = list_params(filter, order_by, descending, page_size, limit)
    return Listing(_fixed(f"{KF}/registered_models"), params, model_from_wire, limit)


def list_versions(
    model: ModelRef, filter: str | None, order_by: str, descending: bool, page_size: int, limit: int | None
) -> Listing[ModelVersion]:
    params = list_params(filter, order_by, descending, page_size, limit)

    def locate() -> Op[str]:
        rm = yield from model_raw(model)
        return f"{KF}/registered_models/{rm['id']}/versions"

    return Listing(locate, params, version_from_wire, limit)


def page(
    path: str, params: Mapping[str, str], token: str, root: bool = False
) -> Op[tuple[list[dict[str, Any]], str]]:
    query = {**params, "nextPageToken": token} if token else dict(params)
    body = yield Call("GET", path, query, root=root)
    return list(body.get("items") or []), str(body.get("nextPageToken") or "")


# ---------------------------------------------------------------- writes


def create_model(
    name: str,
    *,
    description: str | None,
    owner: str | None,
    metadata: Mapping[str, MetadataValue] | None,
    labels: Iterable[str] | None,
) -> Op[RegisteredModel]:
    body = yield from _create_model_raw(name, description, owner, metadata, labels)
    return model_from_wire(body)


def _create_model_raw(
    name: str,
    description: str | None,
    owner: str | None,
    metadata: Mapping[str, MetadataValue] | None,
    labels: Iterable[str] | None,
) -> Op[dict[str, Any]]:
    if not name:
        raise InvalidRequest("a model name must not be empty")
    body: dict[str, Any] = {"name": name, "customProperties": merge_properties({}, metadata, labels)}
    if description is not None:
        body["description"] = description
    if owner is not None:
        body["owner"] = owner
    return (yield Call("POST", f"{KF}/registered_models", json=body))


def _changes(
    current: Mapping[str, Any],
    fields: Mapping[str, str | None],
    metadata: Mapping[str, MetadataValue | None] | None,
    labels: Iterable[str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if metadata is not None or labels is not None:
        body["customProperties"] = merge_properties(current.get("customProperties") or {}, metadata, labels)
    return body


def update_model(
    ref: ModelRef,
    *,
    description: str | None,
    owner: str | None,
    metadata: Mapping[str, MetadataValue | None] | None,
    labels: Iterable[str] | None,
) -> Op[RegisteredModel]:
    rm = yield from model_raw(ref)
    body = _changes(rm, {"description": description, "owner": owner}, metadata, labels)
    if not body:
        return model_from_wire(rm)
    return model_from_wire((yield Call("PATCH", f"{KF}/registered_models/{rm['id']}", json=body)))


def update_version(
    model: ModelRef,
    version: VersionRef | None,
    *,
    description: str | None,
    author: str | None,
    metadata: Mapping[str, MetadataValue | None] | None,
    labels: Iterable[str] | None,
) -> Op[ModelVersion]:
    mv = yield from version_raw(model, version)
    body = _changes(mv, {"description": description, "author": author}, metadata, labels)
    if not body:
        return version_from_wire(mv)
    return version_from_wire((yield Call("PATCH", f"{KF}/model_versions/{mv['id']}", json=body)))


def set_state(model: ModelRef, version: VersionRef | None, state: str) -> Op[RegisteredModel | ModelVersion]:
    if version is None and not isinstance(model, ModelVersion):
        rm = yield from model_raw(model)
        body = yield Call("PATCH", f"{KF}/registered_models/{rm['id']}", json={"state": state})
        return model_from_wire(body)
    mv = yield from version_raw(model, version)
    body = yield Call("PATCH", f"{KF}/model_versions/{mv['id']}", json={"state": state})
    return version_from_wire(body)


def delete(model: ModelRef, version: VersionRef | None) -> Op[None]:
    if version is None:
        rm = yield from model_raw(model)
        yield Call("DELETE", f"{KF}/registered_models/{rm['id']}")
    else:
        mv = yield from version_raw(model, version)
        yield Call("DELETE", f"{KF}/model_versions/{mv['id']}")


# ---------------------------------------------------------------- register


@dataclass(frozen=True)
class Registration:
    """Everything `register_model` was asked for."""

    name: str
    version: str
    path: Path | None = None
    uri: str | None = None
    model_format_name: str | None = None
    model_format_version: str | None = None
    description: str | None = None
    version_description: str | None = None
    metadata: Mapping[str, MetadataValue] | None = None
    labels: Iterable[str] | None = None
    author: str | None = None
    owner: str | None = None
    progress: Progress = None


def register_model(r: Registration) -> Op[ModelVersion]:
    """Create or reuse the model, create the version and its artifact; idempotent.

    Registering the same name, version and content again returns the existing version
    (for files, the server confirms the manifest and nothing is sent); different content
    under an existing version raises Conflict.
    """
    if (r.path is None) == (r.uri is None):
        raise InvalidRequest("register_model needs exactly one of path= (files to upload) or uri=")
    if not r.version:
        raise InvalidRequest("a version name must not be empty")
    files = (yield Scan(Path(r.path))) if r.path is not None else None
    rm = yield from _model_for_registration(r)
    mv, existed = yield from _version_for_registration(r, rm)
    if r.uri is not None:
        artifacts = (yield from model_artifacts_raw(mv["id"])) if existed else []
        if any(a.get("uri") == r.uri for a in artifacts):
            return version_from_wire(mv)
        if artifacts:
            raise _content_conflict(r, f"not {r.uri}")
        # A new version, or one whose registration stopped before its artifact: finish it.
        yield Call("POST", f"{KF}/model_versions/{mv['id']}/artifacts", json=_uri_artifact(r))
    else:
        assert files is not None and r.path is not None
        yield from _upload(r, rm, mv, files, existed)
    return version_from_wire((yield Call("GET", f"{KF}/model_versions/{mv['id']}")))


def _model_for_registration(r: Registration) -> Op[dict[str, Any]]:
    try:
        return (yield Call("GET", f"{KF}/registered_model", {"name": r.name}))
    except NotFound:
        pass
    try:
        return (yield from _create_model_raw(r.name, r.description, r.owner or r.author, None, None))
    except Conflict:  # registered meanwhile by someone else: use theirs
        return (yield Call("GET", f"{KF}/registered_model", {"name": r.name}))


def _version_for_registration(r: Registration, rm: Mapping[str, Any]) -> Op[tuple[dict[str, Any], bool]]:
    find = {"name": r.version, "parentResourceId": rm["id"]}
    try:
        return (yield Call("GET", f"{KF}/model_version", find)), True
    except NotFound:
        pass
    body: dict[str, Any] = {
        "name": r.version,
        "registeredModelId": rm["id"],
        "customProperties": merge_properties({}, r.metadata, r.labels),
    }
    if r.author is not None:
        body["author"] = r.author
    if r.version_description is not None:
        body["description"] = r.version_description
    try:
        return (yield Call("POST", f"{KF}/registered_models/{rm['id']}/versions", json=body)), False
    except Conflict:
        return (yield Call("GET", f"{KF}/model_version", find)), True


def _content_conflict(r: Registration, detail: str) -> Conflict:
    return Conflict(
        f"version {r.version!r} of {r.name!r} already exists with different content ({detail}); "
        "register a new version",
        status=409,
        code="Conflict",
    )


def _uri_artifact(r: Registration) -> dict[str, Any]:
    body: dict[str, Any] = {"artifactType": MODEL_ARTIFACT, "name": r.name, "uri": r.uri}
    if r.model_format_name is not None:
        body["modelFormatName"] = r.model_format_name
    if r.model_format_version is not None:
        body["modelFormatVersion"] = r.model_format_version
    return body


def _upload(
    r: Registration, rm: Mapping[str, Any], mv: Mapping[str, Any], files: list[FileEntry], existed: bool
) -> Op[None]:
    before = (yield from model_artifacts_raw(mv["id"])) if existed else []
    declare: dict[str, Any] = {"name": rm["name"], "files": [f.model_dump() for f in files]}
    if r.model_format_name is not None:
        declare["modelFormatName"] = r.model_format_name
    if r.model_format_version is not None:
        declare["modelFormatVersion"] = r.model_format_version
    try:
        status, upload = yield Call(
            "POST", f"{STORE}/model_versions/{mv['id']}/uploads", json=declare, with_status=True
        )
    except Conflict as exc:
        raise _content_conflict(r, exc.message) from None
    artifact_id = str(upload["artifactId"])
    if status == 201 and before:
        # The version was registered with other content (a URI): files would change it.
        yield Call("DELETE", f"{KF}/artifacts/{artifact_id}")
        raise _content_conflict(r, f"its model artifact is {before[0].get('uri')}")
    missing = set(upload.get("missing") or [])
    todo = [f for f in files if f.path in missing]
    tracker = Tracker(r.progress, sum(f.size for f in todo), len(todo))
    assert r.path is not None
    for entry in todo:
        yield SendFile(
            f"{STORE}/artifacts/{artifact_id}/files/{file_url_path(entry.path)}",
            local_source(Path(r.path), entry.path),
            entry,
            tracker,
        )
    if upload.get("state") != "LIVE":
        yield Call("POST", f"{STORE}/artifacts/{artifact_id}/complete")


# ---------------------------------------------------------------- resolve and download


@dataclass(frozen=True)
class Target:
    """What a `model-registry://` URI points at."""

    base: str | None  # None: this client's registry
    version: dict[str, Any]
    artifact: dict[str, Any] | None


def resolve_target(uri: str, own_base: str) -> Op[Target]:
    """KServe's resolution: the model by name, the version by name or the newest, then the
    version's newest artifact, which must be a model artifact."""
    parsed = RegistryURI.parse(uri)
    tokens = list(parsed.tokens)
    base: str | None = None
    own = urlsplit(own_base)
    if parsed.namespace:
        base = f"{own.scheme}://{namespace_host(parsed.namespace, own_base)}"
    if len(tokens) == 3:
        base = f"{own.scheme}://{tokens.pop(0)}"
    elif len(tokens) == 2:
        if tokens[0] == own.netloc:
            tokens.pop(0)
        else:
            candidate = f"{own.scheme}://{tokens[0]}"
            if (yield from _answers(candidate)):
                base = candidate
                tokens.pop(0)
    if base is not None and urlsplit(base).netloc == own.netloc:
        base = None
    model_name, version_name = tokens[0], (tokens[1] if len(tokens) > 1 else None)
    rm = yield Call("GET", f"{KF}/registered_model", {"name": model_name}, base=base)
    if version_name is not None:
        mv = yield Call(
            "GET", f"{KF}/model_version", {"name": version_name, "parentResourceId": rm["id"]}, base=base
        )
    else:
        latest = yield from _latest_version(rm, base)
        if latest is None:
            raise NotFound(f"registered model {model_name!r} has no versions", status=404)
        mv = latest
    body = yield Call(
        "GET",
        f"{KF}/model_versions/{mv['id']}/artifacts",
        {"orderBy": "CREATE_TIME", "sortOrder": "DESC", "pageSize": "1"},
        base=base,
    )
    items = body.get("items") or []
    artifact = items[0] if items else None
    return Target(base, mv, artifact)


def _answers(base: str) -> Op[bool]:
    try:
        yield Call("GET", f"{KF}/registered_models", {"pageSize": "1"}, base=base, timeout=5.0)
    except ModelregError:
        return False
    return True


def resolve(uri: str, own_base: str) -> Op[str]:
    target = yield from resolve_target(uri, own_base)
    name = target.version["name"]
    if target.artifact is None:
        raise NotFound(f"version {name!r} has no artifacts", status=404)
    if target.artifact.get("artifactType") != MODEL_ARTIFACT:
        raise NotFound(f"the newest artifact of version {name!r} is not a model artifact", status=404)
    if not target.artifact.get("uri"):
        raise NotFound(f"the model artifact of version {name!r} has no uri", status=404)
    return str(target.artifact["uri"])


def download(
    model: ModelRef,
    version: VersionRef | None,
    dest_dir: Path,
    progress: Progress,
    own_base: str,
) -> Op[Manifest]:
    """Every stored file of a version into `dest_dir`, each verified while written."""
    base: str | None = None
    if isinstance(model, str) and model.startswith(SCHEME):
        if version is not None:
            raise InvalidRequest("give either a model-registry:// URI or a version, not both")
        target = yield from resolve_target(model, own_base)
        base, mv = target.base, target.version
    else:
        mv = yield from version_raw(model, version)
    manifest = yield from _stored_manifest(mv, base)
    dest_dir = Path(dest_dir)
    todo = []
    for entry in manifest.files:
        dest = safe_destination(dest_dir, entry.path)
        if not (yield Present(dest, entry)):
            todo.append((entry, dest))
    tracker = Tracker(progress, sum(e.size for e, _ in todo), len(todo))
    for entry, dest in todo:
        yield FetchFile(
            f"{STORE}/artifacts/{manifest.artifact_id}/files/{file_url_path(entry.path)}",
            dest,
            entry,
            tracker,
            base,
        )
    return manifest


def get_manifest(model: ModelRef, version: VersionRef | None) -> Op[Manifest]:
    mv = yield from version_raw(model, version)
    return (yield from _stored_manifest(mv, None, require_live=False))


def _stored_manifest(mv: Mapping[str, Any], base: str | None, *, require_live: bool = True) -> Op[Manifest]:
    artifacts = yield from model_artifacts_raw(mv["id"], base)
    for artifact in artifacts:
        try:
            data = yield Call("GET", f"{STORE}/artifacts/{artifact['id']}/manifest", base=base)
        except (NotFound, InvalidRequest):
            continue
        manifest = manifest_from_wire(data)
        if require_live and manifest.state != "LIVE":
            raise Conflict(
                f"the upload of version {mv['name']!r} is not complete (artifact {manifest.artifact_id} "
                f"is {manifest.state}); push it again to finish",
                status=409,
            )
        return manifest
    where = next((a.get("uri") for a in artifacts if a.get("uri")), None)
    hint = f"; its model artifact points at {where}" if where else ""
    raise NotFound(f"version {mv['name']!r} has no files stored in the registry{hint}", status=404)


# ---------------------------------------------------------------- administration
# These are the server's, not a registry's: they go to its root URL (`Call.root`).


def _segment(value: str, what: str) -> str:
    """One path segment, escaped; empty and `/`-holding values are refused."""
    if not value or "/" in value:
        raise InvalidRequest(f"{value!r} is not a {what}")
    return quote(value, safe="")


def _items(body: Any) -> list[dict[str, Any]]:
    return list((body or {}).get("items") or [])


def whoami() -> Op[Identity]:
    return identity_from_wire((yield Call("GET", f"{STORE}/whoami", root=True)))


def list_registries() -> Op[list[Registry]]:
    body = yield Call("GET", f"{STORE}/registries", root=True)
    return [registry_from_wire(r) for r in _items(body)]


def admin_registries() -> Op[list[Registry]]:
    body = yield Call("GET", f"{ADMIN}/registries", root=True)
    return [registry_from_wire(r) for r in _items(body)]


def _registry_body(description: str | None, database_url: str | None, tls_ca: str | None) -> dict[str, str]:
    fields = {"description": description, "databaseUrl": database_url, "tlsCa": tls_ca}
    return {k: v for k, v in fields.items() if v is not None}


def create_registry(
    name: str, description: str | None, database_url: str | None, tls_ca: str | None
) -> Op[Registry]:
    _segment(name, "registry name")
    body = {"name": name, **_registry_body(description, database_url, tls_ca)}
    return registry_from_wire((yield Call("POST", f"{ADMIN}/registries", json=body, root=True)))


def get_registry(name: str) -> Op[Registry]:
    path = f"{ADMIN}/registries/{_segment(name, 'registry name')}"
    return registry_from_wire((yield Call("GET", path, root=True)))


def update_registry(
    name: str, description: str | None, database_url: str | None, tls_ca: str | None
) -> Op[Registry]:
    path = f"{ADMIN}/registries/{_segment(name, 'registry name')}"
    body = _registry_body(description, database_url, tls_ca)
    return registry_from_wire((yield Call("PATCH", path, json=body, root=True)))


def delete_registry(name: str, confirm: str, purge: bool) -> Op[str]:
    """Delete a registry; the server's one-line account of what became of its data."""
    path = f"{ADMIN}/registries/{_segment(name, 'registry name')}"
    params = {"confirm": confirm, "purge": "true" if purge else "false"}
    body = yield Call("DELETE", path, params, root=True)
    return str((body or {}).get("message") or f"registry {name!r} deleted")


def _grant_path(registry: str, kind: str | None = None, subject: str | None = None) -> str:
    path = f"{ADMIN}/registries/{_segment(registry, 'registry name')}/grants"
    if kind is None:
        return path
    if kind not in SUBJECT_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(SUBJECT_KINDS)}, got {kind!r}")
    return f"{path}/{kind}/{_segment(subject or '', kind)}"


def list_grants(registry: str) -> Op[list[Grant]]:
    body = yield Call("GET", _grant_path(registry), root=True)
    return [grant_from_wire(g) for g in _items(body)]


def grant(registry: str, subject: str, role: str, kind: str) -> Op[Grant]:
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    body = yield Call("PUT", _grant_path(registry, kind, subject), json={"role": role}, root=True)
    return grant_from_wire(body)


def revoke_grant(registry: str, subject: str, kind: str) -> Op[None]:
    yield Call("DELETE", _grant_path(registry, kind, subject), root=True)


def _seconds(expires_in: float | timedelta | None) -> int | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else float(expires_in)
    if seconds < 1:
        raise InvalidRequest(f"expires_in must be at least one second, got {expires_in!r}")
    return int(seconds)


def create_token(user: str, name: str | None, expires_in: float | timedelta | None) -> Op[IssuedToken]:
    if not user:
        raise InvalidRequest("a token needs a user")
    body: dict[str, Any] = {"user": user}
    if name is not None:
        body["name"] = name
    seconds = _seconds(expires_in)
    if seconds is not None:
        body["expiresInSeconds"] = seconds
    return issued_token_from_wire((yield Call("POST", f"{ADMIN}/tokens", json=body, root=True)))


def list_tokens(user: str | None) -> Op[list[Token]]:
    body = yield Call("GET", f"{ADMIN}/tokens", {"user": user} if user else None, root=True)
    return [token_from_wire(t) for t in _items(body)]


def revoke_token(token_id: str | int) -> Op[Token]:
    path = f"{ADMIN}/tokens/{_segment(str(token_id), 'token id')}"
    return token_from_wire((yield Call("DELETE", path, root=True)))


# ---------------------------------------------------------------- history


def _when(value: When, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return str(int(value.timestamp() * 1000))
    if isinstance(value, bool):
        raise InvalidRequest(f"{what} must be a datetime, epoch milliseconds or ISO 8601 text")
    return str(value)


def _history_params(
    filters: Mapping[str, str | None], oldest_first: bool, page_size: int, limit: int | None
) -> dict[str, str]:
    if page_size < 1:
        raise InvalidRequest(f"page_size must be at least 1, got {page_size}")
    if limit is not None and limit < 1:
        raise InvalidRequest(f"limit must be at least 1, got {limit}")
    params = {k: v for k, v in filters.items() if v is not None}
    params["sortOrder"] = "ASC" if oldest_first else "DESC"
    params["pageSize"] = str(min(page_size, limit) if limit else page_size)
    return params


def history(
    model: ModelRef | None,
    version: VersionRef | None,
    *,
    actor: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    since: When = None,
    until: When = None,
    oldest_first: bool = False,
    page_size: int = 100,
    limit: int | None = None,
) -> Listing[HistoryEvent]:
    """The registry's events (filtered), or one model's or one version's."""
    if version is not None and model is None:
        raise InvalidRequest("a version's history needs its model too")
    filters = {
        "actor": actor,
        "entityType": entity_type,
        "entityId": entity_id,
        "action": action,
        "since": _when(since, "since"),
        "until": _when(until, "until"),
    }
    params = _history_params(filters, oldest_first, page_size, limit)

    def locate() -> Op[str]:
        if model is None:
            return f"{STORE}/history"
        if version is None:
            rm = yield from model_raw(model)
            return f"{KF}/registered_models/{rm['id']}/history"
        mv = yield from version_raw(model, version)
        return f"{KF}/model_versions/{mv['id']}/history"

    return Listing(locate, params, event_from_wire, limit)


def server_history(
    *,
    registry: str | None = None,
    actor: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    since: When = None,
    until: When = None,
    oldest_first: bool = False,
    page_size: int = 100,
    limit: int | None = None,
) -> Listing[HistoryEvent]:
    """The server's own events (registries, grants, tokens, users, groups, and the default
    registry's changes); `registry` keeps one registry's ("" the server-level ones)."""
    filters = {
        "registry": registry,
        "actor": actor,
        "entityType": entity_type,
        "entityId": entity_id,
        "action": action,
        "since": _when(since, "since"),
        "until": _when(until, "until"),
    }
    params = _history_params(filters, oldest_first, page_size, limit)
    return Listing(_fixed(f"{ADMIN}/history"), params, event_from_wire, limit, root=True)


def export(listing: Listing[Any]) -> Op[Call]:
    """The request that streams a listing's every item as JSON lines (for history)."""
    path = yield from listing.locate()
    params = {k: v for k, v in listing.params.items() if k != "pageSize"}
    return Call("GET", path, {**params, "format": "jsonl"}, root=listing.root)
