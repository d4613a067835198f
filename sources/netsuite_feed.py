"""NetSuite's change feed: record change notifications and SuiteQL scans, as canonical changes.

NetSuite names what changed by record type; Accord follows four of them:

=====================  ===================  =================================
record type            transaction type     canonical kind (`RecordKind`)
=====================  ===================  =================================
``customer``           (its own table)      ``CUSTOMER``
``salesorder``         ``SalesOrd``         ``ORDER``
``invoice``            ``CustInvc``         ``INVOICE``
``customerpayment``    ``CustPymt``         ``PAYMENT``
=====================  ===================  =================================

Other record types are left out of both halves. The record types are also the names of
NetSuite's records in event ids and snapshot keys (``record_names``), as they have always been.

Scans: per table, ``SELECT id, TO_CHAR(datecreated, 'YYYY-MM-DD HH24:MI:SS') AS created,
TO_CHAR(lastmodifieddate, ...) AS modified FROM customer WHERE lastmodifieddate >=
TO_TIMESTAMP('<watermark>', 'YYYY-MM-DD HH24:MI:SS') ORDER BY lastmodifieddate, id``; the
``transaction`` scan adds ``recordtype`` and keeps the three transaction types above. SuiteQL's
default rendering of a date-time is the date alone, useless as a watermark, hence ``TO_CHAR``;
times are read in ``timezone`` (the account's; UTC in the sandbox). Modification times are
whole seconds, which is what `sources.changes` asks of a scan.

Notifications (a script or workflow on the account posts them): ``{"id": <event id>,
"recordType": "customerpayment", "recordId": 50812, "eventType": "create" | "edit" | "xedit" |
"delete", "lastModified": <ISO 8601>, "fields": {...}, "oldFields": {...}}``. ``fields`` names
the fields changed (kept as the sender's names: events show them as ``sourceFields``) and
``oldFields`` their old values, which become ``previous`` by canonical attribute where the
adapter maps the field (`NOTIFIED_FIELDS`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sources.changes import (
    EPOCH,
    ChangeScan,
    ChangeType,
    MalformedNotification,
    Notification,
    RecordChange,
    RecordKind,
    Watermark,
    checked_event_id,
    checked_object,
    checked_text,
    newest_known,
)
from sources.clock import SourceClock
from sources.netsuite_http import SOURCE
from sources.records import CreditHold

SUITEQL_FORMAT = "YYYY-MM-DD HH24:MI:SS"
_PY_FORMAT = "%Y-%m-%d %H:%M:%S"

RECORD_KINDS: dict[str, RecordKind] = {
    "customer": RecordKind.CUSTOMER,
    "salesorder": RecordKind.ORDER,
    "invoice": RecordKind.INVOICE,
    "customerpayment": RecordKind.PAYMENT,
}
"""NetSuite record type (lower case) -> the canonical kind Accord follows it as."""

RECORD_NAMES: dict[RecordKind, str] = {kind: name for name, kind in RECORD_KINDS.items()}

TRANSACTION_TYPES: dict[str, RecordKind] = {
    "SalesOrd": RecordKind.ORDER,
    "CustInvc": RecordKind.INVOICE,
    "CustPymt": RecordKind.PAYMENT,
}
"""The ``transaction.type`` codes of the transactions Accord follows."""

_EVENT_TYPES: dict[str, ChangeType] = {
    "create": "create",
    "edit": "update",
    "xedit": "update",  # inline edit
    "delete": "delete",
}


def _credit_hold(value: Any) -> str:
    return CreditHold(str(value).upper()).value


def _amount(value: Any) -> str | None:
    return None if value in (None, "") else str(Decimal(str(value)))


NOTIFIED_FIELDS: dict[str, tuple[str, Any]] = {
    "creditLimit": ("credit_limit", _amount),
    "creditHoldOverride": ("credit_hold", _credit_hold),
}
"""Record API field -> (canonical attribute, value converter) of the old values a notification
carries that the normaliser can use (what a credit standing was before an edit)."""


# --------------------------------------------------------------------------- scans


class SuiteQlClient(Protocol):
    """What the scans need: `sources.netsuite_http.NetSuiteClient` has it."""

    clock: SourceClock

    async def suiteql(self, text: str) -> list[dict[str, Any]]: ...

    async def suiteql_page(
        self, text: str, *, limit: int, offset: int = 0
    ) -> tuple[list[dict[str, Any]], bool, int | None]: ...


class SuiteQlScan:
    """Rows of one SuiteQL table by ``lastmodifieddate``, to the second."""

    def __init__(
        self,
        client: SuiteQlClient,
        name: str,
        *,
        table: str,
        created: str,
        kind: RecordKind | None,
        where: str = "",
        timezone: dt.tzinfo = dt.UTC,
    ) -> None:
        self.client = client
        self.name = name
        self.table = table
        self.created = created
        self.kind = kind  # None: from the row's recordtype column
        self.where = where
        self.timezone = timezone

    def present(self) -> dt.datetime | None:
        return self.client.clock.now()

    def _instant(self, text: Any) -> dt.datetime:
        naive = dt.datetime.strptime(str(text), _PY_FORMAT)
        return naive.replace(tzinfo=self.timezone).astimezone(dt.UTC)

    def _literal(self, moment: dt.datetime) -> str:
        local = moment.astimezone(self.timezone).replace(microsecond=0)
        return f"TO_TIMESTAMP('{local.strftime(_PY_FORMAT)}', '{SUITEQL_FORMAT}')"

    def _conditions(self, *extra: str) -> str:
        parts = [part for part in (self.where, *extra) if part]
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    async def start(self) -> Watermark:
        rows, _, _ = await self.client.suiteql_page(
            f"SELECT TO_CHAR(lastmodifieddate, '{SUITEQL_FORMAT}') AS modified "
            f"FROM {self.table}{self._conditions()} ORDER BY lastmodifieddate DESC",
            limit=1,
        )
        if not rows or not rows[0].get("modified"):
            return EPOCH
        return newest_known(await self.since(Watermark(self._instant(rows[0]["modified"]))))

    async def since(self, mark: Watermark) -> list[RecordChange]:
        at = mark.at.replace(microsecond=0)
        kind_column = ", recordtype" if self.kind is None else ""
        rows = await self.client.suiteql(
            f"SELECT id{kind_column}, TO_CHAR({self.created}, '{SUITEQL_FORMAT}') AS created, "
            f"TO_CHAR(lastmodifieddate, '{SUITEQL_FORMAT}') AS modified FROM {self.table}"
            f"{self._conditions(f'lastmodifieddate >= {self._literal(at)}')} "
            "ORDER BY lastmodifieddate, id"
        )
        changes = []
        for row in rows:
            kind = self.kind or RECORD_KINDS.get(str(row.get("recordtype", "")).lower())
            if kind is None:
                continue
            modified = self._instant(row["modified"])
            change: ChangeType = "create" if row.get("created") == row["modified"] else "update"
            changes.append(RecordChange(SOURCE, kind, str(row["id"]), change, modified))
        return changes


def change_scans(client: SuiteQlClient, *, timezone: dt.tzinfo = dt.UTC) -> list[ChangeScan]:
    """The scans of customers and of the transactions Accord follows."""
    types = ", ".join(f"'{code}'" for code in TRANSACTION_TYPES)
    return [
        SuiteQlScan(
            client,
            "customer",
            table="customer",
            created="datecreated",
            kind=RecordKind.CUSTOMER,
            timezone=timezone,
        ),
        SuiteQlScan(
            client,
            "transaction",
            table="transaction",
            created="createddate",
            kind=None,
            where=f"type IN ({types})",
            timezone=timezone,
        ),
    ]


# --------------------------------------------------------------------------- notifications


def _instant(value: Any, where: str) -> dt.datetime:
    text = checked_text(value, where, limit=40)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedNotification(f"{where} must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise MalformedNotification(f"{where} must carry a time zone (Z)")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past the last representable instant
        raise MalformedNotification(f"{where} is out of range") from None


def _previous(old: Mapping[str, Any]) -> dict[str, Any]:
    """The old values a notification carried, by canonical attribute (those it can read)."""
    previous: dict[str, Any] = {}
    for name, value in old.items():
        mapped = NOTIFIED_FIELDS.get(name)
        if mapped is None:
            continue
        attribute, convert = mapped
        try:
            previous[attribute] = convert(value)
        except (ValueError, InvalidOperation):
            continue  # unreadable: as if the sender had not said
    return previous


def parse_notification(headers: Mapping[str, str], body: bytes) -> Notification:
    """A record change notification (`MalformedNotification` if the body is not one; a
    `ValueError` if it is not JSON)."""
    notice = checked_object(json.loads(body), "the body")
    identifier = checked_event_id(notice.get("id"), "id")
    record_type = checked_text(notice.get("recordType"), "recordType", limit=60)
    if not record_type.isalnum():
        raise MalformedNotification("recordType is not a record type name")
    raw_id = notice.get("recordId")
    record_id = (
        str(raw_id) if isinstance(raw_id, int | str) and not isinstance(raw_id, bool) else ""
    )
    if not record_id.isascii() or not record_id.isdigit() or len(record_id) > 18:
        raise MalformedNotification("recordId must be an internal id (digits)")
    kind_of_event = notice.get("eventType")
    if not isinstance(kind_of_event, str) or kind_of_event not in _EVENT_TYPES:
        raise MalformedNotification("eventType must be one of " + ", ".join(_EVENT_TYPES))
    modified = _instant(notice.get("lastModified", notice.get("timestamp")), "lastModified")
    fields = notice.get("fields")
    old = notice.get("oldFields")
    if fields is not None:
        checked_object(fields, "fields")
    if old is not None:
        checked_object(old, "oldFields")
    kind = RECORD_KINDS.get(record_type.lower())
    if kind is None:  # a record Accord does not follow
        return Notification(identifier, [])
    change = RecordChange(
        SOURCE,
        kind,
        str(int(record_id)),  # internal ids have no leading zeros
        _EVENT_TYPES[kind_of_event],
        modified,
        tuple(fields or ()),
        _previous(old or {}),
    )
    return Notification(identifier, [change])
