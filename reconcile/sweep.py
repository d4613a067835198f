"""Reading both systems whole, through the ports, in as few upstream calls as they allow.

The four sweeps (accounts and won opportunities from the CRM; customers and sales orders from
the ERP) run at once, each a chain of the largest pages its system answers. One more batched
read follows: the opportunities that ERP orders were booked from and that are not won (any
left unfound are gone). No record is ever read on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from domain import sfid
from sources.ports import CrmPort, ErpPort, Page
from sources.records import CrmAccount, CrmOpportunity, ErpCustomer, ErpOrder

T = TypeVar("T")
_MAX_PAGES = 100_000  # a sweep that never ends is a broken system, not a large one


class _Sweep(Protocol[T]):
    def __call__(
        self, *, after_id: str | None = None, limit: int | None = None
    ) -> Awaitable[Page[T]]: ...


@dataclass
class Snapshot:
    """What the systems held, as the sweeps read them."""

    accounts: list[CrmAccount] = field(default_factory=list)
    won: list[CrmOpportunity] = field(default_factory=list)
    customers: list[ErpCustomer] = field(default_factory=list)
    orders: list[ErpOrder] = field(default_factory=list)
    # opportunities orders name that are not won, by id; one an order names and that is
    # neither won nor here, the CRM does not have
    other_opportunities: dict[str, CrmOpportunity] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)  # pages and batches read, by system

    def scanned(self) -> dict[str, int]:
        return {
            "accounts": len(self.accounts),
            "wonOpportunities": len(self.won),
            "erpCustomers": len(self.customers),
            "erpOrders": len(self.orders),
        }


class _Counter:
    def __init__(self) -> None:
        self.reads: dict[str, int] = {}

    def add(self, source: str) -> None:
        self.reads[source] = self.reads.get(source, 0) + 1


async def _everything(
    sweep: _Sweep[T], id_of: Callable[[T], str], source: str, counter: _Counter
) -> list[T]:
    found: list[T] = []
    after: str | None = None
    for _ in range(_MAX_PAGES):
        page = await sweep(after_id=after)
        counter.add(source)
        found.extend(page.items)
        if not page.has_more or not page.items:
            return found
        after = id_of(page.items[-1])
    raise RuntimeError(f"a {source} sweep did not end after {_MAX_PAGES} pages")


def opportunity_named(external_id: str | None) -> str | None:
    """The opportunity an ERP order's external id names (18 characters), if it names one."""
    if not external_id or not sfid.is_valid(external_id):
        return None
    found = sfid.to18(external_id)
    return found if found.startswith("006") else None


async def read_systems(crm: CrmPort, erp: ErpPort) -> Snapshot:
    counter = _Counter()
    accounts, won, customers, orders = await asyncio.gather(
        _everything(crm.account_sweep, lambda a: a.salesforce_id, crm.source, counter),
        _everything(crm.won_opportunity_sweep, lambda o: o.salesforce_id, crm.source, counter),
        _everything(erp.customer_sweep, lambda c: c.erp_id, erp.source, counter),
        _everything(erp.order_sweep, lambda o: o.erp_id, erp.source, counter),
    )
    won_ids = {opportunity.salesforce_id for opportunity in won}
    named = sorted(
        {
            found
            for order in orders
            if (found := opportunity_named(order.external_id)) and found not in won_ids
        }
    )
    other: dict[str, CrmOpportunity] = {}
    if named:
        other = await crm.opportunities_by_ids(named)
        counter.add(crm.source)  # one batch (the adapter splits it at the URI's length)
    return Snapshot(accounts, won, customers, orders, other, counter.reads)
