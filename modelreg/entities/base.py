"""The vocabulary every entity declaration is written in.

An entity is declared once, as frozen data; the store builds its table from it, the
service applies its rules from it, and the API builds its wire schemas and routes from
it. Nothing here imports the rest of modelreg.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache

V1 = "v1"
V1ALPHA3 = "v1alpha3"
ALL_APIS: frozenset[str] = frozenset({V1, V1ALPHA3})
ALPHA_ONLY: frozenset[str] = frozenset({V1ALPHA3})


class FieldType(Enum):
    """How a field is stored and how it travels on the wire."""

    STRING = "string"  # short text, VARCHAR(255), indexable
    TEXT = "text"  # long text
    ID = "id"  # a reference to another entity: integer column, decimal string on the wire
    EPOCH_MS = "epoch_ms"  # integer column, decimal string on the wire
    STEP = "step"  # integer column; a JSON number in v1alpha3, a decimal string in v1
    DOUBLE = "double"
    ENUM = "enum"  # one of `Field.enum`, stored as its string
    STRING_LIST = "string_list"  # JSON array of strings, stored as JSON text


@cache  # a handful of names, asked for on every request
def snake(name: str) -> str:
    """`modelFormatName` -> `model_format_name`: the column a wire name lives in."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Field:
    """One declared field of an entity, beyond the columns every entity has."""

    name: str
    type: FieldType = FieldType.STRING
    enum: tuple[str, ...] = ()
    default: str | None = None
    required: bool = False  # must be given on create
    immutable: bool = False  # set on create, never by PATCH
    apis: frozenset[str] = ALL_APIS
    references: str | None = None  # kind of the entity an ID field points at
    filterable: bool = True
    column_name: str | None = None  # when two variants use one wire name for different things

    @property
    def column(self) -> str:
        return self.column_name or snake(self.name)


@dataclass(frozen=True)
class Parent:
    """Where an entity hangs: its parent's kind, and the wire field that names it."""

    kinds: tuple[str, ...]
    field: str  # wire name of the parent id, e.g. "registeredModelId"; "" when not on the wire
    required: bool = True


@dataclass(frozen=True)
class Variant:
    """One member of a union entity (the five artifact types share one table)."""

    type: str  # discriminator value, e.g. "model-artifact"
    schema: str  # wire schema name, e.g. "ModelArtifact"
    label: str
    fields: tuple[Field, ...]
    name_required: bool = False


@dataclass(frozen=True)
class View:
    """A collection that shows one variant of a union entity, e.g. /model_artifacts."""

    collection: str
    find_path: str
    variant: str
    kind: str  # names its path parameter, e.g. "model_artifact"


# What every request asks of a declaration, worked out once per spec (specs hash by identity).
_ALL_FIELDS: dict[EntitySpec, tuple[Field, ...]] = {}
_FIELDS_FOR: dict[tuple[EntitySpec, str | None, str], tuple[Field, ...]] = {}


@dataclass(frozen=True, eq=False)
class EntitySpec:
    """Everything the generic machinery needs to know about one kind of entity.

    Each is declared once, so it is compared and hashed by identity: the caches keyed on a
    spec (wire layouts, request models) no longer hash every field of it on each lookup.
    """

    kind: str  # "registered_model"
    schema: str  # wire schema name, "RegisteredModel"
    label: str  # for messages, "registered model"
    table: str
    collection: str  # path segment of the collection, "registered_models"
    find_path: str | None  # path segment of the find endpoint, "registered_model"
    fields: tuple[Field, ...] = ()
    parent: Parent | None = None
    name_required: bool = True  # False: a name is generated when none is given
    name_unique: bool = True  # unique globally, or within the parent when there is one
    archivable: bool = False  # has state LIVE/ARCHIVED
    apis: frozenset[str] = ALL_APIS
    variants: tuple[Variant, ...] = ()
    discriminator: str | None = None
    top_level: bool = True  # has its own collection at the API root
    nested_path: str | None = None  # collection under its parent, when not `collection`
    nested_body: str = "create"  # "full": the nested POST takes the whole entity schema
    views: tuple[View, ...] = ()  # variant-only collections, e.g. /model_artifacts
    generic_routes: bool = True  # False: its routes are written by hand

    @property
    def nested(self) -> str:
        return self.nested_path or self.collection

    def variant(self, type_: str) -> Variant | None:
        return next((v for v in self.variants if v.type == type_), None)

    def all_fields(self) -> tuple[Field, ...]:
        """The entity's own fields, then those of every variant, each column once.

        Keyed by column, not wire name: Metric's and Parameter's `value` are two columns.
        """
        found = _ALL_FIELDS.get(self)
        if found is None:
            seen: dict[str, Field] = {f.column: f for f in self.fields}
            for v in self.variants:
                for f in v.fields:
                    seen.setdefault(f.column, f)
            found = _ALL_FIELDS[self] = tuple(seen.values())
        return found

    def fields_for(self, variant: str | None, api: str) -> tuple[Field, ...]:
        """The fields one wire shape carries: common ones plus its variant's, in this API."""
        key = (self, variant, api)
        found = _FIELDS_FOR.get(key)
        if found is None:
            own = list(self.fields)
            if variant is not None:
                v = self.variant(variant)
                if v is not None:
                    own.extend(v.fields)
            found = _FIELDS_FOR[key] = tuple(f for f in own if api in f.apis)
        return found
