"""Change Data Capture events, posted as webhooks when the org's records change.

Every committed write to an Account, Opportunity or Order becomes one change event, shaped as
Salesforce delivers them on ``/data/<Object>ChangeEvent``::

    {"data": {"schema": "...",
              "payload": {"ChangeEventHeader": {"entityName": "Account",
                                                "recordIds": ["001..."],
                                                "changeType": "UPDATE",
                                                "changedFields": ["Phone", "LastModifiedDate"],
                                                "nulledFields": [],
                                                "changeOrigin": "com/salesforce/api/rest/59.0",
                                                "transactionKey": "...",
                                                "sequenceNumber": 1,
                                                "commitTimestamp": 1767607872345,
                                                "commitUser": "005...",
                                                "commitNumber": 412},
                          "Phone": "+1 555 0100", "LastModifiedDate": "2026-..."},
              "event": {"replayId": 17, "EventUuid": "..."}},
     "channel": "/data/AccountChangeEvent"}

A CREATE carries every field set on the new record, an UPDATE the changed fields' new values
(null for a cleared one, also listed in ``nulledFields``), a DELETE the header only.
``commitTimestamp`` is the record's ``SystemModstamp`` in epoch milliseconds: the same instant
a SOQL poll reads. ``EventUuid`` is also sent as ``X-Accord-Event-Id``; the body is signed as
`events.signing` describes (`sandbox.webhooks` delivers it).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

from sandbox.salesforce.store import Change, Store
from sandbox.salesforce.values import to_json
from sandbox.webhooks import Webhooks

CDC_OBJECTS = ("Account", "Opportunity", "Order")
API_VERSION = "59.0"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _schema_id(sobject: str) -> str:
    digest = hashlib.sha256(f"{sobject}ChangeEvent".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


class ChangeEventPublisher:
    """Listens to the store and emits one change event per committed change it covers."""

    def __init__(
        self, store: Store, webhooks: Webhooks, objects: Iterable[str] = CDC_OBJECTS
    ) -> None:
        self.store = store
        self.webhooks = webhooks
        self.objects = frozenset(objects)
        self.replay_id = 0
        store.listeners.append(self.on_change)

    def on_change(self, change: Change) -> None:
        if change.sobject not in self.objects or not self.webhooks.active:
            return
        self.replay_id += 1
        event_id = str(uuid.uuid4())
        body = self.change_event(change, event_id, self.replay_id)
        self.webhooks.emit(event_id, json.dumps(body, separators=(",", ":")).encode())

    def change_event(self, change: Change, event_id: str, replay_id: int) -> dict[str, Any]:
        obj = self.store.schema.objects[change.sobject]
        record = self.store.get(change.sobject, change.record_id) or {}
        if change.change_type == "CREATE":
            names = [name for name in record if name != "Id"]
            changed: list[str] = []
        elif change.change_type == "UPDATE":
            names = list(change.changed_fields)
            changed = names
        else:
            names, changed = [], []
        values: dict[str, Any] = {}
        nulled: list[str] = []
        for name in names:
            value = record.get(name)
            definition = obj.fields.get(name)
            values[name] = to_json(definition, value) if definition is not None else value
            if value is None:
                nulled.append(name)
        stamp = change.commit_timestamp
        header = {
            "entityName": change.sobject,
            "recordIds": [change.record_id],
            "changeType": change.change_type,
            "changedFields": changed,
            "nulledFields": nulled,
            "changeOrigin": f"com/salesforce/api/rest/{API_VERSION}",
            "transactionKey": str(uuid.uuid5(uuid.NAMESPACE_OID, f"txn:{change.sequence}")),
            "sequenceNumber": 1,
            "commitTimestamp": (stamp - _EPOCH) // dt.timedelta(milliseconds=1),
            "commitUser": change.commit_user,
            "commitNumber": change.sequence,
        }
        return {
            "data": {
                "schema": _schema_id(change.sobject),
                "payload": {"ChangeEventHeader": header, **values},
                "event": {"replayId": replay_id, "EventUuid": event_id},
            },
            "channel": f"/data/{change.sobject}ChangeEvent",
        }
