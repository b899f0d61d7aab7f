"""Typed results, with Python-native fields, and the conversions to and from the wire.

The wire speaks Kubeflow: string ids, epoch-millisecond strings, and custom properties
as `{"metadataType": "MetadataIntValue", "int_value": "3"}`. Here timestamps are
`datetime`s and custom properties are plain values: `metadata` maps each key to a bool,
int, float, str or dict (a `MetadataStructValue`), and `labels` lists the keys whose
value is the empty string, which is how the Kubeflow UI stores labels.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelreg.client._errors import InvalidRequest

__all__ = [
    "ArtifactState",
    "FileEntry",
    "Grant",
    "HistoryEvent",
    "Identity",
    "IssuedToken",
    "Manifest",
    "MetadataValue",
    "ModelArtifact",
    "ModelVersion",
    "RegisteredModel",
    "Registry",
    "Role",
    "State",
    "SubjectKind",
    "Token",
    "TransferProgress",
]

MetadataValue = bool | int | float | str | dict[str, Any]
State = Literal["LIVE", "ARCHIVED"]
ArtifactState = Literal[
    "UNKNOWN", "PENDING", "LIVE", "MARKED_FOR_DELETION", "DELETED", "ABANDONED", "REFERENCE"
]
Role = Literal["viewer", "editor", "owner"]
SubjectKind = Literal["user", "group", "serviceaccount"]
_INT_MIN, _INT_MAX = -999_999_999, 999_999_999  # what MetadataIntValue's pattern admits


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Entity(_Result):
    id: str
    name: str
    description: str | None = None
    external_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class RegisteredModel(_Entity):
    """A registered model: the name a team registers versions under."""

    owner: str | None = None
    state: State = "LIVE"


class ModelVersion(_Entity):
    """One version of a registered model."""

    model_id: str
    author: str | None = None
    state: State = "LIVE"


class ModelArtifact(_Entity):
    """Where a version's files are (`uri`), and in what format."""

    name: str = ""
    uri: str | None = None
    state: ArtifactState = "UNKNOWN"
    model_format_name: str | None = None
    model_format_version: str | None = None
    storage_key: str | None = None
    storage_path: str | None = None
    service_account_name: str | None = None
    model_source_kind: str | None = None
    model_source_class: str | None = None
    model_source_group: str | None = None
    model_source_id: str | None = None
    model_source_name: str | None = None


class FileEntry(_Result):
    """One file of a manifest: its relative `/`-separated path, size and SHA-256."""

    path: str
    size: int
    sha256: str


class Manifest(_Result):
    """Every file stored for an artifact."""

    artifact_id: str
    state: ArtifactState
    uri: str | None = None
    total_size: int
    files: list[FileEntry]


class Registry(_Result):
    """A registry of the server: its name, and where its data lives.

    `role` is the caller's role in it, when listed by `Client.list_registries()`.
    """

    name: str
    description: str | None = None
    database: str  # where its data lives, password hidden
    managed: bool  # the server made its database (and can drop it)
    has_tls_ca: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    role: Role | None = None


class Grant(_Result):
    """A role a user, group or service account holds in a registry."""

    registry: str
    subject_kind: SubjectKind
    subject: str
    role: Role
    created_at: datetime
    created_by: str | None = None


class Token(_Result):
    """An API token, as listed: never its secret."""

    id: str
    user: str
    name: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    created_by: str | None = None
    active: bool


class IssuedToken(Token):
    """A token just issued: `secret` is what to send as `Bearer`, shown this once only."""

    secret: str = Field(repr=False)


class Identity(_Result):
    """Who the server takes the caller for."""

    name: str
    kind: str  # "user", "serviceaccount" or "anonymous"
    groups: list[str] = Field(default_factory=list)
    admin: bool = False
    authenticated_by: str  # "token", "oidc", "proxy", "single-user" or "none"


class HistoryEvent(_Result):
    """One change: who made it, when, to what, and each changed field before and after."""

    id: str
    time: datetime
    registry: str  # "" for server-level events (registries, tokens, users, groups)
    actor: str
    action: str  # create, update, archive, restore, delete, grant, revoke, issue, ...
    entity_type: str  # registered_model, model_version, artifact, grant, token, ...
    entity_id: str | None = None
    entity_name: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = None


@dataclass(frozen=True)
class TransferProgress:
    """Passed to a `progress` callback after each chunk sent or received."""

    path: str  # the file being transferred
    bytes_done: int  # over the whole transfer
    bytes_total: int
    files_done: int
    files_total: int


# ---------------------------------------------------------------- custom properties


def encode_value(key: str, value: MetadataValue) -> dict[str, Any]:
    """A Python value as a Kubeflow MetadataValue."""
    if isinstance(value, bool):
        return {"metadataType": "MetadataBoolValue", "bool_value": value}
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise InvalidRequest(
                f"metadata {key!r}: {value} is outside the integers the registry stores "
                f"({_INT_MIN}..{_INT_MAX}); pass it as a float or a string"
            )
        return {"metadataType": "MetadataIntValue", "int_value": str(value)}
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest(f"metadata {key!r}: {value} is not a finite number")
        return {"metadataType": "MetadataDoubleValue", "double_value": value}
    if isinstance(value, str):
        return {"metadataType": "MetadataStringValue", "string_value": value}
    if isinstance(value, Mapping):
        text = json.dumps(dict(value), separators=(",", ":"), allow_nan=False)
        return {
            "metadataType": "MetadataStructValue",
            "struct_value": base64.b64encode(text.encode()).decode(),
        }
    raise InvalidRequest(f"metadata {key!r}: {type(value).__name__} is not a bool, int, float, str or dict")


def decode_value(prop: Mapping[str, Any]) -> MetadataValue | None:
    """A Kubeflow MetadataValue as a Python value (None for proto values, kept opaque)."""
    kind = prop.get("metadataType")
    if kind == "MetadataStringValue":
        return str(prop.get("string_value", ""))
    if kind == "MetadataIntValue":
        return int(prop["int_value"])
    if kind == "MetadataDoubleValue":
        return float(prop["double_value"])
    if kind == "MetadataBoolValue":
        return bool(prop["bool_value"])
    if kind == "MetadataStructValue":
        try:
            parsed = json.loads(base64.b64decode(prop["struct_value"]))
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def merge_properties(
    current: Mapping[str, Any],
    metadata: Mapping[str, MetadataValue | None] | None = None,
    labels: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The full customProperties map to send (a PATCH replaces the whole map).

    `metadata` merges: each key given is set, or removed when its value is None.
    `labels`, when given, becomes the whole set of labels. Everything else is kept as it
    was, byte for byte (proto values included).
    """
    out = dict(current)
    if labels is not None:
        wanted = list(dict.fromkeys(labels))
        for key, prop in current.items():
            if _is_label(prop) and key not in wanted:
                del out[key]
        for label in wanted:
            if not label:
                raise InvalidRequest("a label must not be empty")
            out[label] = {"metadataType": "MetadataStringValue", "string_value": ""}
    for key, value in (metadata or {}).items():
        if not key:
            raise InvalidRequest("metadata keys must not be empty")
        if value is None:
            out.pop(key, None)
        else:
            out[key] = encode_value(key, value)
    return out


def _is_label(prop: Mapping[str, Any]) -> bool:
    return prop.get("metadataType") == "MetadataStringValue" and prop.get("string_value") == ""


def _split_properties(props: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    metadata: dict[str, Any] = {}
    labels: list[str] = []
    for key, prop in props.items():
        if _is_label(prop):
            labels.append(key)
            continue
        value = decode_value(prop)
        if value is not None:
            metadata[key] = value
    return metadata, labels


# ---------------------------------------------------------------- from the wire


def _time(ms: str | None) -> datetime:
    return datetime.fromtimestamp(int(ms or 0) / 1000, tz=UTC)


def _common(data: Mapping[str, Any]) -> dict[str, Any]:
    metadata, labels = _split_properties(data.get("customProperties") or {})
    return {
        "id": data["id"],
        "name": data.get("name") or "",
        "description": data.get("description"),
        "external_id": data.get("externalId"),
        "metadata": metadata,
        "labels": labels,
        "created_at": _time(data.get("createTimeSinceEpoch")),
        "updated_at": _time(data.get("lastUpdateTimeSinceEpoch")),
    }


def model_from_wire(data: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(**_common(data), owner=data.get("owner"), state=data.get("state") or "LIVE")


def version_from_wire(data: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        **_common(data),
        model_id=data["registeredModelId"],
        author=data.get("author"),
        state=data.get("state") or "LIVE",
    )


_ARTIFACT_FIELDS = {
    "uri": "uri",
    "modelFormatName": "model_format_name",
    "modelFormatVersion": "model_format_version",
    "storageKey": "storage_key",
    "storagePath": "storage_path",
    "serviceAccountName": "service_account_name",
    "modelSourceKind": "model_source_kind",
    "modelSourceClass": "model_source_class",
    "modelSourceGroup": "model_source_group",
    "modelSourceId": "model_source_id",
    "modelSourceName": "model_source_name",
}


def artifact_from_wire(data: Mapping[str, Any]) -> ModelArtifact:
    extra = {ours: data[wire] for wire, ours in _ARTIFACT_FIELDS.items() if data.get(wire) is not None}
    return ModelArtifact(**_common(data), state=data.get("state") or "UNKNOWN", **extra)


def manifest_from_wire(data: Mapping[str, Any]) -> Manifest:
    files = [FileEntry(path=f["path"], size=int(f["size"]), sha256=f["sha256"]) for f in data["files"]]
    total = data.get("totalSize")
    return Manifest(
        artifact_id=str(data["artifactId"]),
        state=data.get("state") or "UNKNOWN",
        uri=data.get("uri"),
        total_size=int(total) if total is not None else sum(f.size for f in files),
        files=files,
    )


def _maybe_time(ms: str | None) -> datetime | None:
    return _time(ms) if ms else None


def registry_from_wire(data: Mapping[str, Any]) -> Registry:
    return Registry(
        name=data["name"],
        description=data.get("description"),
        database=data.get("database") or "",
        managed=bool(data.get("managed")),
        has_tls_ca=bool(data.get("tlsCa")),
        created_at=_maybe_time(data.get("createTimeSinceEpoch")),
        updated_at=_maybe_time(data.get("lastUpdateTimeSinceEpoch")),
        role=data.get("role"),
    )


def grant_from_wire(data: Mapping[str, Any]) -> Grant:
    return Grant(
        registry=data["registry"],
        subject_kind=data["subjectKind"],
        subject=data["subject"],
        role=data["role"],
        created_at=_time(data.get("createTimeSinceEpoch")),
        created_by=data.get("createdBy"),
    )


def _token_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(data["id"]),
        "user": data["user"],
        "name": data.get("name") or "",
        "created_at": _time(data.get("createTimeSinceEpoch")),
        "expires_at": _maybe_time(data.get("expireTimeSinceEpoch")),
        "revoked_at": _maybe_time(data.get("revokeTimeSinceEpoch")),
        "last_used_at": _maybe_time(data.get("lastUsedTimeSinceEpoch")),
        "created_by": data.get("createdBy"),
        "active": bool(data.get("active")),
    }


def token_from_wire(data: Mapping[str, Any]) -> Token:
    return Token(**_token_fields(data))


def issued_token_from_wire(data: Mapping[str, Any]) -> IssuedToken:
    return IssuedToken(**_token_fields(data), secret=data["token"])


def identity_from_wire(data: Mapping[str, Any]) -> Identity:
    return Identity(
        name=data["name"],
        kind=data.get("kind") or "user",
        groups=list(data.get("groups") or []),
        admin=bool(data.get("admin")),
        authenticated_by=data.get("authenticatedBy") or "none",
    )


def event_from_wire(data: Mapping[str, Any]) -> HistoryEvent:
    return HistoryEvent(
        id=str(data["id"]),
        time=_time(data.get("time")),
        registry=data.get("registry") or "",
        actor=data.get("actor") or "",
        action=data.get("action") or "",
        entity_type=data.get("entityType") or "",
        entity_id=data.get("entityId"),
        entity_name=data.get("entityName"),
        changes=dict(data.get("changes") or {}),
        request_id=data.get("requestId"),
    )
