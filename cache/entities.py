"""What the cache holds: one entity per batch read of a port, and how long each may be served.

An entity is one way of reading one kind of record: ``customer`` is an ERP customer by its
internal id, ``customer_by_key`` the same record by its cross-reference key, and
``invoices_of_customer`` the list of a customer's invoices. Each names the canonical fields its
values feed (paths of `domain.ownership.REGISTRY`; a customer record's are derived from the
registry, so a field that moves to the other system moves to the other record's entity); its
fresh TTL is the shortest TTL class among them, so a value is never served longer than its
most volatile field allows. An ERP customer carries the credit figures, so it lives 30
seconds; a CRM account carries the owner (STANDARD), so 300.

``field_set`` is the version of the columns the adapters read for the entity: bump it when an
adapter starts filling a field it left empty, so that entries read with the old columns are
not served as complete.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from domain.ownership import REGISTRY, System, TtlClass
from sources.records import (
    CrmAccount,
    CrmOpportunity,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    ErpPayment,
    Line,
)

__all__ = ["ENTITIES", "Entity", "entity_named", "ttl_table"]


@dataclass(frozen=True)
class Entity:
    system: System
    name: str
    record: type
    many: bool  # a list of records per key (absent: empty) rather than one (absent: missing)
    fields: tuple[str, ...]
    key: str  # what the key is, for the docs
    field_set: int = 1

    @functools.cached_property
    def ttl_class(self) -> TtlClass:
        # cached: every cache read asks for it, and the registry does not change at run time
        return min((REGISTRY[path].ttl for path in self.fields), key=lambda ttl: ttl.seconds)

    @functools.cached_property
    def ttl(self) -> int:
        """Seconds a value stays fresh, from the registry."""
        return self.ttl_class.seconds


_CRM, _ERP = System.CRM, System.ERP


def customer_fields(system: System) -> tuple[str, ...]:
    """What one system's customer record feeds, from the registry: its id, every bound
    Customer field it owns, and the credit figures it owns."""
    identity = {_CRM: "Customer.salesforceId", _ERP: "Customer.erpId"}[system]
    bound = [e.path for e in REGISTRY.of_type("Customer") if e.binding and e.owner is system]
    credit = [e.path for e in REGISTRY.of_type("CreditSummary") if e.owner is system]
    return (identity, *bound, *credit)


_ACCOUNT_FIELDS = customer_fields(_CRM)
_OPPORTUNITY_FIELDS = (
    "Opportunity.salesforceId",
    "Opportunity.name",
    "Opportunity.stage",
    "Opportunity.closeDate",
    "Opportunity.amount",
    "Opportunity.isClosed",
    "Opportunity.isWon",
    "Opportunity.customer",
)
_CUSTOMER_FIELDS = customer_fields(_ERP)
_ORDER_FIELDS = (
    "Order.erpId",
    "Order.number",
    "Order.status",
    "Order.orderDate",
    "Order.total",
    "Order.memo",
    "Order.customer",
)
_INVOICE_FIELDS = (
    "Invoice.erpId",
    "Invoice.number",
    "Invoice.status",
    "Invoice.issueDate",
    "Invoice.dueDate",
    "Invoice.total",
    "Invoice.amountPaid",
    "Invoice.amountDue",
    "Invoice.customer",
    "Invoice.order",
)
_PAYMENT_FIELDS = (
    "Payment.erpId",
    "Payment.number",
    "Payment.paymentDate",
    "Payment.amount",
    "Payment.unapplied",
    "Payment.memo",
    "Payment.applications",
    "Payment.customer",
)

# CRM
ACCOUNT = Entity(_CRM, "account", CrmAccount, False, _ACCOUNT_FIELDS, "account id")
ACCOUNT_BY_KEY = Entity(
    _CRM, "account_by_key", CrmAccount, False, _ACCOUNT_FIELDS, "cross-reference key"
)
OPPORTUNITIES_OF_ACCOUNT = Entity(
    _CRM,
    "opportunities_of_account",
    CrmOpportunity,
    True,
    ("Customer.opportunities", *_OPPORTUNITY_FIELDS),
    "account id",
)
OPPORTUNITY = Entity(_CRM, "opportunity", CrmOpportunity, False, _OPPORTUNITY_FIELDS, "id")
OPPORTUNITY_LINES = Entity(
    _CRM, "opportunity_lines", Line, True, ("Opportunity.lines",), "opportunity id"
)
# ERP
CUSTOMER = Entity(_ERP, "customer", ErpCustomer, False, _CUSTOMER_FIELDS, "internal id")
CUSTOMER_BY_KEY = Entity(
    _ERP, "customer_by_key", ErpCustomer, False, _CUSTOMER_FIELDS, "cross-reference key"
)
ORDERS_OF_CUSTOMER = Entity(
    _ERP, "orders_of_customer", ErpOrder, True, ("Customer.orders", *_ORDER_FIELDS), "customer id"
)
ORDER = Entity(_ERP, "order", ErpOrder, False, _ORDER_FIELDS, "internal id")
ORDER_BY_OPPORTUNITY = Entity(
    _ERP,
    "order_by_opportunity",
    ErpOrder,
    False,
    ("Opportunity.order", *_ORDER_FIELDS),
    "opportunity id (the order's external id)",
)
INVOICES_OF_CUSTOMER = Entity(
    _ERP,
    "invoices_of_customer",
    ErpInvoice,
    True,
    ("Customer.invoices", *_INVOICE_FIELDS),
    "customer id",
)
INVOICE = Entity(_ERP, "invoice", ErpInvoice, False, _INVOICE_FIELDS, "internal id")
INVOICES_OF_ORDER = Entity(
    _ERP, "invoices_of_order", ErpInvoice, True, ("Order.invoices", *_INVOICE_FIELDS), "order id"
)
PAYMENTS_OF_CUSTOMER = Entity(
    _ERP,
    "payments_of_customer",
    ErpPayment,
    True,
    ("Customer.payments", *_PAYMENT_FIELDS),
    "customer id",
)
PAYMENT = Entity(_ERP, "payment", ErpPayment, False, _PAYMENT_FIELDS, "internal id")
PAYMENTS_OF_INVOICE = Entity(
    _ERP,
    "payments_of_invoice",
    ErpPayment,
    True,
    ("Invoice.payments", *_PAYMENT_FIELDS),
    "invoice id",
)
TRANSACTION_LINES = Entity(
    _ERP,
    "transaction_lines",
    Line,
    True,
    ("Order.lines", "Invoice.lines"),
    "order or invoice id",
)

ENTITIES: tuple[Entity, ...] = (
    ACCOUNT,
    ACCOUNT_BY_KEY,
    OPPORTUNITIES_OF_ACCOUNT,
    OPPORTUNITY,
    OPPORTUNITY_LINES,
    CUSTOMER,
    CUSTOMER_BY_KEY,
    ORDERS_OF_CUSTOMER,
    ORDER,
    ORDER_BY_OPPORTUNITY,
    INVOICES_OF_CUSTOMER,
    INVOICE,
    INVOICES_OF_ORDER,
    PAYMENTS_OF_CUSTOMER,
    PAYMENT,
    PAYMENTS_OF_INVOICE,
    TRANSACTION_LINES,
)

_BY_NAME = {entity.name: entity for entity in ENTITIES}
if len(_BY_NAME) != len(ENTITIES):
    raise RuntimeError("two cache entities share a name")


def entity_named(name: str) -> Entity:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no cache entity {name!r}") from None


def ttl_table() -> str:
    """The entities as the Markdown table docs/caching.md shows (``python -m cache``)."""
    rows = [
        "| Entity | System | Key | Values | Fresh TTL (s) | Class | Set by |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entity in ENTITIES:
        cls = entity.ttl_class
        shortest = [path for path in entity.fields if REGISTRY[path].ttl is cls]
        values = f"list of {entity.record.__name__}" if entity.many else entity.record.__name__
        rows.append(
            f"| `{entity.name}` | {entity.system.value} | {entity.key} | {values} | "
            f"{entity.ttl} | {cls.name} | {', '.join(f'`{path}`' for path in shortest[:3])}"
            f"{', …' if len(shortest) > 3 else ''} |"
        )
    return "\n".join(rows) + "\n"
