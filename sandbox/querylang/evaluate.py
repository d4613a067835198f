"""Evaluating WHERE conditions and ORDER BY clauses over rows, for both query languages.

A condition is compiled once into a closure (`compile_condition`) and then called per row;
`matches` is the one-shot form. Field access is bound at compile time through an *accessor*
(``FieldRef -> (row -> value)``), so unknown fields fail before any row is read and the
per-row cost is a few calls.

Two dialect switches, both defaulting to SOQL:

- ``sql_nulls=False`` (SOQL): null is an ordinary value. ``= null`` matches nulls (and, as
  Salesforce documents, false on a boolean field), ``!= null`` the rest; ``!= 'x'`` and
  ``NOT IN`` match a null field; ordering comparisons and LIKE never match a null.
  ``sql_nulls=True`` (SuiteQL/Oracle): three-valued logic; any comparison with null is
  unknown, only ``IS [NOT] NULL`` tests for it, and a row matches only when the whole
  condition is true.
- ``implicit_conversion=False`` (SOQL): a filter value must have the field's type, else
  `QueryTypeError` (Salesforce rejects ``CloseDate = '2024-01-31'`` and a datetime value on a
  date field). ``True`` (SuiteQL/Oracle): numeric text compares with numbers, ``'T'``/``'F'``
  with booleans, and dates with datetimes (a date is midnight UTC).

Text compares case-insensitively when ``text_case_insensitive`` (SOQL), including LIKE.
LIKE patterns use the `ast.Like` convention: ``%`` and ``_`` are wildcards, a backslash
escapes the next character. Datetimes without a zone are taken as UTC.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal, TypeVar

from sandbox.querylang.ast import (
    And,
    ColumnComparison,
    Comparison,
    Condition,
    DateLiteral,
    FieldRef,
    InList,
    IsNull,
    Like,
    Not,
    Operand,
    Or,
    OrderItem,
)
from sandbox.querylang.dates import date_literal_range

R = TypeVar("R")
Accessor = Callable[[FieldRef], Callable[[R], Any]]
Kind = Literal["text", "number", "boolean", "date", "datetime", "other"]

# A compiled condition answers True, False, or None (SQL "unknown"; never produced in SOQL mode).
_Test = Callable[[R], bool | None]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class QueryTypeError(TypeError):
    """A filter value whose type does not fit the field's value.

    ``field`` is the reference as written, ``expected`` the field's type in Salesforce's
    words (string, integer, double, boolean, date, dateTime), ``message`` reads like
    Salesforce's INVALID_QUERY_FILTER_OPERATOR text.
    """

    def __init__(self, field: FieldRef, expected: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.field_path = field.dotted
        self.expected = expected
        self.message = message


def kind_of(value: Any) -> Kind:
    """The comparison family of a non-null value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal | float):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return "other"


def salesforce_type_name(value: Any) -> str:
    kind = kind_of(value)
    if kind == "number":
        return "integer" if isinstance(value, int) else "double"
    return {"text": "string", "datetime": "dateTime"}.get(kind, kind)


def filter_type_error(field: FieldRef, value: Any) -> QueryTypeError:
    """The error for filtering ``field`` (whose value is ``value``) with a value of another type."""
    expected = salesforce_type_name(value)
    quoting = "should" if expected == "string" else "should not"
    return QueryTypeError(
        field,
        expected,
        f"value of filter criterion for field '{field.dotted}' must be of type {expected} "
        f"and {quoting} be enclosed in quotes",
    )


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _midnight(value: dt.date) -> dt.datetime:
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def _utc_date(value: dt.date) -> dt.date:
    return _utc(value).date() if isinstance(value, dt.datetime) else value


@dataclass(frozen=True, slots=True)
class _Mode:
    today: dt.date
    fold: bool  # text_case_insensitive
    sql_nulls: bool
    convert: bool  # implicit_conversion

    def key(self, kind: Kind, value: Any) -> Any:
        """The value in its family's comparable form."""
        if kind == "text":
            return value.casefold() if self.fold else value
        if kind == "datetime":
            return _utc(value)
        return value

    def literal_keys(self, value: Any) -> dict[Kind, Any]:
        """A literal's comparable forms, per field family it may be compared with."""
        kind = kind_of(value)
        keys: dict[Kind, Any] = {kind: self.key(kind, value)}
        if self.convert:
            if kind == "text":
                number = text_number(value)
                if number is not None:
                    keys["number"] = number
                if value in ("T", "F"):
                    keys["boolean"] = value == "T"
            elif kind == "date":
                keys["datetime"] = _midnight(value)
        return keys

    def row_key(self, field: FieldRef, value: Any, keys: dict[Kind, Any]) -> tuple[Any, Any]:
        """(row key, literal key) to compare ``value`` with a literal, or a type error."""
        kind = kind_of(value)
        if kind in keys:
            return self.key(kind, value), keys[kind]
        if self.convert:
            if kind == "text" and "number" in keys:
                number = text_number(value)
                if number is not None:
                    return number, keys["number"]
            if kind == "date" and "datetime" in keys:
                return _midnight(value), keys["datetime"]
        raise filter_type_error(field, value)


def text_number(text: str) -> Decimal | None:
    """The number a text stands for under implicit conversion (Oracle's TO_NUMBER), else None."""
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def compile_condition(
    condition: Condition,
    accessor: Accessor[R],
    *,
    today: dt.date,
    text_case_insensitive: bool,
    sql_nulls: bool = False,
    implicit_conversion: bool = False,
) -> Callable[[R], bool]:
    """Compile ``condition`` into ``row -> bool`` (True only when the condition holds).

    ``accessor(field)`` is called once per field reference, at compile time, and returns the
    function reading that field from a row; it may raise to reject an unknown field. The
    returned function raises `QueryTypeError` on a row whose field type does not fit.
    """
    mode = _Mode(today, text_case_insensitive, sql_nulls, implicit_conversion)
    test: _Test[R] = _compile(condition, accessor, mode)
    return lambda row: test(row) is True


def matches(
    condition: Condition,
    resolve: Callable[[FieldRef], Any],
    *,
    today: dt.date,
    text_case_insensitive: bool,
    sql_nulls: bool = False,
    implicit_conversion: bool = False,
) -> bool:
    """Whether one row, read through ``resolve(field) -> value``, satisfies ``condition``.

    For many rows compile once with `compile_condition` instead.
    """

    def accessor(field: FieldRef) -> Callable[[None], Any]:
        return lambda _row: resolve(field)

    test = compile_condition(
        condition,
        accessor,
        today=today,
        text_case_insensitive=text_case_insensitive,
        sql_nulls=sql_nulls,
        implicit_conversion=implicit_conversion,
    )
    return test(None)


def _compile(condition: Condition, accessor: Accessor[R], mode: _Mode) -> _Test[R]:
    match condition:
        case And(items):
            return _compile_junction(
                [_compile(item, accessor, mode) for item in items], decisive=False
            )
        case Or(items):
            return _compile_junction(
                [_compile(item, accessor, mode) for item in items], decisive=True
            )
        case Not(item):
            inner = _compile(item, accessor, mode)
            return lambda row: None if (result := inner(row)) is None else not result
        case Comparison(field, op, value):
            return _compile_comparison(field, op, value, accessor(field), mode)
        case InList(field, values, negated):
            return _compile_in(field, values, negated, accessor(field), mode)
        case Like(field, pattern, negated):
            return _compile_like(field, pattern, negated, accessor(field), mode)
        case IsNull(field, negated):
            get = accessor(field)
            if negated:
                return lambda row: get(row) is not None
            return lambda row: get(row) is None
        case ColumnComparison(left, op, right):
            return _compile_columns(left, op, right, accessor, mode)
    raise TypeError(f"not a condition: {condition!r}")


def _compile_junction(tests: list[_Test[R]], *, decisive: bool) -> _Test[R]:
    """AND (``decisive=False``) or OR (``decisive=True``) in three-valued logic: the first
    item that is ``decisive`` decides; otherwise unknown if any item is, else ``not decisive``.
    """

    def test(row: R) -> bool | None:
        unknown = False
        for item in tests:
            result = item(row)
            if result is decisive:
                return decisive
            if result is None:
                unknown = True
        return None if unknown else not decisive

    return test


def _null_result(op: str, mode: _Mode) -> bool | None:
    """A null field against a non-null value."""
    if mode.sql_nulls:
        return None
    return op == "!="


def _compile_comparison(
    field: FieldRef, op: str, value: Operand, get: Callable[[R], Any], mode: _Mode
) -> _Test[R]:
    if op not in _OPS:
        raise ValueError(f"unknown comparison operator {op!r}")
    if value is None:
        return _compile_null_comparison(op, get, mode)
    if isinstance(value, DateLiteral):
        return _compile_date_literal(field, op, value, get, mode)
    compare = _OPS[op]
    keys = mode.literal_keys(value)
    null_result = _null_result(op, mode)
    # A row value of exactly the literal's type compares as it is (no folding, no conversion).
    same = _plain_type(value, mode)

    def test(row: R) -> bool | None:
        current = get(row)
        if current is None:
            return null_result
        if type(current) is same:
            return compare(current, value)
        left, right = mode.row_key(field, current, keys)
        return compare(left, right)

    return test


def _plain_type(value: Any, mode: _Mode) -> type | None:
    """The type whose values are their own comparison key against ``value``, if any."""
    kind = kind_of(value)
    if kind in ("number", "date") or (kind == "text" and not mode.fold):
        return type(value)
    return None


def _compile_null_comparison(op: str, get: Callable[[R], Any], mode: _Mode) -> _Test[R]:
    if mode.sql_nulls:
        return lambda row: None
    if op == "=":
        return lambda row: (current := get(row)) is None or current is False
    if op == "!=":
        return lambda row: (current := get(row)) is not None and current is not False
    return lambda row: False


def _compile_date_literal(
    field: FieldRef, op: str, literal: DateLiteral, get: Callable[[R], Any], mode: _Mode
) -> _Test[R]:
    start, end = date_literal_range(literal, mode.today)
    inside: Callable[[dt.date], bool] = {
        "=": lambda day: start <= day < end,
        "!=": lambda day: not start <= day < end,
        "<": lambda day: day < start,
        "<=": lambda day: day < end,
        ">": lambda day: day >= end,
        ">=": lambda day: day >= start,
    }[op]
    null_result = _null_result(op, mode)

    def test(row: R) -> bool | None:
        current = get(row)
        if current is None:
            return null_result
        if not isinstance(current, dt.date):
            raise filter_type_error(field, current)
        return inside(_utc_date(current))

    return test


def _compile_in(
    field: FieldRef,
    values: tuple[Operand, ...],
    negated: bool,
    get: Callable[[R], Any],
    mode: _Mode,
) -> _Test[R]:
    families: dict[Kind, set[Any]] = {}
    ranges: list[tuple[dt.date, dt.date]] = []
    has_null = False
    for value in values:
        if value is None:
            has_null = True
        elif isinstance(value, DateLiteral):
            ranges.append(date_literal_range(value, mode.today))
        else:
            for kind, key in mode.literal_keys(value).items():
                families.setdefault(kind, set()).add(key)
    found, missing = (False, True) if negated else (True, False)
    if mode.sql_nulls:
        # x IN (..., NULL) is unknown rather than false when x is not listed.
        not_found: bool | None = None if has_null else missing
        null_field: bool | None = None
    else:
        not_found = missing
        null_field = found if has_null else missing

    # Row values of these types are their own keys and need no conversion to be looked up.
    texts = families.get("text") if not mode.fold and "number" not in families else None
    numbers = families.get("number")

    def test(row: R) -> bool | None:
        current = get(row)
        if current is None:
            return null_field
        plain = type(current)
        if plain is str and texts is not None:
            return found if current in texts else not_found
        if (plain is int or plain is Decimal) and numbers is not None:
            return found if current in numbers else not_found
        kind = kind_of(current)
        comparable = False
        candidates = families.get(kind)
        if candidates is not None:
            comparable = True
            if mode.key(kind, current) in candidates:
                return found
        if mode.convert and kind == "text" and "number" in families:
            number = text_number(current)
            if number is not None:
                comparable = True
                if number in families["number"]:
                    return found
        if mode.convert and kind == "date" and "datetime" in families:
            comparable = True
            if _midnight(current) in families["datetime"]:
                return found
        if ranges and isinstance(current, dt.date):
            comparable = True
            day = _utc_date(current)
            if any(start <= day < end for start, end in ranges):
                return found
        if not comparable and (families or ranges):
            raise filter_type_error(field, current)
        return not_found

    return test


@lru_cache(maxsize=256)
def like_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """The regular expression for a LIKE pattern in the `ast.Like` convention."""
    parts: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            parts.append(re.escape(next(chars, "\\")))
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile("".join(parts), flags)


def _compile_like(
    field: FieldRef, pattern: str, negated: bool, get: Callable[[R], Any], mode: _Mode
) -> _Test[R]:
    regex = like_regex(pattern, mode.fold)
    null_result: bool | None = None if mode.sql_nulls else negated

    def test(row: R) -> bool | None:
        current = get(row)
        if current is None:
            return null_result
        if not isinstance(current, str):
            if not (mode.convert and kind_of(current) == "number"):
                raise QueryTypeError(
                    field,
                    salesforce_type_name(current),
                    f"invalid operator on field '{field.dotted}': LIKE applies to text",
                )
            current = str(current)
        return (regex.fullmatch(current) is not None) != negated

    return test


def _compile_columns(
    left: FieldRef, op: str, right: FieldRef, accessor: Accessor[R], mode: _Mode
) -> _Test[R]:
    if op not in _OPS:
        raise ValueError(f"unknown comparison operator {op!r}")
    compare = _OPS[op]
    get_left = accessor(left)
    get_right = accessor(right)

    def test(row: R) -> bool | None:
        a = get_left(row)
        b = get_right(row)
        if a is None or b is None:
            if mode.sql_nulls:
                return None
            return (a is None and b is None) == (op == "=") if op in ("=", "!=") else False
        row_key, other = mode.row_key(left, a, mode.literal_keys(b))
        return compare(row_key, other)

    return test


# --- ORDER BY ------------------------------------------------------------------------------

_KIND_RANK: dict[Kind, int] = {
    "boolean": 0,
    "number": 1,
    "text": 2,
    "date": 3,
    "datetime": 3,
    "other": 4,
}


def sort_key(value: Any, *, text_case_insensitive: bool) -> tuple[int, Any]:
    """A key ordering non-null values: within a type naturally, across types by type.

    Text folds to upper case when case-insensitive (Salesforce's documented English-locale
    ordering); dates and datetimes share one timeline (a date is midnight UTC).
    """
    plain = type(value)
    if plain is int or plain is Decimal:
        return 1, value
    if plain is str and not text_case_insensitive:
        return 2, value
    kind = kind_of(value)
    if kind == "text":
        return 2, value.upper() if text_case_insensitive else value
    if kind == "date":
        return 3, _midnight(value)
    if kind == "datetime":
        return 3, _utc(value)
    if kind == "other":
        return 4, str(value)
    return _KIND_RANK[kind], value


def order_rows(
    rows: Iterable[R],
    order_by: Sequence[OrderItem],
    resolve_row: Callable[[R, FieldRef], Any],
    *,
    nulls_first_for_asc: bool,
    nulls_first_for_desc: bool | None = None,
    text_case_insensitive: bool = False,
) -> list[R]:
    """The rows sorted by ``order_by`` (stable: ties keep their input order).

    Null placement, unless an item says NULLS FIRST/LAST: ascending puts nulls first when
    ``nulls_first_for_asc``; descending follows ``nulls_first_for_desc``, which defaults to the
    mirror of the ascending rule (Oracle: ASC NULLS LAST, DESC NULLS FIRST). Salesforce
    documents nulls first by default in both directions: pass True for both.
    """
    result = list(rows)
    for item in reversed(order_by):
        descending = item.descending
        if item.nulls_last is not None:
            nulls_first = not item.nulls_last
        elif not descending:
            nulls_first = nulls_first_for_asc
        elif nulls_first_for_desc is None:
            nulls_first = not nulls_first_for_asc
        else:
            nulls_first = nulls_first_for_desc
        # sort(reverse=True) flips the null rank too, so pick the rank that lands at the end wanted
        null_key: tuple[int, Any] = (0 if nulls_first != descending else 2, ())
        field = item.field

        def key(row: R, field: FieldRef = field, null_key: tuple[int, Any] = null_key) -> Any:
            value = resolve_row(row, field)
            if value is None:
                return null_key
            return 1, sort_key(value, text_case_insensitive=text_case_insensitive)

        result.sort(key=key, reverse=descending)
    return result
