"""Tryton's change feed against a real trytond: scans on write_date find what the adapter
wrote, under the ids the adapter reads them by, and a first run replays no history."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from sandbox.endpoints import TrytonEndpoint
from sandbox.world import World
from sources.changes import RecordKind, Watermark
from sources.ports import CANONICAL_RECORD_NAMES
from sources.records import (
    Address,
    CustomerFields,
    NewPayment,
    NewSalesOrder,
    OrderLineInput,
    PaymentApplication,
)
from sources.resilience import ResiliencePolicy
from sources.tryton.adapter import TrytonErp
from sources.tryton.rpc import TrytonConfig

pytestmark = pytest.mark.second_erp


@pytest.fixture
async def erp(writable_tryton: TrytonEndpoint) -> AsyncIterator[TrytonErp]:
    adapter = TrytonErp(
        TrytonConfig(
            url=writable_tryton.url,
            database=writable_tryton.database,
            user=writable_tryton.user,
            password=writable_tryton.password,
            ca_file=writable_tryton.ca_file,
            policy=ResiliencePolicy(timeout=60.0, max_attempts=1),
        )
    )
    await adapter.start()
    yield adapter
    await adapter.close()


async def marks(erp: TrytonErp) -> dict[str, Watermark]:
    return {scan.name: await scan.start() for scan in erp.change_scans()}


async def news(erp: TrytonErp, since: dict[str, Watermark]) -> dict[RecordKind, set[str]]:
    """What each scan found that its first-run watermark did not know, by kind."""
    found: dict[RecordKind, set[str]] = {kind: set() for kind in RecordKind}
    for scan in erp.change_scans():
        mark = since[scan.name]
        changes = await scan.since(mark)
        assert changes == sorted(changes, key=lambda c: (c.modified_at, c.record_id))
        for change in changes:
            assert change.modified_at >= mark.at.replace(microsecond=0)
            assert change.modified_at.microsecond == 0
            assert change.source == "tryton"
            if not mark.known(change):
                found[change.kind].add(change.record_id)
    return found


async def test_the_feed_is_scans_only_with_canonical_names(erp: TrytonErp) -> None:
    assert erp.webhooks is False
    assert erp.record_names == CANONICAL_RECORD_NAMES
    with pytest.raises(NotImplementedError):
        erp.parse_notification({}, b"{}")
    assert {scan.name for scan in erp.change_scans()} == {
        "party",
        "sale",
        "invoice",
        "payment",
    }


async def test_a_first_run_replays_no_history(erp: TrytonErp) -> None:
    # given the seeded world, scanned from its first run's watermarks
    since = await marks(erp)

    # then nothing is news, and no watermark lies in Tryton's future
    assert all(not ids for ids in (await news(erp, since)).values())
    present = erp.change_scans()[0].present()
    assert present is not None
    assert abs(present - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert all(mark.at <= present for mark in since.values())


async def test_what_the_adapter_writes_is_found_under_the_ids_it_reads_by(
    erp: TrytonErp, tryton_world: World
) -> None:
    # given the scans' watermarks now
    since = await marks(erp)
    subsidiary = tryton_world.subsidiaries[0]
    entity = next(e for e in (await erp.legal_entities()).values() if e.name == subsidiary.name)

    # when a customer is created and its limit changed, an order booked, invoiced and paid
    key = f"FEED-{uuid.uuid4().hex[:8].upper()}"
    customer = await erp.upsert_customer(
        key,
        CustomerFields(
            name=f"Feed {key}",
            legal_entity_id=entity.erp_id,
            currency=subsidiary.currency,
            credit_limit=Decimal("90000.00"),
            billing_address=Address("1 Feed St", "Springfield", "IL", "62701", "US"),
        ),
        idempotency_key=key,
    )
    today = erp.today()
    order = await erp.create_sales_order(
        NewSalesOrder(
            customer_erp_id=customer,
            external_id=f"006FEED{uuid.uuid4().hex[:8]}",
            order_date=today,
            currency=subsidiary.currency,
            lines=(OrderLineInput(tryton_world.products[0].sku, Decimal(1), Decimal("500.00")),),
        ),
        idempotency_key=key,
    )
    (sale,) = await erp.rpc.search_read(
        "sale.sale", [["id", "=", int(order[1:])]], ["invoices", "company"]
    )
    (invoice,) = sale["invoices"]
    await erp.rpc.call("account.invoice", "post", [invoice], context={"company": sale["company"]})
    payment = await erp.create_payment(
        NewPayment(
            customer_erp_id=customer,
            external_id=f"PAY-{key}",
            amount=Decimal("200.00"),
            currency=subsidiary.currency,
            payment_date=today,
            applications=(PaymentApplication(f"I{invoice}", Decimal("200.00")),),
        ),
        idempotency_key=key,
    )

    # then the scans report each, by the ids the port reads them by
    found = await news(erp, since)
    assert customer in found[RecordKind.CUSTOMER]
    assert order in found[RecordKind.ORDER]
    assert f"I{invoice}" in found[RecordKind.INVOICE]
    assert payment in found[RecordKind.PAYMENT]
    assert set(await erp.payments_by_ids([payment])) == {payment}
    assert set(await erp.invoices_by_ids([f"I{invoice}"])) == {f"I{invoice}"}

    # and a credit limit changed alone is found as its customer's change
    again = await marks(erp)
    await erp.update_customer(
        customer, CustomerFields(credit_limit=Decimal("1000.00")), idempotency_key=key
    )
    assert customer in (await news(erp, again))[RecordKind.CUSTOMER]
