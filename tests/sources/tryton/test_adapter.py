"""What the Tryton adapter does beyond the ERP contract suite, against a real trytond: Tryton's
own credit check stops an order for an approval, an order stopped half way is taken on or
removed, and customer changes land in Tryton's own places (contact mechanisms, invoice
address, tax identifier, the legal entity's credit limit row, hold categories)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from sandbox.endpoints import TrytonEndpoint
from sandbox.world import World
from sources.errors import SourceNotSupported, SourceValidationError, SourceWarning
from sources.ports import ErpCapability
from sources.records import (
    Address,
    CreditHold,
    CustomerFields,
    NewSalesOrder,
    OrderLineInput,
    OrderStatus,
)
from sources.resilience import ResiliencePolicy
from sources.tryton.adapter import TrytonErp
from sources.tryton.rpc import TrytonConfig

pytestmark = pytest.mark.second_erp


@pytest.fixture
async def erp(writable_tryton: TrytonEndpoint) -> AsyncIterator[TrytonErp]:
    endpoint = writable_tryton
    adapter = TrytonErp(
        TrytonConfig(
            url=endpoint.url,
            database=endpoint.database,
            user=endpoint.user,
            password=endpoint.password,
            ca_file=endpoint.ca_file,
            policy=ResiliencePolicy(timeout=60.0, max_attempts=1),
        )
    )
    await adapter.start()
    yield adapter
    await adapter.close()


async def a_customer(erp: TrytonErp, world: World, limit: str) -> tuple[str, str]:
    """(key, id) of a new customer of the world's first legal entity, with a credit limit."""
    subsidiary = world.subsidiaries[0]
    entity = next(e for e in (await erp.legal_entities()).values() if e.name == subsidiary.name)
    key = f"ADAPTER-{uuid.uuid4().hex[:8].upper()}"
    erp_id = await erp.upsert_customer(
        key,
        CustomerFields(
            name=f"Adapter {key}",
            legal_entity_id=entity.erp_id,
            currency=subsidiary.currency,
            credit_limit=Decimal(limit),
            billing_address=Address("1 Test Way", "Springfield", "IL", "62701", "US"),
        ),
        idempotency_key=key,
    )
    return key, erp_id


def an_order(customer: str, world: World, price: str) -> NewSalesOrder:
    return NewSalesOrder(
        customer_erp_id=customer,
        external_id=f"006ADAPTER{uuid.uuid4().hex[:8]}",
        order_date=dt.datetime.now(dt.UTC).date(),
        currency=world.subsidiaries[0].currency,
        lines=(OrderLineInput(world.products[0].sku, Decimal(1), Decimal(price)),),
    )


async def test_an_order_over_the_credit_limit_waits_for_an_approval(
    erp: TrytonErp, tryton_world: World
) -> None:
    # given a customer whose credit limit is 100.00
    _, customer = await a_customer(erp, tryton_world, "100.00")
    order = an_order(customer, tryton_world, "5000.00")

    # when an order of 5000.00 is booked, Tryton's credit check stops it with a warning
    with pytest.raises(SourceWarning) as stopped:
        await erp.create_sales_order(order, idempotency_key="first")
    assert "credit limit" in stopped.value.message.lower()
    assert stopped.value.warning  # the name to confirm
    held = (await erp.orders_by_external_ids([order.external_id]))[order.external_id]
    assert held.status is OrderStatus.PENDING_APPROVAL

    # then, once approved, the same booking confirms that order (not a second one)
    await erp.rpc.approve_warning(stopped.value.warning)
    confirmed = await erp.create_sales_order(order, idempotency_key="first")
    assert confirmed == held.erp_id
    after = (await erp.orders_by_ids([confirmed]))[confirmed]
    assert after.status is not OrderStatus.PENDING_APPROVAL
    assert [o.erp_id for o in (await erp.orders_by_customer_ids([customer]))[customer]] == [
        confirmed
    ]


async def test_an_order_stopped_before_processing_can_be_removed_a_processed_one_cannot(
    erp: TrytonErp, tryton_world: World
) -> None:
    _, customer = await a_customer(erp, tryton_world, "100.00")
    waiting = an_order(customer, tryton_world, "5000.00")
    with pytest.raises(SourceWarning):
        await erp.create_sales_order(waiting, idempotency_key="w")
    quoted = (await erp.orders_by_external_ids([waiting.external_id]))[waiting.external_id]

    await erp.delete_sales_order(quoted.erp_id)
    assert await erp.orders_by_ids([quoted.erp_id]) == {}

    processed = await erp.create_sales_order(
        an_order(customer, tryton_world, "10.00"), idempotency_key="p"
    )
    assert ErpCapability.DELETE_PROCESSED_ORDER not in erp.capabilities
    with pytest.raises(SourceNotSupported):
        await erp.delete_sales_order(processed)
    assert set(await erp.orders_by_ids([processed])) == {processed}


async def test_customer_changes_land_in_tryton_and_read_back(
    erp: TrytonErp, tryton_world: World
) -> None:
    key, customer = await a_customer(erp, tryton_world, "100.00")
    other = next(
        e
        for e in (await erp.legal_entities()).values()
        if e.name == tryton_world.subsidiaries[1].name
    )
    terms = next(iter(await erp.payment_terms()))

    await erp.update_customer(
        customer,
        CustomerFields(
            email="ap@example.com",
            phone="+1 555 0100",
            tax_id="GB123456782",
            billing_address=Address("2 High St", "London", None, "EC1A 1BB", "GB"),
            legal_entity_id=other.erp_id,
            currency=other.currency,
            terms_id=terms,
            credit_limit=Decimal("2500.00"),
            credit_hold=CreditHold.OFF,
        ),
        idempotency_key=key,
    )

    record = (await erp.customers_by_keys([key]))[key]
    assert (record.email, record.phone, record.tax_id) == (
        "ap@example.com",
        "+1 555 0100",
        "GB123456782",
    )
    assert record.billing() == Address("2 High St", "London", None, "EC1A 1BB", "GB")
    assert (record.legal_entity_id, record.currency, record.terms_id) == (
        other.erp_id,
        other.currency,
        terms,
    )
    assert record.credit_limit == Decimal("2500.00")
    assert record.credit_hold is CreditHold.OFF
    # the hold goes back to automatic, and a bad tax id is Tryton's refusal
    await erp.update_customer(
        customer, CustomerFields(credit_hold=CreditHold.AUTO), idempotency_key=key
    )
    assert (await erp.customers_by_ids([customer]))[customer].credit_hold is CreditHold.AUTO
    with pytest.raises(SourceValidationError):
        await erp.update_customer(customer, CustomerFields(tax_id="GB1234"), idempotency_key=key)


async def test_ids_name_their_kind(erp: TrytonErp) -> None:
    assert all(erp.accepts_id(value) for value in ("12", "S12", "I7", "P40"))
    assert not any(erp.accepts_id(value) for value in ("X12", "S", "", "12a", "S-1"))
    assert await erp.orders_by_ids(["I1", "12", "Sx"]) == {}
