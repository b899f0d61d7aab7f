"""The relational schema, built from the entity declarations.

Each entity gets one table with a column per declared field, so a page of any list is
one query plus one for the custom properties of the whole page. Ids are drawn from one
shared table, so an id names exactly one entity of one kind, as upstream's ids do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from modelreg.entities import ENTITIES, EntitySpec, FieldType

NAME_LENGTH = 255
# A text property's first characters, kept beside it so that one index finds a value on
# all three databases: PostgreSQL cannot put a long text in a B-tree index entry.
STRING_PREFIX = 200
PATH_LENGTH = 512  # with utf8mb4 and an int, still inside MariaDB's 3072-byte key limit


# Named by hand: the convention's name would pass PostgreSQL's 63 characters.
OWNER_TIME_INDEX = "ix_custom_properties_text_by_owner_create_time"


def _string(length: int) -> TypeEngine[str]:
    # PostgreSQL orders text by the database's locale; "C" orders by code point, as the
    # other two do, so lists sorted by name come back the same on all three.
    return String(length).with_variant(String(length, collation="C"), "postgresql")


# TEXT holds 64 KiB on MariaDB; the others have no such limit worth the name.
LongText: TypeEngine[str] = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

# MariaDB compares strings case-insensitively and pads trailing spaces by default;
# a binary no-pad collation makes `=`, LIKE and uniqueness behave as on the others.
TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_nopad_bin",
}

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

resource_ids = Table(
    "resource_ids",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    **TABLE_OPTIONS,
)

custom_properties = Table(
    "custom_properties",
    metadata,
    Column("resource_id", Integer, primary_key=True, autoincrement=False),
    Column("name", _string(NAME_LENGTH), primary_key=True),
    Column("value_type", String(8), nullable=False),
    Column("string_value", LongText),
    Column("int_value", BigInteger),
    Column("double_value", Double()),
    Column("bool_value", Boolean),
    Column("proto_type", String(NAME_LENGTH)),
    Column("string_prefix", _string(STRING_PREFIX)),
    # The creation time of the entity the property belongs to (it never changes), so that
    # a filter on a text value can walk its matches newest first in one index, however
    # many there are, instead of reading every match to sort them.
    Column("owner_create_time", BigInteger, nullable=False),
    Index(None, "name", "int_value"),
    Index(None, "name", "double_value"),
    Index(None, "name", "value_type", "string_prefix", "resource_id"),
    Index(OWNER_TIME_INDEX, "name", "value_type", "string_prefix", "owner_create_time", "resource_id"),
    **TABLE_OPTIONS,
)

# The manifest of an artifact whose files modelreg stores: one row a file, `stored` once
# its bytes are in the file store with the declared size and digest.
artifact_files = Table(
    "artifact_files",
    metadata,
    Column("artifact_id", Integer, primary_key=True, autoincrement=False),
    Column("path", _string(PATH_LENGTH), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("stored", Boolean, nullable=False, default=False),
    **TABLE_OPTIONS,
)

_COLUMN_TYPES: dict[FieldType, Any] = {
    FieldType.STRING: _string(NAME_LENGTH),
    FieldType.TEXT: LongText,
    FieldType.ID: Integer,
    FieldType.EPOCH_MS: BigInteger,
    FieldType.STEP: BigInteger,
    FieldType.DOUBLE: Double(),
    FieldType.ENUM: String(32),
    FieldType.STRING_LIST: LongText,
}


def _entity_table(spec: EntitySpec) -> Table:
    columns: list[Column[Any]] = [
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", _string(NAME_LENGTH), nullable=False),
        Column("external_id", _string(NAME_LENGTH), unique=True),
        Column("description", LongText),
        Column("create_time", BigInteger, nullable=False),
        Column("update_time", BigInteger, nullable=False),
    ]
    if spec.parent is not None:
        columns.append(Column("parent_id", Integer, nullable=not spec.parent.required))
    if spec.discriminator:
        columns.append(Column("type", String(32), nullable=False))
    if spec.archivable:
        # Set on versions archived along with their model, so restoring the model
        # restores exactly those and not the ones archived on their own.
        columns.append(Column("archived_with_parent", Boolean, nullable=False, default=False))
    seen = {c.name for c in columns}
    for f in spec.all_fields():
        if f.column in seen:
            continue
        seen.add(f.column)
        columns.append(Column(f.column, _COLUMN_TYPES[f.type]))

    constraints: list[Any] = [
        Index(None, "create_time", "id"),
        Index(None, "update_time", "id"),
    ]
    if spec.name_unique:
        scope = ("parent_id", "name") if spec.parent is not None else ("name",)
        constraints.append(UniqueConstraint(*scope))
    else:
        constraints.append(Index(None, "name", "id"))
    if spec.parent is not None:
        constraints.append(Index(None, "parent_id", "id"))
    for f in spec.all_fields():
        if f.type is FieldType.ID and f.column != "parent_id":
            constraints.append(Index(None, f.column))
    return Table(spec.table, metadata, *columns, *constraints, **TABLE_OPTIONS)


TABLES: dict[str, Table] = {spec.kind: _entity_table(spec) for spec in ENTITIES}


# ---------------------------------------------------------------- access and history
# Every registry database has the same schema. The tables below are used in the server's
# own database (the default registry's): the registries it serves, who may use them, and
# the tokens it issued. `events` is used in every registry's database, so that a change
# and its history entry commit together.

registries = Table(
    "registries",
    metadata,
    Column("name", _string(63), primary_key=True),
    Column("description", LongText),
    Column("database_url", LongText),  # None: a database the server made on its own store
    Column("tls_ca", LongText),
    Column("create_time", BigInteger, nullable=False),
    Column("update_time", BigInteger, nullable=False),
    **TABLE_OPTIONS,
)

users = Table(
    "users",
    metadata,
    Column("name", _string(NAME_LENGTH), primary_key=True),
    Column("kind", String(16), nullable=False),  # "user" or "serviceaccount"
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("create_time", BigInteger, nullable=False),
    **TABLE_OPTIONS,
)

groups = Table(
    "groups",
    metadata,
    Column("name", _string(NAME_LENGTH), primary_key=True),
    Column("description", LongText),
    Column("create_time", BigInteger, nullable=False),
    **TABLE_OPTIONS,
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_name", _string(NAME_LENGTH), primary_key=True),
    Column("user_name", _string(NAME_LENGTH), primary_key=True),
    Index(None, "user_name"),
    **TABLE_OPTIONS,
)

grants = Table(
    "grants",
    metadata,
    Column("registry", _string(63), primary_key=True),
    Column("subject_kind", String(16), primary_key=True),  # user, group, serviceaccount
    Column("subject", _string(NAME_LENGTH), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("create_time", BigInteger, nullable=False),
    Column("created_by", _string(NAME_LENGTH)),
    Index(None, "subject_kind", "subject"),
    **TABLE_OPTIONS,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", _string(NAME_LENGTH), nullable=False),
    Column("name", _string(NAME_LENGTH), nullable=False),
    Column("secret_hash", String(64), nullable=False),  # sha256 of the secret, never the secret
    Column("create_time", BigInteger, nullable=False),
    Column("expire_time", BigInteger),
    Column("revoke_time", BigInteger),
    Column("last_used_time", BigInteger),
    Column("created_by", _string(NAME_LENGTH)),
    Index(None, "user_name"),
    **TABLE_OPTIONS,
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False),
    Column("registry", _string(63), nullable=False),
    Column("actor", _string(NAME_LENGTH), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity_kind", String(32), nullable=False),
    Column("entity_id", _string(NAME_LENGTH)),
    Column("entity_name", _string(NAME_LENGTH)),
    Column("changes", LongText, nullable=False),  # JSON: {field: [before, after]}
    Column("request_id", String(128)),
    Index(None, "entity_kind", "entity_id", "id"),
    Index(None, "time", "id"),
    Index(None, "actor", "id"),
    **TABLE_OPTIONS,
)
