"""Wire shapes, built from the entity declarations: request models, decoding, encoding.

Request bodies are pydantic models generated per entity, per variant and per API
version (`<Schema>Create`, `<Schema>Update` and the full `<Schema>`), strict and closed
to unknown fields, as upstream decodes them. Responses are plain dicts built straight
from records, which keeps the hot path free of model construction.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, create_model
from pydantic import Field as PydField

from modelreg.entities import V1, EntitySpec, Field, FieldType
from modelreg.entities.values import CustomProperties, PropertyValue
from modelreg.service.errors import InvalidArgument, MissingField
from modelreg.store.repository import Record

ID_PATTERN = r"^[1-9][0-9]{0,8}$"
INT_VALUE_PATTERN = r"^-?([1-9][0-9]{0,8}|0)$"
EPOCH_PATTERN = r"^-?[0-9]{1,18}$"
NAME_MAX = 255

IdStr = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
EpochStr = Annotated[str, StringConstraints(pattern=EPOCH_PATTERN)]
# A v1alpha3 Metric.step is a JSON number stored in a BIGINT column: keep it in int64.
Int64 = Annotated[int, PydField(ge=-(2**63), le=2**63 - 1)]

_CLOSED = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class _Closed(BaseModel):
    model_config = _CLOSED


class MetadataStringValue(_Closed):
    metadataType: Literal["MetadataStringValue"]
    string_value: str


class MetadataIntValue(_Closed):
    metadataType: Literal["MetadataIntValue"]
    int_value: Annotated[str, StringConstraints(pattern=INT_VALUE_PATTERN)]


class MetadataDoubleValue(_Closed):
    metadataType: Literal["MetadataDoubleValue"]
    double_value: float


class MetadataBoolValue(_Closed):
    metadataType: Literal["MetadataBoolValue"]
    bool_value: bool


class MetadataStructValue(_Closed):
    metadataType: Literal["MetadataStructValue"]
    struct_value: str


class MetadataProtoValue(_Closed):
    metadataType: Literal["MetadataProtoValue"]
    type: str
    proto_value: str


MetadataValue = Annotated[
    MetadataStringValue
    | MetadataIntValue
    | MetadataDoubleValue
    | MetadataBoolValue
    | MetadataStructValue
    | MetadataProtoValue,
    PydField(discriminator="metadataType"),
]
METADATA_MODELS: tuple[type[BaseModel], ...] = (
    MetadataStringValue,
    MetadataIntValue,
    MetadataDoubleValue,
    MetadataBoolValue,
    MetadataStructValue,
    MetadataProtoValue,
)


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(f"{what} must be base64") from None


def decode_properties(props: dict[str, Any]) -> CustomProperties:
    out: CustomProperties = {}
    for key, v in props.items():
        if not key:
            raise InvalidArgument("customProperties keys must not be empty")
        if len(key) > NAME_MAX:
            raise InvalidArgument(f"customProperties key {key[:40]!r}... is longer than {NAME_MAX}")
        if isinstance(v, MetadataStringValue):
            out[key] = PropertyValue("string", v.string_value)
        elif isinstance(v, MetadataIntValue):
            out[key] = PropertyValue("int", int(v.int_value))
        elif isinstance(v, MetadataDoubleValue):
            out[key] = PropertyValue("double", float(v.double_value))
        elif isinstance(v, MetadataBoolValue):
            out[key] = PropertyValue("bool", v.bool_value)
        elif isinstance(v, MetadataStructValue):
            raw = _b64(v.struct_value, f"struct_value of {key!r}")
            try:
                parsed = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                parsed = None
            if not isinstance(parsed, dict):
                raise InvalidArgument(f"struct_value of {key!r} must be base64 of a JSON object")
            out[key] = PropertyValue("struct", v.struct_value)
        elif isinstance(v, MetadataProtoValue):
            _b64(v.proto_value, f"proto_value of {key!r}")
            out[key] = PropertyValue("proto", v.proto_value, v.type)
    return out


def encode_property(v: PropertyValue) -> dict[str, Any]:
    if v.type == "string":
        return {"metadataType": "MetadataStringValue", "string_value": v.value}
    if v.type == "int":
        return {"metadataType": "MetadataIntValue", "int_value": str(v.value)}
    if v.type == "double":
        return {"metadataType": "MetadataDoubleValue", "double_value": v.value}
    if v.type == "bool":
        return {"metadataType": "MetadataBoolValue", "bool_value": v.value}
    if v.type == "struct":
        return {"metadataType": "MetadataStructValue", "struct_value": v.value}
    return {"metadataType": "MetadataProtoValue", "type": v.proto_type or "", "proto_value": v.value}


# ---------------------------------------------------------------- request models


def _python_type(f: Field, api: str) -> Any:
    t = f.type
    if t is FieldType.ID:
        return IdStr
    if t is FieldType.EPOCH_MS:
        return EpochStr
    if t is FieldType.STEP:
        return EpochStr if api == V1 else Int64
    if t is FieldType.DOUBLE:
        return float
    if t is FieldType.ENUM:
        return Literal[f.enum]
    if t is FieldType.STRING_LIST:
        return list[str]
    return str


Shape = Literal["create", "update", "full"]


def _model_fields(spec: EntitySpec, variant: str | None, api: str, shape: Shape) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "externalId": (str | None, None),
        "description": (str | None, None),
        "customProperties": (dict[str, MetadataValue] | None, None),
    }
    if shape != "update":
        fields["name"] = (str | None, None)
    if shape == "full":
        fields["id"] = (IdStr | None, None)
        fields["createTimeSinceEpoch"] = (EpochStr | None, None)
        fields["lastUpdateTimeSinceEpoch"] = (EpochStr | None, None)
    if spec.discriminator and variant is not None:
        fields[spec.discriminator] = (Literal[variant] | None, None)  # type: ignore[valid-type]
    for f in spec.fields_for(variant, api):
        if shape == "update" and f.immutable:
            continue
        if hasattr(BaseModel, f.name):  # e.g. DataSet's "schema"
            fields[f"{f.name}_"] = (_python_type(f, api) | None, PydField(None, alias=f.name))
        else:
            fields[f.name] = (_python_type(f, api) | None, None)
    return fields


def model_name(spec: EntitySpec, variant: str | None, api: str, shape: Shape) -> str:
    v = spec.variant(variant) if variant else None
    base = v.schema if v is not None else spec.schema
    suffix = {"create": "Create", "update": "Update", "full": ""}[shape]
    return f"{base}{suffix}" + ("" if api == V1 else "_v1alpha3")


@cache
def request_model(spec: EntitySpec, variant: str | None, api: str, shape: Shape) -> type[BaseModel]:
    """Built on first use: start-up stays quick, and each model is built once."""
    name = model_name(spec, variant, api, shape)
    return create_model(name, __config__=_CLOSED, **_model_fields(spec, variant, api, shape))


@dataclass
class Decoded:
    """A request body turned into the domain's terms."""

    values: dict[str, Any]
    properties: CustomProperties | None
    id: int | None = None


def _check_length(name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidArgument(f"{name} is longer than {limit} characters")


def decode(
    spec: EntitySpec,
    body: BaseModel,
    variant: str | None,
    api: str,
    shape: Shape,
    *,
    nested: bool = False,
) -> Decoded:
    """Column values from a validated body; raises MissingField for absent required fields.

    Under a parent's path (`nested`) the parent id comes from the path, so the body may
    leave it out.
    """
    data = body.model_dump(exclude_none=True, by_alias=True)
    values: dict[str, Any] = {}
    if "name" in data:
        _check_length("name", data["name"], NAME_MAX)
        values["name"] = data["name"]
    if "externalId" in data:
        _check_length("externalId", data["externalId"], NAME_MAX)
        values["external_id"] = data["externalId"]
    if "description" in data:
        values["description"] = data["description"]
    if variant is not None:
        values["type"] = variant
    for f in spec.fields_for(variant, api):
        if f.name not in data:
            if shape != "update" and f.required and not (nested and f.column == "parent_id"):
                raise MissingField(f"required field '{f.name}' is zero value.")
            continue
        raw = data[f.name]
        if f.type in (FieldType.ID, FieldType.EPOCH_MS, FieldType.STEP):
            values[f.column] = int(raw)
        elif f.type is FieldType.STRING_LIST:
            values[f.column] = json.dumps(raw)
        else:
            if f.type is FieldType.STRING:
                _check_length(f.name, raw, NAME_MAX)
            values[f.column] = raw
    props = getattr(body, "customProperties", None)
    properties = decode_properties(props) if props is not None else None
    id_ = int(data["id"]) if data.get("id") else None
    return Decoded(values, properties, id_)


# ---------------------------------------------------------------- responses


def _encoder(f: Field, api: str) -> Any:
    t = f.type
    if t in (FieldType.ID, FieldType.EPOCH_MS):
        return str
    if t is FieldType.STEP:
        return str if api == V1 else int
    if t is FieldType.STRING_LIST:
        return json.loads
    if t is FieldType.DOUBLE:
        return float
    return None


@cache
def _layout(spec: EntitySpec, variant: str | None, api: str) -> tuple[tuple[str, str, Any], ...]:
    return tuple((f.name, f.column, _encoder(f, api)) for f in spec.fields_for(variant, api))


def encode(spec: EntitySpec, record: Record, api: str) -> dict[str, Any]:
    """The wire form of a record, in the given API version."""
    v = record.values
    out: dict[str, Any] = {"id": str(v["id"]), "name": v["name"]}
    if v.get("external_id") is not None:
        out["externalId"] = v["external_id"]
    if v.get("description") is not None:
        out["description"] = v["description"]
    variant = v.get("type") if spec.discriminator else None
    if variant is not None:
        out[spec.discriminator] = variant  # type: ignore[index]
    for wire, column, enc in _layout(spec, variant, api):
        value = v.get(column)
        if value is not None:
            out[wire] = enc(value) if enc is not None else value
    out["customProperties"] = {k: encode_property(p) for k, p in record.properties.items()}
    out["createTimeSinceEpoch"] = str(v["create_time"])
    out["lastUpdateTimeSinceEpoch"] = str(v["update_time"])
    return out


def encode_list(
    spec: EntitySpec, records: list[Record], api: str, page_size: int, token: str
) -> dict[str, Any]:
    return {
        "items": [encode(spec, r, api) for r in records],
        "nextPageToken": token,
        "pageSize": page_size,
        "size": len(records),
    }
