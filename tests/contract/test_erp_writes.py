"""The ERP port's writes, for every ERP adapter: each write read back through the port, each
repeated to prove it posts once. Every test writes to records of its own."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from sources.errors import (
    RecordNotFound,
    SourceError,
    SourceNotSupported,
    SourceValidationError,
)
from sources.ports import ErpCapability
from sources.records import (
    Address,
    CreditHold,
    CreditStatus,
    CustomerFields,
    NewPayment,
    NewSalesOrder,
    OrderLineInput,
    PaymentApplication,
)
from tests.contract.conftest import ErpHarness


def new_key() -> str:
    return f"CONTRACT-{uuid.uuid4().hex[:10].upper()}"


async def a_new_customer(harness: ErpHarness, **values: object) -> tuple[str, str]:
    """(key, erp id) of a customer created for the test, billed in the legal entity of the
    world's first subsidiary."""
    subsidiary = harness.world.subsidiaries[0]
    entities = await harness.erp.legal_entities()
    entity = next(e for e in entities.values() if e.name == subsidiary.name)
    terms = await harness.erp.payment_terms()
    key = new_key()
    fields = CustomerFields(
        name=f"Contract {key.title()} Ltd",
        email=f"ap@{key.lower()}.example",
        legal_entity_id=entity.erp_id,
        currency=subsidiary.currency,
        terms_id=next(iter(terms)),
        credit_limit=Decimal("50000.00"),
        billing_address=Address("1 Contract Way", "Springfield", "IL", "62701", subsidiary.country),
        **values,  # type: ignore[arg-type]
    )
    erp_id = await harness.erp.upsert_customer(key, fields, idempotency_key=f"create-{key}")
    return key, erp_id


async def test_an_upsert_by_key_creates_once_and_reads_back(erp_harness: ErpHarness) -> None:
    # given a customer created by its key
    key, erp_id = await a_new_customer(erp_harness)

    # when the same key is upserted again with a new value
    again = await erp_harness.erp.upsert_customer(
        key, CustomerFields(credit_limit=Decimal("75000.00")), idempotency_key=f"again-{key}"
    )

    # then it is the same customer, found by key and by id, with the new value
    assert again == erp_id
    by_key = await erp_harness.erp.customers_by_keys([key])
    assert by_key[key].erp_id == erp_id
    assert by_key[key].credit_limit == Decimal("75000.00")
    assert by_key[key].balance == 0
    assert by_key[key].credit_status is CreditStatus.GOOD_STANDING
    assert (await erp_harness.erp.customers_by_ids([erp_id]))[erp_id] == by_key[key]


async def test_an_update_changes_the_credit_figures_and_is_safe_to_repeat(
    erp_harness: ErpHarness,
) -> None:
    _, erp_id = await a_new_customer(erp_harness)
    change = CustomerFields(credit_limit=Decimal("1234.50"), credit_hold=CreditHold.ON)

    await erp_harness.erp.update_customer(erp_id, change, idempotency_key=f"hold-{erp_id}")
    await erp_harness.erp.update_customer(erp_id, change, idempotency_key=f"hold-{erp_id}")

    record = (await erp_harness.erp.customers_by_ids([erp_id]))[erp_id]
    assert record.credit_limit == Decimal("1234.50")
    assert record.credit_hold is CreditHold.ON
    assert record.credit_status is CreditStatus.ON_HOLD


async def test_updating_a_customer_that_does_not_exist_is_not_found(
    erp_harness: ErpHarness,
) -> None:
    with pytest.raises(RecordNotFound):
        await erp_harness.erp.update_customer(
            "999999999", CustomerFields(credit_limit=Decimal(1)), idempotency_key=new_key()
        )


async def test_a_value_the_erp_refuses_is_a_validation_error(erp_harness: ErpHarness) -> None:
    _, erp_id = await a_new_customer(erp_harness)
    with pytest.raises(SourceValidationError):
        await erp_harness.erp.update_customer(
            erp_id, CustomerFields(legal_entity_id="987654321"), idempotency_key=new_key()
        )


def order_for(customer_erp_id: str, harness: ErpHarness, external: str) -> NewSalesOrder:
    products = harness.world.products[:2]
    currency = harness.world.subsidiaries[0].currency
    return NewSalesOrder(
        customer_erp_id=customer_erp_id,
        external_id=external,
        order_date=harness.today(),
        currency=currency,
        lines=tuple(
            OrderLineInput(sku=product.sku, quantity=Decimal(2), unit_price=Decimal("100.00"))
            for product in products
        ),
        memo="Booked by the contract suite",
    )


async def test_a_sales_order_is_posted_once_per_external_id(erp_harness: ErpHarness) -> None:
    # given a customer and an order keyed by the opportunity it comes from
    _, customer = await a_new_customer(erp_harness)
    external = f"006CONTRACT{uuid.uuid4().hex[:6]}"
    order = order_for(customer, erp_harness, external)

    # when it is posted, retried with the same idempotency key, and posted again under another
    first = await erp_harness.erp.create_sales_order(order, idempotency_key=f"one-{external}")
    retried = await erp_harness.erp.create_sales_order(order, idempotency_key=f"one-{external}")
    try:
        again = await erp_harness.erp.create_sales_order(order, idempotency_key=f"two-{external}")
    except SourceError:
        again = first  # refusing the second booking of an opportunity is as good

    # then there is one order, found by the opportunity, with the lines' total
    assert retried == first
    assert again == first
    orders = (await erp_harness.erp.orders_by_customer_ids([customer]))[customer]
    assert [o.erp_id for o in orders] == [first]
    found = (await erp_harness.erp.orders_by_external_ids([external]))[external]
    assert found.erp_id == first
    assert found.total == Decimal("400.00")
    assert found.order_date == erp_harness.today()
    lines = (await erp_harness.erp.transaction_lines([first]))[first]
    assert [(line.sku, line.quantity) for line in lines] == [
        (line.sku, line.quantity) for line in order.lines
    ]

    # and deleting it (a compensation) removes it; an ERP that keeps an order once it has
    # processed it says so with a typed refusal, and the order stays as it was
    if ErpCapability.DELETE_PROCESSED_ORDER in erp_harness.erp.capabilities:
        await erp_harness.erp.delete_sales_order(first)
        assert await erp_harness.erp.orders_by_ids([first]) == {}
    else:
        with pytest.raises(SourceNotSupported) as refused:
            await erp_harness.erp.delete_sales_order(first)
        assert refused.value.code == "NOT_SUPPORTED"
        assert refused.value.capability == ErpCapability.DELETE_PROCESSED_ORDER.value
        assert set(await erp_harness.erp.orders_by_ids([first])) == {first}


async def test_an_order_with_an_unknown_product_is_refused(erp_harness: ErpHarness) -> None:
    _, customer = await a_new_customer(erp_harness)
    order = order_for(customer, erp_harness, f"006CONTRACT{uuid.uuid4().hex[:6]}")
    bad = NewSalesOrder(
        customer_erp_id=order.customer_erp_id,
        external_id=order.external_id,
        order_date=order.order_date,
        currency=order.currency,
        lines=(OrderLineInput(sku="NO-SUCH-SKU", quantity=Decimal(1), unit_price=Decimal(1)),),
    )
    with pytest.raises(SourceValidationError):
        await erp_harness.erp.create_sales_order(bad, idempotency_key=new_key())
    assert await erp_harness.erp.orders_by_external_ids([order.external_id]) == {}


async def test_a_payment_is_applied_once_per_external_id(erp_harness: ErpHarness) -> None:
    # given an invoice of the test's own customer
    _, customer = await a_new_customer(erp_harness)
    order_id = await erp_harness.erp.create_sales_order(
        order_for(customer, erp_harness, f"006CONTRACT{uuid.uuid4().hex[:6]}"),
        idempotency_key=new_key(),
    )
    invoice_id = await erp_harness.invoice_order(customer, order_id)
    invoice = (await erp_harness.erp.invoices_by_ids([invoice_id]))[invoice_id]
    assert invoice.amount_due == Decimal("400.00")

    # when part of it is paid, retried with the same idempotency key, and posted again under
    # another key with the same external id
    payment = NewPayment(
        customer_erp_id=customer,
        external_id=f"PAY-{uuid.uuid4().hex[:10]}",
        amount=Decimal("150.00"),
        currency=invoice.currency or "",
        payment_date=erp_harness.today(),
        applications=(PaymentApplication(invoice_id, Decimal("150.00")),),
        memo="Contract payment",
    )
    key = new_key()
    first = await erp_harness.erp.create_payment(payment, idempotency_key=key)
    retried = await erp_harness.erp.create_payment(payment, idempotency_key=key)
    try:
        again = await erp_harness.erp.create_payment(payment, idempotency_key=new_key())
    except SourceError:
        again = first  # refusing the second posting is as good

    # then one payment is applied: the invoice and the customer owe 250.00
    assert retried == first
    assert again == first
    after = (await erp_harness.erp.invoices_by_ids([invoice_id]))[invoice_id]
    assert after.amount_paid == Decimal("150.00")
    assert after.amount_due == Decimal("250.00")
    paid = (await erp_harness.erp.payments_by_ids([first]))[first]
    assert paid.amount == Decimal("150.00")
    assert [(a.invoice_erp_id, a.amount) for a in paid.applications] == [
        (invoice_id, Decimal("150.00"))
    ]
    record = (await erp_harness.erp.customers_by_ids([customer]))[customer]
    assert record.balance == Decimal("250.00")


async def test_deleting_a_customer(erp_harness: ErpHarness) -> None:
    key, erp_id = await a_new_customer(erp_harness)
    await erp_harness.erp.delete_customer(erp_id)
    assert await erp_harness.erp.customers_by_keys([key]) == {}
    with pytest.raises(SourceError):
        await erp_harness.erp.update_customer(
            erp_id, CustomerFields(credit_limit=Decimal(1)), idempotency_key=new_key()
        )


def test_dates_are_the_erps(erp_harness: ErpHarness) -> None:
    today = erp_harness.today()
    assert abs(today - dt.datetime.now(dt.UTC).date()) <= dt.timedelta(days=1)
