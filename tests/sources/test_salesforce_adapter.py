"""The Salesforce adapter (real simple-salesforce underneath) against the emulator, over HTTPS.

Reads are checked against the world the sandbox was seeded from; request counts come from the
emulator's own stats.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from urllib.parse import quote_plus

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import Customer, World
from sources import soql
from sources.errors import (
    CircuitOpen,
    RecordNotFound,
    SourceProtocolError,
    SourceTimeout,
    SourceUnavailable,
    SourceValidationError,
)
from sources.resilience import ResiliencePolicy
from sources.salesforce import SalesforceCrm
from sources.salesforce_records import ACCOUNT_FIELDS
from tests.accord import Emulators
from tests.adapters import make_crm
from tests.conftest import SandboxControl

QUERY = "GET /services/data/v59.0/query"


def crm_customers(world: World) -> list[Customer]:
    return [customer for customer in world.customers if customer.sf_account_id is not None]


async def test_accounts_by_ids_match_the_world_in_one_call(
    crm: SalesforceCrm, world: World, sf_control: SandboxControl
) -> None:
    # given 100 accounts of the world
    wanted = crm_customers(world)[:100]
    sf_control.reset()

    # when the adapter fetches them by id
    found = await crm.accounts_by_ids([c.sf_account_id or "" for c in wanted])

    # then one SOQL query brings every one with the world's values
    assert sf_control.count(QUERY) == 1
    assert len(found) == 100
    for customer in wanted:
        account = found[customer.sf_account_id or ""]
        assert account.name == customer.name
        assert account.erp_key == customer.key
        assert account.industry == customer.industry
        assert account.owner == customer.owner
        assert account.billing().street == customer.address.street
        assert account.billing().city == customer.address.city
        assert account.billing().country == customer.address.country
        assert account.tax_id == customer.tax_id


async def test_fifteen_character_ids_and_erp_keys(crm: SalesforceCrm, world: World) -> None:
    customer = next(c for c in crm_customers(world) if c.key)
    account_id = customer.sf_account_id or ""
    by_short_id = await crm.accounts_by_ids([account_id[:15]])
    by_key = await crm.accounts_by_erp_keys([customer.key or "", "NO-SUCH-KEY"])
    assert by_short_id[account_id].name == customer.name
    assert set(by_key) == {customer.key}


async def test_malformed_ids_are_refused_before_any_call(
    crm: SalesforceCrm, sf_control: SandboxControl
) -> None:
    sf_control.reset()
    with pytest.raises(SourceValidationError) as refused:
        await crm.accounts_by_ids(["001' OR Name != '"])
    assert refused.value.problems[0].code == "MALFORMED_ID"
    assert sf_control.stats()["total"] == 0


async def test_long_in_lists_are_split_under_the_uri_limit(
    sandbox: Endpoints, world: World, sf_control: SandboxControl
) -> None:
    # given an adapter whose query URIs may hold 3,000 characters
    crm = make_crm(sandbox)
    crm.config = dataclasses.replace(crm.config, max_query_uri=3_000)
    ids = [c.sf_account_id or "" for c in crm_customers(world)]
    template = f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM Account WHERE Id IN ({{in_list}})"
    chunks = list(soql.in_chunks(template, ids, max_uri=3_000))
    try:
        await crm.start()
        sf_control.reset()

        # when it fetches every account of the world
        found = await crm.accounts_by_ids(ids)

        # then it sent one query per chunk, each under the limit, and found every account
        assert len(chunks) > 1
        assert all(len(quote_plus(chunk)) <= 3_000 for chunk in chunks)
        assert sf_control.count(QUERY) == len(chunks)
        assert len(found) == len(ids)
    finally:
        await crm.close()


async def test_opportunities_and_lines_match_the_world(
    crm: SalesforceCrm, world: World, emulators: Emulators
) -> None:
    customers = [c for c in crm_customers(world) if c.opportunities][-30:]
    grouped = await crm.opportunities_by_account_ids([c.sf_account_id or "" for c in customers])
    opportunity = customers[0].opportunities[0]
    lines = await crm.opportunity_lines([opportunity.sf_id])

    for customer in customers:
        got = {o.salesforce_id: o for o in grouped[customer.sf_account_id or ""]}
        held = emulators.soql(
            f"SELECT Id FROM Opportunity WHERE AccountId = '{customer.sf_account_id}'"
        )
        assert set(got) == {r["Id"] for r in held}
        for opp in customer.opportunities:
            assert got[opp.sf_id].stage == opp.stage
            assert got[opp.sf_id].amount == opp.amount
            assert got[opp.sf_id].close_date == opp.close_date
            assert got[opp.sf_id].is_won == (opp.stage == "Closed Won")
    assert sorted((line.sku, line.amount) for line in lines[opportunity.sf_id]) == sorted(
        (line.product.sku, line.amount) for line in opportunity.lines
    )


async def test_search_accounts_pages_by_key(crm: SalesforceCrm, emulators: Emulators) -> None:
    country = "DE"
    expected = [
        r["ERP_Customer_Id__c"]
        for r in emulators.soql(
            "SELECT ERP_Customer_Id__c FROM Account WHERE BillingCountryCode = 'DE' "
            "AND ERP_Customer_Id__c != null ORDER BY ERP_Customer_Id__c"
        )
    ]
    first = await crm.search_accounts(country=country, limit=5)
    rest = await crm.search_accounts(country=country, after_key=first[-1].erp_key)
    assert [a.erp_key for a in first + rest] == expected


async def test_name_filter_is_injection_safe(crm: SalesforceCrm, world: World) -> None:
    customer = next(c for c in crm_customers(world) if c.key)
    word = customer.name.split()[0]
    found = await crm.search_accounts(name_contains=word)
    hostile = await crm.search_accounts(name_contains="' OR Name != '")
    wildcard = await crm.search_accounts(name_contains="%")
    assert customer.key in {a.erp_key for a in found}
    assert all(word.lower() in (a.name or "").lower() for a in found)
    assert hostile == []
    assert wildcard == []


async def test_writes_round_trip(crm: SalesforceCrm) -> None:
    key = f"TEST-{uuid.uuid4().hex[:10]}"
    account_id = await crm.create("Account", {"Name": "Round Trip Ltd"})
    await crm.update("Account", account_id, {"Industry": "Retail"}, idempotency_key=key)
    first = await crm.upsert("Account", "ERP_Customer_Id__c", key, {"Name": "Upserted Ltd"})
    again = await crm.upsert("Account", "ERP_Customer_Id__c", key, {"Name": "Upserted Again"})

    assert (await crm.get("Account", account_id))["Industry"] == "Retail"
    assert first.created
    assert not again.created
    assert first.id == again.id
    assert (await crm.accounts_by_erp_keys([key]))[key].name == "Upserted Again"

    await crm.delete("Account", account_id)
    with pytest.raises(RecordNotFound):
        await crm.get("Account", account_id)


async def test_vendor_validation_errors_carry_the_fields(crm: SalesforceCrm) -> None:
    with pytest.raises(SourceValidationError) as missing:
        await crm.create("Contact", {"FirstName": "No Last Name"})
    with pytest.raises(SourceValidationError) as bad_query:
        await crm.query("SELECT Nonsense__c FROM Account")
    assert missing.value.upstream_code == "REQUIRED_FIELD_MISSING"
    assert any(problem.field == "LastName" for problem in missing.value.problems)
    assert bad_query.value.upstream_code == "INVALID_FIELD"


async def test_outage_is_retried_then_unavailable(
    sandbox: Endpoints, sf_control: SandboxControl
) -> None:
    crm = make_crm(sandbox, ResiliencePolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.02))
    try:
        await crm.start()
        sf_control.fault(pattern="/services/data/*", outage=True)
        before = sf_control.count(QUERY)
        with pytest.raises(SourceUnavailable):
            await crm.query("SELECT Id FROM Account LIMIT 1")
        assert sf_control.count(QUERY) - before == 3
    finally:
        await crm.close()


async def test_timeouts_open_the_breaker_which_recovers(
    sandbox: Endpoints, sf_control: SandboxControl
) -> None:
    # seconds, not tenths: a loaded machine's answer must fit the timeout, and the check that
    # the breaker is open must come before it half-opens
    policy = ResiliencePolicy(
        timeout=1.5,
        max_attempts=2,
        backoff_base=0.01,
        backoff_max=0.02,
        failure_threshold=2,
        recovery_time=3.0,
    )
    crm = make_crm(sandbox, policy)
    try:
        await crm.start()
        sf_control.fault(pattern="/services/data/*", latency_ms=5000)
        with pytest.raises(SourceTimeout):
            await crm.query("SELECT Id FROM Account LIMIT 1")
        calls = sf_control.count(QUERY)
        with pytest.raises(CircuitOpen):
            await crm.query("SELECT Id FROM Account LIMIT 1")
        assert sf_control.count(QUERY) == calls
        sf_control.fault(clear=True)
        await asyncio.sleep(3.1)
        assert len(await crm.query("SELECT Id FROM Account LIMIT 2")) == 2
        assert crm.health()["state"] == "closed"
    finally:
        await crm.close()


async def test_upstream_garbage_is_a_protocol_error(
    crm: SalesforceCrm, sf_control: SandboxControl
) -> None:
    sf_control.fault(pattern="/services/data/*", garbage=True)
    with pytest.raises(SourceProtocolError):
        await crm.query("SELECT Id FROM Account LIMIT 1")


async def test_an_expired_session_is_refreshed_transparently(
    crm: SalesforceCrm, sandbox: Endpoints, world: World, sf_control: SandboxControl
) -> None:
    # given the adapter's session expired
    control = SandboxControl(sandbox.salesforce.instance_url, sandbox.salesforce.ca_file)
    assert crm.session_id is not None
    try:
        response = control._client.post(
            "/__sandbox__/salesforce/sessions", json={"expire": crm.session_id}
        )
        response.raise_for_status()
    finally:
        control.close()
    customer = crm_customers(world)[0]

    # when the adapter reads, it gets a new token and the read succeeds
    found = await crm.accounts_by_ids([customer.sf_account_id or ""])

    assert found[customer.sf_account_id or ""].name == customer.name
    # after one refused query, one token request, and the query again
    assert sf_control.count("POST /services/oauth2/token") == 1
    assert sf_control.count(QUERY) == 2
