"""The ERP port's change feed, for every ERP adapter: its scans find each kind of record it
changed, with the watermark guarantees the pollers rely on, and the normaliser turns what
they find into every ERP event type, through the port alone. Every test writes records of
its own and looks only at events about them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from events.model import Event, EventType
from events.normalize import Normalizer
from events.pollers import feed_poller
from sources.changes import MalformedNotification, RecordChange, RecordKind, Watermark
from sources.ports import CrmPort
from sources.records import CustomerFields, NewPayment, PaymentApplication
from state.memory_backend import MemoryBackend
from tests.contract.conftest import ErpHarness
from tests.contract.test_erp_writes import a_new_customer, new_key, order_for


async def _nothing() -> None:
    return None


async def everything_changed(
    harness: ErpHarness, between: Callable[[], Awaitable[object]] = _nothing
) -> dict[RecordKind, str]:
    """A customer with a credit limit, an order of 400, its invoice, and a payment of it in
    full, written through the port (the invoice through the harness), ``between`` awaited
    after each; their ERP ids."""
    _, customer = await a_new_customer(harness)
    await harness.erp.update_customer(
        customer, CustomerFields(credit_limit=Decimal("300.00")), idempotency_key=new_key()
    )
    await between()
    # over the limit: approved, as finance would, for an ERP whose own check asks
    over_limit = order_for(customer, harness, f"006FEED{uuid.uuid4().hex[:8]}")
    order = await harness.erp.create_sales_order(
        dataclasses.replace(over_limit, approved=True), idempotency_key=new_key()
    )
    await between()
    invoice = await harness.invoice_order(customer, order)
    await between()
    payment = await harness.erp.create_payment(
        NewPayment(
            customer_erp_id=customer,
            external_id=new_key(),
            amount=Decimal("400.00"),
            currency=harness.world.subsidiaries[0].currency,
            payment_date=harness.today(),
            applications=(PaymentApplication(invoice, Decimal("400.00")),),
        ),
        idempotency_key=new_key(),
    )
    return {
        RecordKind.CUSTOMER: customer,
        RecordKind.ORDER: order,
        RecordKind.INVOICE: invoice,
        RecordKind.PAYMENT: payment,
    }


async def scanned(harness: ErpHarness, marks: dict[str, Watermark]) -> list[RecordChange]:
    found: list[RecordChange] = []
    for scan in harness.erp.change_scans():
        found += await scan.since(marks[scan.name])
    return found


async def test_the_scans_find_each_kind_of_record_changed_under_the_adapters_name(
    erp_harness: ErpHarness,
) -> None:
    # given the scans' first-run watermarks
    scans = erp_harness.erp.change_scans()
    assert len({scan.name for scan in scans}) == len(scans)  # a watermark each
    marks = {scan.name: await scan.start() for scan in scans}

    # when a record of every kind is written
    ids = await everything_changed(erp_harness)

    # then the scans report each, as a canonical change of the ERP's, with an opaque id
    found = await scanned(erp_harness, marks)
    for kind, erp_id in ids.items():
        mine = [change for change in found if (change.kind, change.record_id) == (kind, erp_id)]
        assert mine, f"no {kind} change for {erp_id}"
        assert all(change.source == erp_harness.erp.source for change in mine)
        assert all(isinstance(change.record_id, str) for change in mine)
    assert {change.kind for change in found} <= set(RecordKind)
    for scan in scans:  # oldest first
        mine = await scan.since(marks[scan.name])
        assert [c.modified_at for c in mine] == sorted(c.modified_at for c in mine)
    assert set(erp_harness.erp.record_names) == set(RecordKind)


async def test_a_first_run_knows_what_is_there_and_a_watermark_is_inclusive_to_the_second(
    erp_harness: ErpHarness,
) -> None:
    # given the scans' first runs: each starts at the newest records, which it knows already
    scans = erp_harness.erp.change_scans()
    marks = {}
    for scan in scans:
        marks[scan.name] = start = await scan.start()
        present = scan.present()
        assert present is not None  # the source's time, from its answers
        assert start.at <= present
        assert all(start.known(change) for change in await scan.since(start))

    # when a customer is created
    _, erp_id = await a_new_customer(erp_harness)

    # then the scan that finds it finds it again from a watermark later in its own second
    [(scan, mine)] = [
        (scan, change)
        for scan in scans
        for change in await scan.since(marks[scan.name])
        if (change.kind, change.record_id) == (RecordKind.CUSTOMER, erp_id)
    ]
    assert not marks[scan.name].known(mine)
    later_in_the_second = mine.modified_at.replace(microsecond=999_999)
    assert erp_id in [c.record_id for c in await scan.since(Watermark(later_in_the_second))]
    next_second = mine.modified_at.replace(microsecond=0) + dt.timedelta(seconds=1)
    assert mine not in await scan.since(Watermark(next_second))


async def test_every_erp_event_type_is_delivered_from_the_feed_once(
    erp_harness: ErpHarness, crm: CrmPort
) -> None:
    # given a poller of the adapter's feed and a normaliser publishing what it finds
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)

    backend = MemoryBackend()
    erp = erp_harness.erp
    normalizer = Normalizer(crm, erp, backend, publish=publish, today=erp.today)
    poller = feed_poller(erp, backend, normalizer.process, owner=f"contract-{uuid.uuid4().hex}")
    assert await poller.poll_once() == 0

    # when records of every kind are written, one after the other, and the poller runs
    ids = await everything_changed(erp_harness, poller.poll_once)
    for _ in range(3):  # later rounds see the watermark's second again, and add nothing
        await poller.poll_once()

    # then each ERP event type arrives about them, once, named by the adapter
    customer = ids[RecordKind.CUSTOMER]
    mine = [
        event
        for event in published
        if event.data.get("customerErpId") == customer
        or event.data.get("erpId") == customer
        or event.data.get("recordId") == customer
    ]
    types = sorted(event.type.value for event in mine)
    assert types == sorted(
        kind.value
        for kind in (
            EventType.CUSTOMER_CREATED,
            EventType.ORDER_BOOKED,
            EventType.ORDER_STATUS_CHANGED,  # billed
            EventType.INVOICE_POSTED,
            EventType.CREDIT_STATUS_CHANGED,  # over the limit once invoiced
            EventType.PAYMENT_RECEIVED,
            EventType.INVOICE_STATUS_CHANGED,  # paid
            EventType.CREDIT_STATUS_CHANGED,  # back in good standing
        )
    )
    assert all(event.source == erp.source for event in mine)
    assert len({event.id for event in published}) == len(published)


async def test_a_notification_is_parsed_by_the_adapter_or_declared_absent(
    erp_harness: ErpHarness,
) -> None:
    erp = erp_harness.erp
    if not erp.webhooks:
        with pytest.raises(NotImplementedError):
            erp.parse_notification({}, b"{}")
        return
    for body in (b"{not json", b"null", b"[]", b"{}"):
        with pytest.raises(ValueError, match=r"\S"):  # MalformedNotification is one
            erp.parse_notification({"content-type": "application/json"}, body)
    with pytest.raises(MalformedNotification):
        erp.parse_notification({}, b'{"id": ""}')


async def test_each_kind_of_record_changed_is_notified_and_parsed_by_the_adapter(
    erp_harness: ErpHarness,
) -> None:
    erp = erp_harness.erp
    with erp_harness.notifications() as receiver:
        if receiver is None:  # a system that pushes nothing says so
            assert not erp.webhooks
            return
        assert erp.webhooks

        # when a record of every kind is written
        ids = await everything_changed(erp_harness)

        # then the notifications the system sent are, parsed by the adapter, canonical
        # changes naming each of them
        def parsed() -> list[RecordChange]:
            found: list[RecordChange] = []
            for item in receiver.received:
                found += erp.parse_notification(item.headers, item.body).changes
            return found

        def named(changes: list[RecordChange]) -> set[tuple[RecordKind, str]]:
            return {(change.kind, change.record_id) for change in changes}

        wanted = set(ids.items())
        receiver.wait_for(lambda _: wanted <= named(parsed()), timeout=10)
        changes = parsed()
        assert wanted <= named(changes)
        assert all(change.source == erp.source for change in changes)
        assert all(change.modified_at.tzinfo is not None for change in changes)
        creates = {(c.kind, c.record_id) for c in changes if c.change_type == "create"}
        assert (RecordKind.ORDER, ids[RecordKind.ORDER]) in creates
        assert (RecordKind.PAYMENT, ids[RecordKind.PAYMENT]) in creates
