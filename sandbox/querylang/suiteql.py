"""SuiteQL: parser and in-memory executor for the NetSuite emulator.

Grammar (keywords and identifiers case-insensitive)::

    query   := SELECT [DISTINCT] column (, column)* FROM table [[AS] alias] join*
               [WHERE cond] [ORDER BY order (, order)*]
    column  := * | alias.* | COUNT(*) [[AS] name] | COUNT(path) [[AS] name] | path [[AS] name]
    join    := [INNER | LEFT [OUTER]] JOIN table [[AS] alias] ON cond
    cond    := cond OR cond | cond AND cond | NOT cond | ( cond ) | predicate   (AND over OR)
    predicate := operand op operand | path IS [NOT] NULL | path [NOT] IN ( literal, ... )
               | path [NOT] LIKE string
    operand := path | string | number | NULL | TO_DATE(string, string)
    order   := path [ASC|DESC] [NULLS FIRST|LAST]

The executor runs a `SuiteQlQuery` over tables given as lists of dict rows with lower-case
column names, with Oracle semantics: three-valued null logic, case-sensitive text, ASC NULLS
LAST / DESC NULLS FIRST. Joins are hash joins on their equality conditions, and single-table
WHERE conjuncts are applied before joining. Every error, syntax or semantic, is a
`SuiteQlError` whose ``detail`` is worded like NetSuite's ``o:errorDetails[].detail``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
    Value,
)
from sandbox.querylang.evaluate import QueryTypeError, compile_condition, order_rows
from sandbox.querylang.lexer import LexError, Token, TokenKind, tokenize
from sandbox.querylang.soql import MAX_NESTING, row_column

DETAIL_PREFIX = "Invalid search query. Detailed unprocessed description follows. "
UNSUPPORTED = "Search error occurred: Invalid or unsupported search."
ERROR_CODE = "INVALID_PARAMETER"

RESERVED = frozenset(
    {
        "ALL", "AND", "ANY", "AS", "ASC", "BETWEEN", "BY", "CASE", "CROSS", "DESC", "DISTINCT",
        "ELSE", "END", "EXISTS", "FROM", "FULL", "GROUP", "HAVING", "IN", "INNER", "IS", "JOIN",
        "LEFT", "LIKE", "NOT", "NULL", "NULLS", "ON", "OR", "ORDER", "OUTER", "RIGHT", "SELECT",
        "THEN", "UNION", "WHEN", "WHERE",
    }
)  # fmt: skip

_STAR = FieldRef(("*",))
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


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []
        self.index = 0

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

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.EOF:
            self.index += 1
        return token

    def accept_word(self, *words: str) -> Token | None:
        return self.advance() if self.peek().is_word(*words) else None

    def expect_word(self, word: str) -> Token:
        token = self.peek()
        if not token.is_word(word):
            raise self.unexpected(token)
        return self.advance()

    def expect_punct(self, char: str) -> Token:
        token = self.peek()
        if not token.is_punct(char):
            raise self.unexpected(token)
        return self.advance()

    def is_name(self, token: Token) -> bool:
        return token.kind is TokenKind.IDENT and token.upper not in RESERVED

    def name(self) -> Token:
        token = self.peek()
        if not self.is_name(token):
            raise self.unexpected(token)
        return self.advance()

    def path(self) -> FieldRef:
        parts = [self.name().text]
        while self.peek().is_punct("."):
            self.advance()
            parts.append(self.name().text)
        return FieldRef(tuple(parts))

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
        return items[0] if len(items) == 1 else _combine(Or, items)

    def conjunction(self, depth: int) -> Condition:
        items = [self.negation(depth)]
        while self.accept_word("AND"):
            items.append(self.negation(depth))
        return items[0] if len(items) == 1 else _combine(And, items)

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
        if token.is_word("TO_DATE") and self.peek(1).is_punct("("):
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
        if token.is_word("TO_DATE") and self.peek(1).is_punct("("):
            return self.to_date()
        raise self.unexpected(token)

    def literal_list(self) -> tuple[Operand, ...]:
        self.expect_punct("(")
        values = [self.literal()]
        while self.peek().is_punct(","):
            self.advance()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def to_date(self) -> Value:
        start = self.advance()
        self.expect_punct("(")
        value = self.peek()
        if value.kind is not TokenKind.STRING:
            raise self.unexpected(value)
        self.advance()
        self.expect_punct(",")
        form = self.peek()
        if form.kind is not TokenKind.STRING:
            raise self.unexpected(form)
        self.advance()
        self.expect_punct(")")
        assert isinstance(value.value, str)
        assert isinstance(form.value, str)
        try:
            return to_date(value.value, form.value)
        except ValueError as exc:
            raise self.error(str(exc), start.pos) from None

    def order_items(self) -> tuple[OrderItem, ...]:
        items = [self.order_item()]
        while self.peek().is_punct(","):
            self.advance()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        field = self.path()
        descending = False
        direction = self.accept_word("ASC", "DESC")
        if direction is not None:
            descending = direction.upper == "DESC"
        nulls_last = None
        if self.accept_word("NULLS"):
            token = self.peek()
            if not token.is_word("FIRST", "LAST"):
                raise self.unexpected(token)
            nulls_last = self.advance().upper == "LAST"
        return OrderItem(field, descending, nulls_last)


def _op(token: Token) -> str:
    return "!=" if token.text == "<>" else token.text


def _combine(kind: type[And] | type[Or], items: list[Condition]) -> Condition:
    flat: list[Condition] = []
    for item in items:
        if isinstance(item, kind):
            flat.extend(item.items)
        else:
            flat.append(item)
    return kind(tuple(flat))


_DATE_FIELDS = (  # Oracle format element -> (strptime-free group name, digits)
    ("YYYY", "year", 4),
    ("HH24", "hour", 2),
    ("MM", "month", 2),
    ("DD", "day", 2),
    ("MI", "minute", 2),
    ("SS", "second", 2),
)
_DATE_SEPARATORS = frozenset("-/.:, T")


def to_date(value: str, form: str) -> dt.date | dt.datetime:
    """Oracle ``TO_DATE(value, form)`` for the elements YYYY MM DD HH24 MI SS.

    A date when the format has no time element, else a naive datetime. ValueError when the
    format is unsupported or the value does not match it.
    """
    pattern: list[str] = []
    seen: set[str] = set()
    upper = form.upper()
    i = 0
    while i < len(upper):
        for element, group, digits in _DATE_FIELDS:
            if upper.startswith(element, i):
                if group in seen:
                    raise ValueError(f"format code appears twice: {element}")
                seen.add(group)
                pattern.append(f"(?P<{group}>[0-9]{{1,{digits}}})")
                i += len(element)
                break
        else:
            if upper[i] not in _DATE_SEPARATORS:
                raise ValueError(f"date format not recognized: {form!r}")
            pattern.append(re.escape(upper[i]))
            i += 1
    match = re.fullmatch("".join(pattern), value.strip().upper())
    if match is None or not {"year", "month", "day"} <= seen:
        raise ValueError(f"literal does not match format string: {value!r}, {form!r}")
    parts = {name: int(number) for name, number in match.groupdict().items()}
    day = dt.date(parts["year"], parts["month"], parts["day"])
    if seen <= {"year", "month", "day"}:
        return day
    return dt.datetime(
        day.year, day.month, day.day, parts.get("hour", 0), parts.get("minute", 0),
        parts.get("second", 0),
    )  # fmt: skip


# --- executor ------------------------------------------------------------------------------

Row = Mapping[str, Any]
Combo = tuple[Row | None, ...]  # one row per table in FROM/JOIN order; None: LEFT JOIN miss


@dataclass(frozen=True, slots=True)
class _Binding:
    name: str  # alias or table name, lower-case
    table: str  # lower-case
    written: str  # the table name as the query wrote it
    rows: Sequence[Row]
    columns: tuple[str, ...] | None  # None: unknown (empty table without a schema)

    def has(self, column: str) -> bool:
        return self.columns is None or column in self.columns


def run_suiteql(
    text: str,
    tables: Mapping[str, Sequence[Row]],
    *,
    schemas: Mapping[str, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """Parse and execute ``text``; see `execute_suiteql`."""
    return execute_suiteql(parse_suiteql(text), tables, schemas=schemas)


def execute_suiteql(
    query: SuiteQlQuery,
    tables: Mapping[str, Sequence[Row]],
    *,
    schemas: Mapping[str, Iterable[str]] | None = None,
) -> list[dict[str, Any]]:
    """Run ``query`` over ``tables`` (table name, any case -> rows with lower-case columns).

    A table's columns are ``schemas[table]`` when given, else the keys of its first row; an
    empty table without a schema accepts any column. A row missing a column reads it as null.
    Output rows have lower-case keys: the alias, else the column name; ``COUNT(*)`` without an
    alias is ``expr1`` (numbered among unaliased expressions, as NetSuite names them).
    Raises `SuiteQlError` for unknown tables or columns, ambiguous columns, and values whose
    type does not fit (``QueryTypeError`` underneath).
    """
    try:
        return _Execution(query, tables, schemas or {}).run()
    except QueryTypeError as exc:
        raise SuiteQlError(UNSUPPORTED, reason=exc.message) from exc
    except RecursionError:
        raise SuiteQlError(UNSUPPORTED, reason="query too complex") from None


class _Execution:
    def __init__(
        self,
        query: SuiteQlQuery,
        tables: Mapping[str, Sequence[Row]],
        schemas: Mapping[str, Iterable[str]],
    ) -> None:
        self.query = query
        by_name = {name.lower(): rows for name, rows in tables.items()}
        schema_by_name = {
            name.lower(): tuple(column.lower() for column in columns)
            for name, columns in schemas.items()
        }
        self.bindings: list[_Binding] = []
        for ref in (query.source, *(join.table for join in query.joins)):
            table = ref.table.lower()
            rows = by_name.get(table)
            if rows is None:
                raise SuiteQlError(f"Invalid search type: {ref.table}.")
            columns = schema_by_name.get(table)
            if columns is None and rows:
                columns = tuple(rows[0].keys())
            name = (ref.alias or ref.table).lower()
            if any(binding.name == name for binding in self.bindings):
                raise SuiteQlError(
                    UNSUPPORTED, reason=f"table alias '{name}' is used twice in FROM/JOIN"
                )
            self.bindings.append(_Binding(name, table, ref.table, rows, columns))

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
            today=dt.date.today(),
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
            today=dt.date.today(),
            text_case_insensitive=False,
            sql_nulls=True,
            implicit_conversion=True,
        )

    # --- plan --------------------------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        query = self.query
        outputs = self.projection()  # resolve the select list first: unknown columns fail fast
        joined = {i + 1 for i, join in enumerate(query.joins) if join.kind == "LEFT"}
        pushed: dict[int, list[Condition]] = {}
        remaining: list[Condition] = []
        for conjunct in _conjuncts(query.where):
            owners = self.bindings_of(conjunct)
            if len(owners) == 1 and (owner := next(iter(owners))) not in joined:
                pushed.setdefault(owner, []).append(conjunct)
            else:
                remaining.append(conjunct)
        sources = [self.filtered(i, pushed.get(i, [])) for i in range(len(self.bindings))]
        combos: list[Combo] = [(row,) for row in sources[0]]
        for number, join in enumerate(query.joins, start=1):
            combos = self.join(combos, number, join, sources[number])
        if remaining:
            test = self.compile_combo(_and(remaining))
            combos = [combo for combo in combos if test(combo)]
        if any(isinstance(column.expr, CountAll) for column in query.columns):
            return [self.aggregate(combos)]
        if query.order_by:
            combos = self.ordered(combos)
        rows = [{name: get(combo) for name, get in outputs} for combo in combos]
        return _distinct(rows) if query.distinct else rows

    def filtered(self, index: int, conditions: list[Condition]) -> Sequence[Row]:
        rows = self.bindings[index].rows
        if not conditions:
            return rows
        test = self.compile_row(_and(conditions))
        return [row for row in rows if test(row)]

    def join(self, combos: list[Combo], index: int, join: Join, rows: Sequence[Row]) -> list[Combo]:
        scope = index + 1
        left_keys: list[Callable[[Combo], Any]] = []
        right_columns: list[str] = []
        right_only: list[Condition] = []
        residual: list[Condition] = []
        for conjunct in _conjuncts(join.on):
            owners = self.bindings_of(conjunct, scope)
            if isinstance(conjunct, ColumnComparison) and conjunct.op == "=":
                left_at, left_column = self.resolve(conjunct.left, scope)
                right_at, right_column = self.resolve(conjunct.right, scope)
                if left_at == index and right_at < index:
                    left_keys.append(self.combo_getter(conjunct.right, scope))
                    right_columns.append(left_column)
                    continue
                if right_at == index and left_at < index:
                    left_keys.append(self.combo_getter(conjunct.left, scope))
                    right_columns.append(right_column)
                    continue
            if owners == {index}:
                right_only.append(conjunct)
            else:
                residual.append(conjunct)
        if right_only:
            keep = self.compile_row(_and(right_only))
            rows = [row for row in rows if keep(row)]
        check = self.compile_combo(_and(residual), scope) if residual else None
        left_join = join.kind == "LEFT"
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
        for column in self.query.columns:
            expr = column.expr
            if isinstance(expr, CountAll):
                if expr.field is not None:
                    self.resolve(expr.field)
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
        return order_rows(
            combos,
            self.query.order_by,
            lambda combo, field: getters[field](combo),
            nulls_first_for_asc=False,
        )


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
