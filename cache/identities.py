"""Cross-references learned from the records that pass through Accord, for invalidation.

A change names what changed by one id (an event says ``pay:50020`` for customer
``cus:CUST-000042``; a write knows an ERP customer's internal id), while the cache holds the
same facts under several keys: an ERP customer by internal id and by cross-reference key, an
invoice by id and in its customer's and order's lists. Every record the cache sees teaches it
these links, so a change to one key can drop every entry that holds it. The maps are bounded
by count and by estimated bytes (least recently used links are forgotten first);
cross-references are IDENTITY-class facts that practically never change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cache.bounded import SizedLRUCache
from sources.records import (
    CrmAccount,
    CrmOpportunity,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    ErpPayment,
)

__all__ = ["Identities"]


class Identities:
    def __init__(self, maxsize: int = 100_000, max_bytes: int = 32 * 2**20) -> None:
        """At most ``maxsize`` links per map, and ``max_bytes`` (estimated) for all nine."""
        share = max(1, max_bytes // 9)

        def bounded() -> SizedLRUCache[str, Any]:
            return SizedLRUCache(maxsize, share)

        self.key_of_customer: SizedLRUCache[str, str] = bounded()  # ERP id -> key
        self.customer_of_key: SizedLRUCache[str, str] = bounded()  # key -> ERP id
        self.key_of_account: SizedLRUCache[str, str] = bounded()  # account id -> key
        self.account_of_key: SizedLRUCache[str, str] = bounded()  # key -> account id
        # ERP transaction id -> (customer ERP id, order id or external id)
        self.invoice: SizedLRUCache[str, tuple[str, str | None]] = bounded()
        self.order: SizedLRUCache[str, tuple[str, str | None]] = bounded()
        self.payment: SizedLRUCache[str, tuple[str, tuple[str, ...]]] = bounded()
        self.account_of_opportunity: SizedLRUCache[str, str] = bounded()
        # customer ERP id -> the ids of its invoices seen so far
        self.invoices_of: SizedLRUCache[str, frozenset[str]] = bounded()

    def observe(self, value: Any) -> None:
        """Learn the links a record (or a list of records, or None) carries."""
        if value is None:
            return
        invoices: dict[str, set[str]] = {}
        for item in value if isinstance(value, list | tuple) else (value,):
            if isinstance(item, list | tuple):
                self.observe(item)
            elif isinstance(item, ErpCustomer):
                if item.erp_key:
                    self.link_customer(item.erp_id, item.erp_key)
            elif isinstance(item, CrmAccount):
                if item.erp_key:
                    self.key_of_account[item.salesforce_id] = item.erp_key
                    self.account_of_key[item.erp_key] = item.salesforce_id
            elif isinstance(item, ErpInvoice):
                self.invoice[item.erp_id] = (item.customer_erp_id, item.order_erp_id)
                invoices.setdefault(item.customer_erp_id, set()).add(item.erp_id)
            elif isinstance(item, ErpOrder):
                self.order[item.erp_id] = (item.customer_erp_id, item.external_id)
            elif isinstance(item, ErpPayment):
                applied = tuple(application.invoice_erp_id for application in item.applications)
                self.payment[item.erp_id] = (item.customer_erp_id, applied)
            elif isinstance(item, CrmOpportunity) and item.account_id:
                self.account_of_opportunity[item.salesforce_id] = item.account_id
        for customer, found in invoices.items():  # one set per customer, not one per invoice
            known = self.invoices_of.get(customer, frozenset())
            if not found <= known:
                self.invoices_of[customer] = known | found

    def link_customer(self, erp_id: str, key: str) -> None:
        # Every page read links its customers again: a link already known is only touched
        # (kept recent), not stored and measured anew.
        if self.key_of_customer.get(erp_id) != key:
            self.key_of_customer[erp_id] = key
        if self.customer_of_key.get(key) != erp_id:
            self.customer_of_key[key] = erp_id

    # -- look-ups that never fail -----------------------------------------------------------

    def customer_key(self, erp_id: str | None) -> str | None:
        return self.key_of_customer.get(erp_id) if erp_id else None

    def customer_id(self, key: str | None) -> str | None:
        return self.customer_of_key.get(key) if key else None

    def account_key(self, account_id: str | None) -> str | None:
        return self.key_of_account.get(account_id) if account_id else None

    def account_id(self, key: str | None) -> str | None:
        return self.account_of_key.get(key) if key else None

    def known_invoices(self, customer_erp_id: str | None) -> Iterable[str]:
        if not customer_erp_id:
            return ()
        return sorted(self.invoices_of.get(customer_erp_id, frozenset()))
