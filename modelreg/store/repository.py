"""One generic repository for every declared entity: rows in, records out.

It names no entity. Custom properties are read for a whole page in one query and
written here, once. Pages are keyset pages over (sort column, id): no OFFSET, no COUNT.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelreg.entities import EntitySpec
from modelreg.entities.values import CustomProperties, PropertyValue
from modelreg.store.schema import STRING_PREFIX, TABLES, custom_properties, resource_ids

ORDER_COLUMNS = {
    "ID": "id",
    "CREATE_TIME": "create_time",
    "LAST_UPDATE_TIME": "update_time",
    "NAME": "name",
}
MAX_TOKEN_LENGTH = 1024

# What every request runs, built once: building and hashing a statement cost several times
# what SQLite took to run it.
_BY_ID = {kind: select(t).where(t.c.id == bindparam("id")) for kind, t in TABLES.items()}
_HAS_ID = {kind: select(exists().where(t.c.id == bindparam("id"))) for kind, t in TABLES.items()}
_NEW_ID = insert(resource_ids)
_INSERT = {kind: insert(t) for kind, t in TABLES.items()}
_TOUCH = {
    kind: update(t).where(t.c.id == bindparam("touch_id")).values(update_time=bindparam("touch_time"))
    for kind, t in TABLES.items()
}
_INSERT_PROPERTIES = insert(custom_properties)
_cp = custom_properties.c
_PROPERTIES = (
    select(
        _cp.resource_id,
        _cp.name,
        _cp.value_type,
        _cp.string_value,
        _cp.int_value,
        _cp.double_value,
        _cp.bool_value,
        _cp.proto_type,
    )
    .where(_cp.resource_id.in_(bindparam("ids", expanding=True)))
    .order_by(_cp.resource_id, _cp.name)
)


def _dicts(result: Any) -> list[dict[str, Any]]:
    """Rows as dicts by column name: zipping is several times quicker than dict(RowMapping)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


class UniqueViolation(Exception):
    """An insert or update clashed with a unique name or externalId."""

    def __init__(self, on_external_id: bool) -> None:
        super().__init__("unique constraint violated")
        self.on_external_id = on_external_id


class BadPageToken(ValueError):
    """A nextPageToken that this server did not issue for this ordering."""


@dataclass
class Record:
    """One stored entity: its columns by column name, and its custom properties."""

    values: dict[str, Any]
    properties: CustomProperties = field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.values["id"])

    def __getitem__(self, column: str) -> Any:
        return self.values.get(column)


@dataclass(frozen=True)
class PageRequest:
    size: int | None = None  # None: everything
    order_by: str = "ID"
    descending: bool = False
    token: str = ""


def _ordering(req: PageRequest) -> str:
    """What a token is valid for: the sort column and direction, e.g. "NAME DESC"."""
    return f"{req.order_by} {'DESC' if req.descending else 'ASC'}"


def encode_token(order_by: str, value: Any, last_id: int) -> str:
    raw = json.dumps([order_by, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, order_by: str) -> tuple[Any, int]:
    if len(token) > MAX_TOKEN_LENGTH:
        raise BadPageToken("nextPageToken is too long; pass back the token a list returned")
    try:
        padded = token + "=" * (-len(token) % 4)
        order, value, last_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise BadPageToken("nextPageToken is not one this server issued") from None
    if order != order_by:
        raise BadPageToken(
            f"nextPageToken was issued for {order}, not {order_by}; start again without a token"
        )
    if not isinstance(last_id, int) or isinstance(last_id, bool):
        raise BadPageToken("nextPageToken is not one this server issued")
    return value, last_id


def _property_row(resource_id: int, name: str, v: PropertyValue) -> dict[str, Any]:
    row: dict[str, Any] = {
        "resource_id": resource_id,
        "name": name,
        "value_type": v.type,
        "string_value": None,
        "int_value": None,
        "double_value": None,
        "bool_value": None,
        "proto_type": v.proto_type,
        "string_prefix": None,
    }
    if v.type in ("string", "struct", "proto"):
        row["string_value"] = v.value
        row["string_prefix"] = str(v.value)[:STRING_PREFIX]
    elif v.type == "int":
        row["int_value"] = v.value
    elif v.type == "double":
        row["double_value"] = v.value
    else:
        row["bool_value"] = v.value
    return row


def _property_value(t: Any, text: Any, int_: Any, double: Any, bool_: Any, proto: Any) -> PropertyValue:
    if t == "int":
        return PropertyValue("int", int(int_))
    if t == "double":
        return PropertyValue("double", float(double))
    if t == "bool":
        return PropertyValue("bool", bool(bool_))
    return PropertyValue(t, text or "", proto)


class Repository:
    """Reads and writes one entity's table, and its custom properties."""

    def __init__(self, session: Session, spec: EntitySpec) -> None:
        self.session = session
        self.spec = spec
        self.table: Table = TABLES[spec.kind]

    # reads

    def get(self, id_: int) -> Record | None:
        rows = _dicts(self.session.execute(_BY_ID[self.spec.kind], {"id": id_}))
        if not rows:
            return None
        return self._with_properties(rows)[0]

    def select_where(self, *conds: ColumnElement[bool], limit: int | None = None) -> list[Record]:
        stmt = select(self.table).where(*conds).order_by(self.table.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._with_properties(_dicts(self.session.execute(stmt)))

    def ids_where(self, *conds: ColumnElement[bool]) -> list[int]:
        stmt = select(self.table.c.id).where(*conds)
        return [int(i) for i in self.session.execute(stmt).scalars()]

    def exists(self, *conds: ColumnElement[bool]) -> bool:
        return bool(self.session.execute(select(exists().where(*conds))).scalar())

    def has_id(self, id_: int) -> bool:
        return bool(self.session.execute(_HAS_ID[self.spec.kind], {"id": id_}).scalar())

    def page(self, conds: Sequence[ColumnElement[bool]], req: PageRequest) -> tuple[list[Record], str]:
        """One page in (sort column, id) order, and the token for the next ('' if last)."""
        t = self.table
        col = t.c[ORDER_COLUMNS[req.order_by]]
        where = list(conds)
        if req.token:
            value, last_id = decode_token(req.token, _ordering(req))
            if req.order_by == "ID":
                where.append(t.c.id < last_id if req.descending else t.c.id > last_id)
            elif req.descending:
                where.append(or_(col < value, and_(col == value, t.c.id < last_id)))
            else:
                where.append(or_(col > value, and_(col == value, t.c.id > last_id)))
        order = [col.desc(), t.c.id.desc()] if req.descending else [col.asc(), t.c.id.asc()]
        if req.order_by == "ID":
            order = order[:1]
        stmt = select(t).where(*where).order_by(*order)
        if req.size is not None:
            stmt = stmt.limit(req.size + 1)
        rows = _dicts(self.session.execute(stmt))
        token = ""
        if req.size is not None and len(rows) > req.size:
            rows = rows[: req.size]
            last = rows[-1]
            token = encode_token(_ordering(req), last[col.name], int(last["id"]))
        return self._with_properties(rows), token

    def _with_properties(self, rows: list[dict[str, Any]]) -> list[Record]:
        if not rows:
            return []
        props = self.load_properties([r["id"] for r in rows])
        return [Record(r, props.get(r["id"], {})) for r in rows]

    def load_properties(self, ids: Iterable[int]) -> dict[int, CustomProperties]:
        out: dict[int, CustomProperties] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 1000):
            chunk = id_list[start : start + 1000]
            for rid, name, *value in self.session.execute(_PROPERTIES, {"ids": chunk}).all():
                out.setdefault(rid, {})[name] = _property_value(*value)
        return out

    # writes

    def insert(self, values: dict[str, Any], properties: CustomProperties) -> Record:
        result: Any = self.session.execute(_NEW_ID, {"kind": self.spec.kind})
        new_id = result.inserted_primary_key
        row = {"id": int(new_id[0]), **values}
        self._guard(lambda: self.session.execute(_INSERT[self.spec.kind], row))
        self._write_properties(row["id"], properties, replace=False)
        return Record(row, dict(properties))

    def update(self, id_: int, values: dict[str, Any], properties: CustomProperties | None) -> None:
        if values:
            self._guard(
                lambda: self.session.execute(
                    update(self.table).where(self.table.c.id == id_).values(**values)
                )
            )
        if properties is not None:
            self._write_properties(id_, properties, replace=True)

    def touch(self, id_: int, now: int) -> int:
        """Set one row's update_time; how many rows that was (0 or 1)."""
        result = self.session.execute(_TOUCH[self.spec.kind], {"touch_id": id_, "touch_time": now})
        return int(result.rowcount)  # type: ignore[attr-defined]

    def update_where(self, conds: Sequence[ColumnElement[bool]], values: dict[str, Any]) -> int:
        result = self.session.execute(update(self.table).where(*conds).values(**values))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), 1000):
            chunk = list(ids[start : start + 1000])
            self.session.execute(delete(custom_properties).where(custom_properties.c.resource_id.in_(chunk)))
            self.session.execute(delete(self.table).where(self.table.c.id.in_(chunk)))
            # The resource_ids row stays as a tombstone: SQLite hands out max(id)+1, so
            # deleting it would give the next entity the id of the one just deleted.

    def _write_properties(self, id_: int, properties: CustomProperties, *, replace: bool) -> None:
        if replace:
            self.session.execute(delete(custom_properties).where(custom_properties.c.resource_id == id_))
        if properties:
            rows = [_property_row(id_, k, v) for k, v in properties.items()]
            self.session.execute(_INSERT_PROPERTIES, rows)

    def _guard(self, op: Any) -> None:
        try:
            op()
        except IntegrityError as exc:
            raise UniqueViolation("external_id" in str(exc.orig)) from None
