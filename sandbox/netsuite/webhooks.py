"""Record change notifications, posted as webhooks when the account's records change.

NetSuite has no built-in change feed; deployments attach a user-event script (``afterSubmit``)
to the record types they follow, and the script posts what changed to an endpoint. This is
the sandbox's own shape for such a post, one per committed create, edit or delete of a
customer, sales order, invoice or customer payment::

    {"id": "8c1d...",                      # unique per notification (X-Accord-Event-Id)
     "recordType": "customerpayment",      # customer | salesOrder | invoice | customerpayment
     "recordId": "50812",
     "eventType": "create",                # create | edit | delete (afterSubmit's type)
     "timestamp": "2026-01-05T10:11:12.346Z",          # when the script ran
     "lastModified": "2026-01-05T10:11:12.345678Z",    # the record's lastModifiedDate
     "fields": {"payment": 250, "customer": "647", ...},  # changed fields, new values
     "oldFields": {"payment": 200, ...}}   # the same fields' values before (edit, delete)

``lastModified`` is the stored modification time at full precision: SuiteQL's
``TO_CHAR(lastmodifieddate, ...)`` renders the same instant, so a change seen by webhook
and by a SuiteQL poll is recognisably the same. Field names follow the record API; references
are internal ids as strings, select fields their id (``creditHoldOverride: "ON"``), amounts
numbers, dates ISO. A create lists every field in ``fields``; a delete lists them in
``oldFields``. Derived figures (balances, an invoice's amount paid) are not fields of the
record and are not sent: a payment's effect on its invoices is told by the payment's own
notification, as in NetSuite where applying a payment does not run the invoice's scripts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from sandbox.netsuite.model import (
    INVOICE,
    PAYMENT,
    SALES_ORDER,
    AddressRec,
    ApplyRec,
    CustomerRec,
    LineRec,
    TransactionRec,
)
from sandbox.netsuite.store import Change, Record, Store
from sandbox.netsuite.wire import rest_number
from sandbox.webhooks import Webhooks

RECORD_TYPES = {SALES_ORDER: "salesOrder", INVOICE: "invoice", PAYMENT: "customerpayment"}
EVENT_TYPES = {"create": "create", "update": "edit", "delete": "delete"}

# Stored attribute -> record API field name, where they differ beyond snake_case -> camelCase.
_NAMES = {
    "credit_hold": "creditHoldOverride",
    "last_modified": "lastModifiedDate",
    "created": "createdDate",
    "addresses": "addressBook",
    "lines": "item",
    "applies": "apply",
    "vat_reg_number": "vatRegNumber",
}
_REFERENCES = frozenset({"entity", "currency", "subsidiary", "terms", "created_from"})
_SKIP = frozenset({"id", "type"})


def instant(value: dt.datetime, timespec: str = "microseconds") -> str:
    utc = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return utc.isoformat(timespec=timespec).replace("+00:00", "Z")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _json(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Decimal):
        return rest_number(value)
    if isinstance(value, dt.datetime):
        return instant(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_json(item) for item in value]
    if isinstance(value, AddressRec | LineRec | ApplyRec):
        return {_camel(k): _json(v) for k, v in dataclasses.asdict(value).items()}
    return str(value)


def record_fields(record: Record) -> dict[str, Any]:
    """A stored record's fields by record API name, as JSON values."""
    fields: dict[str, Any] = {}
    for spec in dataclasses.fields(record):
        name = spec.name
        if name in _SKIP:
            continue
        value = getattr(record, name)
        if name in _REFERENCES and value is not None:
            value = str(value)
        if isinstance(record, TransactionRec) and name == "entity" and record.type == PAYMENT:
            fields["customer"] = _json(value)
            continue
        fields[_NAMES.get(name, _camel(name))] = _json(value)
    return fields


def record_type(record: Record) -> str | None:
    if isinstance(record, CustomerRec):
        return "customer"
    return RECORD_TYPES.get(record.type)


class RecordChangeNotifier:
    """Listens to the store and emits one notification per committed change."""

    def __init__(self, store: Store, webhooks: Webhooks) -> None:
        self.store = store
        self.webhooks = webhooks
        store.listeners.append(self.on_change)

    def on_change(self, change: Change) -> None:
        if not self.webhooks.active:
            return
        body = self.notification(change, str(uuid.uuid4()))
        if body is not None:
            self.webhooks.emit(body["id"], json.dumps(body, separators=(",", ":")).encode())

    def notification(self, change: Change, event_id: str) -> dict[str, Any] | None:
        record = change.after or change.before
        if record is None:
            return None
        kind = record_type(record)
        if kind is None:
            return None
        after = record_fields(change.after) if change.after is not None else {}
        before = record_fields(change.before) if change.before is not None else {}
        changed = sorted(name for name in {*after, *before} if after.get(name) != before.get(name))
        now = self.store.now()
        modified = change.after.last_modified if change.after is not None else now
        body: dict[str, Any] = {
            "id": event_id,
            "recordType": kind,
            "recordId": str(change.id),
            "eventType": EVENT_TYPES[change.action],
            "timestamp": instant(now, "milliseconds"),
            "lastModified": instant(modified),
            "fields": {name: after[name] for name in changed if name in after},
        }
        if change.before is not None:
            body["oldFields"] = {name: before.get(name) for name in changed}
        return body
