"""Compile a parsed filterQuery into a SQL condition on one entity's table.

Names resolve against the entity's declaration: its columns first, then custom
properties by bare name. Every literal becomes a bound parameter; nothing from the
query is ever pasted into SQL text.

A custom property the entity does not have behaves as a NULL column does in SQL: no
comparison with it holds, negated or not (`NOT p = 1`, `p != 1` and `p NOT IN (1)` all
skip entities without `p`); `p IS NULL` finds them. A value of another type than the
literal's never equals it, so `p != 1` holds for a string-valued `p`. NOT is pushed down
to the comparisons (De Morgan) to keep these rules under any nesting.

The three databases give the same answers: text compares by code point everywhere
(PostgreSQL gets `COLLATE "C"`), LIKE is case-sensitive, and ILIKE folds case by
Unicode's simple lowercase mapping on all three.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    String,
    and_,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from modelreg.entities import EntitySpec, Field, FieldType
from modelreg.store import filter_parser as fp
from modelreg.store.schema import STRING_PREFIX, TABLES, custom_properties
from modelreg.store.session import Session

LIKE_ESCAPE = "\\"


class FilterError(ValueError):
    """A filterQuery that parses but does not make sense for this entity; says where."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"invalid filterQuery at position {position}: {message}")
        self.position = position


# Columns every entity has, by the wire name the filter uses.
_BASE_COLUMNS: dict[str, tuple[str, FieldType]] = {
    "id": ("id", FieldType.ID),
    "name": ("name", FieldType.STRING),
    "externalId": ("external_id", FieldType.STRING),
    "description": ("description", FieldType.TEXT),
    "createTimeSinceEpoch": ("create_time", FieldType.EPOCH_MS),
    "lastUpdateTimeSinceEpoch": ("update_time", FieldType.EPOCH_MS),
}
_INTEGER_TYPES = (FieldType.ID, FieldType.EPOCH_MS, FieldType.STEP)
_STRING_TYPES = (FieldType.STRING, FieldType.TEXT, FieldType.ENUM)
# Numbers written as strings, e.g. `id = '7'`: ASCII digits only, no "nan", no "1_000".
_INT_TEXT = re.compile(r"-?[0-9]+")
_NUMBER_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLIP: dict[fp.Op, fp.Op] = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "!=": "="}


# --- SQL pieces that differ by database ---------------------------------------------


class _Bytewise(FunctionElement[str]):
    """Text compared by code point: `x COLLATE "C"` on PostgreSQL, plain `x` elsewhere."""

    type = String()
    name = "bytewise"
    inherit_cache = True


@compiles(_Bytewise)
def _bytewise(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite compares bytes (UTF-8 order is code-point order); MariaDB's tables are
    # utf8mb4_nopad_bin.
    return compiler.process(element.clauses, **kw)


@compiles(_Bytewise, "postgresql")
def _bytewise_pg(element: _Bytewise, compiler: SQLCompiler, **kw: Any) -> str:
    # Short columns are already "C"; long text and parameters take the database's locale.
    # Parenthesised whole: BETWEEN's bounds may not carry a bare COLLATE.
    return f'(({compiler.process(element.clauses, **kw)}) COLLATE "C")'


class _Fold(FunctionElement[str]):
    """Unicode lowercase of text, for ILIKE."""

    type = String()
    name = "fold"
    inherit_cache = True


@compiles(_Fold)
def _fold(element: _Fold, compiler: SQLCompiler, **kw: Any) -> str:
    # MariaDB's LOWER maps all of Unicode; SQLite's `lower` is replaced by Python's on
    # connect (store/engine.py), its own knows ASCII only.
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(_Fold, "postgresql")
def _fold_pg(element: _Fold, compiler: SQLCompiler, **kw: Any) -> str:
    # Under "C", which short columns use, PostgreSQL lowercases ASCII only; the database's
    # own locale knows the rest.
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "default")'


class _Has(FunctionElement[bool]):
    """`id IN (SELECT resource_id ...)`, or on PostgreSQL `EXISTS (...) IS TRUE`.

    Measured with 20,000 models: SQLite ran 256 OR'ed correlated EXISTS in 110 s and the
    IN form in 0.3 s. PostgreSQL pulls a top-level IN or EXISTS up into a semi-join and
    then plans all of them together (100 conditions: 16 s); `IS TRUE` keeps each a
    subplan, which it probes or hashes as it likes (0.2 s). MariaDB does well either way.
    """

    type = Boolean()
    name = "has"
    inherit_cache = True
    _is_implicitly_boolean = True  # no `= 1` after it where booleans are not native

    def __init__(self, in_form: ColumnElement[bool], exists_form: ColumnElement[bool]) -> None:
        super().__init__(in_form, exists_form)


@compiles(_Has)
def _has(element: _Has, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses.clauses[0], **kw)})"


@compiles(_Has, "postgresql")
def _has_pg(element: _Has, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses.clauses[1], **kw)}) IS TRUE)"


class _HasProbe(_Has):
    """On SQLite, a correlated EXISTS for a value that many rows hold: the page's own order
    is walked and each row probed, so a page fills after a few hundred probes. The IN
    form would first collect every match (100,000 of a million versions: 40 ms)."""

    inherit_cache = True


@compiles(_HasProbe)
def _has_probe(element: _HasProbe, compiler: SQLCompiler, **kw: Any) -> str:
    return _has(element, compiler, **kw)


@compiles(_HasProbe, "sqlite")
def _has_probe_sqlite(element: _HasProbe, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses.clauses[1], **kw)})"


@compiles(_HasProbe, "postgresql")
def _has_probe_pg(element: _HasProbe, compiler: SQLCompiler, **kw: Any) -> str:
    return _has_pg(element, compiler, **kw)


class _HasJoin(_Has):
    """On PostgreSQL, a plain EXISTS, which it may plan as a semi-join driven from the
    property index (a rare value at a million versions: 5 ms, against 230 ms for the
    hashed subplan). Only for a few conditions: see _Has for what a hundred cost."""

    inherit_cache = True


@compiles(_HasJoin)
def _has_join(element: _HasJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return _has(element, compiler, **kw)


@compiles(_HasJoin, "postgresql")
def _has_join_pg(element: _HasJoin, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses.clauses[1], **kw)})"


JOINABLE_CONDITIONS = 3  # property conditions PostgreSQL may join; more keep IS TRUE
ESTIMATE_CAP = 5000  # SQLite: a condition more rows than this hold is probed, not collected
Estimate = Callable[[Select[Any]], bool]


def many_rows(session: Session, cap: int = ESTIMATE_CAP) -> Estimate:
    """Whether at least `cap` property rows match: one index range read, of `cap` entries at most.

    SQLite keeps no statistics unless told to, so the filter asks before it picks between
    collecting the matches (few) and probing the page's rows (many)."""

    def many(ids: Select[Any]) -> bool:
        return int(session.execute(_counted(ids, cap)).scalar_one()) >= cap

    return many


def _counted(ids: Select[Any], cap: int) -> Select[Any]:
    return select(func.count()).select_from(ids.limit(cap).subquery())


def _text(expr: ColumnElement[Any] | str) -> ColumnElement[str]:
    if isinstance(expr, str):
        expr = literal(expr, String)
    return _Bytewise(expr)


def _like(col: ColumnElement[Any], pattern: str, ci: bool) -> ColumnElement[bool]:
    if ci:
        return _Fold(col).like(_Fold(literal(pattern, String)), escape=LIKE_ESCAPE)
    return col.like(literal(pattern, String), escape=LIKE_ESCAPE)


def _compare(col: ColumnElement[Any], op: fp.Op, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return col == value
    if op == "!=":
        return col != value
    if op == ">":
        return col > value
    if op == ">=":
        return col >= value
    if op == "<":
        return col < value
    return col <= value


# --- literals ---------------------------------------------------------------------------


def _candidates(spec: EntitySpec, variant: str | None, name: str) -> list[tuple[str, FieldType]]:
    if name in _BASE_COLUMNS:
        return [_BASE_COLUMNS[name]]
    if spec.discriminator and name == spec.discriminator:
        return [("type", FieldType.ENUM)]
    fields: Sequence[Field]
    if variant is not None:
        v = spec.variant(variant)
        fields = (*spec.fields, *(v.fields if v else ()))
    else:
        fields = (*spec.fields, *(f for v in spec.variants for f in v.fields))
    found: dict[str, tuple[str, FieldType]] = {}
    for f in fields:
        if f.name == name and f.filterable:
            found.setdefault(f.column, (f.column, f.type))
    return list(found.values())


def _kind_of(value: fp.Value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "double"
    return "string"


def _as_int(prop: fp.Prop, value: fp.Value) -> int:
    if isinstance(value, bool):
        raise FilterError(f"{prop.name!r} holds integers; {value!r} is a boolean", prop.position)
    whole = (
        isinstance(value, int)
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and _INT_TEXT.fullmatch(value))
    )
    n = int(value) if whole else None
    if n is None or not fp.INT_MIN <= n <= fp.INT_MAX:
        raise FilterError(f"{prop.name!r} holds integers; {value!r} is not one", prop.position)
    return n


def _as_float(prop: fp.Prop, value: fp.Value) -> float:
    if isinstance(value, bool):
        raise FilterError(f"{prop.name!r} holds numbers; {value!r} is a boolean", prop.position)
    if isinstance(value, str) and not _NUMBER_TEXT.fullmatch(value):
        raise FilterError(f"{prop.name!r} holds numbers; {value!r} is not one", prop.position)
    f = float(value)
    if math.isinf(f):
        raise FilterError(f"{prop.name!r} holds numbers; {value!r} is not one", prop.position)
    return f


def _as_bool(prop: fp.Prop, value: fp.Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise FilterError(f"{prop.name!r} holds booleans; {value!r} is not one", prop.position)


def _as_str(value: fp.Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the compiler -------------------------------------------------------------------------


class _Compiler:
    def __init__(
        self, spec: EntitySpec, variant: str | None, estimate: Estimate | None = None, join: bool = False
    ) -> None:
        self.spec = spec
        self.variant = variant
        self.table = TABLES[spec.kind]
        self.estimate = estimate
        self.join = join

    def compile(self, node: fp.Node, negate: bool = False) -> ColumnElement[bool]:
        """`node`, or NOT `node` when `negate`, pushed down to the comparisons."""
        if isinstance(node, (fp.And, fp.Or)):
            items = [self.compile(n, negate) for n in node.items]
            return or_(*items) if isinstance(node, fp.And) == negate else and_(*items)
        if isinstance(node, fp.Not):
            return self.compile(node.item, not negate)
        cands = _candidates(self.spec, self.variant, node.prop.name)
        if cands:
            cond = self.on_column(node, self.pick(node, cands))
            return not_(cond) if negate else cond
        return self.on_property(node, negate)

    def pick(self, node: fp.Leaf, cands: list[tuple[str, FieldType]]) -> tuple[ColumnElement[Any], FieldType]:
        """The column a name means; by the literal's kind when variants disagree on it."""
        sample: fp.Value | None = None
        if isinstance(node, fp.Compare):
            sample = node.value
        elif isinstance(node, fp.In) and node.values:
            sample = node.values[0]
        elif isinstance(node, fp.Between):
            sample = node.low
        elif isinstance(node, fp.Like):
            sample = node.pattern
        if len(cands) > 1 and sample is not None:
            numeric = _kind_of(sample) in ("int", "double")
            for column, ftype in cands:
                if numeric == (ftype not in _STRING_TYPES):
                    return self.table.c[column], ftype
        column, ftype = cands[0]
        return self.table.c[column], ftype

    # Columns: SQL's own NULL logic already gives the rules above.

    def on_column(self, node: fp.Leaf, resolved: tuple[ColumnElement[Any], FieldType]) -> ColumnElement[bool]:
        col, ftype = resolved
        prop = node.prop
        if ftype is FieldType.STRING_LIST:
            raise FilterError(f"{prop.name!r} cannot be filtered on", prop.position)
        if isinstance(node, fp.IsNull):
            return col.is_not(None) if node.negated else col.is_(None)
        if isinstance(node, fp.Like):
            if ftype not in _STRING_TYPES:
                raise FilterError(f"LIKE needs a text property; {prop.name!r} is a number", prop.position)
            cond = _like(col, node.pattern, node.case_insensitive)
            return not_(cond) if node.negated else cond
        bytewise = ftype in _STRING_TYPES and ftype is not FieldType.STRING  # STRING columns are "C"
        if bytewise:
            col = _text(col)

        def value(v: fp.Value) -> Any:
            if ftype in _INTEGER_TYPES:
                # BIGINT: PostgreSQL would refuse 3000000000 cast to the INTEGER of `id`.
                return literal(_as_int(prop, v), BigInteger)
            if ftype is FieldType.DOUBLE:
                return literal(_as_float(prop, v), Float(53))
            return _text(_as_str(v)) if bytewise else _as_str(v)

        if isinstance(node, fp.Compare):
            return _compare(col, node.op, value(node.value))
        if isinstance(node, fp.In):
            if not node.values:
                return true() if node.negated else false()
            values = [value(v) for v in node.values]
            return col.not_in(values) if node.negated else col.in_(values)
        assert isinstance(node, fp.Between)
        cond = col.between(value(node.low), value(node.high))
        return not_(cond) if node.negated else cond

    # Custom properties: one EXISTS on the property table per condition, negated by hand.
    # A property is one row; `match` is a two-valued test of that row, so "has `p`, and
    # its value does not match" is EXISTS(row AND NOT match).

    def on_property(self, node: fp.Leaf, negate: bool) -> ColumnElement[bool]:
        prop = node.prop
        cp = custom_properties.c
        ids = select(cp.resource_id).where(cp.name == prop.name)
        row = select(literal(1)).where(cp.resource_id == self.table.c.id, cp.name == prop.name)

        def has(cond: ColumnElement[bool] | None = None, indexed: bool = False) -> ColumnElement[bool]:
            """Some property row of this entity's, named so, satisfies `cond` (`indexed`:
            an index finds the rows that do, so counting them is cheap)."""
            where = () if cond is None else (cond,)
            form: type[_Has] = _HasJoin if self.join else _Has
            if indexed and self.estimate is not None and self.estimate(ids.where(*where)):
                form = _HasProbe
            return form(
                self.table.c.id.in_(ids.where(*where)),
                exists(row.where(*where).correlate(self.table)),
            )

        suffix = prop.type_suffix
        if isinstance(node, fp.IsNull):
            column_of = {
                "string_value": cp.string_value,
                "int_value": cp.int_value,
                "double_value": cp.double_value,
                "bool_value": cp.bool_value,
            }
            cond = has(column_of[suffix].is_not(None)) if suffix else has()
            return cond if node.negated != negate else not_(cond)
        if isinstance(node, fp.Like):
            if suffix not in (None, "string_value"):
                raise FilterError(f"LIKE needs a string value; {suffix} is not one", prop.position)
            match = and_(
                cp.value_type == "string",
                cp.string_value.is_not(None),
                _like(cp.string_value, node.pattern, node.case_insensitive),
            )
            return has(not_(match) if node.negated != negate else match)
        if isinstance(node, fp.In):
            if not node.values:
                return true() if node.negated != negate else false()
            match = self._match_in(prop, node.values)
            if node.negated != negate:
                return has(not_(match))
            return has(match, indexed=True)
        if isinstance(node, fp.Between):
            low, high = node.low, node.high
            if node.negated != negate:
                return has(or_(self._match(prop, "<", low), self._match(prop, ">", high)))
            numeric = _kind_of(low) in ("int", "double")
            return has(and_(self._match(prop, ">=", low), self._match(prop, "<=", high)), indexed=numeric)
        assert isinstance(node, fp.Compare)
        op = node.op
        if op == "!=":
            op, negate = "=", not negate
        if op == "=":
            match = self._match(prop, "=", node.value)
            return has(not_(match)) if negate else has(match, indexed=True)
        numeric = _kind_of(node.value) in ("int", "double") or prop.type_suffix in (
            "int_value",
            "double_value",
        )
        return has(self._match(prop, _FLIP[op] if negate else op, node.value), indexed=numeric)

    def _match(self, prop: fp.Prop, op: fp.Op, value: fp.Value) -> ColumnElement[bool]:
        """The property row holds a value of the literal's type (or the suffix's) that
        compares; never NULL, so NOT of it is "a value that does not"."""
        cp = custom_properties.c
        kind = prop.type_suffix.removesuffix("_value") if prop.type_suffix else _kind_of(value)

        def test(col: ColumnElement[Any], v: Any) -> ColumnElement[bool]:
            return and_(col.is_not(None), _compare(col, op, v))

        if kind == "string":
            if op == "=":
                return and_(cp.value_type == "string", _string_in([_as_str(value)]))
            return and_(cp.value_type == "string", test(_text(cp.string_value), _text(_as_str(value))))
        if kind == "bool":
            return test(cp.bool_value, literal(_as_bool(prop, value), Boolean))
        if kind == "double":
            return test(cp.double_value, literal(_as_float(prop, value), Float(53)))
        n = _as_int(prop, value)
        by_int = test(cp.int_value, literal(n, BigInteger))
        if prop.type_suffix == "int_value":
            return by_int
        # An unsuffixed integer matches int values and double values alike, as upstream.
        return or_(by_int, test(cp.double_value, literal(float(n), Float(53))))

    def _match_in(self, prop: fp.Prop, values: Sequence[fp.Value]) -> ColumnElement[bool]:
        """The property row holds one of `values`: one IN list per type of literal, since
        a thousand OR'ed tests would pass SQLite's expression-depth limit of 1000."""
        cp = custom_properties.c
        by_kind: dict[str, list[fp.Value]] = {}
        for v in values:
            kind = prop.type_suffix.removesuffix("_value") if prop.type_suffix else _kind_of(v)
            by_kind.setdefault(kind, []).append(v)

        def test(col: ColumnElement[Any], vs: list[Any]) -> ColumnElement[bool]:
            return and_(col.is_not(None), col.in_(vs))

        tests: list[ColumnElement[bool]] = []
        for kind, vs in by_kind.items():
            if kind == "string":
                tests.append(and_(cp.value_type == "string", _string_in([_as_str(v) for v in vs])))
            elif kind == "bool":
                tests.append(test(cp.bool_value, [literal(_as_bool(prop, v), Boolean) for v in vs]))
            elif kind == "double":
                tests.append(test(cp.double_value, [literal(_as_float(prop, v), Float(53)) for v in vs]))
            else:
                ints = [_as_int(prop, v) for v in vs]
                tests.append(test(cp.int_value, [literal(n, BigInteger) for n in ints]))
                if prop.type_suffix != "int_value":
                    floats = [literal(float(n), Float(53)) for n in ints]
                    tests.append(test(cp.double_value, floats))
        return or_(*tests)


def _string_in(values: list[str], cp: Any = custom_properties.c) -> ColumnElement[bool]:
    """The property row's text (in `cp`) is one of `values`: looked up by its prefix
    (indexed), and compared whole only where a value is as long as the prefix kept."""
    prefixes = [v[:STRING_PREFIX] for v in values]
    by_prefix = cp.string_prefix == prefixes[0] if len(prefixes) == 1 else cp.string_prefix.in_(prefixes)
    cond = and_(cp.string_prefix.is_not(None), by_prefix)
    if any(len(v) >= STRING_PREFIX for v in values):
        whole = [_text(v) for v in values]
        cond = and_(cond, cp.string_value.is_not(None), _text(cp.string_value).in_(whole))
    return cond


def _properties_in(spec: EntitySpec, variant: str | None, node: fp.Node) -> int:
    """How many conditions of the tree are on custom properties."""
    if isinstance(node, (fp.And, fp.Or)):
        return sum(_properties_in(spec, variant, n) for n in node.items)
    if isinstance(node, fp.Not):
        return _properties_in(spec, variant, node.item)
    return 0 if _candidates(spec, variant, node.prop.name) else 1


def compile_filter(
    spec: EntitySpec,
    query: str,
    variant: str | None = None,
    *,
    dialect: str | None = None,
    estimate: Estimate | None = None,
) -> ColumnElement[bool]:
    """The SQL condition for `query` on `spec`'s table; raises FilterError or FilterSyntaxError.

    A query of nothing but spaces and comments filters nothing, as an empty one does.
    `dialect` and `estimate` (`many_rows`, on SQLite) pick the form of each condition on
    a custom property that the database plans best; the answer is the same either way.
    """
    if fp.is_blank(query):
        return true()
    return _compile_tree(spec, fp.parse(query), variant, dialect, estimate)


def _compile_tree(
    spec: EntitySpec,
    tree: fp.Node | None,
    variant: str | None,
    dialect: str | None,
    estimate: Estimate | None,
) -> ColumnElement[bool]:
    if tree is None:
        return true()
    join = dialect == "postgresql" and _properties_in(spec, variant, tree) <= JOINABLE_CONDITIONS
    return _Compiler(spec, variant, estimate if dialect == "sqlite" else None, join).compile(tree)


class TextKey(NamedTuple):
    """A custom property that every entity a filter selects holds as text, with exactly
    this value: the filter is `name = 'value' AND ...`."""

    name: str
    value: str

    def rows(self, cp: Any) -> ColumnElement[bool]:
        """Rows of the property table (`cp`, its columns) that are this key's."""
        return and_(cp.name == self.name, cp.value_type == "string", _string_in([self.value], cp))


def _key_leaf(spec: EntitySpec, variant: str | None, node: fp.Node) -> fp.Compare | None:
    """The first text equality on a custom property that the whole of `node` requires."""
    if isinstance(node, fp.And):
        return next((k for k in (_key_leaf(spec, variant, n) for n in node.items) if k is not None), None)
    if not isinstance(node, fp.Compare) or node.op != "=" or _candidates(spec, variant, node.prop.name):
        return None
    suffix = node.prop.type_suffix
    return node if (suffix.removesuffix("_value") if suffix else _kind_of(node.value)) == "string" else None


def _without(node: fp.Node, leaf: fp.Node) -> fp.Node | None:
    """`node` with the conjunct `leaf` taken out (None: nothing is left)."""
    if node is leaf:
        return None
    if not isinstance(node, fp.And):
        return node
    items = [n for n in (_without(n, leaf) for n in node.items) if n is not None]
    return None if not items else items[0] if len(items) == 1 else fp.And(tuple(items))


class Keyed(NamedTuple):
    """A filter as its text key and the condition of the rest of the query.

    Every entity the filter selects has a row of the key's in the property table, and an
    index keeps those rows in their owners' creation order: a page newest first can walk
    them and stop when full, however many entities match, where sorting the entities
    reads every match first (see Repository.page). PostgreSQL weighs that walk against
    the other plans by its statistics (a common key under a parent of few rows is better
    read from the parent's), which SQLite and MariaDB do not keep by default. SQLite is
    given it only for a filter that is the key alone, and walks it only for a page that
    nothing else narrows (`weighs_plans` False): then every row of the walk is one of
    the page's (3.3 ms against 0.1 ms for the newest 10 of 1,000 matches among a
    million versions, where the sort read them all)."""

    key: TextKey
    rest: ColumnElement[bool]
    weighs_plans: bool = True


class Filter(NamedTuple):
    """A compiled filterQuery: its condition on the entity's table, and on PostgreSQL,
    when it has a text key, that key and the rest of it."""

    condition: ColumnElement[bool]
    keyed: Keyed | None = None


class _Plan:
    """One query's compiled forms: the estimates it asks for (SQLite), its condition for
    each answer they have given so far, and its text key with the rest of it."""

    __slots__ = ("answers", "conditions", "estimates", "keyed")

    def __init__(
        self,
        estimates: list[tuple[str, tuple[Any, ...]]],
        conditions: dict[tuple[bool, ...], ColumnElement[bool]],
        keyed: Keyed | None,
    ) -> None:
        self.estimates = estimates
        self.conditions = conditions
        self.keyed = keyed
        # The estimates' last answers per database (its engine): when, and what.
        self.answers: dict[int, tuple[float, tuple[bool, ...]]] = {}


def _driver_sql(stmt: Select[Any], session: Session) -> tuple[str, tuple[Any, ...]]:
    """An estimate as SQLite's own SQL and parameters (the only database that asks for
    estimates; its parameters need no conversion): run through SQLAlchemy, compiling
    and caching it cost several times what SQLite took to count."""
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    assert compiled.positiontup is not None, "estimates are for qmark databases"
    params = compiled.params
    return compiled.string, tuple(params[name] for name in compiled.positiontup)


PLAN_CACHE_SIZE = 512
_plans: dict[tuple[str, str, str | None, str], _Plan] = {}


ESTIMATE_SECONDS = 2.0


def _estimates(plan: _Plan, conn: Any) -> tuple[bool, ...]:
    """The plan's estimates on this database, asked again when their answers are older
    than ESTIMATE_SECONDS.

    An answer only picks how a filter is planned (every form selects the same rows), so
    one a moment old is as correct as a new one; asking every time cost a filtered page
    at a million versions 0.4 ms, a tenth of it, to count 5,000 index entries."""
    if not plan.estimates:
        return ()
    now = time.monotonic()
    known = plan.answers.get(id(conn.engine))
    if known is not None and now - known[0] < ESTIMATE_SECONDS:
        return known[1]
    answers = tuple(
        int(conn.exec_driver_sql(sql, params).scalar_one()) >= ESTIMATE_CAP for sql, params in plan.estimates
    )
    plan.answers[id(conn.engine)] = (now, answers)
    return answers


def cached_filter(spec: EntitySpec, query: str, variant: str | None, *, session: Session) -> Filter:
    """`compile_filter` for this session's database, each query text parsed and compiled
    once per process.

    Kept: the condition's form for each answer of the estimates (`many_rows`), and the
    estimates' answers for a moment (`_estimates`): they depend on the data. Building
    the condition cost more than running it on a page of 100.
    """
    dialect = session.get_bind().dialect.name
    key = (spec.kind, query, variant, dialect)
    plan = _plans.get(key)
    if plan is None:
        asked: list[Select[Any]] = []

        def record(ids: Select[Any]) -> bool:
            asked.append(ids)
            return False

        tree = None if fp.is_blank(query) else fp.parse(query)
        condition = _compile_tree(spec, tree, variant, dialect, record)
        estimates = [_driver_sql(_counted(ids, ESTIMATE_CAP), session) for ids in asked]
        plan = _Plan(estimates, {(False,) * len(estimates): condition}, _keyed(spec, tree, variant, dialect))
        if len(_plans) >= PLAN_CACHE_SIZE:
            _plans.pop(next(iter(_plans), key), None)  # the oldest; a race costs a recompile
        _plans[key] = plan
    conn = session.connection()
    answers = _estimates(plan, conn)
    condition = plan.conditions.get(answers)  # type: ignore[assignment]
    if condition is None:
        given = iter(answers)
        condition = compile_filter(spec, query, variant, dialect=dialect, estimate=lambda _ids: next(given))
        plan.conditions[answers] = condition
    return Filter(condition, plan.keyed)


def _keyed(spec: EntitySpec, tree: fp.Node | None, variant: str | None, dialect: str) -> Keyed | None:
    """The parsed query as its text key and the rest of it, on PostgreSQL; on SQLite, a
    query that is its key alone (see Keyed)."""
    if dialect not in ("postgresql", "sqlite") or tree is None:
        return None
    leaf = _key_leaf(spec, variant, tree)
    if leaf is None:
        return None
    rest_tree = _without(tree, leaf)
    if dialect == "sqlite" and rest_tree is not None:
        return None
    rest = _compile_tree(spec, rest_tree, variant, dialect, None)
    return Keyed(TextKey(leaf.prop.name, _as_str(leaf.value)), rest, weighs_plans=dialect == "postgresql")


__all__ = [
    "ESTIMATE_CAP",
    "Filter",
    "FilterError",
    "Keyed",
    "TextKey",
    "cached_filter",
    "compile_filter",
    "many_rows",
]
