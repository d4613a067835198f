"""What a reconciliation finds: drifts by kind, each with the fix that ends it, in a report.

A drift's id is its kind and subject (``ORDER_MISSING:0065g00000ABCDEAAA``): the same drift
found by two runs has the same id, so a client can tell which are new. Everything here is
plain data with a JSON form (the state backend and the idempotency records keep reports).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


class DriftKind(enum.Enum):
    LINK_MISSING = "LINK_MISSING"
    LINK_BROKEN = "LINK_BROKEN"
    ERP_CUSTOMER_UNLINKED = "ERP_CUSTOMER_UNLINKED"
    CREDIT_STATUS_MISMATCH = "CREDIT_STATUS_MISMATCH"
    ORDER_MISSING = "ORDER_MISSING"
    OPPORTUNITY_MISSING = "OPPORTUNITY_MISSING"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"
    NAME_MISMATCH = "NAME_MISMATCH"
    BILLING_STREET_MISMATCH = "BILLING_STREET_MISMATCH"


DRIFT_MEANINGS: dict[DriftKind, str] = {
    DriftKind.LINK_MISSING: "A CRM account with no ERP link (Account.ERP_Customer_Id__c empty).",
    DriftKind.LINK_BROKEN: "A CRM account whose ERP link names no ERP customer.",
    DriftKind.ERP_CUSTOMER_UNLINKED: "An ERP customer no CRM account links to.",
    DriftKind.CREDIT_STATUS_MISMATCH: "The credit status mirrored on the account "
    "(Credit_Status__c) is not the ERP's.",
    DriftKind.ORDER_MISSING: "A Closed Won opportunity with no ERP sales order.",
    DriftKind.OPPORTUNITY_MISSING: "An ERP sales order booked from an opportunity the CRM no "
    "longer has.",
    DriftKind.AMOUNT_MISMATCH: "An opportunity's amount (or currency) differs from its ERP "
    "order's total.",
    DriftKind.NAME_MISMATCH: "The ERP's company name differs from the account's (the CRM owns it).",
    DriftKind.BILLING_STREET_MISMATCH: "The ERP's billing street differs from the account's (the "
    "CRM owns it).",
}


class FixAction(enum.Enum):
    """What ends a drift; the first three can be done from the ops console."""

    LINK_ACCOUNT = "LINK_ACCOUNT"
    MIRROR_CREDIT_STATUS = "MIRROR_CREDIT_STATUS"
    BOOK_ORDER = "BOOK_ORDER"
    SET_UP_IN_ERP = "SET_UP_IN_ERP"
    REPAIR_LINK = "REPAIR_LINK"
    CREATE_ACCOUNT = "CREATE_ACCOUNT"
    REVIEW_ORDER = "REVIEW_ORDER"
    ALIGN_AMOUNTS = "ALIGN_AMOUNTS"
    CORRECT_ERP_CUSTOMER = "CORRECT_ERP_CUSTOMER"


@dataclass(frozen=True, slots=True)
class Fix:
    """The action that ends a drift: ``mutation`` (with ``input``, the idempotency key aside)
    applies it through Accord; without one, it is done by hand in the system named."""

    action: FixAction
    description: str
    mutation: str | None = None
    input: dict[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Drift:
    kind: DriftKind
    subject: str  # the id the drift is about: an account, ERP customer, opportunity or order
    message: str
    fix: Fix
    salesforce_id: str | None = None  # the account
    erp_id: str | None = None  # the ERP customer
    key: str | None = None  # the cross-reference key
    opportunity_id: str | None = None
    order_id: str | None = None  # the ERP sales order's internal id
    order_number: str | None = None
    crm_value: str | None = None  # what the CRM holds, where the systems disagree on a value
    erp_value: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind.value}:{self.subject}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["fix"]["action"] = self.fix.action.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Drift:
        fix = dict(data["fix"])
        fix["action"] = FixAction(fix["action"])
        return cls(**{**data, "kind": DriftKind(data["kind"]), "fix": Fix(**fix)})


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    trigger: str  # schedule, on demand, command line
    requested_by: str | None  # a caller's name (never a key), for an on-demand run
    scanned: dict[str, int]  # records read, by kind
    reads: dict[str, int]  # upstream pages and batches read, by system
    drifts: list[Drift] = field(default_factory=list)

    def counts(self) -> dict[DriftKind, int]:
        """Drifts found, by kind, every kind named (zero where none)."""
        found = Counter(drift.kind for drift in self.drifts)
        return {kind: found.get(kind, 0) for kind in DriftKind}

    def summary(self) -> dict[str, Any]:
        """The report without its drifts, for the list of runs."""
        data = self.to_json()
        data.pop("drifts")
        data["counts"] = {kind.value: count for kind, count in self.counts().items()}
        return data

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "trigger": self.trigger,
            "requested_by": self.requested_by,
            "scanned": dict(self.scanned),
            "reads": dict(self.reads),
            "drifts": [drift.to_json() for drift in self.drifts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(
            id=data["id"],
            started_at=dt.datetime.fromisoformat(data["started_at"]),
            finished_at=dt.datetime.fromisoformat(data["finished_at"]),
            trigger=data["trigger"],
            requested_by=data.get("requested_by"),
            scanned=dict(data["scanned"]),
            reads=dict(data["reads"]),
            drifts=[Drift.from_json(drift) for drift in data["drifts"]],
        )
