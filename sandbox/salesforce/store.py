"""The emulator's records, their indexes, and the one method every data write goes through.

Records are plain dicts keyed by canonical field name; a missing key is a null. Deleted
records stay in their table with ``IsDeleted = True`` (the recycle bin ``queryAll`` reads).

`Store.write` is the only way data changes. It keeps the indexes (by id, by parent id for
every lookup field, by value for external-id and unique fields, the text ones of those also
in sort order) current, records an undo entry when a transaction is open, and reports each
committed change to the listeners, which is where change notifications hook in.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.salesforce.schema import Schema

Record = dict[str, Any]
ChangeType = Literal["CREATE", "UPDATE", "DELETE"]
_MISSING = object()


@dataclass(frozen=True)
class Change:
    """One committed record change, in the terms of a Change Data Capture event header."""

    change_type: ChangeType
    sobject: str
    record_id: str
    changed_fields: tuple[str, ...]
    commit_timestamp: dt.datetime
    commit_user: str
    sequence: int


ChangeListener = Callable[[Change], None]


@dataclass
class _Undo:
    sobject: str
    record_id: str
    previous: dict[str, Any] | None  # None: the record was created


class Store:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in schema.objects}
        self.listeners: list[ChangeListener] = []
        self._by_ref: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
        self._by_value: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
        self._indexed: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # Text fields of _by_value also kept in ORDER BY order: (upper-cased, creation, id).
        self._sorted: dict[tuple[str, str], list[tuple[str, int, str]] | None] = {}
        self._created: dict[str, int] = {}  # record id -> creation number (its table position)
        for obj in schema:
            refs = tuple(f.name for f in obj.stored_fields() if f.type == "reference")
            values = tuple(
                f.name
                for f in obj.stored_fields()
                if f.type != "reference" and (f.external_id or f.unique)
            )
            self._indexed[obj.name] = (refs, values)
            for name in refs:
                self._by_ref[(obj.name, name)] = {}
            for name in values:
                self._by_value[(obj.name, name)] = {}
                if obj.fields[name].is_text and obj.fields[name].type != "picklist":
                    self._sorted[(obj.name, name)] = []
        self._undo: list[_Undo] | None = None
        self._pending: list[Change] = []
        self._sequence = 0

    # ------------------------------------------------------------------ reads

    def get(self, sobject: str, record_id: str) -> Record | None:
        """The record (deleted or not) with this 18-character id, or None."""
        return self.tables[sobject].get(record_id)

    def live(self, sobject: str, record_id: str) -> Record | None:
        record = self.tables[sobject].get(record_id)
        if record is None or record.get("IsDeleted"):
            return None
        return record

    def rows(self, sobject: str, *, include_deleted: bool = False) -> Iterator[Record]:
        for record in self.tables[sobject].values():
            if include_deleted or not record.get("IsDeleted"):
                yield record

    def children(self, sobject: str, field: str, parent_id: str) -> list[str]:
        """Ids of ``sobject`` records whose lookup ``field`` points at ``parent_id``."""
        return list(self._by_ref[(sobject, field)].get(parent_id, ()))

    def matching(self, sobject: str, field: str, value: str) -> list[str]:
        """Ids of records whose indexed ``field`` equals ``value`` (case-insensitive)."""
        return list(self._by_value[(sobject, field)].get(value.lower(), ()))

    def in_order(self, sobject: str, field: str) -> Iterator[str] | None:
        """Ids of the records whose text ``field`` is set, in the order ``ORDER BY field ASC``
        gives them (case-insensitive; ties in table order); None when it is not kept.

        The iterator reads the live order: finish with it before the next write."""
        entries = self._sorted.get((sobject, field))
        return None if entries is None else (record_id for _, _, record_id in entries)

    def is_indexed(self, sobject: str, field: str) -> str | None:
        """ "ref" or "value" when lookups on ``field`` can use an index, else None."""
        if (sobject, field) in self._by_ref:
            return "ref"
        if (sobject, field) in self._by_value:
            return "value"
        return None

    # ------------------------------------------------------------------ the write

    def write(
        self,
        change_type: ChangeType,
        sobject: str,
        record_id: str,
        values: dict[str, Any],
        *,
        timestamp: dt.datetime,
        user_id: str,
    ) -> None:
        """Create a record, or change or delete one: every data write comes through here.

        ``values`` is the whole record for CREATE and the changed fields otherwise (a None
        value clears a field); DELETE carries ``IsDeleted: True`` and the audit stamps.
        """
        table = self.tables[sobject]
        refs, indexed_values = self._indexed[sobject]
        if change_type == "CREATE":
            if record_id in table:
                raise KeyError(f"{sobject} {record_id} exists")
            record: Record = {k: v for k, v in values.items() if v is not None}
            table[record_id] = record
            self._created[record_id] = self._sequence
            self._index(sobject, record_id, record, refs, indexed_values, add=True)
            previous: dict[str, Any] | None = None
            changed = tuple(record)
        else:
            record = table[record_id]
            touched = [k for k in values if k in refs or k in indexed_values]
            if touched:
                self._index(sobject, record_id, record, refs, indexed_values, add=False)
            previous = {k: record.get(k, _MISSING) for k in values}
            for key, value in values.items():
                if value is None:
                    record.pop(key, None)
                else:
                    record[key] = value
            if touched:
                self._index(sobject, record_id, record, refs, indexed_values, add=True)
            changed = tuple(
                k for k in values if previous[k] is not _MISSING or values[k] is not None
            )
        if self._undo is not None:
            self._undo.append(_Undo(sobject, record_id, previous))
        self._sequence += 1
        change = Change(
            change_type, sobject, record_id, changed, timestamp, user_id, self._sequence
        )
        if self._undo is not None:
            self._pending.append(change)
        else:
            self._notify([change])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or, on an exception, are undone together."""
        if self._undo is not None:  # nested: part of the enclosing transaction
            yield
            return
        self._undo = []
        self._pending = []
        try:
            yield
        except BaseException:
            self._rollback(self._undo)
            self._undo = None
            self._pending = []
            raise
        pending = self._pending
        self._undo = None
        self._pending = []
        self._notify(pending)

    # ------------------------------------------------------------------ internals

    def _notify(self, changes: Iterable[Change]) -> None:
        for change in changes:
            for listener in self.listeners:
                listener(change)

    def _rollback(self, undo: list[_Undo]) -> None:
        for entry in reversed(undo):
            table = self.tables[entry.sobject]
            refs, values = self._indexed[entry.sobject]
            record = table[entry.record_id]
            self._index(entry.sobject, entry.record_id, record, refs, values, add=False)
            if entry.previous is None:
                del table[entry.record_id]
                self._created.pop(entry.record_id, None)
                continue
            for key, value in entry.previous.items():
                if value is _MISSING:
                    record.pop(key, None)
                else:
                    record[key] = value
            self._index(entry.sobject, entry.record_id, record, refs, values, add=True)

    def _index(
        self,
        sobject: str,
        record_id: str,
        record: Record,
        refs: tuple[str, ...],
        values: tuple[str, ...],
        *,
        add: bool,
    ) -> None:
        for name in refs:
            parent = record.get(name)
            if parent is not None:
                self._slot(self._by_ref[(sobject, name)], parent, record_id, add)
        for name in values:
            value = record.get(name)
            if value is not None:
                self._slot(self._by_value[(sobject, name)], str(value).lower(), record_id, add)
                if (sobject, name) in self._sorted:
                    self._order(sobject, name, value, record_id, add)

    def _order(self, sobject: str, name: str, value: Any, record_id: str, add: bool) -> None:
        entries = self._sorted[(sobject, name)]
        if entries is None:
            return
        if not isinstance(value, str):  # not text after all: stop keeping this order
            self._sorted[(sobject, name)] = None
            return
        entry = (value.upper(), self._created[record_id], record_id)
        at = bisect_left(entries, entry)
        if add:
            entries.insert(at, entry)
        elif at < len(entries) and entries[at] == entry:
            del entries[at]

    @staticmethod
    def _slot(index: dict[str, dict[str, None]], key: str, record_id: str, add: bool) -> None:
        if add:
            index.setdefault(key, {})[record_id] = None
            return
        bucket = index.get(key)
        if bucket is not None:
            bucket.pop(record_id, None)
            if not bucket:
                del index[key]
