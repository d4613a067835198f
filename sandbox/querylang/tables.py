"""Tables as the SuiteQL executor reads them: every row in table order, and optional indexes.

A `Table` always answers `Table.rows`, a scan in its fixed table order. A table may also
offer an equality index on some columns (`Table.index_kind`): `Table.lookup` then returns
the rows whose column value is one of some keys, *in table order*, so that a query answered
through an index returns the same rows in the same order as one answered by a scan. A table
sorted by a numeric column (`Table.sorted_by`, such as an id that is also the record key)
also answers ranges of it (`Table.between`).

An index has a kind, the comparison family of every non-null value in its column: ``number``
(int or Decimal, never bool) or ``text`` (str). The kind is what lets the executor turn a
query literal into index keys under Oracle's implicit conversion (`index_keys`): ``'1002'``
finds the number 1002, while a literal that would need a conversion an index cannot mirror
(a number against a text column, where ``'0042'`` equals 42) gets no keys and the executor
scans. `ColumnIndex` checks every value it is given and stops offering itself when a value
does not fit its kind, so a table can never answer differently through an index.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

from sandbox.querylang.evaluate import text_number

Row = Mapping[str, Any]
IndexKind = Literal["number", "text"]
Bound = tuple[Any, bool]  # (value, inclusive)


def fits(kind: IndexKind, value: Any) -> bool:
    """Whether a non-null ``value`` belongs in an index of ``kind``."""
    if kind == "text":
        return isinstance(value, str)
    if isinstance(value, bool):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()
    return isinstance(value, int)


def index_keys(kind: IndexKind, literals: Iterable[Any]) -> set[Hashable] | None:
    """The index keys that ``col = literal`` / ``col IN (literals)`` can match, or None.

    None means the index cannot answer exactly and the table must be scanned: a literal of
    another family (a date, a bool, a number against text), or a text that is not a number
    against a number column (the scan raises Oracle's type error for it). Null literals match
    nothing under SQL nulls and contribute no key. Numbers key by value: ``Decimal('7')`` and
    ``7`` are the same dictionary key.
    """
    keys: set[Hashable] = set()
    for literal in literals:
        if literal is None:
            continue
        if kind == "text":
            if not isinstance(literal, str):
                return None
            keys.add(literal)
            continue
        if isinstance(literal, str):
            number = text_number(literal)
            if number is None:
                return None
            keys.add(number)
        elif fits("number", literal):
            keys.add(literal)
        else:
            return None
    return keys


class Table(ABC):
    """One table of rows with lower-case column names."""

    @abstractmethod
    def rows(self) -> Sequence[Row]:
        """Every row, in table order."""

    def __len__(self) -> int:
        return len(self.rows())

    def index_kind(self, column: str) -> IndexKind | None:
        """The kind of the equality index on ``column``, or None when it has none."""
        return None

    def sorted_by(self) -> str | None:
        """A column whose values are never null and strictly ascend in table order, if any."""
        return None

    def estimate(self, column: str, keys: Collection[Hashable]) -> int:
        """About how many rows `lookup` would return (cheap; exactness not promised)."""
        return len(self)

    def lookup(self, column: str, keys: Collection[Hashable]) -> list[Row]:
        """The rows whose ``column`` value is one of ``keys``, in table order."""
        wanted = set(keys)
        return [row for row in self.rows() if row.get(column) in wanted]

    def between(self, column: str, low: Bound | None, high: Bound | None) -> Sequence[Row] | None:
        """The rows whose ``column`` value lies within the bounds, in table order, when the
        table is sorted by ``column`` (`sorted_by`); else None. Bounds are index keys."""
        if column != self.sorted_by():
            return None
        rows = self.rows()

        def key(row: Row) -> Any:
            return row[column]

        start, end = 0, len(rows)
        if low is not None:
            value, inclusive = low
            bisect = bisect_left if inclusive else bisect_right
            start = bisect(rows, value, key=key)
        if high is not None:
            value, inclusive = high
            bisect = bisect_right if inclusive else bisect_left
            end = bisect(rows, value, key=key)
        return rows[start:end] if start < end else []


class RowList(Table):
    """A plain sequence of rows, without indexes."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows

    def rows(self) -> Sequence[Row]:
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)


class ColumnIndex:
    """Value -> owners (row positions or record ids) for one column of one kind.

    `add` and `remove` keep it in step with its table; a value outside the kind marks the
    index unusable (`usable` False) for good, and its table then offers no index.
    """

    def __init__(self, kind: IndexKind) -> None:
        self.kind: IndexKind = kind
        self.usable = True
        self._owners: dict[Hashable, set[int]] = {}

    def add(self, value: Any, owner: int) -> None:
        if value is None or not self.usable:
            return
        if not fits(self.kind, value):
            self.usable = False
            self._owners.clear()
            return
        owners = self._owners.get(value)
        if owners is None:
            self._owners[value] = {owner}
        else:
            owners.add(owner)

    def remove(self, value: Any, owner: int) -> None:
        """Forget ``owner`` under ``value`` (all of the owner's rows are being replaced)."""
        if value is None or not self.usable:
            return
        owners = self._owners.get(value)
        if owners is not None:
            owners.discard(owner)
            if not owners:
                del self._owners[value]

    def owners(self, keys: Iterable[Hashable]) -> set[int]:
        found: set[int] = set()
        for key in keys:
            owners = self._owners.get(key)
            if owners:
                found |= owners
        return found

    def count(self, keys: Iterable[Hashable]) -> int:
        return sum(len(self._owners.get(key, ())) for key in keys)


def lazy_index(
    indexes: dict[str, ColumnIndex],
    kinds: Mapping[str, IndexKind],
    column: str,
    owned_rows: Callable[[], Iterable[tuple[int, Row]]],
) -> ColumnIndex | None:
    """A table's index on ``column``: built from its (owner, row) pairs on first use and kept
    in ``indexes``; None where ``kinds`` indexes no such column or a value did not fit."""
    index = indexes.get(column)
    if index is None:
        kind = kinds.get(column)
        if kind is None:
            return None
        index = indexes[column] = ColumnIndex(kind)
        for owner, row in owned_rows():
            index.add(row.get(column), owner)
    return index if index.usable else None


class IndexedRows(Table):
    """A fixed sequence of rows with equality indexes, built on first use, on some columns."""

    def __init__(self, rows: Sequence[Row], indexed: Mapping[str, IndexKind]) -> None:
        self._rows = rows
        self._kinds = dict(indexed)
        self._indexes: dict[str, ColumnIndex] = {}

    def rows(self) -> Sequence[Row]:
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def _index(self, column: str) -> ColumnIndex | None:
        return lazy_index(self._indexes, self._kinds, column, lambda: enumerate(self._rows))

    def index_kind(self, column: str) -> IndexKind | None:
        index = self._index(column)
        return None if index is None else index.kind

    def estimate(self, column: str, keys: Collection[Hashable]) -> int:
        index = self._index(column)
        return len(self._rows) if index is None else index.count(keys)

    def lookup(self, column: str, keys: Collection[Hashable]) -> list[Row]:
        index = self._index(column)
        if index is None:
            return super().lookup(column, keys)
        return [self._rows[position] for position in sorted(index.owners(keys))]
