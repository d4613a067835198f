"""Read your writes: the ports the write path uses, dropping what each write changes.

`InvalidatingCrm` and `InvalidatingErp` wrap the CRM and ERP ports given to the write path
(`mutations.common.WriteServices`). Reads pass straight through — the write path validates
against the systems themselves, never against a cached copy — and teach the cache the
cross-references they carry. Every write then drops, from both cache levels, the entries it
made wrong, *whether or not it succeeded* (a write that timed out may still have landed): after
``recordPayment`` returns, the next read of that customer's balance goes to the ERP.

This replica drops its own level 1 and the shared level 2; other replicas' level 1 entries are
dropped when the change comes back to them as an event (`ReadCache.invalidate_event`), and
expire by their TTL otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from cache import entities as E
from cache.invalidation import Changes
from cache.read_cache import ReadCache
from sources.changes import ChangeScan, Notification
from sources.ports import CrmPort, CustomerQuery, ErpPort, InvoiceQuery, Page
from sources.records import (
    AccountFields,
    CrmAccount,
    CrmOpportunity,
    CustomerFields,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    ErpPayment,
    LegalEntity,
    Line,
    NewPayment,
    NewSalesOrder,
    PaymentTerms,
)
from sources.resilience import ResilienceSnapshot

__all__ = ["InvalidatingCrm", "InvalidatingErp"]

T = TypeVar("T")


class _Invalidating:
    def __init__(self, cache: ReadCache) -> None:
        self._cache = cache

    async def _read(self, work: Awaitable[T]) -> T:
        value = await work
        self._cache.observe(list(value.values()) if isinstance(value, dict) else value)
        return value

    async def _write(self, work: Awaitable[T], change: Callable[[Changes, T | None], None]) -> T:
        result: T | None = None
        try:
            result = await work
            return result
        finally:
            changes = self._cache.changes()
            change(changes, result)
            await self._cache.invalidate_targets(changes.targets)


class InvalidatingCrm(_Invalidating):
    """A `CrmPort` whose writes invalidate the cache."""

    def __init__(self, crm: CrmPort, cache: ReadCache) -> None:
        super().__init__(cache)
        self.inner = crm
        self.source = crm.source
        self.customer_attributes = crm.customer_attributes
        self.writable_attributes = crm.writable_attributes
        self.record_names = crm.record_names
        self.webhooks = crm.webhooks

    async def ping(self) -> None:
        await self.inner.ping()

    # the change feed is the inner adapter's
    def change_scans(self) -> Sequence[ChangeScan]:
        return self.inner.change_scans()

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return self.inner.parse_notification(headers, body)

    def health(self) -> ResilienceSnapshot:
        return self.inner.health()

    async def accounts_by_ids(self, ids: Sequence[str]) -> dict[str, CrmAccount]:
        return await self._read(self.inner.accounts_by_ids(ids))

    async def accounts_by_erp_keys(self, keys: Sequence[str]) -> dict[str, CrmAccount]:
        return await self._read(self.inner.accounts_by_erp_keys(keys))

    async def search_accounts(
        self,
        *,
        name_contains: str | None = None,
        country: str | None = None,
        keys: Sequence[str] | None = None,
        after_key: str | None = None,
        limit: int | None = None,
    ) -> list[CrmAccount]:
        return await self._read(
            self.inner.search_accounts(
                name_contains=name_contains,
                country=country,
                keys=keys,
                after_key=after_key,
                limit=limit,
            )
        )

    async def opportunities_by_account_ids(
        self, account_ids: Sequence[str]
    ) -> dict[str, list[CrmOpportunity]]:
        return await self._read(self.inner.opportunities_by_account_ids(account_ids))

    async def opportunities_by_ids(self, ids: Sequence[str]) -> dict[str, CrmOpportunity]:
        return await self._read(self.inner.opportunities_by_ids(ids))

    async def opportunity_lines(self, opportunity_ids: Sequence[str]) -> dict[str, list[Line]]:
        return await self.inner.opportunity_lines(opportunity_ids)

    # Sweeps read the whole system for a job, not for a reader: nothing to teach the cache.
    async def account_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[CrmAccount]:
        return await self.inner.account_sweep(after_id=after_id, limit=limit)

    async def won_opportunity_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[CrmOpportunity]:
        return await self.inner.won_opportunity_sweep(after_id=after_id, limit=limit)

    async def update_account(
        self, account_id: str, fields: AccountFields, *, idempotency_key: str
    ) -> None:
        def change(changes: Changes, _: None) -> None:
            changes.crm_account(account_id)
            changes.drop(E.ACCOUNT_BY_KEY, fields.erp_key)  # a newly linked key's negative entry

        await self._write(
            self.inner.update_account(account_id, fields, idempotency_key=idempotency_key), change
        )

    async def write_back_booking(
        self,
        *,
        opportunity_id: str,
        order_number: str | None,
        order_status: str | None,
        account_id: str,
        erp_key: str | None,
        idempotency_key: str,
    ) -> None:
        def change(changes: Changes, _: None) -> None:
            changes.crm_account(account_id)
            changes.drop(E.ACCOUNT_BY_KEY, erp_key)
            changes.opportunity(opportunity_id, account_id)

        await self._write(
            self.inner.write_back_booking(
                opportunity_id=opportunity_id,
                order_number=order_number,
                order_status=order_status,
                account_id=account_id,
                erp_key=erp_key,
                idempotency_key=idempotency_key,
            ),
            change,
        )


class InvalidatingErp(_Invalidating):
    """An `ErpPort` whose writes invalidate the cache."""

    def __init__(self, erp: ErpPort, cache: ReadCache) -> None:
        super().__init__(cache)
        self.inner = erp
        self.source = erp.source
        self.customer_attributes = erp.customer_attributes
        self.writable_attributes = erp.writable_attributes
        self.record_names = erp.record_names
        self.webhooks = erp.webhooks
        self.id_shape = erp.id_shape
        self.capabilities = erp.capabilities

    def accepts_id(self, value: str) -> bool:
        return self.inner.accepts_id(value)

    async def ping(self) -> None:
        await self.inner.ping()

    # the change feed is the inner adapter's
    def change_scans(self) -> Sequence[ChangeScan]:
        return self.inner.change_scans()

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        return self.inner.parse_notification(headers, body)

    def health(self) -> ResilienceSnapshot:
        return self.inner.health()

    def today(self) -> dt.date:
        return self.inner.today()

    async def customers_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpCustomer]:
        return await self._read(self.inner.customers_by_ids(erp_ids))

    async def customers_by_keys(self, keys: Sequence[str]) -> dict[str, ErpCustomer]:
        return await self._read(self.inner.customers_by_keys(keys))

    async def customer_page(self, query: CustomerQuery) -> Page[ErpCustomer]:
        page = await self.inner.customer_page(query)
        self._cache.observe(page.items)
        return page

    async def legal_entities(self) -> dict[str, LegalEntity]:
        return await self.inner.legal_entities()

    async def payment_terms(self) -> dict[str, PaymentTerms]:
        return await self.inner.payment_terms()

    async def orders_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpOrder]]:
        return await self._read(self.inner.orders_by_customer_ids(customer_erp_ids))

    async def orders_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpOrder]:
        return await self._read(self.inner.orders_by_ids(erp_ids))

    async def orders_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, ErpOrder]:
        return await self._read(self.inner.orders_by_external_ids(external_ids))

    async def invoices_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]:
        return await self._read(self.inner.invoices_by_customer_ids(customer_erp_ids))

    async def invoices_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpInvoice]:
        return await self._read(self.inner.invoices_by_ids(erp_ids))

    async def invoices_by_order_ids(
        self, order_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpInvoice]]:
        return await self._read(self.inner.invoices_by_order_ids(order_erp_ids))

    async def invoice_page(self, query: InvoiceQuery) -> Page[ErpInvoice]:
        page = await self.inner.invoice_page(query)
        self._cache.observe(page.items)
        return page

    async def payments_by_customer_ids(
        self, customer_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]:
        return await self._read(self.inner.payments_by_customer_ids(customer_erp_ids))

    async def payments_by_ids(self, erp_ids: Sequence[str]) -> dict[str, ErpPayment]:
        return await self._read(self.inner.payments_by_ids(erp_ids))

    async def payments_by_external_ids(self, external_ids: Sequence[str]) -> dict[str, ErpPayment]:
        return await self._read(self.inner.payments_by_external_ids(external_ids))

    async def payments_by_invoice_ids(
        self, invoice_erp_ids: Sequence[str]
    ) -> dict[str, list[ErpPayment]]:
        return await self._read(self.inner.payments_by_invoice_ids(invoice_erp_ids))

    async def transaction_lines(self, transaction_erp_ids: Sequence[str]) -> dict[str, list[Line]]:
        return await self.inner.transaction_lines(transaction_erp_ids)

    async def customer_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpCustomer]:
        return await self.inner.customer_sweep(after_id=after_id, limit=limit)

    async def order_sweep(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Page[ErpOrder]:
        return await self.inner.order_sweep(after_id=after_id, limit=limit)

    async def update_customer(
        self, erp_id: str, fields: CustomerFields, *, idempotency_key: str
    ) -> None:
        def change(changes: Changes, _: None) -> None:
            changes.erp_customer(erp_id)

        await self._write(
            self.inner.update_customer(erp_id, fields, idempotency_key=idempotency_key), change
        )

    async def upsert_customer(
        self, key: str, fields: CustomerFields, *, idempotency_key: str
    ) -> str:
        def change(changes: Changes, erp_id: str | None) -> None:
            if erp_id:
                changes.identities.link_customer(erp_id, key)
            changes.erp_customer(erp_id, key)  # with a negative entry for the new key

        return await self._write(
            self.inner.upsert_customer(key, fields, idempotency_key=idempotency_key), change
        )

    async def delete_customer(self, erp_id: str) -> None:
        def change(changes: Changes, _: None) -> None:
            changes.erp_customer(erp_id)

        await self._write(self.inner.delete_customer(erp_id), change)

    async def create_sales_order(self, order: NewSalesOrder, *, idempotency_key: str) -> str:
        def change(changes: Changes, erp_id: str | None) -> None:
            if erp_id:
                changes.identities.order[erp_id] = (order.customer_erp_id, order.external_id)
            changes.order(erp_id, order.customer_erp_id, order.external_id)

        return await self._write(
            self.inner.create_sales_order(order, idempotency_key=idempotency_key), change
        )

    async def delete_sales_order(self, erp_id: str) -> None:
        def change(changes: Changes, _: None) -> None:
            changes.order(erp_id)

        await self._write(self.inner.delete_sales_order(erp_id), change)

    async def create_payment(self, payment: NewPayment, *, idempotency_key: str) -> str:
        def change(changes: Changes, erp_id: str | None) -> None:
            invoices = [application.invoice_erp_id for application in payment.applications]
            changes.payment(erp_id, payment.customer_erp_id, invoices)

        return await self._write(
            self.inner.create_payment(payment, idempotency_key=idempotency_key), change
        )
