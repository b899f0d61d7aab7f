"""History: every change appends an event, in the same transaction as the change.

Who (the authenticated actor), when, which registry and entity, the fields that changed
with their values before and after, and the request id. Nothing ever updates or deletes
an event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, insert, select

from modelreg.entities import EntitySpec, Field
from modelreg.service.errors import InvalidArgument
from modelreg.store.repository import Record, insert_sql
from modelreg.store.schema import events
from modelreg.store.session import Session, write_later

SERVER = ""  # the registry column of server-level events (tokens, registries)
_BASE = {"name": "name", "external_id": "externalId", "description": "description"}
_SKIP = {"id", "create_time", "update_time", "type", "archived_with_parent"}
# Built once: building an INSERT with .values() and hashing it cost more than running it.
_INSERT_EVENT = insert(events)


@dataclass(frozen=True)
class Context:
    actor: str
    registry: str
    request_id: str | None


def bind(session: Session, context: Context) -> None:
    """Say, for the events of this unit of work, who acts, in which registry, for which request."""
    session.info["history"] = context


def _context(session: Session) -> Context:
    ctx = session.info.get("history")
    return ctx if isinstance(ctx, Context) else Context("system", "default", None)


def current_actor(session: Session) -> str | None:
    """Who acts in this unit of work, when a request said so."""
    ctx = session.info.get("history")
    return ctx.actor if isinstance(ctx, Context) else None


@cache
def _wire_names(spec: EntitySpec) -> dict[str, str]:
    names = dict(_BASE)
    fields: Iterable[Field] = spec.all_fields()
    for f in fields:
        names.setdefault(f.column, f.name)
    names["parent_id"] = spec.parent.field if spec.parent and spec.parent.field else "parentId"
    return names


def _props(record: Record | None) -> dict[str, Any]:
    if record is None:
        return {}
    return {k: v.value for k, v in record.properties.items()}


def changes(spec: EntitySpec, before: Record | None, after: Record | None) -> dict[str, dict[str, Any]]:
    """{field: {"before": x, "after": y}} for every field whose value differs."""
    names = _wire_names(spec)
    out: dict[str, dict[str, Any]] = {}
    columns = set((before.values if before else {}).keys()) | set((after.values if after else {}).keys())
    for column in sorted(columns - _SKIP):
        old = before[column] if before else None
        new = after[column] if after else None
        if old != new:
            out[names.get(column, column)] = {"before": old, "after": new}
    old_p, new_p = _props(before), _props(after)
    if old_p != new_p:
        keys = sorted(
            k for k in set(old_p) | set(new_p) if old_p.get(k) != new_p.get(k) or (k in old_p) != (k in new_p)
        )
        out["customProperties"] = {
            "before": {k: old_p[k] for k in keys if k in old_p},
            "after": {k: new_p[k] for k in keys if k in new_p},
        }
    return out


def record(
    session: Session,
    action: str,
    entity_kind: str,
    entity_id: object,
    entity_name: str | None,
    changed: dict[str, Any],
    *,
    registry: str | None = None,
) -> None:
    row = event_row(session, action, entity_kind, entity_id, entity_name, changed, registry=registry)
    dialect = session.get_bind().dialect
    if dialect.paramstyle == "qmark":  # SQLite: see Repository.insert
        session.connection().exec_driver_sql(*insert_sql(events, row))
    else:
        write_later(session, _INSERT_EVENT, row)


def event_row(
    session: Session,
    action: str,
    entity_kind: str,
    entity_id: object,
    entity_name: str | None,
    changed: dict[str, Any],
    *,
    registry: str | None = None,
) -> dict[str, Any]:
    """The events row for a change, by column."""
    ctx = _context(session)
    return {
        "time": time.time_ns() // 1_000_000,
        "registry": ctx.registry if registry is None else registry,
        "actor": ctx.actor,
        "action": action,
        "entity_kind": entity_kind,
        "entity_id": None if entity_id is None else str(entity_id),
        "entity_name": entity_name,
        "changes": json.dumps(changed, default=str, separators=(",", ":")),
        "request_id": ctx.request_id,
    }


def entity_change(
    session: Session, action: str, spec: EntitySpec, before: Record | None, after: Record | None
) -> None:
    subject = after or before
    assert subject is not None
    record(session, action, spec.kind, subject.id, subject["name"], changes(spec, before, after))


def creation_row(session: Session, spec: EntitySpec, created: Record) -> dict[str, Any]:
    """The event of `created`'s creation, for a writer that fills in its id itself
    (Repository.create_alone): `created` need not have one yet."""
    return event_row(session, "create", spec.kind, None, created["name"], changes(spec, None, created))


def action_for(spec: EntitySpec, before: Record, after: Record) -> str:
    if spec.archivable and before["state"] != after["state"]:
        if after["state"] == "ARCHIVED":
            return "archive"
        if before["state"] == "ARCHIVED":
            return "restore"
    return "update"


@dataclass(frozen=True)
class EventQuery:
    registry: str | None = None
    entity_kind: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    page_size: int = 100
    before_id: int | None = None  # keyset: events older than this id
    ascending: bool = False


def query(session: Session, q: EventQuery) -> tuple[list[dict[str, Any]], int | None]:
    """Events, newest first (or oldest first), and the id to continue from (None: no more)."""
    if q.page_size < 1:
        raise InvalidArgument("pageSize must be positive")
    e = events.c
    conds: list[ColumnElement[bool]] = []
    for column, value in (
        (e.registry, q.registry),
        (e.entity_kind, q.entity_kind),
        (e.entity_id, q.entity_id),
        (e.actor, q.actor),
        (e.action, q.action),
    ):
        if value is not None:
            conds.append(column == value)
    if q.since_ms is not None:
        conds.append(e.time >= q.since_ms)
    if q.until_ms is not None:
        conds.append(e.time < q.until_ms)
    if q.before_id is not None:
        conds.append(e.id > q.before_id if q.ascending else e.id < q.before_id)
    order = e.id.asc() if q.ascending else e.id.desc()
    rows = list(session.execute(select(events).where(*conds).order_by(order).limit(q.page_size + 1)))
    more = len(rows) > q.page_size
    rows = rows[: q.page_size]
    out = [as_wire(r._mapping) for r in rows]
    return out, (int(rows[-1]._mapping["id"]) if more else None)


def as_wire(r: Any) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "time": str(r["time"]),
        "registry": r["registry"],
        "actor": r["actor"],
        "action": r["action"],
        "entityType": r["entity_kind"],
        "entityId": r["entity_id"],
        "entityName": r["entity_name"],
        "changes": json.loads(r["changes"]),
        "requestId": r["request_id"],
    }
