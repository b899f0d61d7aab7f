"""The behaviour every entity shares: create, get, find, list, patch, delete.

Values travel by column name (the entity declaration's vocabulary); the API turns wire
shapes into them and back. Entity-specific rules plug in through `rules.RULES`; nothing
here names an entity.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import ColumnElement

from modelreg.entities import BY_KIND, EntitySpec, FieldType, children_of, referrers_of
from modelreg.entities.values import CustomProperties
from modelreg.service import history, rules
from modelreg.service.errors import AlreadyExists, InvalidArgument, MissingField, NotFound
from modelreg.store.filter_parser import FilterSyntaxError
from modelreg.store.filtering import FilterError, cached_filter
from modelreg.store.repository import BadPageToken, PageRequest, Record, Repository, UniqueViolation
from modelreg.store.schema import TABLES
from modelreg.store.session import Session


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _variant_label(spec: EntitySpec, variant: str | None) -> str:
    v = spec.variant(variant) if variant else None
    return v.label if v else spec.label


def _not_found(spec: EntitySpec, id_: int | str, variant: str | None = None) -> NotFound:
    return NotFound(f"{_variant_label(spec, variant)} with id {id_} not found")


def get(session: Session, spec: EntitySpec, id_: int, *, variant: str | None = None) -> Record:
    record = Repository(session, spec).get(id_)
    if record is None or (variant is not None and record["type"] != variant):
        raise _not_found(spec, id_, variant)
    return record


def _parent_not_found(spec: EntitySpec, parent_id: int, kinds: tuple[str, ...] | None = None) -> NotFound:
    assert spec.parent is not None
    labels = " or ".join(BY_KIND[k].label for k in kinds or spec.parent.kinds)
    return NotFound(f"{labels} with id {parent_id} not found")


def require_exists(session: Session, kind: str, id_: int) -> None:
    if not Repository(session, BY_KIND[kind]).has_id(id_):
        raise _not_found(BY_KIND[kind], id_)


def find(
    session: Session,
    spec: EntitySpec,
    *,
    name: str | None = None,
    external_id: str | None = None,
    parent_id: int | None = None,
    variant: str | None = None,
) -> Record:
    """The one entity with this externalId, or this name (within `parent_id` if given)."""
    if external_id is not None:
        by, key = "external_id", external_id
    elif name is not None:
        by, key = "name", name
    else:
        raise InvalidArgument("supply either name or externalId")
    in_parent = parent_id if spec.parent is not None else None
    found = Repository(session, spec).find(by, key, in_parent, variant)
    label = _variant_label(spec, variant)
    if not found:
        what = f"externalId {external_id!r}" if external_id is not None else f"name {name!r}"
        where = f" in parent {parent_id}" if parent_id is not None else ""
        raise NotFound(f"no {label} with {what}{where}")
    if len(found) > 1:
        raise InvalidArgument(f"more than one {label} is named {name!r}; pass parentResourceId to pick one")
    return found[0]


def list_page(
    session: Session,
    spec: EntitySpec,
    page: PageRequest,
    *,
    scope: dict[str, Any] | None = None,
    filter_query: str | None = None,
    variant: str | None = None,
) -> tuple[list[Record], str]:
    t = TABLES[spec.kind]
    conds: list[ColumnElement[bool]] = [t.c[k] == v for k, v in (scope or {}).items()]
    if variant is not None:
        conds.append(t.c.type == variant)
    filtered = None
    if filter_query:
        try:
            filtered = cached_filter(spec, filter_query, variant, session=session)
        except (FilterSyntaxError, FilterError) as exc:
            raise InvalidArgument(str(exc)) from None
    try:
        return Repository(session, spec).page(conds, page, filtered)
    except BadPageToken as exc:
        raise InvalidArgument(str(exc)) from None


def _references(spec: EntitySpec, values: dict[str, Any]) -> list[tuple[str, int]]:
    """The entities, other than the parent, that `values` name: (kind, id)."""
    return [
        (f.references, values[f.column])
        for f in spec.all_fields()
        if f.type is FieldType.ID
        and f.references
        and f.column != "parent_id"
        and values.get(f.column) is not None
    ]


def _check_references(session: Session, spec: EntitySpec, values: dict[str, Any]) -> None:
    for kind, id_ in _references(spec, values):
        require_exists(session, kind, id_)


def _duplicate(spec: EntitySpec, values: dict[str, Any], exc: UniqueViolation) -> AlreadyExists:
    label = _variant_label(spec, values.get("type"))
    if exc.on_external_id:
        return AlreadyExists(f"{label} with externalId {values.get('external_id')!r} already exists")
    where = ""
    if values.get("parent_id") is not None and spec.parent is not None:
        where = f" in parent {values['parent_id']}"
    return AlreadyExists(f"{label} with name {values.get('name')!r} already exists{where}")


def touch_ancestors(
    session: Session,
    spec: EntitySpec,
    parent_id: int | None,
    now: int,
    parent_kinds: tuple[str, ...] | None = None,
) -> bool:
    """Move every ancestor's lastUpdateTimeSinceEpoch: a child's change is the parent's too.

    False when there is a `parent_id` and no entity of a kind `spec` may hang under (of
    `parent_kinds`, when the caller knows which) has it."""
    first = True
    while spec.parent is not None and parent_id is not None:
        kinds = (parent_kinds or spec.parent.kinds) if first else spec.parent.kinds
        if not first and len(kinds) == 1 and BY_KIND[kinds[0]].parent is None:
            # The last ancestor, of the one kind it can be: nothing reads this answer.
            Repository(session, BY_KIND[kinds[0]]).touch_later(parent_id, now)
            return True
        for kind in kinds:
            pspec = BY_KIND[kind]
            touched, grandparent = Repository(session, pspec).touch_up(parent_id, now)
            if touched:
                spec, parent_id = pspec, grandparent
                break
        else:
            return not first
        first = False
    return True


def create(
    session: Session,
    spec: EntitySpec,
    values: dict[str, Any],
    properties: CustomProperties,
    *,
    parent_kind: str | None = None,
) -> Record:
    """Insert one entity; `values` are by column, `type` chooses a union's variant;
    `parent_kind`, when the caller knows it, which kind the parent is."""
    values = dict(values)
    variant = values.get("type")
    if not values.get("name"):
        v = spec.variant(variant) if variant else None
        if spec.name_required or (v is not None and v.name_required):
            raise MissingField("required field 'name' is zero value.")
        values["name"] = str(uuid.uuid4())
    for f in spec.fields_for(variant, "v1alpha3") + spec.fields_for(variant, "v1"):
        if values.get(f.column) is None and f.default is not None:
            values[f.column] = f.default
    now = now_ms()
    parent_id = values.get("parent_id") if spec.parent is not None else None
    kinds = (parent_kind,) if parent_kind else None
    if spec.parent is not None and parent_id is None and spec.parent.required:
        raise MissingField(f"required field '{spec.parent.field}' is zero value.")
    repo = Repository(session, spec)
    # PostgreSQL, a create that reads nothing first: one statement, one round trip.
    ancestors = _one_statement_ancestry(repo, spec, values, parent_kind)
    if ancestors is None:
        # Touching the ancestors first finds the parent too (one statement, not two).
        if parent_id is not None and not touch_ancestors(session, spec, parent_id, now, kinds):
            raise _parent_not_found(spec, parent_id, kinds)
        _check_references(session, spec, values)
    rules.before_create(session, spec, values, properties)
    values["create_time"] = now
    values["update_time"] = now
    if spec.archivable:
        values.setdefault("archived_with_parent", False)
    try:
        if ancestors is not None:
            event = history.creation_row(session, spec, Record(values, properties))
            created = repo.create_alone(values, properties, ancestors, now, event)
        else:
            created = repo.insert(values, properties)
    except UniqueViolation as exc:
        raise _duplicate(spec, values, exc) from None
    if created is None:  # only create_alone answers so, and only when the parent is missing
        assert parent_id is not None
        raise _parent_not_found(spec, parent_id, kinds)
    if ancestors is None:
        rules.after_create(session, spec, created)
        history.entity_change(session, "create", spec, None, created)
    return created


def _one_statement_ancestry(
    repo: Repository, spec: EntitySpec, values: dict[str, Any], parent_kind: str | None
) -> tuple[str, ...] | None:
    """The kinds of the parent, its parent and so on up, when this create can be one
    statement (Repository.create_alone); None when it cannot: the store cannot, the
    create names other entities or its rules read or write, or an ancestor may be of
    more than one kind."""
    if (
        not repo.can_create_alone()
        or _references(spec, values)
        or not rules.create_runs_nothing(spec, values)
    ):
        return None
    if spec.parent is None or values.get("parent_id") is None:
        return ()
    chain: list[str] = []
    kinds: tuple[str, ...] = (parent_kind,) if parent_kind else spec.parent.kinds
    while kinds:
        if len(kinds) != 1:
            return None
        chain.append(kinds[0])
        up = BY_KIND[kinds[0]].parent
        kinds = up.kinds if up is not None else ()
    return tuple(chain)


def patch(
    session: Session,
    spec: EntitySpec,
    id_: int,
    values: dict[str, Any],
    properties: CustomProperties | None,
    *,
    variant: str | None = None,
) -> Record:
    """Merge `values` into the entity; `properties`, when given, replace the whole map."""
    before = get(session, spec, id_, variant=variant)
    values = {k: v for k, v in values.items() if v is not None}
    _check_references(session, spec, values)
    rules.before_patch(session, spec, before, values)
    now = now_ms()
    values["update_time"] = now
    repo = Repository(session, spec)
    try:
        repo.update(id_, before["create_time"], values, properties)
    except UniqueViolation as exc:
        raise _duplicate(spec, {**before.values, **values}, exc) from None
    touch_ancestors(session, spec, before["parent_id"], now)
    after = get(session, spec, id_)
    history.entity_change(session, history.action_for(spec, before, after), spec, before, after)
    rules.after_patch(session, spec, before, after)
    return after


def delete(session: Session, spec: EntitySpec, id_: int, *, variant: str | None = None) -> None:
    """Delete the entity and everything under it, or refuse and delete nothing."""
    record = get(session, spec, id_, variant=variant)
    _delete_tree(session, spec, [record.id])
    touch_ancestors(session, spec, record["parent_id"], now_ms())


def _delete_tree(session: Session, spec: EntitySpec, ids: list[int]) -> None:
    if not ids:
        return
    rules.before_delete(session, spec, ids)
    for child in children_of(spec.kind):
        t = TABLES[child.kind]
        child_ids = Repository(session, child).ids_where(t.c.parent_id.in_(ids))
        _delete_tree(session, child, child_ids)
    for other, f in referrers_of(spec.kind):
        t = TABLES[other.kind]
        repo = Repository(session, other)
        if f.required:
            _delete_tree(session, other, repo.ids_where(t.c[f.column].in_(ids)))
        else:
            for ref in repo.select_where(t.c[f.column].in_(ids)):
                history.record(
                    session,
                    "update",
                    other.kind,
                    ref.id,
                    ref["name"],
                    {f.name: {"before": ref[f.column], "after": None}},
                )
            repo.update_where([t.c[f.column].in_(ids)], {f.column: None})
    repo = Repository(session, spec)
    for gone in repo.select_where(TABLES[spec.kind].c.id.in_(ids)):
        history.entity_change(session, "delete", spec, gone, None)
    repo.delete(ids)
