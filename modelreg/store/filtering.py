"""Compile a parsed filterQuery into a SQL condition on one entity's table.

Names resolve against the entity's declaration: its columns first, then custom
properties by bare name. Every literal becomes a bound parameter; nothing from the
query is ever pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
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
from sqlalchemy.sql.elements import ColumnElement as _CE

from modelreg.entities import EntitySpec, Field, FieldType
from modelreg.store import filter_parser as fp
from modelreg.store.schema import TABLES, custom_properties

LIKE_ESCAPE = "\\"


class FilterError(ValueError):
    """A filterQuery that parses but does not make sense for this entity."""


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
        raise FilterError(f"{prop.name!r} holds integers; {value!r} is a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise FilterError(f"{prop.name!r} holds integers; {value!r} is not one")


def _as_float(prop: fp.Prop, value: fp.Value) -> float:
    if isinstance(value, bool):
        raise FilterError(f"{prop.name!r} holds numbers; {value!r} is a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except ValueError:
        raise FilterError(f"{prop.name!r} holds numbers; {value!r} is not one") from None


def _as_bool(prop: fp.Prop, value: fp.Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise FilterError(f"{prop.name!r} holds booleans; {value!r} is not one")


def _as_str(value: fp.Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _coerce(prop: fp.Prop, ftype: FieldType, value: fp.Value) -> object:
    if ftype in _INTEGER_TYPES:
        return _as_int(prop, value)
    if ftype is FieldType.DOUBLE:
        return _as_float(prop, value)
    return _as_str(value)


def _sql_type(ftype: FieldType) -> type:
    if ftype in _INTEGER_TYPES:
        return Integer
    if ftype is FieldType.DOUBLE:
        return Float
    return String


def _like(col: ColumnElement[object], pattern: str, ci: bool) -> ColumnElement[bool]:
    if ci:
        return func.lower(col).like(func.lower(literal(pattern, String)), escape=LIKE_ESCAPE)
    return col.like(literal(pattern, String), escape=LIKE_ESCAPE)


def _compare(col: ColumnElement[object], op: fp.Op, value: object) -> ColumnElement[bool]:
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


class _Compiler:
    def __init__(self, spec: EntitySpec, variant: str | None) -> None:
        self.spec = spec
        self.variant = variant
        self.table = TABLES[spec.kind]

    def compile(self, node: fp.Node) -> ColumnElement[bool]:
        if isinstance(node, fp.And):
            return and_(*(self.compile(n) for n in node.items))
        if isinstance(node, fp.Or):
            return or_(*(self.compile(n) for n in node.items))
        if isinstance(node, fp.Not):
            return not_(self.compile(node.item))
        return self.leaf(node)

    def _column(
        self, prop: fp.Prop, sample: fp.Value | None
    ) -> tuple[ColumnElement[object], FieldType] | None:
        cands = _candidates(self.spec, self.variant, prop.name)
        if not cands:
            return None
        if len(cands) > 1 and sample is not None:
            numeric = _kind_of(sample) in ("int", "double")
            for column, ftype in cands:
                if numeric == (ftype not in _STRING_TYPES):
                    return self.table.c[column], ftype
        column, ftype = cands[0]
        return self.table.c[column], ftype

    def leaf(self, node: fp.Node) -> ColumnElement[bool]:
        prop: fp.Prop = node.prop  # type: ignore[union-attr]
        sample: fp.Value | None = None
        if isinstance(node, fp.Compare):
            sample = node.value
        elif isinstance(node, fp.In) and node.values:
            sample = node.values[0]
        elif isinstance(node, fp.Between):
            sample = node.low
        elif isinstance(node, fp.Like):
            sample = node.pattern
        resolved = self._column(prop, sample)
        if resolved is not None:
            return self.on_column(node, prop, *resolved)
        return self.on_property(node, prop)

    def on_column(
        self, node: fp.Node, prop: fp.Prop, col: ColumnElement[object], ftype: FieldType
    ) -> ColumnElement[bool]:
        if ftype is FieldType.STRING_LIST:
            raise FilterError(f"{prop.name!r} cannot be filtered on")
        if isinstance(node, fp.IsNull):
            return col.is_not(None) if node.negated else col.is_(None)
        if isinstance(node, fp.Like):
            if ftype not in _STRING_TYPES:
                raise FilterError(f"LIKE needs a text property; {prop.name!r} is a number")
            cond = _like(col, node.pattern, node.case_insensitive)
            return not_(cond) if node.negated else cond
        if isinstance(node, fp.Compare):
            return _compare(col, node.op, _coerce(prop, ftype, node.value))
        if isinstance(node, fp.In):
            if not node.values:
                return true() if node.negated else false()
            values = [_coerce(prop, ftype, v) for v in node.values]
            return col.not_in(values) if node.negated else col.in_(values)
        assert isinstance(node, fp.Between)
        cond = col.between(_coerce(prop, ftype, node.low), _coerce(prop, ftype, node.high))
        return not_(cond) if node.negated else cond

    def on_property(self, node: fp.Node, prop: fp.Prop) -> ColumnElement[bool]:
        cp = custom_properties.c
        base = [cp.resource_id == self.table.c.id, cp.name == prop.name]

        def has(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
            return exists(select(literal(1)).where(*base, *conds))

        suffix = prop.type_suffix
        if isinstance(node, fp.IsNull):
            column_of = {
                "string_value": cp.string_value,
                "int_value": cp.int_value,
                "double_value": cp.double_value,
                "bool_value": cp.bool_value,
            }
            cond = has(column_of[suffix].is_not(None)) if suffix else has()
            return cond if node.negated else not_(cond)
        if isinstance(node, fp.Like):
            if suffix not in (None, "string_value"):
                raise FilterError(f"LIKE needs a string value; {suffix} is not one")
            cond = has(cp.value_type == "string", _like(cp.string_value, node.pattern, node.case_insensitive))
            return not_(cond) if node.negated else cond
        if isinstance(node, fp.In):
            if not node.values:
                return true() if node.negated else false()
            cond = or_(*(self._typed(prop, suffix, has, lambda c, v: c == v, v) for v in node.values))
            return not_(cond) if node.negated else cond
        if isinstance(node, fp.Between):
            low, high = node.low, node.high
            cond = (
                and_(
                    self._typed(prop, suffix, has, lambda c, v: c >= v, low),
                    self._typed(prop, suffix, has, lambda c, v: c <= v, high),
                )
                if suffix is None and _kind_of(low) != _kind_of(high)
                else self._typed_between(prop, suffix, has, low, high)
            )
            return not_(cond) if node.negated else cond
        assert isinstance(node, fp.Compare)
        op = node.op
        return self._typed(prop, suffix, has, lambda c, v: _compare(c, op, v), node.value)

    def _typed_between(self, prop: fp.Prop, suffix: str | None, has, low: fp.Value, high: fp.Value):  # type: ignore[no-untyped-def]
        cp = custom_properties.c
        kind = suffix.removesuffix("_value") if suffix else _kind_of(low)
        if kind == "string":
            return has(cp.value_type == "string", cp.string_value.between(_as_str(low), _as_str(high)))
        if kind == "bool":
            return has(cp.bool_value.between(_as_bool(prop, low), _as_bool(prop, high)))
        if kind == "double":
            return has(cp.double_value.between(_as_float(prop, low), _as_float(prop, high)))
        lo, hi = _as_int(prop, low), _as_int(prop, high)
        return or_(has(cp.int_value.between(lo, hi)), has(cp.double_value.between(float(lo), float(hi))))

    def _typed(self, prop: fp.Prop, suffix: str | None, has, cmp, value: fp.Value):  # type: ignore[no-untyped-def]
        cp = custom_properties.c
        kind = suffix.removesuffix("_value") if suffix else _kind_of(value)
        if kind == "string":
            return has(cp.value_type == "string", cmp(cp.string_value, _as_str(value)))
        if kind == "bool":
            return has(cmp(cp.bool_value, literal(_as_bool(prop, value), Boolean)))
        if kind == "double":
            return has(cmp(cp.double_value, _as_float(prop, value)))
        n = _as_int(prop, value)
        if suffix == "int_value":
            return has(cmp(cp.int_value, n))
        # An unsuffixed integer matches int values and double values alike, as upstream.
        return has(or_(cmp(cp.int_value, n), cmp(cp.double_value, float(n))))


def compile_filter(spec: EntitySpec, query: str, variant: str | None = None) -> ColumnElement[bool]:
    """The SQL condition for `query` on `spec`'s table; raises FilterError or FilterSyntaxError."""
    tree = fp.parse(query)
    return _Compiler(spec, variant).compile(tree)


__all__ = ["_CE", "FilterError", "_sql_type", "compile_filter"]
