"""The CRM port, for every CRM adapter: reads checked against the world the CRM was seeded
from, and the writes Accord makes to it (account changes, the booking write-back)."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal

from sandbox.salesforce.seed import account_number
from sandbox.world import Customer, World
from sources.records import AccountFields
from tests.contract.conftest import CrmHarness


def linked(world: World) -> list[Customer]:
    """Customers present in the CRM with an ERP cross-reference key."""
    return [c for c in world.customers if c.sf_account_id is not None and c.ns_id is not None]


async def test_accounts_by_key_and_by_id_match_the_world(crm_harness: CrmHarness) -> None:
    customers = linked(crm_harness.world)[:80]
    by_key = await crm_harness.crm.accounts_by_erp_keys([c.key or "" for c in customers])
    assert set(by_key) == {c.key for c in customers}
    for customer in customers:
        account = by_key[customer.key or ""]
        assert account.name == customer.name
        assert account.industry == customer.industry
        assert account.owner == customer.owner
        assert account.phone == customer.phone
        assert account.account_number == account_number(customer)
        assert account.billing().street == customer.address.street
        assert account.billing().country == customer.address.country
        assert account.currency == customer.currency
    ids = [account.salesforce_id for account in by_key.values()]
    by_id = await crm_harness.crm.accounts_by_ids([*ids, "001000000000000AAA"])
    assert set(by_id) == set(ids)
    assert all(by_id[a.salesforce_id] == a for a in by_key.values())


async def test_account_search_by_country_pages_by_key(crm_harness: CrmHarness) -> None:
    world = crm_harness.world
    country = linked(world)[0].address.country
    expected = sorted(c.key or "" for c in linked(world) if c.address.country == country)
    seen: list[str] = []
    after: str | None = None
    while True:
        page = await crm_harness.crm.search_accounts(country=country, after_key=after, limit=7)
        keys = [a.erp_key or "" for a in page]
        seen.extend(k for k in keys if k in expected)
        if len(page) < 7:
            break
        after = keys[-1]
    assert seen == expected


async def test_opportunities_and_their_lines_match_the_world(crm_harness: CrmHarness) -> None:
    customers = [c for c in linked(crm_harness.world) if c.opportunities][:25]
    by_key = await crm_harness.crm.accounts_by_erp_keys([c.key or "" for c in customers])
    account_ids = {c.key: by_key[c.key or ""].salesforce_id for c in customers}
    found = await crm_harness.crm.opportunities_by_account_ids(list(account_ids.values()))
    for customer in customers:
        got = found.get(account_ids[customer.key], [])
        assert Counter((o.name, o.stage, o.close_date) for o in got) == Counter(
            (o.name, o.stage, o.close_date) for o in customer.opportunities
        )
    opportunity = customers[0].opportunities[0]
    by_id = await crm_harness.crm.opportunities_by_ids([opportunity.sf_id])
    assert by_id[opportunity.sf_id].stage == opportunity.stage
    lines = await crm_harness.crm.opportunity_lines([opportunity.sf_id])
    assert [(line.sku, line.quantity) for line in lines[opportunity.sf_id]] == [
        (line.product.sku, Decimal(line.quantity)) for line in opportunity.lines
    ]


async def test_an_account_update_reads_back_and_is_safe_to_repeat(
    crm_harness: CrmHarness,
) -> None:
    # given an account of the test's own (created through the emulator, like a user would)
    customer = linked(crm_harness.world)[5]
    account = (await crm_harness.crm.accounts_by_erp_keys([customer.key or ""]))[customer.key or ""]
    phone = f"+1 555 {uuid.uuid4().int % 10_000:04d}"
    change = AccountFields(phone=phone)
    try:
        await crm_harness.crm.update_account(account.salesforce_id, change, idempotency_key="a")
        await crm_harness.crm.update_account(account.salesforce_id, change, idempotency_key="a")
        again = (await crm_harness.crm.accounts_by_ids([account.salesforce_id]))[
            account.salesforce_id
        ]
        assert again.phone == phone
    finally:
        await crm_harness.crm.update_account(
            account.salesforce_id, AccountFields(phone=customer.phone), idempotency_key="b"
        )
