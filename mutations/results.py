"""What a mutation hands its payload: a typed result, kept with the idempotency key as JSON.

Each mutation answers an `Outcome` whose ``result`` is one of the types below (or None when it
refused), so that the schema's payloads read typed records, never dictionaries. The first answer
is stored for the idempotency key and every replay is rebuilt from that JSON (`to_json`,
`result_from_json`), so a replay answers exactly what the first request did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from cache.codec import decode, encode
from domain.ids import CustomerRef
from mutations.workflow import Workflow
from sources.records import ErpPayment

R = TypeVar("R", bound="Result")


class Result(Protocol):
    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CustomerResult:
    """The customer a write changed, by whichever ids it has."""

    kind: ClassVar[str] = "customer"
    key: str | None = None
    salesforce_id: str | None = None
    erp_id: str | None = None

    @property
    def ref(self) -> CustomerRef | None:
        if not (self.key or self.salesforce_id or self.erp_id):
            return None
        return CustomerRef(key=self.key, salesforce_id=self.salesforce_id, erp_id=self.erp_id)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "salesforce_id": self.salesforce_id, "erp_id": self.erp_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CustomerResult:
        return cls(data.get("key"), data.get("salesforce_id"), data.get("erp_id"))


@dataclass(frozen=True)
class PaymentResult:
    """A payment as the ERP posted it, and the customer who paid."""

    kind: ClassVar[str] = "payment"
    payment: ErpPayment
    customer: CustomerResult

    def to_json(self) -> dict[str, Any]:
        return {"payment": encode(self.payment), "customer": self.customer.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PaymentResult:
        return cls(decode(ErpPayment, data["payment"]), CustomerResult.from_json(data["customer"]))


@dataclass(frozen=True)
class WorkflowResult:
    """A workflow as it rests (or runs on) when the request answers."""

    kind: ClassVar[str] = "workflow"
    workflow: Workflow

    def to_json(self) -> dict[str, Any]:
        return {"workflow": self.workflow.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowResult:
        return cls(Workflow.from_json(data["workflow"]))


@dataclass(frozen=True)
class CreditMirrorResult:
    """The credit status a CRM account now shows, and its customer."""

    kind: ClassVar[str] = "credit_mirror"
    customer: CustomerResult
    credit_status: str | None

    def to_json(self) -> dict[str, Any]:
        return {"customer": self.customer.to_json(), "credit_status": self.credit_status}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CreditMirrorResult:
        return cls(CustomerResult.from_json(data["customer"]), data.get("credit_status"))


@dataclass(frozen=True)
class ReportResult:
    """A reconciliation run's report, by id."""

    kind: ClassVar[str] = "report"
    report_id: str

    def to_json(self) -> dict[str, Any]:
        return {"report_id": self.report_id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportResult:
        return cls(str(data["report_id"]))


_KINDS: dict[str, Any] = {
    kind.kind: kind
    for kind in (CustomerResult, PaymentResult, WorkflowResult, CreditMirrorResult, ReportResult)
}


def result_to_json(result: Result | None) -> dict[str, Any] | None:
    return None if result is None else {"kind": result.kind, **result.to_json()}


def result_from_json(data: Mapping[str, Any] | None) -> Any:
    """The result stored as ``data`` (None for none); a kind Accord does not know is a bug."""
    if data is None:
        return None
    return _KINDS[str(data["kind"])].from_json(data)
