"""SuiteQL: parser and in-memory executor for the NetSuite emulator.

Grammar (keywords and identifiers case-insensitive)::

    query   := SELECT [DISTINCT] column (, column)* FROM table [[AS] alias] join*
               [WHERE cond] [ORDER BY order (, order)*]
    column  := * | alias.* | COUNT(*) [[AS] name] | COUNT(path) [[AS] name] | path [[AS] name]
               | TO_CHAR(path, string) [[AS] name]
    join    := [INNER | LEFT [OUTER]] JOIN table [[AS] alias] ON cond
    cond    := cond OR cond | cond AND cond | NOT cond | ( cond ) | predicate   (AND over OR)
    predicate := operand op operand | path IS [NOT] NULL | path [NOT] IN ( literal, ... )
               | path [NOT] LIKE string
    operand := path | string | number | NULL | TO_DATE(string, string)
               | TO_TIMESTAMP(string, string)
    order   := path [ASC|DESC] [NULLS FIRST|LAST]

An IN list holds at most 1,000 expressions, as in Oracle (ORA-01795). ``TO_CHAR`` renders a
date or date-time column with an Oracle format (YYYY MM DD HH24 MI SS FF1-FF9, separators and
"quoted text"), in UTC, the sandbox account's time zone; an unaliased one is named ``exprN``.
``TO_TIMESTAMP`` reads a literal with the same elements; ``TO_DATE`` with all but FF.

The executor runs a `SuiteQlQuery` over tables of dict rows with lower-case column names
(lists, or `sandbox.querylang.tables.Table` objects that may offer indexes), with Oracle
semantics: three-valued null logic, case-sensitive text, ASC NULLS LAST / DESC NULLS FIRST.
Its cost follows the rows a query touches rather than the size of the tables: single-table
WHERE conjuncts are applied to their table before joining, ``col = literal`` and
``col IN (...)`` read a table through its index when it has one, a joined table is read by
the key values it joins to, and joins are hash joins on their equality conditions. Every
error, syntax or semantic, is a `SuiteQlError` whose ``detail`` is worded like NetSuite's
``o:errorDetails[].detail``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.querylang.ast import (
    And,
    ColumnComparison,
    Comparison,
    Condition,
    CountAll,
    FieldRef,
    InList,
    IsNull,
    Join,
    Like,
    Not,
    Operand,
    Or,
    OrderItem,
    QuerySyntaxError,
    SelectColumn,
    SuiteQlQuery,
    TableRef,
    ToChar,
    Value,
)
from sandbox.querylang.evaluate import QueryTypeError, compile_condition, order_rows
from sandbox.querylang.lexer import LexError, Token, TokenKind, tokenize
from sandbox.querylang.parser import MAX_NESTING, TokenParser, combine, row_column
from sandbox.querylang.tables import Bound, RowList, Table, index_keys

DETAIL_PREFIX = "Invalid search query. Detailed unprocessed description follows. "
UNSUPPORTED = "Search error occurred: Invalid or unsupported search."
ERROR_CODE = "INVALID_PARAMETER"
MAX_IN_LIST = 1000  # Oracle refuses longer IN lists at parse time (ORA-01795)
IN_LIST_TOO_LONG = (
    "Search error occurred: ORA-01795: maximum number of expressions in a list is 1000"
)

RESERVED = frozenset(
    {
        "ALL", "AND", "ANY", "AS", "ASC", "BETWEEN", "BY", "CASE", "CROSS", "DESC", "DISTINCT",
        "ELSE", "END", "EXISTS", "FROM", "FULL", "GROUP", "HAVING", "IN", "INNER", "IS", "JOIN",
        "LEFT", "LIKE", "NOT", "NULL", "NULLS", "ON", "OR", "ORDER", "OUTER", "RIGHT", "SELECT",
        "THEN", "UNION", "WHEN", "WHERE",
    }
)  # fmt: skip

_STAR = FieldRef(("*",))
_RANGE_OPS = frozenset({"<", "<=", ">", ">="})
_MIRROR = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class SuiteQlError(ValueError):
    """A query NetSuite would answer with 400 INVALID_PARAMETER.

    ``detail`` is the full ``o:errorDetails[].detail`` text, ``error_code`` the
    ``o:errorCode``, ``reason`` a precise explanation for logs and tests (NetSuite's own
    detail is often generic), ``position`` a 0-based offset into the query when known.
    """

    def __init__(
        self, description: str, *, reason: str | None = None, position: int | None = None
    ) -> None:
        self.detail = DETAIL_PREFIX + description
        super().__init__(self.detail)
        self.error_code = ERROR_CODE
        self.reason = reason or description
        self.position = position


class SuiteQlSyntaxError(SuiteQlError, QuerySyntaxError):
    """A SuiteQL text that does not parse: both a `SuiteQlError` and a `QuerySyntaxError`."""

    def __init__(self, reason: str, position: int | None) -> None:
        SuiteQlError.__init__(self, UNSUPPORTED, reason=reason, position=position)
        self.message = reason


# --- parser --------------------------------------------------------------------------------


def parse_suiteql(text: str) -> SuiteQlQuery:
    """Parse one SuiteQL statement; raises `SuiteQlSyntaxError`."""
    try:
        return _Parser(text).parse()
    except RecursionError:  # nesting is capped, but a caller may already be deep in the stack
        raise SuiteQlSyntaxError("query too complex", None) from None


class _Parser(TokenParser):
    reserved = RESERVED

    def error(self, reason: str, position: int | None) -> SuiteQlSyntaxError:
        if position is not None:
            row, column = row_column(self.text, position)
            reason = f"{reason} at line {row}, column {column}"
        return SuiteQlSyntaxError(reason, position)

    def unexpected(self, token: Token) -> SuiteQlSyntaxError:
        if token.error is not None:
            return self.lex_error(token.error)
        if token.kind is TokenKind.EOF:
            return self.error("unexpected end of query", token.pos)
        return self.error(f"unexpected token '{token.text}'", token.pos)

    def lex_error(self, exc: LexError) -> SuiteQlSyntaxError:
        return self.error(exc.message, exc.position)

    def string(self) -> tuple[str, int]:
        """A string literal: its value and its position."""
        token = self.peek()
        if token.kind is not TokenKind.STRING:
            raise self.unexpected(token)
        self.advance()
        assert isinstance(token.value, str)
        return token.value, token.pos

    def alias(self) -> str | None:
        if self.accept_word("AS"):
            return self.name().text
        if self.is_name(self.peek()):
            return self.advance().text
        return None

    # --- statement ---------------------------------------------------------------------------

    def parse(self) -> SuiteQlQuery:
        self.tokens = tokenize(self.text, "suiteql", defer_errors=True)
        if self.peek().kind is TokenKind.EOF:
            raise self.error("empty query", None)
        self.expect_word("SELECT")
        distinct = self.accept_word("DISTINCT") is not None
        columns = self.columns()
        self.expect_word("FROM")
        source = self.table_ref()
        joins: list[Join] = []
        while True:
            kind = self.join_kind()
            if kind is None:
                break
            table = self.table_ref()
            self.expect_word("ON")
            joins.append(Join(table, self.condition(0), kind))
        where = None
        if self.accept_word("WHERE"):
            where = self.condition(0)
        order_by: tuple[OrderItem, ...] = ()
        if self.accept_word("ORDER"):
            self.expect_word("BY")
            order_by = self.order_items()
        if self.peek().kind is not TokenKind.EOF:
            raise self.unexpected(self.peek())
        return SuiteQlQuery(columns, source, tuple(joins), where, order_by, distinct)

    def columns(self) -> tuple[SelectColumn, ...]:
        columns = [self.column()]
        while self.peek().is_punct(","):
            comma = self.advance()
            if columns[0].expr == _STAR:
                raise self.unexpected(comma)  # a bare * stands alone
            start = self.peek()
            columns.append(self.column())
            if columns[-1].expr == _STAR:
                raise self.unexpected(start)
        return tuple(columns)

    def column(self) -> SelectColumn:
        token = self.peek()
        if token.is_punct("*"):
            self.advance()
            return SelectColumn(_STAR)
        if token.is_word("COUNT") and self.peek(1).is_punct("("):
            self.advance()
            self.advance()
            field = None
            if self.peek().is_punct("*"):
                self.advance()
            else:
                field = self.path()
            self.expect_punct(")")
            alias = self.alias()
            return SelectColumn(CountAll(field, alias), alias)
        if token.is_word("TO_CHAR") and self.peek(1).is_punct("("):
            self.advance()
            self.advance()
            field = self.path()
            self.expect_punct(",")
            form, at = self.string()
            self.expect_punct(")")
            try:
                date_format(form, allow_fraction=True)
            except ValueError as exc:
                raise self.error(str(exc), at) from None
            return SelectColumn(ToChar(field, form), self.alias())
        if self.is_name(token) and self.peek(1).is_punct(".") and self.peek(2).is_punct("*"):
            self.advance()
            self.advance()
            self.advance()
            return SelectColumn(FieldRef((token.text, "*")))
        field = self.path()
        return SelectColumn(field, self.alias())

    def table_ref(self) -> TableRef:
        table = self.name().text
        return TableRef(table, self.alias())

    def join_kind(self) -> str | None:
        if self.accept_word("JOIN"):
            return "INNER"
        if self.accept_word("INNER"):
            self.expect_word("JOIN")
            return "INNER"
        if self.accept_word("LEFT"):
            self.accept_word("OUTER")
            self.expect_word("JOIN")
            return "LEFT"
        return None

    # --- conditions --------------------------------------------------------------------------

    def condition(self, depth: int) -> Condition:
        items = [self.conjunction(depth)]
        while self.accept_word("OR"):
            items.append(self.conjunction(depth))
        return items[0] if len(items) == 1 else combine(Or, items)

    def conjunction(self, depth: int) -> Condition:
        items = [self.negation(depth)]
        while self.accept_word("AND"):
            items.append(self.negation(depth))
        return items[0] if len(items) == 1 else combine(And, items)

    def negation(self, depth: int) -> Condition:
        negations = 0
        while self.accept_word("NOT"):
            negations += 1
        inner = self.primary(depth)
        return Not(inner) if negations % 2 else inner

    def primary(self, depth: int) -> Condition:
        token = self.peek()
        if token.is_punct("("):
            if depth >= MAX_NESTING:
                raise self.error(
                    f"query too complex: more than {MAX_NESTING} levels of nested parentheses",
                    token.pos,
                )
            self.advance()
            inner = self.condition(depth + 1)
            self.expect_punct(")")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        start = self.peek()
        left = self.operand()
        token = self.peek()
        if not isinstance(left, FieldRef):
            if token.kind is not TokenKind.OP:
                raise self.unexpected(token)
            self.advance()
            right = self.operand()
            if not isinstance(right, FieldRef):
                raise self.error("comparing two constants is not supported", start.pos)
            return Comparison(right, _MIRROR[_op(token)], left)
        if token.kind is TokenKind.OP:
            self.advance()
            right = self.operand()
            if isinstance(right, FieldRef):
                return ColumnComparison(left, _op(token), right)
            return Comparison(left, _op(token), right)
        if self.accept_word("IS"):
            negated = self.accept_word("NOT") is not None
            self.expect_word("NULL")
            return IsNull(left, negated)
        negated = self.accept_word("NOT") is not None
        if self.accept_word("IN"):
            return InList(left, self.literal_list(), negated)
        if self.accept_word("LIKE"):
            pattern = self.peek()
            if pattern.kind is not TokenKind.STRING or pattern.pattern is None:
                raise self.unexpected(pattern)
            self.advance()
            return Like(left, pattern.pattern, negated)
        raise self.unexpected(self.peek())

    def operand(self) -> FieldRef | Operand:
        token = self.peek()
        if token.is_word("TO_DATE", "TO_TIMESTAMP") and self.peek(1).is_punct("("):
            return self.to_date()
        if token.kind is TokenKind.IDENT and not self.is_name(token):
            if token.upper == "NULL":
                self.advance()
                return None
            raise self.unexpected(token)
        if token.kind is TokenKind.IDENT:
            return self.path()
        return self.literal()

    def literal(self) -> Operand:
        token = self.peek()
        if token.kind in (TokenKind.STRING, TokenKind.NUMBER):
            self.advance()
            return token.value
        if token.is_word("NULL"):
            self.advance()
            return None
        if token.is_word("TO_DATE", "TO_TIMESTAMP") and self.peek(1).is_punct("("):
            return self.to_date()
        raise self.unexpected(token)

    def literal_list(self) -> tuple[Operand, ...]:
        opening = self.expect_punct("(")
        values = [self.literal()]
        while self.peek().is_punct(","):
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        if len(values) > MAX_IN_LIST:
            row, column = row_column(self.text, opening.pos)
            raise SuiteQlError(
                IN_LIST_TOO_LONG,
                reason=f"an IN list of {len(values)} expressions (at most {MAX_IN_LIST}) "
                f"at line {row}, column {column}",
                position=opening.pos,
            )
        return tuple(values)

    def to_date(self) -> Value:
        start = self.advance()
        self.expect_punct("(")
        value, _ = self.string()
        self.expect_punct(",")
        form, _ = self.string()
        self.expect_punct(")")
        try:
            if start.upper == "TO_TIMESTAMP":
                return to_timestamp(value, form)
            return to_date(value, form)
        except ValueError as exc:
            raise self.error(str(exc), start.pos) from None


def _op(token: Token) -> str:
    return "!=" if token.text == "<>" else token.text


_DATE_FIELDS = (  # Oracle format element -> (group name, digits); longer elements first
    ("YYYY", "year", 4),
    ("HH24", "hour", 2),
    ("MM", "month", 2),
    ("DD", "day", 2),
    ("MI", "minute", 2),
    ("SS", "second", 2),
)
_DATE_SEPARATORS = frozenset("-/.:, T")
_FRACTION = re.compile(r"FF([1-9]?)")

DateElement = tuple[str, str, int]
"""One parsed format element: (kind, text, digits); kind is a group name, "fraction" (digits
is the precision) or "text" (a separator or quoted text, kept as written)."""


def date_format(form: str, *, allow_fraction: bool) -> list[DateElement]:
    """The elements of an Oracle date format; ValueError when it uses an unsupported one."""
    elements: list[DateElement] = []
    seen: set[str] = set()
    upper = form.upper()
    i = 0
    while i < len(upper):
        if upper[i] == '"':
            end = form.find('"', i + 1)
            if end < 0:
                raise ValueError(f"date format not recognized: {form!r}")
            elements.append(("text", form[i + 1 : end], 0))
            i = end + 1
            continue
        fraction = _FRACTION.match(upper, i)
        if fraction is not None:
            if not allow_fraction or "fraction" in seen:
                raise ValueError(f"date format not recognized: {form!r}")
            seen.add("fraction")
            elements.append(("fraction", fraction.group(), int(fraction.group(1) or 6)))
            i = fraction.end()
            continue
        for element, group, digits in _DATE_FIELDS:
            if upper.startswith(element, i):
                if group in seen:
                    raise ValueError(f"format code appears twice: {element}")
                seen.add(group)
                elements.append((group, element, digits))
                i += len(element)
                break
        else:
            if upper[i] not in _DATE_SEPARATORS:
                raise ValueError(f"date format not recognized: {form!r}")
            elements.append(("text", form[i], 0))
            i += 1
    return elements


def _parse_date(value: str, form: str, *, timestamp: bool) -> dt.date | dt.datetime:
    elements = date_format(form, allow_fraction=timestamp)
    pattern: list[str] = []
    for kind, text, digits in elements:
        if kind == "text":
            pattern.append(re.escape(text.upper()))
        elif kind == "fraction":
            pattern.append(f"(?P<fraction>[0-9]{{1,{digits}}})")
        else:
            pattern.append(f"(?P<{kind}>[0-9]{{1,{digits}}})")
    seen = {kind for kind, _, _ in elements}
    match = re.fullmatch("".join(pattern), value.strip().upper())
    if match is None or not {"year", "month", "day"} <= seen:
        raise ValueError(f"literal does not match format string: {value!r}, {form!r}")
    parts = {
        name: int(number)
        for name, number in match.groupdict().items()
        if name != "fraction" and number is not None
    }
    day = dt.date(parts["year"], parts["month"], parts["day"])
    if not timestamp and seen <= {"year", "month", "day", "text"}:
        return day
    micro = int((match.groupdict().get("fraction") or "0").ljust(6, "0")[:6])
    return dt.datetime(
        day.year, day.month, day.day, parts.get("hour", 0), parts.get("minute", 0),
        parts.get("second", 0), micro,
    )  # fmt: skip


def to_date(value: str, form: str) -> dt.date | dt.datetime:
    """Oracle ``TO_DATE(value, form)`` for the elements YYYY MM DD HH24 MI SS.

    A date when the format has no time element, else a naive datetime. ValueError when the
    format is unsupported or the value does not match it.
    """
    return _parse_date(value, form, timestamp=False)


def to_timestamp(value: str, form: str) -> dt.datetime:
    """Oracle ``TO_TIMESTAMP(value, form)``: as `to_date`, fractions of a second (FF) too, and
    always a (naive, UTC) datetime."""
    result = _parse_date(value, form, timestamp=True)
    assert isinstance(result, dt.datetime)
    return result


def to_char(value: Any, form: str) -> str | None:
    """Oracle ``TO_CHAR(value, form)`` of a date or date-time, in UTC; None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        raise SuiteQlError(
            UNSUPPORTED, reason=f"TO_CHAR with a date format of a {type(value).__name__} value"
        )
    out: list[str] = []
    for kind, text, digits in date_format(form, allow_fraction=True):
        if kind == "text":
            out.append(text)
        elif kind == "fraction":
            out.append(f"{moment.microsecond:06d}".ljust(9, "0")[:digits])
        else:
            out.append(f"{getattr(moment, kind):0{digits}d}")
    return "".join(out)


# --- executor ------------------------------------------------------------------------------

Row = Mapping[str, Any]
Combo = tuple[Row | None, ...]  # one row per table in FROM/JOIN order; None: LEFT JOIN miss
Strategy = Literal["indexed", "pushdown", "naive"]
TableInput = Sequence[Row] | Table


@dataclass(frozen=True, slots=True)
class _Binding:
    name: str  # alias or table name, lower-case
    table: str  # lower-case
    written: str  # the table name as the query wrote it
    source: Table
    columns: tuple[str, ...] | None  # None: unknown (empty table without a schema)

    def has(self, column: str) -> bool:
        return self.columns is None or column in self.columns


@dataclass(slots=True)
class _JoinPlan:
    """A JOIN taken apart: equality keys to hash on, and the rest of its ON condition."""

    index: int  # the joined table's binding
    kind: str  # INNER or LEFT; a LEFT join whose misses WHERE rejects becomes INNER
    keys: list[tuple[int, str, str]]  # (left binding, left column, right column)
    right_only: list[Condition]  # ON conjuncts reading only the joined table
    residual: list[Condition]  # ON conjuncts to check on each matched pair


@dataclass(frozen=True, slots=True)
class _Access:
    """A table's candidate rows: through its index on ``column`` with ``keys``, or ``rows``
    already found (a range of the column the table is sorted by)."""

    cost: int
    column: str
    keys: frozenset[Any] = frozenset()
    rows: Sequence[Row] | None = None


def run_suiteql(
    text: str,
    tables: Mapping[str, TableInput],
    *,
    schemas: Mapping[str, Iterable[str]] | None = None,
    strategy: Strategy = "indexed",
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Parse and execute ``text``; see `execute_suiteql`."""
    return execute_suiteql(
        parse_suiteql(text), tables, schemas=schemas, strategy=strategy, today=today
    )


def execute_suiteql(
    query: SuiteQlQuery,
    tables: Mapping[str, TableInput],
    *,
    schemas: Mapping[str, Iterable[str]] | None = None,
    strategy: Strategy = "indexed",
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Run ``query`` over ``tables`` (table name, any case -> rows with lower-case columns).

    A table is a sequence of rows or a `sandbox.querylang.tables.Table`, which may offer
    indexes. A table's columns are ``schemas[table]`` when given, else the keys of its first
    row; an empty table without a schema accepts any column. A row missing a column reads it
    as null. Output rows have lower-case keys: the alias, else the column name; ``COUNT(*)``
    without an alias is ``expr1`` (numbered among unaliased expressions, as NetSuite names
    them). Raises `SuiteQlError` for unknown tables or columns, ambiguous columns, and values
    whose type does not fit (``QueryTypeError`` underneath).

    ``strategy`` picks the plan, never the answer: ``indexed`` (the default) pushes WHERE
    conjuncts down to their table, turns a LEFT JOIN whose misses WHERE rejects into an inner
    one, and reads tables through their indexes where that touches fewer rows; ``pushdown``
    pushes down without indexes or join rewrites; ``naive`` joins whole tables and filters
    afterwards, the reference the others are tested against. A type error is raised for the
    rows a plan reads, so an ill-typed filter may fail under one plan and not another.
    """
    return _execute(query, tables, schemas, strategy, None, today)[0]


def execute_suiteql_page(
    query: SuiteQlQuery,
    tables: Mapping[str, TableInput],
    *,
    offset: int,
    limit: int,
    schemas: Mapping[str, Iterable[str]] | None = None,
    strategy: Strategy = "indexed",
    today: dt.date | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of `execute_suiteql`'s answer, ``[offset : offset + limit]``, and the answer's
    total length. Only the page's rows are built (all of them under DISTINCT)."""
    if offset < 0 or limit < 0:
        raise ValueError("offset and limit must not be negative")
    return _execute(query, tables, schemas, strategy, slice(offset, offset + limit), today)


def _execute(
    query: SuiteQlQuery,
    tables: Mapping[str, TableInput],
    schemas: Mapping[str, Iterable[str]] | None,
    strategy: Strategy,
    window: slice | None,
    today: dt.date | None,
) -> tuple[list[dict[str, Any]], int]:
    try:
        return _Execution(query, tables, schemas or {}, strategy, today).run(window)
    except QueryTypeError as exc:
        raise SuiteQlError(UNSUPPORTED, reason=exc.message) from exc
    except RecursionError:
        raise SuiteQlError(UNSUPPORTED, reason="query too complex") from None


class _Execution:
    def __init__(
        self,
        query: SuiteQlQuery,
        tables: Mapping[str, TableInput],
        schemas: Mapping[str, Iterable[str]],
        strategy: Strategy,
        today: dt.date | None = None,
    ) -> None:
        self.query = query
        self.strategy = strategy
        self.today = today or dt.datetime.now(dt.UTC).date()
        by_name = {name.lower(): rows for name, rows in tables.items()}
        schema_by_name = {
            name.lower(): tuple(column.lower() for column in columns)
            for name, columns in schemas.items()
        }
        self.bindings: list[_Binding] = []
        for ref in (query.source, *(join.table for join in query.joins)):
            table = ref.table.lower()
            given = by_name.get(table)
            if given is None:
                raise SuiteQlError(f"Invalid search type: {ref.table}.")
            source = given if isinstance(given, Table) else RowList(given)
            columns = schema_by_name.get(table)
            if columns is None:
                rows = source.rows()
                if rows:
                    columns = tuple(rows[0].keys())
            name = (ref.alias or ref.table).lower()
            if any(binding.name == name for binding in self.bindings):
                raise SuiteQlError(
                    UNSUPPORTED, reason=f"table alias '{name}' is used twice in FROM/JOIN"
                )
            self.bindings.append(_Binding(name, table, ref.table, source, columns))
        self.filters: list[list[Condition]] = [[] for _ in self.bindings]
        self.plans: list[_JoinPlan] = []
        self._fetched: dict[int, Sequence[Row]] = {}
        self._own: dict[int, _Access | None] = {}

    # --- name resolution ---------------------------------------------------------------------

    def identifiers(self, scope: int) -> str:
        pairs = ", ".join(f"{b.name}={b.written}" for b in self.bindings[:scope])
        return "{" + pairs + "}"

    def resolve(self, field: FieldRef, scope: int | None = None) -> tuple[int, str]:
        """(binding index, column) for a reference visible among the first ``scope`` tables."""
        scope = len(self.bindings) if scope is None else scope
        if len(field.path) == 1:
            column = field.path[0].lower()
            visible = self.bindings[:scope]
            known = [i for i, b in enumerate(visible) if b.columns and column in b.columns]
            if not known:
                known = [i for i, b in enumerate(visible) if b.columns is None]
            if not known:
                raise self.unknown(field, scope)
            if len(known) > 1:
                raise SuiteQlError(
                    f"Search error occurred: Column '{field.dotted}' is ambiguously defined.",
                    reason=f"column '{column}' exists in "
                    + ", ".join(self.bindings[i].name for i in known),
                )
            return known[0], column
        if len(field.path) != 2:
            raise self.unknown(field, scope)
        name, column = field.path[0].lower(), field.path[1].lower()
        for i in range(scope):
            binding = self.bindings[i]
            if binding.name == name:
                if not binding.has(column):
                    raise SuiteQlError(
                        f"Search error occurred: Field '{field.path[1]}' for record "
                        f"'{binding.table}' was not found."
                    )
                return i, column
        raise self.unknown(field, scope)

    def unknown(self, field: FieldRef, scope: int) -> SuiteQlError:
        return SuiteQlError(
            f"Search error occurred: Unknown identifier '{field.dotted}'. "
            f"Available identifiers are: {self.identifiers(scope)}."
        )

    def combo_getter(self, field: FieldRef, scope: int | None = None) -> Callable[[Combo], Any]:
        index, column = self.resolve(field, scope)

        def get(combo: Combo) -> Any:
            row = combo[index]
            return None if row is None else row.get(column)

        return get

    def bindings_of(self, condition: Condition, scope: int | None = None) -> set[int]:
        return {self.resolve(field, scope)[0] for field in _fields(condition)}

    def compile_combo(
        self, condition: Condition, scope: int | None = None
    ) -> Callable[[Combo], bool]:
        return compile_condition(
            condition,
            lambda field: self.combo_getter(field, scope),
            today=self.today,
            text_case_insensitive=False,
            sql_nulls=True,
            implicit_conversion=True,
        )

    def compile_row(self, condition: Condition) -> Callable[[Row], bool]:
        """Compile a condition whose fields all belong to one table, over that table's rows."""

        def accessor(field: FieldRef) -> Callable[[Row], Any]:
            column = self.resolve(field)[1]
            return lambda row: row.get(column)

        return compile_condition(
            condition,
            accessor,
            today=self.today,
            text_case_insensitive=False,
            sql_nulls=True,
            implicit_conversion=True,
        )

    # --- plan --------------------------------------------------------------------------------

    def run(self, window: slice | None = None) -> tuple[list[dict[str, Any]], int]:
        """The answer's rows within ``window`` (all when None) and the answer's length."""
        query = self.query
        outputs = self.projection()  # resolve the select list first: unknown columns fail fast
        self.plans = [self.plan_join(number, join) for number, join in enumerate(query.joins, 1)]
        remaining = self.place_where()
        combos: list[Combo] = [(row,) for row in self.fetch(0, None)]
        for plan in self.plans:
            combos = self.join(combos, plan)
        if remaining:
            test = self.compile_combo(_and(remaining))
            combos = [combo for combo in combos if test(combo)]
        if any(isinstance(column.expr, CountAll) for column in query.columns):
            counted = [self.aggregate(combos)]
            return (counted if window is None else counted[window]), 1
        if query.order_by:
            combos = self.ordered(combos)
        if query.distinct:  # duplicates are known only once every row is built
            rows = _distinct([{name: get(combo) for name, get in outputs} for combo in combos])
            return (rows if window is None else rows[window]), len(rows)
        total = len(combos)
        if window is not None:
            combos = combos[window]
        return [{name: get(combo) for name, get in outputs} for combo in combos], total

    def plan_join(self, index: int, join: Join) -> _JoinPlan:
        scope = index + 1
        plan = _JoinPlan(index, join.kind, [], [], [])
        for conjunct in _conjuncts(join.on):
            owners = self.bindings_of(conjunct, scope)
            if isinstance(conjunct, ColumnComparison) and conjunct.op == "=":
                left_at, left_column = self.resolve(conjunct.left, scope)
                right_at, right_column = self.resolve(conjunct.right, scope)
                if left_at == index and right_at < index:
                    plan.keys.append((right_at, right_column, left_column))
                    continue
                if right_at == index and left_at < index:
                    plan.keys.append((left_at, left_column, right_column))
                    continue
            if owners == {index} and self.strategy != "naive":
                plan.right_only.append(conjunct)
            else:
                plan.residual.append(conjunct)
        self.filters[index].extend(plan.right_only)
        return plan

    def place_where(self) -> list[Condition]:
        """Push single-table WHERE conjuncts down to their table; answer the rest.

        A conjunct may filter a table's rows before joining unless the table is the right side
        of a LEFT JOIN, where it must also see the null row of a miss. A conjunct that is not
        true on that null row (``l.x = 1``, but not ``l.x IS NULL OR l.x = 1``) rejects every
        miss, so the LEFT JOIN answers as an inner one and all its conjuncts can be pushed.
        """
        conjuncts = _conjuncts(self.query.where)
        if self.strategy == "naive":
            return conjuncts
        owned = [(conjunct, self.bindings_of(conjunct)) for conjunct in conjuncts]
        kinds = {plan.index: plan for plan in self.plans}
        if self.strategy == "indexed":
            for conjunct, owners in owned:
                plan = kinds.get(next(iter(owners))) if len(owners) == 1 else None
                if plan is not None and plan.kind == "LEFT" and self.rejects_null(conjunct):
                    plan.kind = "INNER"
        remaining: list[Condition] = []
        for conjunct, owners in owned:
            owner = next(iter(owners)) if len(owners) == 1 else None
            if owner is not None and (owner == 0 or kinds[owner].kind == "INNER"):
                self.filters[owner].append(conjunct)
            else:
                remaining.append(conjunct)
        return remaining

    def rejects_null(self, conjunct: Condition) -> bool:
        """Whether a one-table conjunct is not true when all its table's columns are null."""
        try:
            return not self.compile_row(conjunct)({})
        except (QueryTypeError, SuiteQlError):
            return False

    # --- access ------------------------------------------------------------------------------

    def own_access(self, index: int) -> _Access | None:
        """The cheapest index read that a table's own filters allow, if any."""
        if index in self._own:
            return self._own[index]
        best: _Access | None = None
        if self.strategy == "indexed":
            source = self.bindings[index].source
            for conjunct in self.filters[index]:
                wanted = self.index_request(conjunct, source)
                if wanted is None:
                    continue
                column, keys = wanted
                cost = source.estimate(column, keys)
                if best is None or cost < best.cost:
                    best = _Access(cost, column, frozenset(keys))
            best = self.cheaper(best, self.range_access(index))
        self._own[index] = best
        return best

    def range_access(self, index: int) -> _Access | None:
        """The rows that ``<``, ``<=``, ``>``, ``>=`` filters on the column a table is sorted
        by allow (``c.id > 1042``), found by bisection."""
        source = self.bindings[index].source
        column = source.sorted_by()
        kind = None if column is None else source.index_kind(column)
        if column is None or kind is None:
            return None
        low: Bound | None = None
        high: Bound | None = None
        bounded = False
        for conjunct in self.filters[index]:
            if not isinstance(conjunct, Comparison) or conjunct.op not in _RANGE_OPS:
                continue
            if self.resolve(conjunct.field)[1] != column:
                continue
            keys = index_keys(kind, (conjunct.value,))
            if keys is None:
                continue
            bounded = True
            if not keys:  # a comparison with NULL is never true
                return _Access(0, column, rows=[])
            value = next(iter(keys))
            inclusive = conjunct.op.endswith("=")
            if conjunct.op.startswith(">"):
                if low is None or value > low[0] or (value == low[0] and not inclusive):
                    low = (value, inclusive)
            elif high is None or value < high[0] or (value == high[0] and not inclusive):
                high = (value, inclusive)
        if not bounded:
            return None
        rows = source.between(column, low, high)
        return None if rows is None else _Access(len(rows), column, rows=rows)

    def index_request(self, conjunct: Condition, source: Table) -> tuple[str, set[Any]] | None:
        """(column, keys) when ``conjunct`` is ``col = literal``, ``col IN (...)`` or an OR of
        those on one indexed column, and every literal maps to index keys."""
        items = conjunct.items if isinstance(conjunct, Or) else (conjunct,)
        column: str | None = None
        keys: set[Any] = set()
        for item in items:
            literals: tuple[Operand, ...]
            if isinstance(item, Comparison) and item.op == "=":
                field, literals = item.field, (item.value,)
            elif isinstance(item, InList) and not item.negated:
                field, literals = item.field, item.values
            else:
                return None
            name = self.resolve(field)[1]
            if column is not None and name != column:
                return None
            column = name
            kind = source.index_kind(name)
            if kind is None:
                return None
            found = index_keys(kind, literals)
            if found is None:
                return None
            keys |= found
        return None if column is None else (column, keys)

    def fetch(self, index: int, combos: list[Combo] | None) -> Sequence[Row]:
        """The rows of table ``index`` that pass its filters, read the cheapest known way.

        Besides its own index reads, a joined table can be read by the key values of the
        rows it joins to (``combos``), and any table by the key values of a selective table
        it is inner-joined to later (a semi-join): rows outside those keys cannot appear in
        the answer. Whatever the read, every filter is then checked on every row read.
        """
        fetched = self._fetched.get(index)
        if fetched is not None:
            return fetched
        binding = self.bindings[index]
        source = binding.source
        best = self.own_access(index)
        if self.strategy == "indexed":
            best = self.cheaper(best, self.by_join_keys(index, combos))
            best = self.cheaper(best, self.by_later_join(index, best))
        if best is not None and best.rows is not None:
            rows: Sequence[Row] = best.rows
        elif best is not None and best.cost < len(source):
            rows = source.lookup(best.column, best.keys)
        else:
            rows = source.rows()
        conditions = self.filters[index]
        if conditions:
            test = self.compile_row(_and(conditions))
            rows = [row for row in rows if test(row)]
        self._fetched[index] = rows
        return rows

    @staticmethod
    def cheaper(current: _Access | None, other: _Access | None) -> _Access | None:
        if other is None:
            return current
        if current is None or other.cost < current.cost:
            return other
        return current

    def by_join_keys(self, index: int, combos: list[Combo] | None) -> _Access | None:
        """Read a joined table by the key values of the rows it joins to."""
        if combos is None or index == 0:
            return None
        plan = self.plans[index - 1]
        source = self.bindings[index].source
        best: _Access | None = None
        for left_at, left_column, right_column in plan.keys:
            if source.index_kind(right_column) is None:
                continue
            values = {
                value
                for combo in combos
                if (row := combo[left_at]) is not None
                and (value := row.get(left_column)) is not None
            }
            cost = source.estimate(right_column, values) + len(values)
            best = self.cheaper(best, _Access(cost, right_column, frozenset(values)))
        return best

    def by_later_join(self, index: int, current: _Access | None) -> _Access | None:
        """Read a table by the keys of a later, selective table it is inner-joined to."""
        if index != 0 and self.plans[index - 1].kind != "INNER":
            return None
        source = self.bindings[index].source
        bound = len(source) if current is None else min(current.cost, len(source))
        best: _Access | None = None
        for plan in self.plans[index:]:
            if plan.kind != "INNER":
                continue
            for left_at, left_column, right_column in plan.keys:
                if left_at != index or source.index_kind(left_column) is None:
                    continue
                theirs = self.own_access(plan.index)
                if theirs is None or theirs.cost >= bound:
                    continue
                values = {
                    value
                    for row in self.fetch(plan.index, None)
                    if (value := row.get(right_column)) is not None
                }
                cost = source.estimate(left_column, values) + len(values)
                best = self.cheaper(best, _Access(cost, left_column, frozenset(values)))
        return best

    # --- joins -------------------------------------------------------------------------------

    def join(self, combos: list[Combo], plan: _JoinPlan) -> list[Combo]:
        index = plan.index
        rows = self.fetch(index, combos)
        scope = index + 1
        left_keys = [_getter(left_at, column) for left_at, column, _ in plan.keys]
        right_columns = [column for _, _, column in plan.keys]
        check = self.compile_combo(_and(plan.residual), scope) if plan.residual else None
        left_join = plan.kind == "LEFT"
        result: list[Combo] = []
        if left_keys:
            table: dict[tuple[Any, ...], list[Row]] = {}
            for row in rows:
                key = tuple(row.get(column) for column in right_columns)
                if None not in key:
                    table.setdefault(key, []).append(row)
            for combo in combos:
                key = tuple(get(combo) for get in left_keys)
                matched = False
                for row in table.get(key, ()) if None not in key else ():
                    candidate = (*combo, row)
                    if check is None or check(candidate):
                        result.append(candidate)
                        matched = True
                if left_join and not matched:
                    result.append((*combo, None))
            return result
        for combo in combos:  # no equality to hash on: nested loop
            matched = False
            for row in rows:
                candidate = (*combo, row)
                if check is None or check(candidate):
                    result.append(candidate)
                    matched = True
            if left_join and not matched:
                result.append((*combo, None))
        return result

    # --- output ------------------------------------------------------------------------------

    def projection(self) -> list[tuple[str, Callable[[Combo], Any]]]:
        outputs: list[tuple[str, Callable[[Combo], Any]]] = []
        unnamed = 0
        for column in self.query.columns:
            expr = column.expr
            if isinstance(expr, CountAll):
                if expr.field is not None:
                    self.resolve(expr.field)
                continue
            if isinstance(expr, ToChar):
                unnamed += column.alias is None
                name = column.alias.lower() if column.alias else f"expr{unnamed}"
                outputs.append((name, _formatted(self.combo_getter(expr.field), expr.form)))
                continue
            if expr.path[-1] == "*":
                outputs.extend(self.star(expr))
                continue
            name = (column.alias or expr.path[-1]).lower()
            outputs.append((name, self.combo_getter(expr)))
        has_count = any(isinstance(column.expr, CountAll) for column in self.query.columns)
        if has_count and outputs:
            raise SuiteQlError(
                UNSUPPORTED, reason="COUNT mixed with plain columns needs GROUP BY (unsupported)"
            )
        return outputs

    def star(self, expr: FieldRef) -> list[tuple[str, Callable[[Combo], Any]]]:
        if len(expr.path) == 1:
            indexes = list(range(len(self.bindings)))
        else:
            name = expr.path[0].lower()
            indexes = [i for i, binding in enumerate(self.bindings) if binding.name == name]
            if not indexes:
                raise self.unknown(expr, len(self.bindings))
        outputs: list[tuple[str, Callable[[Combo], Any]]] = []
        for index in indexes:
            for column in self.bindings[index].columns or ():
                outputs.append((column.lower(), _getter(index, column)))
        return outputs

    def aggregate(self, combos: list[Combo]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        unnamed = 0
        for column in self.query.columns:
            expr = column.expr
            assert isinstance(expr, CountAll)
            alias = column.alias or expr.alias
            if alias is None:
                unnamed += 1
                name = f"expr{unnamed}"
            else:
                name = alias.lower()
            if expr.field is None:
                result[name] = len(combos)
            else:
                get = self.combo_getter(expr.field)
                result[name] = sum(1 for combo in combos if get(combo) is not None)
        return result

    def ordered(self, combos: list[Combo]) -> list[Combo]:
        aliases = {
            column.alias.lower(): column.expr
            for column in self.query.columns
            if column.alias and isinstance(column.expr, FieldRef)
        }
        getters: dict[FieldRef, Callable[[Combo], Any]] = {}
        for item in self.query.order_by:
            target = item.field
            if len(target.path) == 1 and target.path[0].lower() in aliases:
                target = aliases[target.path[0].lower()]
            getters[item.field] = self.combo_getter(target)
        if self.strategy == "indexed" and len(self.query.order_by) == 1:
            item = self.query.order_by[0]
            at, column = self.resolve(aliases.get(item.field.dotted.lower(), item.field))
            if at == 0 and not item.descending and self.bindings[0].source.sorted_by() == column:
                return combos  # already in that order: the first table's rows come in table order
        return order_rows(
            combos,
            self.query.order_by,
            lambda combo, field: getters[field](combo),
            nulls_first_for_asc=False,
        )


def _formatted(get: Callable[[Combo], Any], form: str) -> Callable[[Combo], Any]:
    return lambda combo: to_char(get(combo), form)


def _getter(index: int, column: str) -> Callable[[Combo], Any]:
    def get(combo: Combo) -> Any:
        row = combo[index]
        return None if row is None else row.get(column)

    return get


def _conjuncts(condition: Condition | None) -> list[Condition]:
    if condition is None:
        return []
    if isinstance(condition, And):
        return list(condition.items)
    return [condition]


def _and(conditions: list[Condition]) -> Condition:
    return conditions[0] if len(conditions) == 1 else And(tuple(conditions))


def _fields(condition: Condition) -> list[FieldRef]:
    """Every field a condition reads, without recursion (conditions can be wide)."""
    found: list[FieldRef] = []
    stack: list[Condition] = [condition]
    while stack:
        item = stack.pop()
        match item:
            case And(items) | Or(items):
                stack.extend(items)
            case Not(inner):
                stack.append(inner)
            case ColumnComparison(left, _, right):
                found.extend((left, right))
            case Comparison(field) | InList(field) | Like(field) | IsNull(field):
                found.append(field)
    return found


def _distinct(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[Any] = set()
    unique: list[dict[str, Any]] = []
    for row in rows:
        try:
            key: Any = tuple(row.values())
            hash(key)
        except TypeError:
            key = repr(tuple(row.values()))
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique
