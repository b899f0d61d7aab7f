"""One generic repository for every declared entity: rows in, records out.

It names no entity. Custom properties are read for a whole page in one query and
written here, once. Pages are keyset pages over (sort column, id): no OFFSET, no COUNT.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    Column,
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import operators

from modelreg.entities import EntitySpec
from modelreg.entities.values import CustomProperties, PropertyValue
from modelreg.store.filtering import Filter
from modelreg.store.schema import STRING_PREFIX, TABLES, custom_properties, events, resource_ids
from modelreg.store.session import Session, execute_alone, may_run_alone, write_later

ORDER_COLUMNS = {
    "ID": "id",
    "CREATE_TIME": "create_time",
    "LAST_UPDATE_TIME": "update_time",
    "NAME": "name",
}
MAX_TOKEN_LENGTH = 1024

# What every request runs, built once: building and hashing a statement cost several times
# what SQLite took to run it.
_cp = custom_properties.c
_PROPERTY_COLUMNS = (
    _cp.name,
    _cp.value_type,
    _cp.string_value,
    _cp.int_value,
    _cp.double_value,
    _cp.bool_value,
    _cp.proto_type,
)


def _with_property_rows(entities: Select[Any]) -> Select[Any]:
    """The entities `entities` selects, each joined to its property rows (one row per
    property, or one with NULLs), properties in name order: one round trip, not two."""
    e = entities.subquery("e")
    props = [c.label(f"p_{c.name}") for c in _PROPERTY_COLUMNS]
    return (
        select(e, *props)
        .select_from(e.outerjoin(custom_properties, _cp.resource_id == e.c.id))
        .order_by(e.c.id, _cp.name)
    )


_BY_ID = {kind: _with_property_rows(select(t).where(t.c.id == bindparam("id"))) for kind, t in TABLES.items()}
_HAS_ID = {kind: select(exists().where(t.c.id == bindparam("id"))) for kind, t in TABLES.items()}
_NEW_ID = insert(resource_ids)
_INSERT = {kind: insert(t) for kind, t in TABLES.items()}
_TOUCH = {
    kind: update(t).where(t.c.id == bindparam("touch_id")).values(update_time=bindparam("touch_time"))
    for kind, t in TABLES.items()
}
# SQLite's own SQL for the inserts every create runs (see Repository.insert).
_NEW_ID_SQL = "INSERT INTO resource_ids (kind) VALUES (?)"
_PROPERTY_ROW_COLUMNS = (
    "resource_id",
    "name",
    "value_type",
    "string_value",
    "int_value",
    "double_value",
    "bool_value",
    "proto_type",
    "string_prefix",
    "owner_create_time",
)
_INSERT_PROPERTIES_SQL = (
    f"INSERT INTO custom_properties ({', '.join(_PROPERTY_ROW_COLUMNS)})"
    f" VALUES ({', '.join(['?'] * len(_PROPERTY_ROW_COLUMNS))})"
)
_INSERT_SQL: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[tuple[str, Any], ...]]] = {}


def insert_sql(table: Table, row: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """A qmark INSERT of `row` into `table` and its parameters, the columns' scalar
    defaults filled in as SQLAlchemy would; the SQL is built once per set of columns."""
    key = (table.name, tuple(row))
    built = _INSERT_SQL.get(key)
    if built is None:
        defaults = tuple(
            (c.name, c.default.arg)  # type: ignore[attr-defined]
            for c in table.columns
            if c.name not in row and c.default is not None and c.default.is_scalar
        )
        # A column the table lacks fails here (KeyError), as SQLAlchemy's insert refused it.
        names = [table.c[name].name for name in (*row, *(d[0] for d in defaults))]
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(['?'] * len(names))})"
        built = _INSERT_SQL[key] = (sql, defaults)
    sql, defaults = built
    return sql, (*row.values(), *(value for _, value in defaults))


_INSERT_WITH_ID: dict[tuple[str, tuple[str, ...]], Any] = {}


def _insert_with_new_id(kind: str, columns: tuple[str, ...]) -> Any:
    """PostgreSQL: the id's allocation and the entity's insert in one statement (a data-
    modifying CTE), one round trip instead of two; built once per set of columns given."""
    key = (kind, columns)
    stmt = _INSERT_WITH_ID.get(key)
    if stmt is None:
        t = TABLES[kind]
        new_id = (
            insert(resource_ids).values(kind=bindparam("new_kind")).returning(resource_ids.c.id).cte("new_id")
        )
        given = {c: bindparam(f"v_{c}", type_=t.c[c].type) for c in columns}
        stmt = _INSERT_WITH_ID[key] = (
            insert(t)
            .values(id=select(new_id.c.id).scalar_subquery(), **given)
            .add_cte(new_id)
            .returning(t.c.id)
        )
    return stmt


_CREATE_ALONE: dict[tuple[str, tuple[str, ...], tuple[str, ...], bool], tuple[str, dict[str, Any]]] = {}
_EVENT_COLUMNS = tuple(c.name for c in events.c if c.name != "id")


def _create_alone_sql(
    kind: str, columns: tuple[str, ...], ancestors: tuple[str, ...], with_props: bool
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: a whole create as one statement of data-modifying CTEs, the driver's SQL:
    touch the ancestors (`ancestors`, the parent's kind first), allocate the id, insert the
    entity, its properties (`with_props`: one array per column, so that any number of
    them is the same statement) and its history event, and return the new id. Without
    the parent there is no row to allocate an id from: nothing is written, and no row comes
    back. Built once per shape; with it, the parameters of the columns' defaults."""
    key = (kind, columns, ancestors, with_props)
    built = _CREATE_ALONE.get(key)
    if built is not None:
        return built
    from sqlalchemy.dialects import postgresql

    t = TABLES[kind]
    ctes: list[Any] = []
    for depth, ancestor in enumerate(ancestors):
        at = TABLES[ancestor]
        # The parent by its id; each ancestor above it by what the one below returned.
        which = at.c.id == _typed("parent_id", at.c.id) if not ctes else at.c.id.in_(select(ctes[-1].c.up))
        up = at.c.parent_id if "parent_id" in at.c else at.c.id
        touch = update(at).where(which).values(update_time=_typed("now", at.c.update_time))
        ctes.append(touch.returning(up.label("up")).cte(f"touched_{depth}"))
    kind_param = _typed("new_kind", resource_ids.c.kind)
    if ctes:
        allocate = insert(resource_ids).from_select(["kind"], select(kind_param).select_from(ctes[0]))
    else:
        allocate = insert(resource_ids).values(kind=kind_param)
    new_id = allocate.returning(resource_ids.c.id).cte("new_id")
    given = [_typed(f"v_{c}", t.c[c]) for c in columns]
    created = (
        insert(t).from_select(["id", *columns], select(new_id.c.id, *given)).returning(t.c.id).cte("created")
    )
    writes = [created]
    if with_props:
        names = _PROPERTY_ROW_COLUMNS[1:]
        arrays = [cast(bindparam(f"p_{c}"), postgresql.ARRAY(custom_properties.c[c].type)) for c in names]
        rows = func.unnest(*arrays).table_valued(*names).render_derived(name="p")
        given_rows = select(created.c.id, *[rows.c[c] for c in names]).select_from(created).join(rows, true())
        props = insert(custom_properties).from_select(["resource_id", *names], given_rows)
        writes.append(props.cte("props"))
    event = select(
        *[
            cast(created.c.id, events.c.entity_id.type) if c == "entity_id" else _typed(f"e_{c}", events.c[c])
            for c in _EVENT_COLUMNS
        ]
    )
    writes.append(insert(events).from_select(list(_EVENT_COLUMNS), event).cte("event"))
    stmt = select(created.c.id).add_cte(*ctes, new_id, *writes)
    compiled = stmt.compile(dialect=postgresql.psycopg.dialect())
    defaults = {k: v for k, v in compiled.params.items() if v is not None}
    built = _CREATE_ALONE[key] = (compiled.string, defaults)
    return built


def _typed(name: str, column: Any) -> Any:
    """A parameter cast to `column`'s type: a NULL in a SELECT list has none of its own."""
    return cast(bindparam(name), column.type)


# Where the database can say which row it touched and that row's parent in one statement.
_TOUCH_UP = {
    kind: update(t)
    .where(t.c.id == bindparam("touch_id"))
    .values(update_time=bindparam("touch_time"))
    .returning(t.c.parent_id)
    for kind, t in TABLES.items()
    if "parent_id" in t.c
}
_INSERT_PROPERTIES = insert(custom_properties)
# The rows of a filter's text key, that a page in creation order walks (Repository.page).
_KEY_ROWS = custom_properties.alias("key_rows")
_FIND: dict[tuple[str, str, bool, bool], Select[Any]] = {}


def _find_statement(kind: str, by: str, in_parent: bool, of_variant: bool) -> Select[Any]:
    """At most two entities by one key column (within a parent, of a variant), with their
    properties; built once per shape."""
    key = (kind, by, in_parent, of_variant)
    stmt = _FIND.get(key)
    if stmt is None:
        t = TABLES[kind]
        conds = [t.c[by] == bindparam("key")]
        if in_parent:
            conds.append(t.c.parent_id == bindparam("parent_id"))
        if of_variant:
            conds.append(t.c.type == bindparam("variant"))
        stmt = _FIND[key] = _with_property_rows(select(t).where(*conds).order_by(t.c.id).limit(2))
    return stmt


def get_statement(kind: str) -> Select[Any]:
    """The statement a get by id of `kind` runs (its one parameter: `id`). For measurements
    that run it without the service around it: the bench's floor with a query."""
    return _BY_ID[kind]


# The property rows of a page of ids, as driver SQL by paramstyle and count: an expanding
# IN re-rendered its SQL on every call, which cost more than SQLite took to run it.
_PROPERTIES_SQL: dict[tuple[str, int], str] = {}


def _properties_sql(paramstyle: str, n: int) -> str:
    key = (paramstyle, n)
    sql = _PROPERTIES_SQL.get(key)
    if sql is None:
        mark = "?" if paramstyle == "qmark" else "%s"
        columns = ", ".join(["resource_id", *(c.name for c in _PROPERTY_COLUMNS)])
        sql = _PROPERTIES_SQL[key] = (
            f"SELECT {columns} FROM custom_properties"
            f" WHERE resource_id IN ({', '.join([mark] * n)}) ORDER BY resource_id, name"
        )
    return sql


class _DriverQuery:
    """A statement as the driver's own SQL: its text, its parameters (in order for SQLite's
    `?` and the `$1` of PostgreSQL's keyed reads), its columns and what turns their values
    into Python's (SQLite's 0 or 1 into a bool)."""

    __slots__ = ("converts", "dialect", "fixed", "keys", "params", "processors", "sql", "types")

    def __init__(self, stmt: Select[Any], dialect: Any, *, expand: bool = False) -> None:
        # `expand`: an IN list's values (fixed in the statement) as parameters of their own.
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": expand})
        columns = list(stmt.selected_columns)
        self.dialect = dialect
        self.sql: str = compiled.string
        self.params = tuple(compiled.positiontup or ())
        self.fixed = {k: v for k, v in compiled.params.items() if v is not None}  # a LIMIT's
        # Whether a parameter's type would convert its value for this dialect, as
        # SQLAlchemy's execution does and `args` does not (sqlite3 takes a bool as it is).
        self.converts = any(
            b.type.dialect_impl(dialect).bind_processor(dialect) is not None
            and not isinstance(b.type, Boolean)
            for b in compiled.binds.values()
        )
        self.keys = tuple(str(c.key) for c in columns)
        self.types = [c.type.dialect_impl(dialect) for c in columns]
        # (column's index, its converter) for each column that converts, empty if none;
        # known once the driver has said which types it sends (PostgreSQL's depend on them).
        self.processors: tuple[tuple[int, Any], ...] | None = None

    def args(self, values: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        """The driver's parameters: in order for `?` and `$1`, by name for psycopg's `%(name)s`."""
        given = {**self.fixed, **values}
        return tuple(given[p] for p in self.params) if self.params else given

    def rows(self, conn: Any, values: dict[str, Any]) -> list[tuple[Any, ...]]:
        cur = conn.connection.driver_connection.execute(self.sql, self.args(values))
        return self.converted(cur.fetchall(), lambda: [d[1] for d in cur.description])

    def converted(
        self, rows: list[tuple[Any, ...]], type_codes: Callable[[], Sequence[Any]]
    ) -> list[tuple[Any, ...]]:
        """`rows` as Python's values; the driver's types of the columns (`type_codes`) are
        asked for the first time only (a cursor's description, built anew each time it is
        asked, cost about a tenth of a get)."""
        procs = self.processors
        if procs is None:
            found = (
                t.result_processor(self.dialect, code)
                for t, code in zip(self.types, type_codes(), strict=True)
            )
            procs = self.processors = tuple((i, f) for i, f in enumerate(found) if f is not None)
        if not procs:
            return rows
        out = []
        for row in rows:  # few columns convert (SQLite's booleans): only those are touched
            values = list(row)
            for i, f in procs:
                values[i] = f(values[i])
            out.append(tuple(values))
        return out


_DRIVER: dict[tuple[int, str], _DriverQuery] = {}


def _driver_query(stmt: Select[Any], dialect: Any) -> _DriverQuery:
    """`stmt` compiled once for a dialect (keyed by the statement, which lives as long as
    the module, and the dialect's name)."""
    key = (id(stmt), dialect.name)
    found = _DRIVER.get(key)
    if found is None:
        found = _DRIVER[key] = _DriverQuery(stmt, dialect)
    return found


def _keyed_records(session: Session, stmt: Select[Any], values: dict[str, Any]) -> list[Record]:
    """Records by a statement of `_with_property_rows` that reads a row or two by a key.

    On SQLite as driver SQL: SQLAlchemy's execution (its context and result) cost about
    as much again as SQLite's lookup itself. A unit of work that is this one read (a get
    by id, a find: `session.info["keyed_read"]`) runs it without BEGIN and ROLLBACK, as
    one statement reads one snapshot anyway; any other begins its transaction first, so
    that the statements after it see the same snapshot.

    On PostgreSQL, a unit of work that is this one read gets a KeyedSession instead
    (store.keyed_reads): the statement goes as driver SQL on the event loop's connection."""
    keyed_reads = session.info.get("keyed_reads")
    if keyed_reads is not None:
        reads, driver_conn = keyed_reads
        query = _driver_query(stmt, reads.dialect)
        args = query.args(values)
        assert isinstance(args, tuple), "keyed reads are compiled for positional parameters"
        rows, type_codes = reads.rows(driver_conn, query.sql, args)
        return _records_from_rows(query.keys, query.converted(rows, type_codes))
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return _joined_records(session.execute(stmt, values))
    if not conn.in_transaction() and not session.info.get("keyed_read"):
        conn.begin()
    query = _driver_query(stmt, conn.dialect)
    return _records_from_rows(query.keys, query.rows(conn, values))


def _joined_records(result: Any) -> list[Record]:
    """Records from rows of `_with_property_rows`, in their order."""
    return _records_from_rows(tuple(result.keys()), result.all())


def _records_from_rows(columns: Sequence[str], rows: Sequence[Any]) -> list[Record]:
    n = len(columns) - len(_PROPERTY_COLUMNS)
    keys = columns[:n]
    out: list[Record] = []
    last: Record | None = None
    for row in rows:
        if last is None or last.values["id"] != row[0]:
            last = Record(dict(zip(keys, row[:n], strict=True)), {})
            out.append(last)
        if row[n] is not None:
            last.properties[row[n]] = _property_value(*row[n + 1 :])
    return out


def _dicts(result: Any) -> list[dict[str, Any]]:
    """Rows as dicts by column name: zipping is several times quicker than dict(RowMapping)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def _page_select(
    t: Table,
    conds: Sequence[ColumnElement[bool]],
    filtered: Filter | None,
    req: PageRequest,
    after: tuple[Any, Any] | None,
    limit: Any,
) -> Select[Any]:
    """A page's statement: the rows `conds` and `filtered` select after `after` (the last
    row's sort value and id, from the token), in (sort column, id) order, `limit` of them.

    With a text key (`Keyed`), a page in creation order walks the key's rows of the
    property table in their owners' creation order, which an index keeps, and stops when
    it is full."""
    source: Any = t
    col, id_col = t.c[ORDER_COLUMNS[req.order_by]], t.c.id
    where = list(conds)
    keyed = filtered.keyed if filtered is not None else None
    if keyed is not None and req.order_by == "CREATE_TIME" and (keyed.weighs_plans or not conds):
        o = _KEY_ROWS.c
        source = t.join(_KEY_ROWS, and_(o.resource_id == t.c.id, keyed.key.rows(o)))
        col, id_col = o.owner_create_time, o.resource_id
        where.append(keyed.rest)
    elif filtered is not None:
        where.append(filtered.condition)
    if after is not None:
        value, last_id = after
        if req.order_by == "ID":
            where.append(id_col < last_id if req.descending else id_col > last_id)
        elif req.descending:
            where.append(or_(col < value, and_(col == value, id_col < last_id)))
        else:
            where.append(or_(col > value, and_(col == value, id_col > last_id)))
    order = [col.desc(), id_col.desc()] if req.descending else [col.asc(), id_col.asc()]
    stmt = (
        select(t).select_from(source).where(*where).order_by(*(order[:1] if req.order_by == "ID" else order))
    )
    return stmt if limit is None else stmt.limit(limit)


_PAGE_CACHE_SIZE = 1024
# By shape of page: the filter's condition it was built for, and its driver SQL (None:
# a shape that needs SQLAlchemy's execution).
_SQLITE_PAGES: dict[tuple[Any, ...], tuple[ColumnElement[bool] | None, _DriverQuery | None]] = {}


def _sqlite_page_rows(
    conn: Any,
    t: Table,
    conds: Sequence[ColumnElement[bool]],
    filtered: Filter | None,
    req: PageRequest,
    after: tuple[Any, Any] | None,
) -> list[dict[str, Any]] | None:
    """A page's rows on SQLite as driver SQL, compiled once per shape of page: SQLAlchemy
    built, keyed and ran the statement anew each time, about 0.8 ms of a filtered page of
    100 (a fifth of it). The shape is the table, the columns `conds` compare to a value,
    the filter's condition (its values are part of it), the order, and whether there is a
    token and a size. None (SQLAlchemy runs it) when a condition is not `column == value`
    or a value would need converting for SQLite."""
    scope: dict[str, Any] = {}
    for cond in conds:
        left, right = getattr(cond, "left", None), getattr(cond, "right", None)
        if (
            getattr(cond, "operator", None) is not operators.eq
            or not isinstance(left, Column)
            or left.table is not t
            or not isinstance(right, BindParameter)
            or left.name in scope
        ):
            return None
        scope[left.name] = right.effective_value
    condition = filtered.condition if filtered is not None else None
    key = (
        t.name,
        tuple(scope),
        id(condition),
        req.order_by,
        req.descending,
        after is not None,
        req.size is None,
    )
    found = _SQLITE_PAGES.get(key)
    if found is None or found[0] is not condition:
        if len(_SQLITE_PAGES) >= _PAGE_CACHE_SIZE:
            _SQLITE_PAGES.clear()
        found = _SQLITE_PAGES[key] = (condition, _page_query(t, tuple(scope), filtered, req, conn.dialect))
    query = found[1]
    if query is None:
        return None
    values = {f"scope_{name}": value for name, value in scope.items()}
    if after is not None:
        values["after_value"], values["after_id"] = after
    if req.size is not None:
        values["limit"] = req.size + 1
    if not conn.in_transaction():
        conn.begin()  # the properties' query after this one reads the same snapshot
    return [dict(zip(query.keys, row, strict=True)) for row in query.rows(conn, values)]


def _page_query(
    t: Table, scope: tuple[str, ...], filtered: Filter | None, req: PageRequest, dialect: Any
) -> _DriverQuery | None:
    """The driver SQL of one shape of page, its values left as parameters; None if one of
    its values would need converting (SQLite's driver takes ints, floats, strings and
    bools as they are)."""
    # Each with a stand-in value, which the request's own replaces: rendering an IN list's
    # values as parameters asks for every parameter's value.
    after: tuple[Any, Any] | None = None
    if req.token:
        after = (bindparam("after_value", 0), bindparam("after_id", 0, type_=Integer))
    limit = bindparam("limit", 1, type_=Integer) if req.size is not None else None
    conds = [t.c[name] == bindparam(f"scope_{name}", 0) for name in scope]
    query = _DriverQuery(_page_select(t, conds, filtered, req, after, limit), dialect, expand=True)
    return None if query.converts else query


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


def _property_row(resource_id: int, created: int, name: str, v: PropertyValue) -> dict[str, Any]:
    """The row of property `name` of the entity `resource_id`, created at `created`."""
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
        "owner_create_time": created,
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
        found = _keyed_records(self.session, _BY_ID[self.spec.kind], {"id": id_})
        return found[0] if found else None

    def find(
        self, by: str, key: Any, parent_id: int | None = None, variant: str | None = None
    ) -> list[Record]:
        """At most two entities whose column `by` holds `key` (in `parent_id`, of `variant`), by id."""
        stmt = _find_statement(self.spec.kind, by, parent_id is not None, variant is not None)
        params: dict[str, Any] = {"key": key}
        if parent_id is not None:
            params["parent_id"] = parent_id
        if variant is not None:
            params["variant"] = variant
        return _keyed_records(self.session, stmt, params)

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

    def page(
        self, conds: Sequence[ColumnElement[bool]], req: PageRequest, filtered: Filter | None = None
    ) -> tuple[list[Record], str]:
        """One page in (sort column, id) order, and the token for the next ('' if last);
        of the rows `conds` and `filtered` select (see `_page_select`)."""
        t = self.table
        after = decode_token(req.token, _ordering(req)) if req.token else None
        rows = None
        if (conn := self.session.connection()).dialect.name == "sqlite":
            rows = _sqlite_page_rows(conn, t, conds, filtered, req, after)
        if rows is None:
            limit = req.size + 1 if req.size is not None else None
            rows = _dicts(self.session.execute(_page_select(t, conds, filtered, req, after, limit)))
        token = ""
        if req.size is not None and len(rows) > req.size:
            rows = rows[: req.size]
            last = rows[-1]
            token = encode_token(_ordering(req), last[ORDER_COLUMNS[req.order_by]], int(last["id"]))
        return self._with_properties(rows), token

    def _with_properties(self, rows: list[dict[str, Any]]) -> list[Record]:
        if not rows:
            return []
        props = self.load_properties([r["id"] for r in rows])
        return [Record(r, props.get(r["id"], {})) for r in rows]

    def load_properties(self, ids: Iterable[int]) -> dict[int, CustomProperties]:
        out: dict[int, CustomProperties] = {}
        id_list = list(ids)
        conn = self.session.connection()
        paramstyle = conn.dialect.paramstyle
        # On SQLite straight from the driver: its values need no conversion here, and
        # SQLAlchemy's execution and result cost a page of 100 about 0.2 ms.
        driver = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        for start in range(0, len(id_list), 1000):
            chunk = tuple(id_list[start : start + 1000])
            sql = _properties_sql(paramstyle, len(chunk))
            rows = driver.execute(sql, chunk).fetchall() if driver else conn.exec_driver_sql(sql, chunk).all()
            props: CustomProperties = {}
            last = None
            for rid, name, type_, text, int_, double, bool_, proto in rows:
                if rid != last:
                    props = out[rid] = {}
                    last = rid
                # _property_value, inline: a page of 100 has hundreds of these.
                if type_ == "string":
                    props[name] = PropertyValue("string", text or "", proto)
                else:
                    props[name] = _property_value(type_, text, int_, double, bool_, proto)
        return out

    # writes

    def insert(self, values: dict[str, Any], properties: CustomProperties) -> Record:
        kind = self.spec.kind
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = _insert_with_new_id(kind, tuple(values))
            params = {f"v_{k}": v for k, v in values.items()}
            params["new_kind"] = kind
            new_id = self._guard(lambda: self.session.execute(stmt, params).scalar_one())
            row = {"id": int(new_id), **values}
        elif (conn := self.session.connection()).dialect.paramstyle == "qmark":
            # SQLite, whose writers take turns on one lock: driver SQL spends less Python
            # than SQLAlchemy's execution while the lock is held.
            new_id = conn.exec_driver_sql(_NEW_ID_SQL, (kind,)).lastrowid
            row = {"id": int(new_id), **values}
            sql, args = insert_sql(self.table, row)
            self._guard(lambda: conn.exec_driver_sql(sql, args))
        else:
            result: Any = self.session.execute(_NEW_ID, {"kind": kind})
            row = {"id": int(result.inserted_primary_key[0]), **values}
            self._guard(lambda: self.session.execute(_INSERT[kind], row))
        self._write_properties(row["id"], values["create_time"], properties, replace=False)
        return Record(row, dict(properties))

    def can_create_alone(self) -> bool:
        """Whether a create may be this unit of work's one statement (`create_alone`)."""
        return may_run_alone(self.session)

    def create_alone(
        self,
        values: dict[str, Any],
        properties: CustomProperties,
        ancestors: tuple[str, ...],
        now: int,
        event: dict[str, Any],
    ) -> Record | None:
        """Insert the entity with its properties and its history `event` (entity_id
        left to the database), and touch its `ancestors` (`values["parent_id"]` and up):
        all in one statement, committed on its own (PostgreSQL, when `can_create_alone`).
        None when there is no such parent: then nothing was written."""
        kind = self.spec.kind
        columns = tuple(values)
        sql, defaults = _create_alone_sql(kind, columns, ancestors, bool(properties))
        params: dict[str, Any] = {**defaults, **{f"v_{c}": v for c, v in values.items()}}
        params["new_kind"] = kind
        if ancestors:
            params["parent_id"] = values["parent_id"]
            params["now"] = now
        rows = [_property_row(0, values["create_time"], name, value) for name, value in properties.items()]
        for c in _PROPERTY_ROW_COLUMNS[1:]:
            params[f"p_{c}"] = [row[c] for row in rows]
        for c in _EVENT_COLUMNS:
            if c != "entity_id":
                params[f"e_{c}"] = event[c]
        found = self._guard(lambda: execute_alone(self.session, sql, params))
        if not found:
            return None
        return Record({"id": int(found[0][0]), **values}, dict(properties))

    def update(
        self, id_: int, created: int, values: dict[str, Any], properties: CustomProperties | None
    ) -> None:
        """Set `values` on entity `id_`, created at `created`; `properties`, when given,
        replace its whole map."""
        if values:
            self._guard(
                lambda: self.session.execute(
                    update(self.table).where(self.table.c.id == id_).values(**values)
                )
            )
        if properties is not None:
            self._write_properties(id_, created, properties, replace=True)

    def touch(self, id_: int, now: int) -> int:
        """Set one row's update_time; how many rows that was (0 or 1)."""
        result = self.session.execute(_TOUCH[self.spec.kind], {"touch_id": id_, "touch_time": now})
        return int(result.rowcount)  # type: ignore[attr-defined]

    def touch_later(self, id_: int, now: int) -> None:
        """Set one row's update_time, without asking whether it was there (write_later)."""
        write_later(self.session, _TOUCH[self.spec.kind], {"touch_id": id_, "touch_time": now})

    def touch_up(self, id_: int, now: int) -> tuple[bool, int | None]:
        """Set one row's update_time: whether there was such a row, and its parent_id."""
        stmt = _TOUCH_UP.get(self.spec.kind)
        if stmt is not None and self.session.get_bind().dialect.update_returning:
            row = self.session.execute(stmt, {"touch_id": id_, "touch_time": now}).first()
            return (row is not None, row[0] if row is not None else None)
        if not self.touch(id_, now):
            return False, None
        if "parent_id" not in self.table.c:
            return True, None
        parent = self.session.execute(
            select(self.table.c.parent_id).where(self.table.c.id == id_)
        ).scalar_one_or_none()
        return True, parent

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

    def _write_properties(
        self, id_: int, created: int, properties: CustomProperties, *, replace: bool
    ) -> None:
        if replace:
            self.session.execute(delete(custom_properties).where(custom_properties.c.resource_id == id_))
        if properties:
            rows = [_property_row(id_, created, k, v) for k, v in properties.items()]
            if self.session.get_bind().dialect.paramstyle == "qmark":
                self.session.connection().exec_driver_sql(
                    _INSERT_PROPERTIES_SQL, [tuple(r.values()) for r in rows]
                )
            else:
                write_later(self.session, _INSERT_PROPERTIES, rows)

    def _guard(self, op: Any) -> Any:
        try:
            return op()
        except IntegrityError as exc:
            raise UniqueViolation("external_id" in str(exc.orig)) from None
