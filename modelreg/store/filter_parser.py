"""filterQuery: the SQL-like filter language of the Kubeflow Model Registry API, parsed.

Upstream's grammar (comparisons, LIKE, ILIKE, IN, AND, OR, parentheses, dotted and
backtick names with an optional `.string_value`-style type suffix), plus NOT, NOT IN,
NOT LIKE, IS [NOT] NULL and [NOT] BETWEEN. The parser builds a tree; `filtering.py`
compiles it to SQL with bound parameters. Nothing here knows about SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

MAX_LENGTH = 8192
MAX_DEPTH = 20  # parentheses; SQLite's parser overflows near 30 alternating AND/OR levels
MAX_IN_ITEMS = 1000
MAX_CONDITIONS = 256  # keeps the SQL within every database's expression-depth limits
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # what the databases' BIGINT columns hold

TYPE_SUFFIXES = ("string_value", "int_value", "double_value", "bool_value")
KEYWORDS = {"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL", "BETWEEN", "TRUE", "FALSE"}
COMPARISONS = ("=", "!=", "<>", ">=", "<=", ">", "<")

Value = str | int | float | bool
Op = Literal["=", "!=", ">", ">=", "<", "<="]


class FilterSyntaxError(ValueError):
    """A filterQuery that does not parse; says where (0-based character) and what."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"invalid filterQuery at position {position}: {message}")
        self.position = position


@dataclass(frozen=True)
class Prop:
    name: str
    type_suffix: str | None
    position: int


@dataclass(frozen=True)
class Compare:
    prop: Prop
    op: Op
    value: Value


@dataclass(frozen=True)
class Like:
    prop: Prop
    pattern: str
    case_insensitive: bool
    negated: bool


@dataclass(frozen=True)
class In:
    prop: Prop
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    prop: Prop
    negated: bool


@dataclass(frozen=True)
class Between:
    prop: Prop
    low: Value
    high: Value
    negated: bool


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Leaf = Compare | Like | In | IsNull | Between
Node = Leaf | And | Or | Not


@dataclass(frozen=True)
class Token:
    kind: Literal["ident", "quoted_ident", "string", "int", "float", "op", "punct", "end"]
    text: str
    value: Value | None
    position: int

    def describe(self) -> str:
        return "end of query" if self.kind == "end" else repr(self.text)


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*)
  | (?P<float>-?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?))
  | (?P<int>-?\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>>=|<=|!=|<>|=|>|<)
  | (?P<punct>[().,])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def _read_quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """Read a quoted string or backtick name starting at `start`; return it and its end."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "`":
            if i + 1 >= len(text):
                break
            nxt = text[i + 1]
            ch = _ESCAPES.get(nxt, nxt)
            step = 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            step = 1
        if ch == "\0":
            # PostgreSQL cannot store or compare text holding NUL; no value ever has one.
            raise FilterSyntaxError("NUL characters are not allowed", i)
        out.append(ch)
        i += step
    what = "name" if quote == "`" else "string"
    raise FilterSyntaxError(f"unterminated {what}: missing closing {quote}", start)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"`":
            value, end = _read_quoted(text, i, ch)
            kind: Literal["quoted_ident", "string"] = "quoted_ident" if ch == "`" else "string"
            tokens.append(Token(kind, text[i:end], value, i))
            i = end
            continue
        m = _TOKEN.match(text, i)
        if m is None:
            raise FilterSyntaxError(f"unexpected character {ch!r}", i)
        group = m.lastgroup
        raw = m.group()
        if group == "float":
            number = float(raw)
            if math.isinf(number):
                raise FilterSyntaxError(f"number {raw} is too large", i)
            tokens.append(Token("float", raw, number, i))
        elif group == "int":
            whole = int(raw)
            if not INT_MIN <= whole <= INT_MAX:
                raise FilterSyntaxError(f"integer {raw} is out of the 64-bit range", i)
            tokens.append(Token("int", raw, whole, i))
        elif group == "ident":
            tokens.append(Token("ident", raw, raw, i))
        elif group == "op":
            tokens.append(Token("op", raw, raw, i))
        elif group == "punct":
            tokens.append(Token("punct", raw, raw, i))
        i = m.end()
    tokens.append(Token("end", "", None, len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.conditions = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        t = self.tokens[self.pos]
        if t.kind != "end":
            self.pos += 1
        return t

    def is_keyword(self, word: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.upper() == word

    def accept_keyword(self, word: str) -> bool:
        if self.is_keyword(word):
            self.advance()
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.accept_keyword(word):
            raise FilterSyntaxError(f"expected {word}, found {self.tok.describe()}", self.tok.position)

    def expect_punct(self, p: str) -> None:
        if self.tok.kind == "punct" and self.tok.text == p:
            self.advance()
            return
        raise FilterSyntaxError(f"expected {p!r}, found {self.tok.describe()}", self.tok.position)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise FilterSyntaxError("the query is empty", 0)
        node = self.parse_or()
        if self.tok.kind != "end":
            raise FilterSyntaxError(
                f"expected AND, OR or end of query, found {self.tok.describe()}", self.tok.position
            )
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.accept_keyword("OR"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Node:
        items = [self.parse_not()]
        while self.accept_keyword("AND"):
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_not(self) -> Node:
        # A run of NOTs is read in a loop, not by recursion, and only its parity is kept.
        negated = False
        while self.accept_keyword("NOT"):
            negated = not negated
        node = self.parse_primary()
        return Not(node) if negated else node

    def nested(self, parse: Callable[[], Node], start: int) -> Node:
        """Parse one level deeper; `start` is where the level opens, for the error."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(f"nested more than {MAX_DEPTH} deep", start)
        node = parse()
        self.depth -= 1
        return node

    def parse_primary(self) -> Node:
        if self.tok.kind == "punct" and self.tok.text == "(":
            start = self.advance().position
            node = self.nested(self.parse_or, start)
            self.expect_punct(")")
            return node
        return self.parse_comparison()

    def parse_property(self) -> Prop:
        start = self.tok.position
        parts: list[str] = []
        quoted: list[bool] = []
        while True:
            t = self.tok
            if t.kind == "ident" and not (parts == [] and t.text.upper() in KEYWORDS):
                parts.append(t.text)
                quoted.append(False)
            elif t.kind == "quoted_ident":
                if not t.value:
                    raise FilterSyntaxError("empty name between backticks", t.position)
                parts.append(str(t.value))
                quoted.append(True)
            else:
                raise FilterSyntaxError(f"expected a property name, found {t.describe()}", t.position)
            self.advance()
            if self.tok.kind == "punct" and self.tok.text == ".":
                self.advance()
                continue
            break
        suffix = None
        if len(parts) > 1 and not quoted[-1] and parts[-1] in TYPE_SUFFIXES:
            suffix = parts.pop()
        return Prop(".".join(parts), suffix, start)

    def parse_value(self) -> Value:
        t = self.tok
        if t.kind in ("string", "int", "float"):
            self.advance()
            assert t.value is not None
            return t.value
        if t.kind == "ident" and t.text.upper() in ("TRUE", "FALSE"):
            self.advance()
            return t.text.upper() == "TRUE"
        raise FilterSyntaxError(
            f"expected a value (a quoted string, a number, true or false), found {t.describe()}",
            t.position,
        )

    def parse_comparison(self) -> Node:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterSyntaxError(f"more than {MAX_CONDITIONS} conditions", self.tok.position)
        prop = self.parse_property()
        t = self.tok
        if t.kind == "op":
            self.advance()
            op = "!=" if t.text == "<>" else t.text
            return Compare(prop, op, self.parse_value())  # type: ignore[arg-type]
        if self.accept_keyword("IS"):
            negated = self.accept_keyword("NOT")
            self.expect_keyword("NULL")
            return IsNull(prop, negated)
        negated = self.accept_keyword("NOT")
        if self.is_keyword("LIKE") or self.is_keyword("ILIKE"):
            ci = self.advance().text.upper() == "ILIKE"
            pt = self.tok
            value = self.parse_value()
            if not isinstance(value, str):
                raise FilterSyntaxError("LIKE and ILIKE take a quoted pattern", pt.position)
            if _ends_in_escape(value):
                raise FilterSyntaxError(
                    "the pattern ends in an unfinished escape: write \\\\ in the pattern for a backslash",
                    pt.position,
                )
            return Like(prop, value, ci, negated)
        if self.accept_keyword("IN"):
            self.expect_punct("(")
            values: list[Value] = []
            if not (self.tok.kind == "punct" and self.tok.text == ")"):
                values.append(self.parse_value())
                while self.tok.kind == "punct" and self.tok.text == ",":
                    self.advance()
                    if len(values) == MAX_IN_ITEMS:
                        raise FilterSyntaxError(f"IN takes at most {MAX_IN_ITEMS} values", self.tok.position)
                    values.append(self.parse_value())
            self.expect_punct(")")
            return In(prop, tuple(values), negated)
        if self.accept_keyword("BETWEEN"):
            low = self.parse_value()
            self.expect_keyword("AND")
            high = self.parse_value()
            return Between(prop, low, high, negated)
        expected = (
            "NOT LIKE, NOT ILIKE, NOT IN or NOT BETWEEN"
            if negated
            else ("an operator (=, !=, <>, <, <=, >, >=, LIKE, ILIKE, IN, IS, BETWEEN)")
        )
        raise FilterSyntaxError(
            f"expected {expected} after {prop.name!r}, found {self.tok.describe()}",
            self.tok.position,
        )


def _ends_in_escape(pattern: str) -> bool:
    """Whether the LIKE pattern ends in a lone backslash, which escapes nothing."""
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    return trailing % 2 == 1


def is_blank(text: str) -> bool:
    """Whether the query holds nothing but spaces and comments: no filter at all."""
    return len(text) <= MAX_LENGTH and tokenize(text)[0].kind == "end"


def parse(text: str) -> Node:
    """Parse a filterQuery into a tree, or raise FilterSyntaxError saying where and why."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return _Parser(text).parse()
