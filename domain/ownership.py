"""The ownership registry: who owns each canonical field, how long it may be cached, how
sensitive it is, and which roles may write it.

It is the single source of truth that the schema (descriptions and the ``@owner`` directive),
the resolvers, mutation routing, caching, authorization and the docs all read, and it drives
them: an entry with a `Binding` is a *plain* field, whose value is the canonical record
attribute the binding names, read from the owner's side of the record. Its GraphQL field, its
resolver, the cache entity that holds it, its updateCustomer input (where writable) and its
validation all follow from the entry. Moving a plain field to the other system is changing its
owner here (the other system's adapter must map the attribute; `unbound` says when it does
not); adding one is an entry here, the record attribute and the adapter's mapping.

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
    System.ERP: "the ERP",
    System.ACCORD: "Accord (derived)",
}


class ValueKind(enum.Enum):
    """How a plain field's value is shown: the GraphQL type its attribute maps to."""

    TEXT = "text"  # String
    CURRENCY = "currency"  # CurrencyCode (ISO 4217)
    ADDRESS = "address"  # Address (AddressInput when written)
    MONEY = "money"  # a Decimal amount in the record's currency
    ID = "id"  # an id given as input (a reference, e.g. le:<id>)
    REFERENCE = "reference"  # an id of reference data, shown as the object a resolver finds


@dataclass(frozen=True)
class Binding:
    """Where a plain field's value lives and how it is written.

    ``attribute`` names the canonical record attribute that holds the value on the owner's side
    (`sources.records.CustomerAttributes`). ``input`` is the updateCustomer input field that
    writes it (None: not written through updateCustomer); ``check`` names the validation the
    write path applies (`mutations.policies.FIELD_CHECKS`).
    """

    attribute: str
    kind: ValueKind = ValueKind.TEXT
    description: str = ""
    input: str | None = None
    input_kind: ValueKind | None = None  # the input's kind when it differs from ``kind``
    input_note: str = ""  # what the input description adds, e.g. "the terms' name"
    check: str | None = None

    @property
    def written_as(self) -> ValueKind:
        return self.input_kind or self.kind


@dataclass(frozen=True)
class FieldOwnership:
    path: str
    owner: System
    ttl: TtlClass
    classification: Classification
    writable_by: frozenset[Role] = frozenset()
    binding: Binding | None = None

    @property
    def bound(self) -> Binding:
        """The binding of a bound entry (a `LookupError` for the others)."""
        if self.binding is None:
            raise LookupError(f"{self.path} is not bound to a record attribute")
        return self.binding

    @property
    def input_name(self) -> str:
        """The updateCustomer input that writes this field (a `LookupError` when none does)."""
        name = self.bound.input
        if name is None:
            raise LookupError(f"{self.path} is not written through updateCustomer")
        return name

    @property
    def plain(self) -> bool:
        """A field whose value is its binding's attribute as is (no lookup)."""
        return self.binding is not None and self.binding.kind is not ValueKind.REFERENCE

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
_TEXT, _CUR, _ADDR = ValueKind.TEXT, ValueKind.CURRENCY, ValueKind.ADDRESS
_SALES_WRITE = frozenset({Role.SALES, Role.OPS})
_FINANCE_WRITE = frozenset({Role.FINANCE})

_ENTRIES = [
    # Customer: engagement data in the CRM, money and legal data in the ERP.
    FieldOwnership("Customer.id", _ACC, _I, _PUB),
    FieldOwnership("Customer.salesforceId", _CRM, _I, _INT),
    FieldOwnership("Customer.erpId", _ERP, _I, _INT),
    FieldOwnership("Customer.systems", _ACC, _I, _INT),
    FieldOwnership(
        "Customer.name",
        _CRM,
        _T,
        _PUB,
        _SALES_WRITE,
        Binding("name", _TEXT, "The company's name.", input="name", check="name"),
    ),
    FieldOwnership(
        "Customer.accountNumber",
        _CRM,
        _T,
        _INT,
        binding=Binding("account_number", _TEXT, "Account number in the CRM."),
    ),
    FieldOwnership(
        "Customer.industry",
        _CRM,
        _T,
        _PUB,
        _SALES_WRITE,
        Binding("industry", _TEXT, "Industry.", input="industry"),
    ),
    FieldOwnership(
        "Customer.owner",
        _CRM,
        _S,
        _INT,
        binding=Binding("owner", _TEXT, "Name of the account owner in sales."),
    ),
    FieldOwnership(
        "Customer.phone",
        _CRM,
        _T,
        _PII,
        _SALES_WRITE,
        Binding("phone", _TEXT, "Main phone number.", input="phone"),
    ),
    FieldOwnership(
        "Customer.website",
        _CRM,
        _T,
        _PUB,
        _SALES_WRITE,
        Binding("website", _TEXT, "Website.", input="website"),
    ),
    FieldOwnership(
        "Customer.billingAddress",
        _CRM,
        _T,
        _PII,
        _SALES_WRITE,
        Binding(
            "billing_address", _ADDR, "Billing address.", input="billingAddress", check="address"
        ),
    ),
    FieldOwnership(
        "Customer.legalEntity",
        _ERP,
        _T,
        _INT,
        _FINANCE_WRITE,
        Binding(
            "legal_entity_id",
            ValueKind.REFERENCE,
            input="legalEntityId",
            input_kind=ValueKind.ID,
            input_note="the legal entity's canonical id, le:<id>",
            check="legal_entity",
        ),
    ),
    FieldOwnership(
        "Customer.currency",
        _ERP,
        _T,
        _INT,
        binding=Binding("currency", _CUR, "The currency the customer is billed in."),
    ),
    FieldOwnership(
        "Customer.paymentTerms",
        _ERP,
        _T,
        _INT,
        _FINANCE_WRITE,
        Binding(
            "terms_id",
            ValueKind.REFERENCE,
            input="paymentTerms",
            input_kind=_TEXT,
            input_note="the terms' name, e.g. Net 45",
            check="payment_terms",
        ),
    ),
    FieldOwnership(
        "Customer.taxId",
        _ERP,
        _T,
        _CONF,
        _FINANCE_WRITE,
        Binding("tax_id", _TEXT, "Tax registration number.", input="taxId", check="tax_id"),
    ),
    FieldOwnership("Customer.credit", _ERP, _V, _CONF),
    FieldOwnership("Customer.orders", _ERP, _S, _INT),
    FieldOwnership("Customer.invoices", _ERP, _V, _CONF),
    FieldOwnership("Customer.payments", _ERP, _V, _CONF),
    FieldOwnership("Customer.opportunities", _CRM, _S, _INT),
    # Credit: all ERP; the CRM keeps a mirror of the status only.
    FieldOwnership(
        "CreditSummary.limit",
        _ERP,
        _V,
        _CONF,
        _FINANCE_WRITE,
        Binding(
            "credit_limit",
            ValueKind.MONEY,
            input="creditLimit",
            input_note="in the customer's currency",
            check="credit_limit",
        ),
    ),
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

    def of_type(self, type_name: str) -> list[FieldOwnership]:
        """The entries of one canonical type, in the order the schema shows them."""
        return [entry for entry in self if entry.type_name == type_name]

    def bound(self) -> list[FieldOwnership]:
        """The entries whose value is a canonical record attribute."""
        return [entry for entry in self if entry.binding is not None]

    def inputs(self) -> list[FieldOwnership]:
        """The entries updateCustomer writes, in the order its input shows them."""
        return [e for e in self if e.binding is not None and e.binding.input is not None]

    def by_input(self, name: str) -> FieldOwnership:
        for entry in self.inputs():
            assert entry.binding is not None
            if entry.binding.input == name:
                return entry
        raise KeyError(f"no registry entry is written by the input {name!r}")

    def attributes(self, system: System, type_name: str = "Customer") -> set[str]:
        """The record attributes ``system`` must hold for ``type_name``'s fields it owns."""
        return {
            e.binding.attribute
            for e in self.of_type(type_name)
            if e.binding is not None and e.owner is system
        }

    def unmapped(self, system: System, reads: frozenset[str], writes: frozenset[str]) -> list[str]:
        """What ``system``'s adapter lacks to serve the Customer fields it owns: an attribute
        it does not read, or a writable one it does not write (none: it serves them all)."""
        problems = []
        for entry in self.of_type("Customer") + self.of_type("CreditSummary"):
            if entry.binding is None or entry.owner is not system:
                continue
            attribute = entry.binding.attribute
            if entry.type_name == "Customer" and attribute not in reads:
                problems.append(f"{entry.path}: the {system.value} adapter reads no {attribute}")
            if entry.binding.input is not None and attribute not in writes:
                problems.append(f"{entry.path}: the {system.value} adapter writes no {attribute}")
        return problems

    def with_owner(self, path: str, owner: System) -> OwnershipRegistry:
        """A copy where ``path`` belongs to ``owner`` (to try a change of ownership)."""
        entries = [
            FieldOwnership(e.path, owner, e.ttl, e.classification, e.writable_by, e.binding)
            if e.path == path
            else e
            for e in self
        ]
        return OwnershipRegistry(entries)

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
    "readReconciliation": frozenset({Role.FINANCE, Role.OPS}),
    "runReconciliation": frozenset({Role.OPS}),
    "linkAccount": frozenset({Role.OPS}),
    "mirrorCreditStatus": frozenset({Role.FINANCE, Role.OPS}),
    "subscribe": frozenset({Role.SALES, Role.FINANCE, Role.OPS, Role.ANALYTICS}),
}
