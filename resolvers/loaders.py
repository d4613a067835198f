"""Per-request DataLoaders: one class per entity and key, each one batched upstream call.

Every loader collects the keys its resolvers ask for during one turn of the event loop and
makes one call to its source's batch method (`sources.ports`), which itself splits a long
key list under the vendor's limits. Values are cached for the rest of the request, so a
record fetched for one field is not fetched again for another. A source failure reaches every
field that waited on the batch as a `SourceFieldError` carrying the code and the source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from resolvers.errors import SourceFieldError
from sources.errors import SourceError
from sources.ports import CrmPort, ErpPort
from sources.records import (
    CrmAccount,
    CrmOpportunity,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    ErpPayment,
    Line,
)

K = TypeVar("K")
V = TypeVar("V")


class BatchLoader(Generic[K, V]):
    """A typed DataLoader: ``fetch`` answers a mapping; keys it leaves out get ``missing``."""

    def __init__(
        self,
        fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]],
        missing: Callable[[], V],
    ) -> None:
        self._fetch = fetch
        self._missing = missing
        self.batches = 0
        self._loader = DataLoader(self._batch)

    async def _batch(self, keys: list[K]) -> list[Any]:
        self.batches += 1
        try:
            found = await self._fetch(keys)
        except SourceError as exc:
            error = SourceFieldError.from_source_error(exc)
            return [error for _ in keys]
        return [found[key] if key in found else self._missing() for key in keys]

    async def load(self, key: K) -> V:
        result: V = await self._loader.load(key)
        return result

    async def load_many(self, keys: Sequence[K]) -> list[V]:
        return list(await asyncio.gather(*(self.load(key) for key in keys)))

    def prime(self, key: K, value: V) -> None:
        self._loader.prime(key, value)

    def prefetch(self, key: K) -> None:
        """Start loading ``key`` now, in this turn's batch, for a resolver that will ask later.

        The later ``load`` gets the same (cached) future; a failure is kept for it and not
        reported as an exception nobody retrieved."""
        future = self._loader.load(key)
        future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _none() -> None:
    return None


def _empty() -> list[Any]:
    return []


class Loaders:
    """The loaders of one request. Names read ``<entity>_by_<key>``."""

    def __init__(self, crm: CrmPort, erp: ErpPort) -> None:
        # CRM
        self.account_by_id: BatchLoader[str, CrmAccount | None] = BatchLoader(
            crm.accounts_by_ids, _none
        )
        self.account_by_key: BatchLoader[str, CrmAccount | None] = BatchLoader(
            crm.accounts_by_erp_keys, _none
        )
        self.opportunities_by_account: BatchLoader[str, list[CrmOpportunity]] = BatchLoader(
            crm.opportunities_by_account_ids, _empty
        )
        self.opportunity_by_id: BatchLoader[str, CrmOpportunity | None] = BatchLoader(
            crm.opportunities_by_ids, _none
        )
        self.opportunity_lines: BatchLoader[str, list[Line]] = BatchLoader(
            crm.opportunity_lines, _empty
        )
        # ERP
        self.erp_customer_by_id: BatchLoader[str, ErpCustomer | None] = BatchLoader(
            erp.customers_by_ids, _none
        )
        self.erp_customer_by_key: BatchLoader[str, ErpCustomer | None] = BatchLoader(
            erp.customers_by_keys, _none
        )
        self.orders_by_customer: BatchLoader[str, list[ErpOrder]] = BatchLoader(
            erp.orders_by_customer_ids, _empty
        )
        self.order_by_id: BatchLoader[str, ErpOrder | None] = BatchLoader(erp.orders_by_ids, _none)
        self.order_by_opportunity: BatchLoader[str, ErpOrder | None] = BatchLoader(
            erp.orders_by_external_ids, _none
        )
        self.invoices_by_customer: BatchLoader[str, list[ErpInvoice]] = BatchLoader(
            erp.invoices_by_customer_ids, _empty
        )
        self.invoice_by_id: BatchLoader[str, ErpInvoice | None] = BatchLoader(
            erp.invoices_by_ids, _none
        )
        self.invoices_by_order: BatchLoader[str, list[ErpInvoice]] = BatchLoader(
            erp.invoices_by_order_ids, _empty
        )
        self.payments_by_customer: BatchLoader[str, list[ErpPayment]] = BatchLoader(
            erp.payments_by_customer_ids, _empty
        )
        self.payment_by_id: BatchLoader[str, ErpPayment | None] = BatchLoader(
            erp.payments_by_ids, _none
        )
        self.payments_by_invoice: BatchLoader[str, list[ErpPayment]] = BatchLoader(
            erp.payments_by_invoice_ids, _empty
        )
        self.transaction_lines: BatchLoader[str, list[Line]] = BatchLoader(
            erp.transaction_lines, _empty
        )
