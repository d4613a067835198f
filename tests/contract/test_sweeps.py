"""Sweeps, for every adapter of each port: every record of a kind, in pages, each exactly once,
checked against the world the systems were seeded from. Other tests add records to the same
systems, so a sweep holds at least the world's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from sandbox.salesforce.seed import credit_status
from sandbox.world import World
from sources.errors import SourceValidationError
from sources.ports import Page
from tests.contract.conftest import CrmHarness, ErpHarness

T = TypeVar("T")
Sweep = Callable[..., Awaitable[Page[T]]]


async def sweep_all(sweep: Sweep[T], id_of: Callable[[T], str], limit: int | None) -> list[T]:
    """Every page of ``sweep``, each starting after the last id of the one before."""
    found: list[T] = []
    after: str | None = None
    for _ in range(10_000):
        page = await sweep(after_id=after, limit=limit)
        if limit is not None:
            assert len(page.items) <= limit
        found.extend(page.items)
        if not page.has_more:
            return found
        assert page.items, "a page that says more follows is not empty"
        after = id_of(page.items[-1])
    raise AssertionError("the sweep never ended")


def accounts_of(world: World) -> dict[str, Any]:
    return {c.sf_account_id: c for c in world.customers if c.sf_account_id is not None}


async def test_the_account_sweep_holds_every_account_once(crm_harness: CrmHarness) -> None:
    # given the world's accounts
    world = crm_harness.world
    expected = accounts_of(world)

    # when every account is read, 37 at a time
    found = await sweep_all(crm_harness.crm.account_sweep, lambda a: a.salesforce_id, 37)

    # then each comes once, the world's all among them, linked or not, as the world has them
    ids = [account.salesforce_id for account in found]
    assert len(ids) == len(set(ids))
    assert set(ids) >= set(expected)
    for account in found:
        customer = expected.get(account.salesforce_id)
        if customer is None:
            continue  # another test's account
        assert account.name == customer.name
        assert account.erp_key == customer.account_key
        assert account.credit_status_mirror == credit_status(customer)
        assert account.billing().street == customer.address.street


async def test_the_won_opportunity_sweep_holds_every_won_opportunity_once(
    crm_harness: CrmHarness,
) -> None:
    world = crm_harness.world
    won = {o.sf_id: o for c in world.customers for o in c.opportunities if o.stage == "Closed Won"}

    found = await sweep_all(crm_harness.crm.won_opportunity_sweep, lambda o: o.salesforce_id, 29)

    ids = [opportunity.salesforce_id for opportunity in found]
    assert len(ids) == len(set(ids))
    assert set(ids) >= set(won)
    assert all(o.is_won and o.stage == "Closed Won" for o in found)
    for opportunity in found:
        if opportunity.salesforce_id in won:
            expected = won[opportunity.salesforce_id]
            assert opportunity.amount == expected.amount
            assert opportunity.currency == expected.currency


async def test_the_customer_sweep_holds_every_customer_once_with_its_billing_address(
    erp_harness: ErpHarness,
) -> None:
    world = erp_harness.world
    expected = {c.key: c for c in world.customers if c.ns_id is not None}

    found = await sweep_all(erp_harness.erp.customer_sweep, lambda c: c.erp_id, 41)

    ids = [customer.erp_id for customer in found]
    assert len(ids) == len(set(ids))
    by_key = {customer.erp_key: customer for customer in found}
    assert set(by_key) >= set(expected)
    for key, customer in expected.items():
        record = by_key[key]
        address = record.billing()
        assert record.name == (customer.erp_name or customer.name)
        assert address.street == (customer.erp_street or customer.address.street)
        assert (address.city, address.country) == (customer.address.city, customer.address.country)


async def test_the_order_sweep_holds_every_sales_order_once(erp_harness: ErpHarness) -> None:
    world = erp_harness.world
    expected = {o.tran_id: o for c in world.customers for o in c.sales_orders}

    found = await sweep_all(erp_harness.erp.order_sweep, lambda o: o.erp_id, 53)

    ids = [order.erp_id for order in found]
    assert len(ids) == len(set(ids))
    by_number = {order.number: order for order in found}
    assert set(by_number) >= set(expected)
    for number, order in expected.items():
        assert by_number[number].total == order.total
        assert by_number[number].external_id == order.external_id


async def test_a_default_page_is_the_largest_one_answer_holds(
    crm_harness: CrmHarness, erp_harness: ErpHarness
) -> None:
    # given systems with a few hundred records of each kind: each kind is one page
    accounts = await crm_harness.crm.account_sweep()
    customers = await erp_harness.erp.customer_sweep()
    orders = await erp_harness.erp.order_sweep()

    assert not accounts.has_more
    assert not customers.has_more
    assert not orders.has_more
    assert len(accounts.items) >= len(accounts_of(crm_harness.world))
    world = erp_harness.world
    assert len(customers.items) >= sum(1 for c in world.customers if c.ns_id is not None)
    assert len(orders.items) >= sum(len(c.sales_orders) for c in world.customers)


@pytest.mark.parametrize("limit", [0, -1, 100_000])
async def test_a_page_size_out_of_range_is_refused(
    crm_harness: CrmHarness, erp_harness: ErpHarness, limit: int
) -> None:
    for sweep in (
        crm_harness.crm.account_sweep,
        crm_harness.crm.won_opportunity_sweep,
        erp_harness.erp.customer_sweep,
        erp_harness.erp.order_sweep,
    ):
        with pytest.raises(SourceValidationError):
            await sweep(limit=limit)
