"""Canonical finance events, with CloudEvents 1.0 attributes.

An event says what changed in finance words: a payment was received, an invoice's status
changed, a customer's credit standing changed. ``subject`` is the canonical id of the object
it is about (``pay:50020``, ``inv:50013``, ``cus:CUST-000042``, ``wf:…``) and ``customer``
the canonical id of the customer it concerns, so subscribers can filter by customer. ``id`` is
derived from the change itself, so the same change seen twice (by webhook and by poller, or by
two replicas) is the same event.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = "1.0"


class EventType(enum.Enum):
    CUSTOMER_CREATED = "com.accord.customer.created"
    CUSTOMER_UPDATED = "com.accord.customer.updated"
    ORDER_BOOKED = "com.accord.order.booked"
    ORDER_STATUS_CHANGED = "com.accord.order.status_changed"
    INVOICE_POSTED = "com.accord.invoice.posted"
    INVOICE_STATUS_CHANGED = "com.accord.invoice.status_changed"
    PAYMENT_RECEIVED = "com.accord.payment.received"
    CREDIT_STATUS_CHANGED = "com.accord.credit.status_changed"
    WORKFLOW_CHANGED = "com.accord.workflow.changed"


@dataclass(frozen=True)
class Event:
    id: str
    type: EventType
    source: str  # the system it came from: "salesforce", "netsuite", "accord"
    subject: str  # canonical id of the object
    time: dt.datetime  # when the change happened in its system (UTC)
    data: Mapping[str, Any] = field(default_factory=dict)  # JSON
    customer: str | None = None  # canonical id of the customer it concerns

    def to_cloudevent(self) -> dict[str, Any]:
        """The CloudEvents 1.0 structured JSON form."""
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": f"/accord/{self.source}",
            "type": self.type.value,
            "subject": self.subject,
            "time": self.time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "accordcustomer": self.customer,
            "data": dict(self.data),
        }

    @classmethod
    def from_cloudevent(cls, value: Mapping[str, Any]) -> Event:
        source = str(value["source"]).removeprefix("/accord/")
        time = dt.datetime.fromisoformat(str(value["time"]).replace("Z", "+00:00"))
        return cls(
            id=str(value["id"]),
            type=EventType(value["type"]),
            source=source,
            subject=str(value["subject"]),
            time=time,
            data=dict(value.get("data") or {}),
            customer=value.get("accordcustomer"),
        )


def event_id(*parts: object) -> str:
    """A stable id from what identifies a change (system, record, version, event type)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"evt_{digest[:32]}"
