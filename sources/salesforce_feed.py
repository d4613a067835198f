"""Salesforce's change feed: Change Data Capture events and SOQL scans, as canonical changes.

Accord follows Salesforce accounts, as the CRM side of ``CUSTOMER`` (their name in event ids
and snapshot keys is ``Account``); other objects are left out.

Scans: ``SELECT Id, CreatedDate, SystemModstamp FROM Account WHERE SystemModstamp >=
<watermark> ORDER BY SystemModstamp, Id`` (``SystemModstamp`` is whole seconds in the API).

Notifications: Change Data Capture events as a relay posts them (``data.payload`` with its
``ChangeEventHeader``, ``data.event.EventUuid`` the event id); ``changedFields`` are kept as
Salesforce names them (events show them as ``sourceFields``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Protocol

from domain import sfid
from sources.changes import (
    EPOCH,
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
from sources.salesforce_client import SOURCE

OBJECT_KINDS: dict[str, RecordKind] = {"Account": RecordKind.CUSTOMER}
"""sObject -> the canonical kind Accord follows it as."""

RECORD_NAMES: dict[RecordKind, str] = {kind: name for name, kind in OBJECT_KINDS.items()}

_CDC_TYPES: dict[str, ChangeType | None] = {
    "CREATE": "create",
    "UPDATE": "update",
    "DELETE": "delete",
    "UNDELETE": "update",  # the record is back: read it as it is now
    "GAP_CREATE": "create",
    "GAP_UPDATE": "update",
    "GAP_DELETE": "delete",
    "GAP_UNDELETE": "update",
    "GAP_OVERFLOW": None,  # too many changes to describe: the poller catches up
}


class SoqlClient(Protocol):
    """What the scans need: `sources.salesforce.SalesforceCrm` has it."""

    clock: SourceClock

    async def query(self, text: str) -> list[dict[str, Any]]: ...


def _soql_datetime(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond // 1000:03d}"
    return text + "Z"


def _sf_instant(value: Any) -> dt.datetime:
    text = str(value).replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 -> +00:00
        text = text[:-2] + ":" + text[-2:]
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


class SoqlScan:
    """Records of one sObject by ``SystemModstamp``."""

    def __init__(self, client: SoqlClient, sobject: str) -> None:
        self.client = client
        self.sobject = sobject
        self.kind = OBJECT_KINDS[sobject]
        self.name = sobject

    def present(self) -> dt.datetime | None:
        return self.client.clock.now()

    async def start(self) -> Watermark:
        newest = await self.client.query(
            f"SELECT SystemModstamp FROM {self.sobject} ORDER BY SystemModstamp DESC LIMIT 1"
        )
        if not newest:
            return EPOCH
        return newest_known(await self.since(Watermark(_sf_instant(newest[0]["SystemModstamp"]))))

    async def since(self, mark: Watermark) -> list[RecordChange]:
        rows = await self.client.query(
            f"SELECT Id, CreatedDate, SystemModstamp FROM {self.sobject} "
            f"WHERE SystemModstamp >= {_soql_datetime(mark.at)} ORDER BY SystemModstamp, Id"
        )
        changes = []
        for row in rows:
            modified = _sf_instant(row["SystemModstamp"])
            created = row.get("CreatedDate")
            kind: ChangeType = (
                "create" if created and _sf_instant(created) == modified else "update"
            )
            changes.append(RecordChange(SOURCE, self.kind, str(row["Id"]), kind, modified))
        return changes


def _names(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedNotification(f"{where} must be a list of strings")
    return tuple(value)


def parse_notification(headers: Mapping[str, str], body: bytes) -> Notification:
    """A Change Data Capture event (`MalformedNotification` if the body is not one; a
    `ValueError` if it is not JSON)."""
    data = checked_object(checked_object(json.loads(body), "the body").get("data"), "data")
    payload = checked_object(data.get("payload"), "data.payload")
    header = checked_object(payload.get("ChangeEventHeader"), "data.payload.ChangeEventHeader")
    event = checked_object(data.get("event"), "data.event")
    identifier = checked_event_id(event.get("EventUuid"), "data.event.EventUuid")
    entity = checked_text(header.get("entityName"), "ChangeEventHeader.entityName", limit=80)
    if not entity.replace("_", "").isalnum():
        raise MalformedNotification("ChangeEventHeader.entityName is not an sObject name")
    raw_type = header.get("changeType")
    if not isinstance(raw_type, str) or raw_type not in _CDC_TYPES:
        raise MalformedNotification(
            "ChangeEventHeader.changeType must be one of " + ", ".join(_CDC_TYPES)
        )
    stamp = header.get("commitTimestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < 2**45:
        raise MalformedNotification("ChangeEventHeader.commitTimestamp must be epoch milliseconds")
    changed = _names(header.get("changedFields"), "ChangeEventHeader.changedFields")
    change_type = _CDC_TYPES[raw_type]
    record_ids = header.get("recordIds")
    if change_type is None:
        return Notification(identifier, [])
    if not isinstance(record_ids, list) or not record_ids or len(record_ids) > 1000:
        raise MalformedNotification("ChangeEventHeader.recordIds must list the records")
    modified = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC)
    kind = OBJECT_KINDS.get(entity)
    changes: list[RecordChange] = []
    for raw in record_ids:
        try:
            record_id = sfid.to18(raw) if isinstance(raw, str) else None
        except ValueError:
            record_id = None
        if record_id is None:
            raise MalformedNotification(f"{str(raw)[:40]!r} is not a Salesforce record id")
        if kind is not None:
            changes.append(RecordChange(SOURCE, kind, record_id, change_type, modified, changed))
    return Notification(identifier, changes)
