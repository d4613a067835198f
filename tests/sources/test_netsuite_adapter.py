"""The NetSuite adapter against the NetSuite emulator, over HTTPS.

Every read is checked against the world the sandbox was seeded from; request counts come from
the emulator's own stats.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from sandbox.endpoints import Endpoints
from sandbox.world import Customer, World
from server import configs_from_endpoints
from sources.errors import (
    CircuitOpen,
    RecordNotFound,
    SourceProtocolError,
    SourceTimeout,
    SourceUnavailable,
    SourceValidationError,
)
from sources.netsuite import NetSuiteErp
from sources.netsuite_http import NetSuiteConfig
from sources.ports import CustomerQuery, DocumentKind, InvoiceQuery
from sources.records import CreditHold, CreditStatus, ErpCustomer, InvoiceStatus, OrderStatus
from sources.resilience import ResiliencePolicy
from tests.accord import Emulators
from tests.adapters import make_erp
from tests.conftest import SandboxControl

SUITEQL = "POST /services/rest/query/v1/suiteql"


def erp_customers(world: World) -> list[Customer]:
    return [customer for customer in world.customers if customer.ns_id is not None]


async def test_customers_by_ids_match_the_world_in_one_call(
    erp: NetSuiteErp, world: World, ns_control: SandboxControl
) -> None:
    # given 100 customers of the world
    wanted = erp_customers(world)[:100]
    ns_control.reset()

    # when the adapter fetches them by internal id
    found = await erp.customers_by_ids([str(c.ns_id) for c in wanted])

    # then every one comes back with the world's values, from a single SuiteQL call
    assert ns_control.count(SUITEQL) == 1
    assert len(found) == 100
    for customer in wanted:
        record = found[str(customer.ns_id)]
        assert record.erp_key == customer.key
        assert record.name == (customer.erp_name or customer.name)
        assert record.currency == customer.currency
        assert record.legal_entity_id == str(customer.subsidiary.ns_id)
        assert record.terms_id == str(customer.terms.ns_id)
        assert record.credit_limit == customer.credit_limit
        assert record.balance == customer.balance()
        assert record.overdue_balance == customer.overdue_balance(world.as_of)
        assert record.credit_hold is CreditHold(customer.credit_hold)
        assert record.tax_id == customer.tax_id


async def test_customers_by_keys_and_unknown_keys(erp: NetSuiteErp, world: World) -> None:
    keyed = [c for c in erp_customers(world) if c.key][:20]
    found = await erp.customers_by_keys([c.key or "" for c in keyed] + ["NO-SUCH-KEY", "x'); --"])
    assert set(found) == {c.key for c in keyed}
    assert all(found[c.key or ""].erp_id == str(c.ns_id) for c in keyed)


async def test_long_in_lists_are_split_at_oracles_limit(
    erp: NetSuiteErp, world: World, ns_control: SandboxControl
) -> None:
    # given 2,500 ids, most of which do not exist
    ids = [str(c.ns_id) for c in erp_customers(world)] + [str(n) for n in range(900_000, 902_300)]
    ns_control.reset()

    found = await erp.customers_by_ids(ids)

    # then three SuiteQL calls (1,000 + 1,000 + the rest) find every customer of the world
    assert ns_control.count(SUITEQL) == 3
    assert len(found) == len(erp_customers(world))


async def test_transactions_by_customer_match_the_world(
    erp: NetSuiteErp, world: World, ns_control: SandboxControl
) -> None:
    customers = [c for c in erp_customers(world) if c.invoices][:40]
    ids = [str(c.ns_id) for c in customers]
    ns_control.reset()

    orders, invoices, payments = await asyncio.gather(
        erp.orders_by_customer_ids(ids),
        erp.invoices_by_customer_ids(ids),
        erp.payments_by_customer_ids(ids),
    )

    assert ns_control.count(SUITEQL) == 3
    for customer in customers:
        got_orders = {o.number: o for o in orders[str(customer.ns_id)]}
        assert set(got_orders) == {o.tran_id for o in customer.sales_orders}
        for order in customer.sales_orders:
            assert got_orders[order.tran_id].total == order.total
            assert got_orders[order.tran_id].external_id == order.external_id
            assert got_orders[order.tran_id].order_date == order.date
        got_invoices = {i.number: i for i in invoices[str(customer.ns_id)]}
        assert set(got_invoices) == {i.tran_id for i in customer.invoices}
        for invoice in customer.invoices:
            got = got_invoices[invoice.tran_id]
            assert (got.total, got.amount_paid, got.amount_due) == (
                invoice.total,
                invoice.amount_paid,
                invoice.amount_remaining,
            )
            assert got.due_date == invoice.due_date
            assert got.order_erp_id == (
                str(invoice.sales_order.ns_id) if invoice.sales_order else None
            )
            if invoice.amount_remaining == 0:
                assert got.status is InvoiceStatus.PAID
            elif invoice.due_date < world.as_of:
                assert got.status is InvoiceStatus.OVERDUE
            elif invoice.amount_paid > 0:
                assert got.status is InvoiceStatus.PARTIALLY_PAID
            else:
                assert got.status is InvoiceStatus.OPEN
        got_payments = {p.number: p for p in payments.get(str(customer.ns_id), [])}
        assert set(got_payments) == {p.tran_id for p in customer.payments}
        for payment in customer.payments:
            got_payment = got_payments[payment.tran_id]
            assert got_payment.amount == payment.amount
            assert {(a.invoice_erp_id, a.amount) for a in got_payment.applications} == {
                (str(a.invoice.ns_id), a.amount) for a in payment.applications
            }


async def test_documents_of_customers_in_one_call_equal_each_kind_read_alone(
    erp: NetSuiteErp, world: World, ns_control: SandboxControl
) -> None:
    # given customers with orders, invoices and payments (and one with none)
    customers = [c for c in erp_customers(world) if c.invoices and c.payments][:40]
    customers.append(next(c for c in erp_customers(world) if not c.sales_orders))
    ids = [str(c.ns_id) for c in customers]
    orders, invoices, payments = await asyncio.gather(
        erp.orders_by_customer_ids(ids),
        erp.invoices_by_customer_ids(ids),
        erp.payments_by_customer_ids(ids),
    )
    ns_control.reset()

    # when all three kinds are read together
    documents = await erp.documents_by_customer_ids(ids, {"orders", "invoices", "payments"})

    # then it is one SuiteQL call, and each kind is what its own query answers, in its order
    assert ns_control.count(SUITEQL) == 1
    assert dict(documents.orders) == orders
    assert dict(documents.invoices) == invoices
    assert dict(documents.payments) == payments
    assert any(p.applications for found in payments.values() for p in found)
    assert any(i.order_erp_id for found in invoices.values() for i in found)

    # and a subset of kinds asks for those only
    ns_control.reset()
    only = await erp.documents_by_customer_ids(ids, {"payments"})
    assert ns_control.count(SUITEQL) == 1
    assert (dict(only.orders), dict(only.invoices), dict(only.payments)) == ({}, {}, payments)


async def test_documents_by_customer_keys_are_those_by_internal_id(
    erp: NetSuiteErp, world: World, ns_control: SandboxControl
) -> None:
    # given customers with orders, invoices and payments (and one with none)
    customers = [c for c in erp_customers(world) if c.key and c.invoices and c.payments][:40]
    customers.append(next(c for c in erp_customers(world) if c.key and not c.sales_orders))
    ids = [str(c.ns_id) for c in customers]
    key_of = {str(c.ns_id): c.key for c in customers}
    kinds: set[DocumentKind] = {"orders", "invoices", "payments"}
    by_id = await erp.documents_by_customer_ids(ids, kinds)
    ns_control.reset()

    # when they are read by the customers' external ids
    by_key = await erp.documents_by_customer_keys([c.key or "" for c in customers], kinds)

    # then it is one SuiteQL call, and each kind is the same, under the customer's key
    assert ns_control.count(SUITEQL) == 1
    for kind in ("orders", "invoices", "payments"):
        expected = {key_of[erp_id]: found for erp_id, found in getattr(by_id, kind).items()}
        assert dict(getattr(by_key, kind)) == expected
        assert expected
    assert customers[-1].key not in by_key.orders
    # and a key no customer has, or a subset of kinds, reads only what is asked for
    only = await erp.documents_by_customer_keys(
        [customers[0].key or "", "no-such-key"], {"payments"}
    )
    assert (dict(only.orders), dict(only.invoices)) == ({}, {})
    assert set(only.payments) == {customers[0].key}


async def test_lines_links_and_lookups(erp: NetSuiteErp, world: World) -> None:
    customer = next(c for c in erp_customers(world) if c.invoices and c.payments)
    invoice = customer.invoices[0]
    order = invoice.sales_order
    assert order is not None

    lines = await erp.transaction_lines([str(order.ns_id), str(invoice.ns_id)])
    by_order = await erp.invoices_by_order_ids([str(order.ns_id)])
    paying = await erp.payments_by_invoice_ids([str(invoice.ns_id)])
    by_id = await erp.orders_by_ids([str(order.ns_id)])

    for tran in (order, invoice):
        got = lines[str(tran.ns_id)]
        assert [(line.sku, line.quantity, line.amount) for line in got] == [
            (line.product.sku, Decimal(line.quantity), line.amount) for line in tran.lines
        ]
    assert [i.number for i in by_order[str(order.ns_id)]] == [invoice.tran_id]
    expected_payments = {
        p.tran_id for p in customer.payments if any(a.invoice is invoice for a in p.applications)
    }
    assert {p.number for p in paying.get(str(invoice.ns_id), [])} == expected_payments
    assert by_id[str(order.ns_id)].status in set(OrderStatus)
    if order.external_id:
        by_external = await erp.orders_by_external_ids([order.external_id])
        assert by_external[order.external_id].erp_id == str(order.ns_id)


async def test_reference_data(erp: NetSuiteErp, world: World) -> None:
    entities = await erp.legal_entities()
    terms = await erp.payment_terms()
    assert {(e.name, e.country, e.currency) for e in entities.values()} >= {
        (s.name, s.country, s.currency) for s in world.subsidiaries
    }
    assert {(t.name, t.days) for t in terms.values()} >= {(t.name, t.days) for t in world.terms}


async def test_customer_pages_walk_every_customer_once(
    erp: NetSuiteErp, emulators: Emulators
) -> None:
    seen: list[str] = []
    after: str | None = None
    total = None
    while True:
        page = await erp.customer_page(CustomerQuery(after_id=after, limit=97))
        total = total if total is not None else page.total
        seen.extend(c.erp_id for c in page.items)
        if not page.has_more:
            break
        after = page.items[-1].erp_id
    expected = [
        r["id"]
        for r in emulators.suiteql("SELECT id FROM customer WHERE isinactive = 'F' ORDER BY id")
    ]
    assert seen == expected
    assert total == len(expected)


async def everyone(erp: NetSuiteErp, emulators: Emulators) -> list[ErpCustomer]:
    ids = [r["id"] for r in emulators.suiteql("SELECT id FROM customer WHERE isinactive = 'F'")]
    return list((await erp.customers_by_ids(ids)).values())


@pytest.mark.parametrize("status", list(CreditStatus))
async def test_credit_status_filter_matches_the_derived_status(
    erp: NetSuiteErp, emulators: Emulators, status: CreditStatus
) -> None:
    page = await erp.customer_page(CustomerQuery(credit_status=status, limit=1000))
    expected = {c.erp_id for c in await everyone(erp, emulators) if c.credit_status is status}
    assert {c.erp_id for c in page.items} == expected
    assert expected, f"the sandbox should hold customers in {status}"


@pytest.mark.parametrize("status", [s for s in InvoiceStatus if s is not InvoiceStatus.VOIDED])
async def test_invoice_status_filter_matches_the_derived_status(
    erp: NetSuiteErp, emulators: Emulators, status: InvoiceStatus
) -> None:
    page = await erp.invoice_page(InvoiceQuery(status=status, limit=1000))
    ids = [r["id"] for r in emulators.suiteql("SELECT id FROM transaction WHERE type = 'CustInvc'")]
    all_invoices = await erp.invoices_by_ids(ids)
    expected = {i.erp_id for i in all_invoices.values() if i.status is status}
    assert {i.erp_id for i in page.items} == expected
    assert expected, f"the sandbox should hold invoices in {status}"


async def test_record_api_reads_and_not_found(erp: NetSuiteErp, world: World) -> None:
    customer = erp_customers(world)[0]
    record = await erp.client.get_record("customer", str(customer.ns_id))
    by_eid = await erp.client.get_record("customer", f"eid:{customer.key}")
    assert record["id"] == by_eid["id"] == str(customer.ns_id)
    with pytest.raises(RecordNotFound):
        await erp.client.get_record("customer", "999999999")
    with pytest.raises(SourceValidationError):
        await erp.client.get_record("customer", "../../etc")


async def test_create_with_an_idempotency_key_twice_makes_one_record(
    erp: NetSuiteErp, world: World
) -> None:
    external = f"TEST-{uuid.uuid4().hex[:12]}"
    body = {
        "companyName": "Idempotent Widgets Ltd",
        "externalId": external,
        "subsidiary": {"id": "2"},
        "currency": {"id": "2"},
    }
    key = f"create-customer-{external}"

    first = await erp.client.create_record("customer", body, idempotency_key=key)
    second = await erp.client.create_record("customer", body, idempotency_key=key)

    assert first == second
    found = await erp.customers_by_keys([external])
    assert found[external].erp_id == first
    rows = await erp.client.suiteql(f"SELECT id FROM customer WHERE externalid = '{external}'")
    assert len(rows) == 1


async def test_upsert_by_external_id_creates_then_updates(erp: NetSuiteErp) -> None:
    external = f"TEST-{uuid.uuid4().hex[:12]}"
    body = {"companyName": "Upsert Co", "subsidiary": {"id": "1"}, "currency": {"id": "1"}}

    created = await erp.client.upsert_record("customer", external, body)
    updated = await erp.client.upsert_record("customer", external, {**body, "creditLimit": 1234.5})
    await erp.client.update_record(
        "customer",
        created,
        {"creditHoldOverride": {"id": "ON"}},
        idempotency_key=f"hold-{external}",
    )

    assert created == updated
    customer = (await erp.customers_by_ids([created]))[created]
    assert customer.credit_limit == Decimal("1234.5")
    assert customer.credit_hold is CreditHold.ON
    assert customer.credit_status is CreditStatus.ON_HOLD


async def test_injected_failures_are_retried_and_counted(
    sandbox: Endpoints, ns_control: SandboxControl
) -> None:
    adapter = make_erp(
        sandbox, ResiliencePolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.02)
    )
    try:
        await adapter.start()
        ns_control.fault(pattern="/services/rest/query/*", outage=True)
        before = ns_control.count(SUITEQL)
        with pytest.raises(SourceUnavailable):
            await adapter.customers_by_ids(["1001"])
        assert ns_control.count(SUITEQL) - before == 3
    finally:
        await adapter.close()


async def test_timeouts_breaker_and_recovery(
    sandbox: Endpoints, ns_control: SandboxControl
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
    adapter = make_erp(sandbox, policy)
    try:
        await adapter.start()
        # given a SuiteQL endpoint slower than the timeout
        ns_control.fault(pattern="/services/rest/query/*", latency_ms=5000)
        with pytest.raises(SourceTimeout):
            await adapter.customers_by_ids(["1001"])
        # then the two timed-out attempts opened the breaker: the next call fails fast
        calls = ns_control.count(SUITEQL)
        with pytest.raises(CircuitOpen):
            await adapter.customers_by_ids(["1002"])
        assert ns_control.count(SUITEQL) == calls
        assert adapter.health()["state"] == "open"
        # when the fault clears and the recovery time passes, a trial call closes it again
        ns_control.fault(clear=True)
        await asyncio.sleep(3.1)
        found = await adapter.customers_by_ids(["1003"])
        assert "1003" in found
        assert adapter.health()["state"] == "closed"
    finally:
        await adapter.close()


async def test_upstream_garbage_is_a_protocol_error(
    sandbox: Endpoints, ns_control: SandboxControl
) -> None:
    adapter = make_erp(sandbox)
    try:
        await adapter.start()
        ns_control.fault(pattern="/services/rest/query/*", garbage=True)
        with pytest.raises(SourceProtocolError):
            await adapter.customers_by_ids(["1001"])
    finally:
        await adapter.close()


async def test_certificate_client_assertion_gets_a_token(sandbox: Endpoints) -> None:
    # given an integration that authenticates with a signed client assertion, not a secret
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    _, config = configs_from_endpoints(sandbox, ResiliencePolicy())
    assert isinstance(config, NetSuiteConfig)
    config = dataclasses.replace(
        config, client_secret=None, certificate_id="accord-sandbox-ns-certificate", private_key=pem
    )
    adapter = NetSuiteErp(config)
    try:
        # when it reads, then the emulator accepted the PS256 assertion it signed
        found = await adapter.customers_by_ids(["1001"])
        assert "1001" in found
    finally:
        await adapter.close()


async def test_invoice_status_from_the_erps_fields(sandbox: Endpoints) -> None:
    today = dt.date(2026, 3, 10)
    erp = make_erp(sandbox)
    erp.today = lambda: today
    day = dt.timedelta(days=1)
    try:
        status = erp.invoice_status
        assert status("A", today, Decimal(0), "F") is InvoiceStatus.OPEN  # due today
        assert status("A", today, Decimal("0.01"), "F") is InvoiceStatus.PARTIALLY_PAID
        assert status("A", today - day, Decimal("0.01"), "F") is InvoiceStatus.OVERDUE
        assert status("A", None, Decimal(0), "F") is InvoiceStatus.OPEN  # no due date
        assert status("B", today - day, Decimal(100), "F") is InvoiceStatus.PAID
        # a voided invoice is voided, not overdue, whatever its dates
        assert status("A", today - day, Decimal(0), "T") is InvoiceStatus.VOIDED
        assert status("V", today - day, Decimal(0), None) is InvoiceStatus.VOIDED
    finally:
        await erp.close()


async def test_the_voided_filter_asks_for_what_the_status_reports(erp: NetSuiteErp) -> None:
    # The sandbox voids nothing: the filter runs, and finds nothing voided.
    page = await erp.invoice_page(InvoiceQuery(status=InvoiceStatus.VOIDED, limit=10))
    everything = await erp.invoice_page(InvoiceQuery(limit=1000))
    assert page.items == []
    assert InvoiceStatus.VOIDED not in {invoice.status for invoice in everything.items}
