"""The ownership registry: who owns each canonical field, how long it may be cached, how
sensitive it is, and which roles may write it.

It is the single source of truth that the schema (descriptions and the ``@owner`` directive),
the resolvers, mutation routing, caching, authorization and the docs all read. Adding an
ERP-owned field is one entry here, one adapter mapping and one type field.

Entries are keyed by canonical path, ``"Customer.name"`` or ``"CreditSummary.balance"``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass


class System(enum.Enum):
    """The role a system plays. Which product fills it is configuration."""

    CRM = "CRM"
    ERP = "ERP"
    ACCORD = "ACCORD"  # identifiers and values Accord derives from the other two


class TtlClass(enum.Enum):
    """How long a cached copy may be served; events invalidate sooner."""

    VOLATILE = 30  # money that moves with every payment or invoice
    STANDARD = 300  # statuses and descriptive facts that change during a day
    STABLE = 3600  # reference data and slowly changing descriptive fields
    IDENTITY = 86400  # cross-references between the systems

    @property
    def seconds(self) -> int:
        return int(self.value)


class Classification(enum.Enum):
    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    PII = "pii"


class Role(enum.Enum):
    SALES = "sales"
    FINANCE = "finance"
    OPS = "ops"
    ANALYTICS = "analytics"


SYSTEM_NAMES = {
    System.CRM: "the CRM (Salesforce)",
    System.ERP: "the ERP (NetSuite)",
    System.ACCORD: "Accord (derived)",
}


@dataclass(frozen=True)
class FieldOwnership:
    path: str
    owner: System
    ttl: TtlClass
    classification: Classification
    writable_by: frozenset[Role] = frozenset()

    @property
    def type_name(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def field_name(self) -> str:
        return self.path.split(".", 1)[1]

    def describe(self, text: str) -> str:
        """A field description that names the owner, as every canonical field's does."""
        return f"{text} Owned by {SYSTEM_NAMES[self.owner]}."


_CRM, _ERP, _ACC = System.CRM, System.ERP, System.ACCORD
_V, _S, _T, _I = TtlClass.VOLATILE, TtlClass.STANDARD, TtlClass.STABLE, TtlClass.IDENTITY
_PUB, _INT, _CONF, _PII = (
    Classification.PUBLIC,
    Classification.INTERNAL,
    Classification.CONFIDENTIAL,
    Classification.PII,
)
_SALES_WRITE = frozenset({Role.SALES, Role.OPS})
_FINANCE_WRITE = frozenset({Role.FINANCE})

_ENTRIES = [
    # Customer: engagement data in the CRM, money and legal data in the ERP.
    FieldOwnership("Customer.id", _ACC, _I, _PUB),
    FieldOwnership("Customer.salesforceId", _CRM, _I, _INT),
    FieldOwnership("Customer.erpId", _ERP, _I, _INT),
    FieldOwnership("Customer.systems", _ACC, _I, _INT),
    FieldOwnership("Customer.name", _CRM, _T, _PUB, _SALES_WRITE),
    FieldOwnership("Customer.accountNumber", _CRM, _T, _INT),
    FieldOwnership("Customer.industry", _CRM, _T, _PUB, _SALES_WRITE),
    FieldOwnership("Customer.owner", _CRM, _S, _INT),
    FieldOwnership("Customer.phone", _CRM, _T, _PII, _SALES_WRITE),
    FieldOwnership("Customer.website", _CRM, _T, _PUB, _SALES_WRITE),
    FieldOwnership("Customer.billingAddress", _CRM, _T, _PII, _SALES_WRITE),
    FieldOwnership("Customer.legalEntity", _ERP, _T, _INT, _FINANCE_WRITE),
    FieldOwnership("Customer.currency", _ERP, _T, _INT),
    FieldOwnership("Customer.paymentTerms", _ERP, _T, _INT, _FINANCE_WRITE),
    FieldOwnership("Customer.taxId", _ERP, _T, _CONF, _FINANCE_WRITE),
    FieldOwnership("Customer.credit", _ERP, _V, _CONF),
    FieldOwnership("Customer.orders", _ERP, _S, _INT),
    FieldOwnership("Customer.invoices", _ERP, _V, _CONF),
    FieldOwnership("Customer.payments", _ERP, _V, _CONF),
    FieldOwnership("Customer.opportunities", _CRM, _S, _INT),
    # Credit: all ERP; the CRM keeps a mirror of the status only.
    FieldOwnership("CreditSummary.limit", _ERP, _V, _CONF, _FINANCE_WRITE),
    FieldOwnership("CreditSummary.balance", _ERP, _V, _CONF),
    FieldOwnership("CreditSummary.overdue", _ERP, _V, _CONF),
    FieldOwnership("CreditSummary.available", _ACC, _V, _CONF),
    FieldOwnership("CreditSummary.status", _ERP, _V, _INT),
    FieldOwnership("CreditSummary.hold", _ERP, _V, _INT, _FINANCE_WRITE),
    # Reference data.
    FieldOwnership("LegalEntity.id", _ACC, _I, _PUB),
    FieldOwnership("LegalEntity.erpId", _ERP, _I, _INT),
    FieldOwnership("LegalEntity.name", _ERP, _T, _PUB),
    FieldOwnership("LegalEntity.country", _ERP, _T, _PUB),
    FieldOwnership("LegalEntity.currency", _ERP, _T, _PUB),
    FieldOwnership("PaymentTerms.name", _ERP, _T, _PUB),
    FieldOwnership("PaymentTerms.days", _ERP, _T, _PUB),
    # Orders: posted sales orders live in the ERP.
    FieldOwnership("Order.id", _ACC, _I, _PUB),
    FieldOwnership("Order.erpId", _ERP, _I, _INT),
    FieldOwnership("Order.number", _ERP, _T, _INT),
    FieldOwnership("Order.status", _ERP, _S, _INT),
    FieldOwnership("Order.orderDate", _ERP, _T, _INT),
    FieldOwnership("Order.total", _ERP, _S, _CONF),
    FieldOwnership("Order.memo", _ERP, _S, _INT),
    FieldOwnership("Order.lines", _ERP, _S, _INT),
    FieldOwnership("Order.customer", _ERP, _T, _INT),
    FieldOwnership("Order.opportunity", _CRM, _T, _INT),
    FieldOwnership("Order.invoices", _ERP, _V, _CONF),
    # Invoices and payments: ERP.
    FieldOwnership("Invoice.id", _ACC, _I, _PUB),
    FieldOwnership("Invoice.erpId", _ERP, _I, _INT),
    FieldOwnership("Invoice.number", _ERP, _T, _INT),
    FieldOwnership("Invoice.status", _ERP, _V, _INT),
    FieldOwnership("Invoice.issueDate", _ERP, _T, _INT),
    FieldOwnership("Invoice.dueDate", _ERP, _T, _INT),
    FieldOwnership("Invoice.total", _ERP, _S, _CONF),
    FieldOwnership("Invoice.amountPaid", _ERP, _V, _CONF),
    FieldOwnership("Invoice.amountDue", _ERP, _V, _CONF),
    FieldOwnership("Invoice.lines", _ERP, _S, _INT),
    FieldOwnership("Invoice.customer", _ERP, _T, _INT),
    FieldOwnership("Invoice.order", _ERP, _T, _INT),
    FieldOwnership("Invoice.payments", _ERP, _V, _CONF),
    FieldOwnership("Payment.id", _ACC, _I, _PUB),
    FieldOwnership("Payment.erpId", _ERP, _I, _INT),
    FieldOwnership("Payment.number", _ERP, _T, _INT),
    FieldOwnership("Payment.paymentDate", _ERP, _T, _INT),
    FieldOwnership("Payment.amount", _ERP, _S, _CONF),
    FieldOwnership("Payment.unapplied", _ERP, _V, _CONF),
    FieldOwnership("Payment.memo", _ERP, _S, _INT),
    FieldOwnership("Payment.applications", _ERP, _S, _CONF),
    FieldOwnership("Payment.customer", _ERP, _T, _INT),
    # Opportunities: CRM, with the ERP order number written back on booking.
    FieldOwnership("Opportunity.id", _ACC, _I, _PUB),
    FieldOwnership("Opportunity.salesforceId", _CRM, _I, _INT),
    FieldOwnership("Opportunity.name", _CRM, _T, _INT),
    FieldOwnership("Opportunity.stage", _CRM, _S, _INT),
    FieldOwnership("Opportunity.closeDate", _CRM, _S, _INT),
    FieldOwnership("Opportunity.amount", _CRM, _S, _CONF),
    FieldOwnership("Opportunity.isClosed", _CRM, _S, _INT),
    FieldOwnership("Opportunity.isWon", _CRM, _S, _INT),
    FieldOwnership("Opportunity.lines", _CRM, _S, _INT),
    FieldOwnership("Opportunity.customer", _CRM, _T, _INT),
    FieldOwnership("Opportunity.order", _ERP, _S, _INT),
]


class OwnershipRegistry:
    def __init__(self, entries: list[FieldOwnership]) -> None:
        self._entries: dict[str, FieldOwnership] = {}
        for entry in entries:
            if entry.path in self._entries:
                raise ValueError(f"{entry.path} is registered twice")
            self._entries[entry.path] = entry

    def __getitem__(self, path: str) -> FieldOwnership:
        try:
            return self._entries[path]
        except KeyError:
            raise KeyError(f"{path} has no entry in the ownership registry") from None

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def __iter__(self) -> Iterator[FieldOwnership]:
        return iter(self._entries.values())

    def owned_by(self, system: System) -> list[FieldOwnership]:
        return [entry for entry in self if entry.owner is system]

    def may_write(self, path: str, role: Role) -> bool:
        return role in self[path].writable_by


REGISTRY = OwnershipRegistry(_ENTRIES)

# Who may run each write operation; which fields a role may change is in the entries above.
OPERATIONS: dict[str, frozenset[Role]] = {
    "updateCustomer": frozenset({Role.SALES, Role.FINANCE, Role.OPS}),
    "setCreditHold": frozenset({Role.FINANCE}),
    "recordPayment": frozenset({Role.FINANCE, Role.OPS}),
    "bookOrder": frozenset({Role.SALES, Role.FINANCE, Role.OPS}),
    "retryWorkflow": frozenset({Role.FINANCE, Role.OPS}),
    "approveWorkflow": frozenset({Role.FINANCE}),
    "cancelWorkflow": frozenset({Role.FINANCE, Role.OPS}),
    "readWorkflows": frozenset({Role.SALES, Role.FINANCE, Role.OPS}),
    "readAudit": frozenset({Role.OPS}),
    "readDeadLetters": frozenset({Role.FINANCE, Role.OPS}),
    "subscribe": frozenset({Role.SALES, Role.FINANCE, Role.OPS, Role.ANALYTICS}),
}
