"""Tryton's change feed: scans on ``write_date``, as canonical changes. Tryton has no
webhooks, so scans are the whole feed (``webhooks`` is False).

Tryton stamps every record with ``create_date`` and, once written, ``write_date`` (its own
clock, UTC, microseconds). A scan reads the records of one model whose last stamp
(``write_date``, else ``create_date``) is at or after the watermark's second, and reports each
under its Accord id (`sources.tryton.documents`) at that stamp cut to the whole second, oldest
first, ties in id order. A record that became what Accord reports at or after the watermark
is a ``create`` (a sale or customer: its creation; an invoice or payment: the posting that
made its move), any other an ``update``:

==============================  ==========================  ====================
model                           reported as                 canonical kind
==============================  ==========================  ====================
``party.party``                 the party id                ``CUSTOMER``
``sale.sale``                   ``S<id>``                   ``ORDER``
``account.invoice`` (``out``)   ``I<id>``                   ``INVOICE``
``account.statement.line``      ``P<move>``, once posted    ``PAYMENT``
==============================  ==========================  ====================

A credit limit lives in rows of its own that Tryton does not expose over RPC; they are written
through their party (a party ``write``), which stamps the party, so the party scan finds a
changed limit. Deleted records are not seen (Tryton keeps no trace of them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sources.changes import (
    EPOCH,
    ChangeScan,
    ChangeType,
    Notification,
    RecordChange,
    RecordKind,
    Watermark,
    newest_known,
)
from sources.tryton.errors import SOURCE
from sources.tryton.rpc import TrytonRpc

__all__ = ["TrytonScan", "change_scans"]

_ALL = {"active_test": False}


@dataclass(frozen=True)
class _Table:
    name: str  # the scan's name: keys its durable watermark
    model: str
    kind: RecordKind
    domain: list[Any]
    fields: list[str]
    record_id: Callable[[dict[str, Any]], str | None]
    born: str = "create_date"  # when the record became what Accord reports (its field)


def _stamp(row: dict[str, Any]) -> dt.datetime:
    moment: dt.datetime = row.get("write_date") or row["create_date"]
    return moment.astimezone(dt.UTC).replace(microsecond=0)


class TrytonScan:
    """The records of one Tryton model changed since a watermark."""

    def __init__(self, rpc: TrytonRpc, table: _Table) -> None:
        self.rpc = rpc
        self.table = table
        self.name = table.name

    def present(self) -> dt.datetime | None:
        return self.rpc.clock.now()

    async def _rows(self, domain: list[Any], **kwargs: Any) -> list[dict[str, Any]]:
        return await self.rpc.search_read(
            self.table.model,
            [*self.table.domain, *domain],
            ["create_date", "write_date", *self.table.fields],
            context=_ALL,
            **kwargs,
        )

    async def start(self) -> Watermark:
        newest = [
            row
            for field in ("write_date", "create_date")
            for row in await self._rows(
                [[field, "!=", None]], limit=1, order=[(field, "DESC"), ("id", "DESC")]
            )
        ]
        if not newest:
            return EPOCH
        return newest_known(await self.since(Watermark(max(map(_stamp, newest)))))

    async def since(self, mark: Watermark) -> list[RecordChange]:
        at = mark.at.astimezone(dt.UTC).replace(microsecond=0)
        rows = await self._rows(
            [
                [
                    "OR",
                    ["write_date", ">=", at],
                    [["write_date", "=", None], ["create_date", ">=", at]],
                ]
            ]
        )
        found: dict[str, RecordChange] = {}
        for row in sorted(rows, key=lambda r: (_stamp(r), int(r["id"]))):
            record = self.table.record_id(row)
            if record is None:
                continue
            change: ChangeType = "create" if _born(row, self.table.born) >= at else "update"
            found.pop(record, None)  # a record reported by several rows: at its newest
            found[record] = RecordChange(SOURCE, self.table.kind, record, change, _stamp(row))
        return sorted(found.values(), key=lambda c: (c.modified_at, c.record_id))


def _born(row: dict[str, Any], field: str) -> dt.datetime:
    """When the record became the one Accord reports, to the second (its creation, or the
    posting that issued it); its creation when that has not happened."""
    head, _, tail = field.partition(".")
    value = (row.get(head + ".") or {}).get(tail) if tail else row.get(head)
    moment: dt.datetime = value if isinstance(value, dt.datetime) else row["create_date"]
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def _move(row: dict[str, Any]) -> str | None:
    move = row.get("move")
    return f"P{move}" if move else None


TABLES = (
    _Table("party", "party.party", RecordKind.CUSTOMER, [], [], lambda row: str(row["id"])),
    _Table("sale", "sale.sale", RecordKind.ORDER, [], [], lambda row: f"S{row['id']}"),
    _Table(
        "invoice",
        "account.invoice",
        RecordKind.INVOICE,
        [["type", "=", "out"]],
        ["move.create_date"],
        lambda row: f"I{row['id']}",
        born="move.create_date",
    ),
    _Table(
        "payment",
        "account.statement.line",
        RecordKind.PAYMENT,
        [["move", "!=", None]],
        ["move", "move.create_date"],
        _move,
        born="move.create_date",
    ),
)


def change_scans(rpc: TrytonRpc) -> list[ChangeScan]:
    """The scans of customers, sales, invoices and payments."""
    return [TrytonScan(rpc, table) for table in TABLES]


def parse_notification(headers: Mapping[str, str], body: bytes) -> Notification:
    """Tryton pushes no notifications: there is nothing to parse."""
    raise NotImplementedError("Tryton has no webhooks; its changes are scanned")
