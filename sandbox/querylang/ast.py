"""Abstract syntax shared by the SOQL and SuiteQL parsers.

Conditions are the same tree in both languages; a `FieldRef` is a dotted path whose meaning
(a relationship in SOQL, a table alias in SuiteQL) the emulator decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

Value = str | int | Decimal | bool | None | dt.date | dt.datetime


class QuerySyntaxError(ValueError):
    """The query text is not in the language. ``position`` is a 0-based character offset."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class FieldRef:
    """``Name``, ``Account.Name``, ``t.entity``: the path as written (case preserved)."""

    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class DateLiteral:
    """A SOQL relative date literal such as ``TODAY``, ``LAST_N_DAYS:30``."""

    name: str  # upper-cased, e.g. "LAST_N_DAYS"
    n: int | None = None


Operand = Value | DateLiteral


@dataclass(frozen=True)
class Comparison:
    """``field op value`` with op one of = != <> < <= > >=  (<> is normalised to !=)."""

    field: FieldRef
    op: str
    value: Operand


@dataclass(frozen=True)
class InList:
    field: FieldRef
    values: tuple[Operand, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    """``field [NOT] LIKE pattern``. In ``pattern`` ``%`` and ``_`` are wildcards and a
    backslash makes the next character literal (SOQL's ``\\%``; SuiteQL's backslash arrives
    doubled, since Oracle's LIKE treats it as an ordinary character)."""

    field: FieldRef
    pattern: str
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    """SuiteQL's ``IS [NOT] NULL``; SOQL writes ``= null`` and gets a `Comparison`."""

    field: FieldRef
    negated: bool = False


@dataclass(frozen=True)
class ColumnComparison:
    """``a.x = b.y``: a comparison of two columns, as in a SuiteQL join condition."""

    left: FieldRef
    op: str
    right: FieldRef


@dataclass(frozen=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    item: Condition


Condition = Comparison | InList | Like | IsNull | ColumnComparison | And | Or | Not


@dataclass(frozen=True)
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_last: bool | None = None  # None: the language's default for the direction


@dataclass(frozen=True)
class CountAll:
    """SOQL ``COUNT()`` (answers totalSize only) or ``COUNT(field)``; SuiteQL ``COUNT(*)``."""

    field: FieldRef | None = None
    alias: str | None = None


@dataclass(frozen=True)
class SoqlQuery:
    fields: tuple[FieldRef | CountAll, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class ToChar:
    """SuiteQL ``TO_CHAR(path, 'format')``: a date or date-time column rendered as text."""

    field: FieldRef
    form: str


@dataclass(frozen=True)
class SelectColumn:
    """A SuiteQL select-list entry: a column (``t.id``), ``*``/``t.*``, COUNT(*) or TO_CHAR."""

    expr: FieldRef | CountAll | ToChar
    alias: str | None = None


@dataclass(frozen=True)
class TableRef:
    table: str
    alias: str | None = None

    @property
    def name(self) -> str:
        return self.alias or self.table


@dataclass(frozen=True)
class Join:
    table: TableRef
    on: Condition
    kind: str = "INNER"  # INNER or LEFT


@dataclass(frozen=True)
class SuiteQlQuery:
    columns: tuple[SelectColumn, ...]
    source: TableRef
    joins: tuple[Join, ...] = ()
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    distinct: bool = False
