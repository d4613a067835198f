"""The ERP port's reads, for every ERP adapter: each answer checked against the world the
ERP was seeded from. ERP ids are opaque: found by key, then followed."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from sandbox.world import Customer, World
from sources.ports import CustomerDocumentsReader, CustomerQuery, DocumentKind, InvoiceQuery
from sources.records import (
    CreditHold,
    CreditStatus,
    ErpCustomer,
    ErpInvoice,
    ErpOrder,
    InvoiceStatus,
)
from tests.contract.conftest import ErpHarness


def in_erp(world: World) -> list[Customer]:
    return [customer for customer in world.customers if customer.ns_id is not None]


def expected_status(customer: Customer) -> CreditStatus:
    if customer.credit_hold == "ON":
        return CreditStatus.ON_HOLD
    if customer.credit_hold == "OFF":
        return CreditStatus.GOOD_STANDING
    if customer.balance() > customer.credit_limit:
        return CreditStatus.OVER_LIMIT
    return CreditStatus.GOOD_STANDING


async def by_key(harness: ErpHarness, customers: list[Customer]) -> dict[str, ErpCustomer]:
    return await harness.erp.customers_by_keys([c.key or "" for c in customers])


async def test_every_customer_is_found_by_its_key_with_the_worlds_figures(
    erp_harness: ErpHarness,
) -> None:
    world, erp = erp_harness.world, erp_harness.erp
    customers = in_erp(world)
    found = await by_key(erp_harness, customers)
    entities = await erp.legal_entities()
    terms = await erp.payment_terms()
    today = erp_harness.today()

    assert set(found) == {c.key for c in customers}
    for customer in customers:
        record = found[customer.key or ""]
        assert record.erp_key == customer.key
        assert record.name == (customer.erp_name or customer.name)
        assert record.currency == customer.currency
        assert record.credit_limit == customer.credit_limit
        assert record.balance == customer.balance()
        assert record.overdue_balance == customer.overdue_balance(today)
        assert record.credit_hold is CreditHold(customer.credit_hold)
        assert record.credit_status is expected_status(customer)
        assert record.tax_id == customer.tax_id
        assert record.legal_entity_id is not None
        entity = entities[record.legal_entity_id]
        assert (entity.name, entity.country, entity.currency) == (
            customer.subsidiary.name,
            customer.subsidiary.country,
            customer.subsidiary.currency,
        )
        assert record.terms_id is not None
        assert (terms[record.terms_id].name, terms[record.terms_id].days) == (
            customer.terms.name,
            customer.terms.days,
        )


async def test_by_id_answers_what_by_key_found_and_unknown_ids_are_absent(
    erp_harness: ErpHarness,
) -> None:
    customers = in_erp(erp_harness.world)[:60]
    found = await by_key(erp_harness, customers)
    ids = [record.erp_id for record in found.values()]
    unknown = ["no-such-customer", "999999999", "x'); DROP TABLE customer; --", ""]

    by_id = await erp_harness.erp.customers_by_ids([*ids, *unknown])

    assert set(by_id) == set(ids)
    for record in found.values():
        assert by_id[record.erp_id] == record
    assert await erp_harness.erp.customers_by_keys(["NO-SUCH-KEY", "x'); --"]) == {}


async def test_customer_pages_cover_every_customer_once(erp_harness: ErpHarness) -> None:
    seen: list[str] = []
    after: str | None = None
    for _ in range(1000):
        page = await erp_harness.erp.customer_page(CustomerQuery(after_id=after, limit=37))
        seen.extend(record.erp_key or record.erp_id for record in page.items)
        assert len(page.items) <= 37
        if not page.has_more:
            break
        after = page.items[-1].erp_id
    assert len(seen) == len(set(seen))
    assert set(seen) >= {c.key for c in in_erp(erp_harness.world)}


@pytest.mark.parametrize("status", list(CreditStatus))
async def test_the_credit_status_filter_finds_exactly_the_customers_in_that_status(
    erp_harness: ErpHarness, status: CreditStatus
) -> None:
    page = await erp_harness.erp.customer_page(CustomerQuery(credit_status=status, limit=1000))
    world_keys = {c.key for c in in_erp(erp_harness.world) if expected_status(c) is status}
    got = {record.erp_key for record in page.items if record.erp_key in _keys(erp_harness)}
    assert world_keys, f"the world should hold customers in {status}"
    assert got == world_keys
    assert all(record.credit_status is status for record in page.items)


def _keys(harness: ErpHarness) -> set[str | None]:
    return {c.key for c in in_erp(harness.world)}


async def test_the_legal_entity_and_key_filters(erp_harness: ErpHarness) -> None:
    customers = in_erp(erp_harness.world)
    found = await by_key(erp_harness, customers)
    entity = found[customers[0].key or ""].legal_entity_id
    page = await erp_harness.erp.customer_page(CustomerQuery(legal_entity_id=entity, limit=1000))
    same_entity = {c.key for c in customers if c.subsidiary == customers[0].subsidiary}
    assert {r.erp_key for r in page.items if r.erp_key in _keys(erp_harness)} == same_entity

    chosen = [c.key or "" for c in customers[3:9]]
    keyed = await erp_harness.erp.customer_page(CustomerQuery(keys=chosen, limit=100))
    assert {r.erp_key for r in keyed.items} == set(chosen)
    empty = await erp_harness.erp.customer_page(CustomerQuery(keys=[], limit=100))
    assert empty.items == []


async def test_orders_invoices_and_payments_of_customers_match_the_world(
    erp_harness: ErpHarness,
) -> None:
    world, erp = erp_harness.world, erp_harness.erp
    customers = [c for c in in_erp(world) if c.invoices][:30]
    found = await by_key(erp_harness, customers)
    ids = {c.key: found[c.key or ""].erp_id for c in customers}
    today = erp_harness.today()

    orders, invoices, payments = await asyncio.gather(
        erp.orders_by_customer_ids(list(ids.values())),
        erp.invoices_by_customer_ids(list(ids.values())),
        erp.payments_by_customer_ids(list(ids.values())),
    )

    for customer in customers:
        erp_id = ids[customer.key]
        assert Counter(
            (o.order_date, o.total, o.external_id, o.currency) for o in orders.get(erp_id, [])
        ) == Counter(
            (o.date, o.total, o.external_id, customer.currency) for o in customer.sales_orders
        )
        got_invoices = invoices.get(erp_id, [])
        assert Counter(
            (i.issue_date, i.due_date, i.total, i.amount_paid, i.amount_due, i.status)
            for i in got_invoices
        ) == Counter(
            (
                i.date,
                i.due_date,
                i.total,
                i.amount_paid,
                i.amount_remaining,
                _invoice_status(i.amount_remaining, i.amount_paid, i.due_date, today),
            )
            for i in customer.invoices
        )
        assert all(i.customer_erp_id == erp_id for i in got_invoices)
        got_payments = payments.get(erp_id, [])
        assert Counter((p.payment_date, p.amount) for p in got_payments) == Counter(
            (p.date, p.amount) for p in customer.payments
        )
        invoice_ids = {i.erp_id for i in got_invoices}
        for payment in got_payments:
            assert {a.invoice_erp_id for a in payment.applications} <= invoice_ids
            assert sum((a.amount for a in payment.applications), Decimal(0)) == payment.amount


def _invoice_status(due: Decimal, paid: Decimal, due_date: object, today: object) -> InvoiceStatus:
    if due == 0:
        return InvoiceStatus.PAID
    if due_date < today:  # type: ignore[operator]
        return InvoiceStatus.OVERDUE
    return InvoiceStatus.PARTIALLY_PAID if paid > 0 else InvoiceStatus.OPEN


async def test_documents_by_id_by_parent_and_by_opportunity(erp_harness: ErpHarness) -> None:
    erp = erp_harness.erp
    customer = next(
        c
        for c in in_erp(erp_harness.world)
        if c.payments and any(o.external_id for o in c.sales_orders)
    )
    erp_id = (await by_key(erp_harness, [customer]))[customer.key or ""].erp_id
    orders = (await erp.orders_by_customer_ids([erp_id]))[erp_id]
    invoices = (await erp.invoices_by_customer_ids([erp_id]))[erp_id]
    payments = (await erp.payments_by_customer_ids([erp_id]))[erp_id]

    assert await erp.orders_by_ids([o.erp_id for o in orders]) == {o.erp_id: o for o in orders}
    assert await erp.invoices_by_ids([i.erp_id for i in invoices]) == {
        i.erp_id: i for i in invoices
    }
    assert await erp.payments_by_ids([p.erp_id for p in payments]) == {
        p.erp_id: p for p in payments
    }
    by_order = await erp.invoices_by_order_ids([o.erp_id for o in orders])
    for invoice in invoices:
        if invoice.order_erp_id is not None:
            assert invoice.erp_id in {i.erp_id for i in by_order[invoice.order_erp_id]}
    paying = await erp.payments_by_invoice_ids([i.erp_id for i in invoices])
    for payment in payments:
        for application in payment.applications:
            assert payment.erp_id in {p.erp_id for p in paying[application.invoice_erp_id]}
    booked = [o for o in customer.sales_orders if o.external_id]
    by_opportunity = await erp.orders_by_external_ids([o.external_id or "" for o in booked])
    assert {(k, v.total) for k, v in by_opportunity.items()} == {
        (o.external_id, o.total) for o in booked
    }
    for absent in ("no-such-order", "999999999"):
        assert await erp.orders_by_ids([absent]) == {}
        assert await erp.invoices_by_ids([absent]) == {}
        assert await erp.payments_by_ids([absent]) == {}


async def test_documents_read_together_are_those_read_kind_by_kind(
    erp_harness: ErpHarness,
) -> None:
    """An ERP that reads several kinds of documents in one call (`CustomerDocumentsReader`)
    answers, by ERP id and by key, what its kind-by-kind reads answer; one that does not
    claims neither of its methods, and the read path asks it kind by kind."""
    erp = erp_harness.erp
    if not isinstance(erp, CustomerDocumentsReader):
        assert not hasattr(erp, "documents_by_customer_ids")
        assert not hasattr(erp, "documents_by_customer_keys")
        return
    customers = [c for c in in_erp(erp_harness.world) if c.invoices and c.payments][:12]
    customers.append(next(c for c in in_erp(erp_harness.world) if not c.sales_orders))
    found = await by_key(erp_harness, customers)
    key_of = {record.erp_id: key for key, record in found.items()}
    ids = list(key_of)
    orders, invoices, payments = await asyncio.gather(
        erp.orders_by_customer_ids(ids),
        erp.invoices_by_customer_ids(ids),
        erp.payments_by_customer_ids(ids),
    )
    kinds: set[DocumentKind] = {"orders", "invoices", "payments"}

    together = await erp.documents_by_customer_ids(ids, kinds)
    keyed = await erp.documents_by_customer_keys([*key_of.values(), "no-such-key"], kinds)
    only = await erp.documents_by_customer_keys(list(key_of.values()), {"invoices"})

    assert all((orders, invoices, payments))
    assert (dict(together.orders), dict(together.invoices), dict(together.payments)) == (
        orders,
        invoices,
        payments,
    )
    for kind, expected in (("orders", orders), ("invoices", invoices), ("payments", payments)):
        assert dict(getattr(keyed, kind)) == {key_of[i]: v for i, v in expected.items()}
    assert (dict(only.orders), dict(only.payments)) == ({}, {})
    assert dict(only.invoices) == {key_of[i]: v for i, v in invoices.items()}


async def test_lines_of_orders_and_invoices_add_up(erp_harness: ErpHarness) -> None:
    erp = erp_harness.erp
    customer = next(c for c in in_erp(erp_harness.world) if c.invoices)
    erp_id = (await by_key(erp_harness, [customer]))[customer.key or ""].erp_id
    orders = (await erp.orders_by_customer_ids([erp_id]))[erp_id]
    invoices = (await erp.invoices_by_customer_ids([erp_id]))[erp_id]
    documents: list[ErpOrder | ErpInvoice] = [*orders, *invoices]
    lines = await erp.transaction_lines([d.erp_id for d in documents])
    skus = {product.sku for product in erp_harness.world.products}
    for document in documents:
        got = lines[document.erp_id]
        assert [line.number for line in got] == list(range(1, len(got) + 1))
        assert sum((line.amount for line in got), Decimal(0)) == document.total
        assert {line.sku for line in got} <= skus


@pytest.mark.parametrize("status", [s for s in InvoiceStatus if s is not InvoiceStatus.VOIDED])
async def test_the_invoice_status_filter_and_paging(
    erp_harness: ErpHarness, status: InvoiceStatus
) -> None:
    today = erp_harness.today()
    expected: Counter[tuple[object, Decimal]] = Counter(
        (i.date, i.total)
        for c in in_erp(erp_harness.world)
        for i in c.invoices
        if _invoice_status(i.amount_remaining, i.amount_paid, i.due_date, today) is status
    )
    seen = []
    after: str | None = None
    for _ in range(1000):
        page = await erp_harness.erp.invoice_page(
            InvoiceQuery(status=status, after_id=after, limit=50)
        )
        seen.extend(page.items)
        if not page.has_more:
            break
        after = page.items[-1].erp_id
    assert expected, f"the world should hold invoices in {status}"
    assert len({i.erp_id for i in seen}) == len(seen)
    assert all(i.status is status for i in seen)
    world_numbers: Counter[tuple[object, Decimal]] = Counter((i.issue_date, i.total) for i in seen)
    assert world_numbers & expected == expected  # every world invoice in that status is found


async def test_the_due_date_filters(erp_harness: ErpHarness) -> None:
    today = erp_harness.today()
    page = await erp_harness.erp.invoice_page(InvoiceQuery(due_before=today, limit=1000))
    assert page.items
    assert all(i.due_date is not None and i.due_date < today for i in page.items)
    later = await erp_harness.erp.invoice_page(InvoiceQuery(due_after=today, limit=1000))
    assert all(i.due_date is not None and i.due_date > today for i in later.items)


async def test_reference_data(erp_harness: ErpHarness) -> None:
    entities = await erp_harness.erp.legal_entities()
    terms = await erp_harness.erp.payment_terms()
    world = erp_harness.world
    assert {(e.name, e.country, e.currency) for e in entities.values()} >= {
        (s.name, s.country, s.currency) for s in world.subsidiaries
    }
    assert {(t.name, t.days) for t in terms.values()} >= {(t.name, t.days) for t in world.terms}
