"""Which cache entries a change makes wrong: for canonical events and for Accord's own writes.

`Changes` turns "this changed" (a customer's money, an invoice, an order, an account) into the
entries that hold it, expanded through the cross-references `Identities` has learned: a payment
drops its customer by internal id *and* by key, the customer's invoice and payment lists, the
paid invoices by id with their payment lists and their orders' invoice lists. `invalidation_for`
maps each canonical event type onto those changes.

What an event may tell, besides its ``subject`` and ``customer`` (ids as in `domain.ids`), read
from ``data`` when present (as `events.normalize` writes it; canonical ids or bare ERP ids):
``applications`` (``[{"invoiceId": "inv:50013", ...}]``), ``orderId``, ``opportunityId``,
``recordId`` (of a customer event: the account id from Salesforce, the internal id from the
ERP), ``customerErpId`` (``erpId`` in a credit event). What an event leaves out is filled in
from `Identities`; what neither knows (a payment's invoices in a replica that never saw them)
is covered by dropping every invoice of the customer this replica has seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cache import entities as E
from cache.entities import Entity
from cache.identities import Identities
from domain.ids import CustomerRef, InvalidId, parse_customer_id
from domain.ownership import System
from events.model import Event, EventType
from sources.netsuite_http import SOURCE as ERP_SOURCE
from sources.salesforce_client import SOURCE as CRM_SOURCE

__all__ = ["DEFAULT_SOURCES", "Changes", "Target", "invalidation_for"]

Target = tuple[str, str, str]
"""(source, entity, key) of one cache entry, e.g. ("netsuite", "customer", "1042")."""

DEFAULT_SOURCES: Mapping[System, str] = {System.CRM: CRM_SOURCE, System.ERP: ERP_SOURCE}
"""The systems' names when none are given: the embedded default's adapters."""


class Changes:
    """Collects the entries to drop, without duplicates, in the order found."""

    def __init__(
        self,
        identities: Identities | None = None,
        sources: Mapping[System, str] = DEFAULT_SOURCES,
    ) -> None:
        self.identities = identities or Identities(maxsize=1)
        self.sources = sources
        self._targets: dict[Target, None] = {}

    @property
    def targets(self) -> list[Target]:
        return list(self._targets)

    def drop(self, entity: Entity, *keys: str | None) -> None:
        source = self.sources[entity.system]
        for key in keys:
            if key:
                self._targets[(source, entity.name, key)] = None

    # -- customers --------------------------------------------------------------------------

    def erp_customer(self, erp_id: str | None = None, key: str | None = None) -> str | None:
        """The ERP customer's record, by id and by key (the key it had too, if it changed);
        its ERP id when known."""
        known = self.identities
        erp_id = erp_id or known.customer_id(key)
        self.drop(E.CUSTOMER, erp_id)
        self.drop(E.CUSTOMER_BY_KEY, key, known.customer_key(erp_id))
        return erp_id

    def crm_account(self, account_id: str | None = None, key: str | None = None) -> None:
        known = self.identities
        account_id = account_id or known.account_id(key)
        self.drop(E.ACCOUNT, account_id)
        self.drop(E.ACCOUNT_BY_KEY, key, known.account_key(account_id))

    def customer(self, ref: CustomerRef) -> str | None:
        """Both systems' records of a customer (created, updated, linked); its ERP id."""
        self.crm_account(ref.salesforce_id, ref.key)
        return self.erp_customer(ref.erp_id, ref.key)

    def customer_money(self, erp_id: str | None, key: str | None = None) -> str | None:
        """A customer's balance moved: its record and its invoice and payment lists."""
        erp_id = self.erp_customer(erp_id, key)
        self.drop(E.INVOICES_OF_CUSTOMER, erp_id)
        self.drop(E.PAYMENTS_OF_CUSTOMER, erp_id)
        return erp_id

    # -- transactions -----------------------------------------------------------------------

    def invoice(self, invoice_id: str | None, order_id: str | None = None) -> None:
        """An invoice's amounts or status changed: it, its payments, its order's invoices."""
        if not invoice_id:
            return
        seen = self.identities.invoice.get(invoice_id)
        self.drop(E.INVOICE, invoice_id)
        self.drop(E.PAYMENTS_OF_INVOICE, invoice_id)
        self.drop(E.INVOICES_OF_ORDER, order_id, seen[1] if seen else None)

    def invoices_of(self, customer_erp_id: str | None) -> None:
        """Every invoice of the customer seen so far (when which ones changed is unknown)."""
        for invoice_id in self.identities.known_invoices(customer_erp_id):
            self.invoice(invoice_id)

    def payment(
        self, payment_id: str | None, customer_erp_id: str | None, invoices: Iterable[str] = ()
    ) -> None:
        """A payment was received (or changed): the payer's money and the paid invoices."""
        seen = self.identities.payment.get(payment_id) if payment_id else None
        customer_erp_id = customer_erp_id or (seen[0] if seen else None)
        self.drop(E.PAYMENT, payment_id)
        self.customer_money(customer_erp_id)
        paid = [*invoices, *(seen[1] if seen else ())]
        for invoice_id in paid:
            self.invoice(invoice_id)
        if not paid:
            self.invoices_of(customer_erp_id)

    def order(
        self,
        order_id: str | None,
        customer_erp_id: str | None = None,
        opportunity_id: str | None = None,
    ) -> None:
        """An order was booked, changed or removed: it, its lines and its customer's orders."""
        seen = self.identities.order.get(order_id) if order_id else None
        self.drop(E.ORDER, order_id)
        self.drop(E.TRANSACTION_LINES, order_id)
        self.drop(E.INVOICES_OF_ORDER, order_id)
        self.drop(E.ORDERS_OF_CUSTOMER, customer_erp_id, seen[0] if seen else None)
        self.drop(E.ORDER_BY_OPPORTUNITY, opportunity_id, seen[1] if seen else None)

    def opportunity(self, opportunity_id: str | None, account_id: str | None = None) -> None:
        known = self.identities.account_of_opportunity.get(opportunity_id or "")
        self.drop(E.OPPORTUNITY, opportunity_id)
        self.drop(E.OPPORTUNITY_LINES, opportunity_id)
        self.drop(E.OPPORTUNITIES_OF_ACCOUNT, account_id, known)


# --------------------------------------------------------------------------- events


def _text(value: Any, prefix: str = "") -> str | None:
    """An id from event data: a bare id, or a canonical one (``inv:50013``) without its prefix."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).removeprefix(prefix) if prefix else str(value)
    return text or None


def _datum(data: Mapping[str, Any], *names: str, prefix: str = "") -> str | None:
    """The first of ``names`` present in ``data``, as an id."""
    for name in names:
        found = _text(data.get(name), prefix)
        if found:
            return found
    return None


def _subject(event: Event, prefix: str) -> str | None:
    return event.subject.removeprefix(prefix) if event.subject.startswith(prefix) else None


def _customer_ref(event: Event, sources: Mapping[System, str]) -> CustomerRef:
    """What the event says about its customer: canonical id, and ids in ``data``."""
    ref = CustomerRef()
    for text in (event.customer, event.subject):
        if text and text.startswith("cus:"):
            try:
                ref = parse_customer_id(text)
                break
            except InvalidId:
                continue
    data = event.data
    account_id = _datum(data, "salesforceId", "salesforce_id")
    erp_id = _datum(data, "customerErpId", "customer_erp_id", "erpId")
    if event.type in (EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED):
        record = _datum(data, "recordId")
        if event.source == sources[System.CRM]:
            account_id = account_id or record
        elif event.source == sources[System.ERP]:
            erp_id = erp_id or record
    return CustomerRef(
        key=ref.key,
        salesforce_id=ref.salesforce_id or account_id,
        erp_id=ref.erp_id or erp_id,
    )


def _invoice_ids(data: Mapping[str, Any]) -> list[str]:
    found = [_text(value, "inv:") for value in data.get("invoice_erp_ids") or ()]
    for application in data.get("applications") or ():
        if isinstance(application, Mapping):
            found.append(_datum(application, "invoiceId", "invoice_erp_id", prefix="inv:"))
    return [value for value in found if value]


def invalidation_for(
    event: Event,
    identities: Identities | None = None,
    sources: Mapping[System, str] = DEFAULT_SOURCES,
) -> list[Target]:
    """The cache entries ``event`` makes wrong: (source, entity, key) each."""
    changes = Changes(identities, sources)
    kind, data = event.type, event.data
    ref = _customer_ref(event, sources)
    if kind in (
        EventType.CUSTOMER_CREATED,
        EventType.CUSTOMER_UPDATED,
        EventType.CREDIT_STATUS_CHANGED,
    ):
        changes.customer(ref)
    elif kind is EventType.PAYMENT_RECEIVED:
        erp_id = changes.erp_customer(ref.erp_id, ref.key)
        changes.payment(_subject(event, "pay:"), erp_id, _invoice_ids(data))
    elif kind in (EventType.INVOICE_POSTED, EventType.INVOICE_STATUS_CHANGED):
        invoice_id = _subject(event, "inv:")
        seen = changes.identities.invoice.get(invoice_id or "")
        erp_id = changes.customer_money(ref.erp_id or (seen[0] if seen else None), ref.key)
        order_id = _datum(data, "orderId", "order_erp_id", prefix="ord:") or (
            seen[1] if seen else None
        )
        changes.invoice(invoice_id, order_id)
        changes.drop(E.TRANSACTION_LINES, invoice_id)
        if kind is EventType.INVOICE_POSTED:
            changes.order(order_id, erp_id)  # billing moves the order's status
    elif kind in (EventType.ORDER_BOOKED, EventType.ORDER_STATUS_CHANGED):
        opportunity = _datum(data, "opportunityId", "opportunity_id", prefix="opp:")
        erp_id = changes.identities.customer_id(ref.key) if not ref.erp_id else ref.erp_id
        changes.order(_subject(event, "ord:"), erp_id, opportunity)
        if opportunity:
            changes.opportunity(opportunity)
    return changes.targets
