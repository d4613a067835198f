"""The normaliser against the session's emulators: records changed through their APIs become
canonical events, each exactly once however often, and however concurrently, the change is
seen. Each test works on customers it creates."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest

from events.bus import BusUnavailable, MemoryBus
from events.model import Event, EventType
from events.normalize import Change, Normalizer, RecordKind, version
from sandbox.endpoints import Endpoints
from sources.netsuite import NetSuiteErp
from sources.netsuite_feed import RECORD_KINDS
from sources.salesforce import SalesforceCrm
from state.backend import StateBackend
from state.memory_backend import MemoryBackend
from state.redis_backend import RedisBackend
from tests.accord import Emulators
from tests.conftest import SandboxControl
from tests.redis_keys import unique_prefix
from tests.sandbox.test_netsuite_support import NetSuiteHttp, new_customer


@pytest.fixture
def backend() -> StateBackend:
    return MemoryBackend(prefix=unique_prefix())


@pytest.fixture
def normalizer(
    crm: SalesforceCrm, erp: NetSuiteErp, backend: StateBackend, sandbox: Endpoints
) -> Normalizer:
    return Normalizer(crm, erp, backend, today=erp.today)


def modified(ns: NetSuiteHttp, table: str, record_id: str) -> dt.datetime:
    """The record's lastModifiedDate at full precision, as a notification carries it."""
    [row] = ns.rows(
        "SELECT TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS.FF6') AS at "
        f"FROM {table} WHERE id = {record_id}"
    )
    return dt.datetime.fromisoformat(str(row["at"])).replace(tzinfo=dt.UTC)


def change(
    ns: NetSuiteHttp, record_type: str, record_id: str, kind: str = "create", **extra: object
) -> Change:
    table = "customer" if record_type == "customer" else "transaction"
    return Change(
        "netsuite",
        RECORD_KINDS[record_type],
        record_id,
        kind,  # type: ignore[arg-type]
        modified(ns, table, record_id),
        **extra,  # type: ignore[arg-type]
    )


def billed(
    ns: NetSuiteHttp, *, total: int = 1000, limit: int | None = None
) -> tuple[str, str, str]:
    """A new customer (with a credit limit) and an invoice of ``total`` billing an order."""
    customer = new_customer(ns, **({"creditLimit": limit} if limit is not None else {}))
    order = ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": "101"}, "quantity": 1, "rate": total}]},
        },
    )
    invoice = ns.create("/invoice", {"entity": {"id": customer}, "createdFrom": {"id": order}})
    return customer, order, invoice


def pay(ns: NetSuiteHttp, customer: str, invoice: str, amount: int) -> str:
    return ns.create(
        "/customerPayment",
        {
            "customer": {"id": customer},
            "payment": amount,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": amount}]},
        },
    )


def by_type(events: list[Event]) -> dict[EventType, Event]:
    found = {event.type: event for event in events}
    assert len(found) == len(events), f"two events of one type: {events}"
    return found


async def test_a_payment_that_settles_an_invoice_and_the_customer_over_limit(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer, _, invoice = billed(ns, total=1000, limit=500)
    payment = pay(ns, customer, invoice, 1000)

    events = await normalizer.normalize(change(ns, "customerpayment", payment))

    assert [event.type for event in events] == [
        EventType.PAYMENT_RECEIVED,
        EventType.INVOICE_STATUS_CHANGED,
        EventType.CREDIT_STATUS_CHANGED,
    ]
    received, status, credit = events
    assert received.subject == f"pay:{payment}"
    assert received.customer == f"cus:erp:{customer}"
    assert received.data["amount"] == "1000.00"
    assert received.data["currency"] == "USD"
    assert received.data["applications"] == [{"invoiceId": f"inv:{invoice}", "amount": "1000.00"}]
    assert received.data["balanceAfter"] == "0.00"
    assert status.subject == f"inv:{invoice}"
    assert (status.data["from"], status.data["to"]) == ("OPEN", "PAID")
    assert credit.subject == f"cus:erp:{customer}"
    assert (credit.data["from"], credit.data["to"]) == ("OVER_LIMIT", "GOOD_STANDING")
    assert (credit.data["balance"], credit.data["limit"]) == ("0.00", "500.00")
    assert all(event.source == "netsuite" for event in events)


async def test_the_same_change_twice_is_one_set_of_events(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer, _, invoice = billed(ns, total=800, limit=500)
    payment = pay(ns, customer, invoice, 800)
    seen = change(ns, "customerpayment", payment)

    first = await normalizer.normalize(seen)
    again = await normalizer.normalize(seen)
    # the poller's view of the same change: the same instant, to the second
    polled = dataclasses.replace(seen, modified_at=seen.modified_at.replace(microsecond=0))
    third = await normalizer.normalize(polled)

    assert len(first) == 3
    assert again == []
    assert third == []


async def test_the_same_change_gets_the_same_ids_by_webhook_and_by_poller(
    ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp
) -> None:
    customer, _, invoice = billed(ns, total=600, limit=100)
    payment = pay(ns, customer, invoice, 600)
    seen = change(ns, "customerpayment", payment)
    polled = dataclasses.replace(seen, modified_at=seen.modified_at.replace(microsecond=0))

    by_webhook = await Normalizer(crm, erp, MemoryBackend(), today=erp.today).normalize(seen)
    by_poller = await Normalizer(crm, erp, MemoryBackend(), today=erp.today).normalize(polled)

    assert len(by_webhook) == 3
    assert [event.id for event in by_webhook] == [event.id for event in by_poller]
    assert version(seen.modified_at) == version(polled.modified_at)


async def test_two_replicas_processing_one_change_at_once_emit_it_once(
    ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp, backend: StateBackend
) -> None:
    customer, _, invoice = billed(ns, total=900, limit=400)
    payment = pay(ns, customer, invoice, 900)
    seen = change(ns, "customerpayment", payment)
    replicas = [Normalizer(crm, erp, backend, today=erp.today) for _ in range(4)]

    results = await asyncio.gather(*(replica.normalize(seen) for replica in replicas))

    emitted = [event for events in results for event in events]
    assert sorted(event.type.value for event in emitted) == sorted(
        kind.value
        for kind in (
            EventType.PAYMENT_RECEIVED,
            EventType.INVOICE_STATUS_CHANGED,
            EventType.CREDIT_STATUS_CHANGED,
        )
    )


async def test_replicas_sharing_redis_emit_once(
    ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp, redis_url: str
) -> None:
    prefix = unique_prefix()
    backends = [RedisBackend(redis_url, prefix=prefix) for _ in range(3)]
    try:
        customer, _, invoice = billed(ns, total=700, limit=300)
        payment = pay(ns, customer, invoice, 700)
        seen = change(ns, "customerpayment", payment)
        replicas = [Normalizer(crm, erp, each, today=erp.today) for each in backends]

        results = await asyncio.gather(*(replica.normalize(seen) for replica in replicas))
        later = await replicas[0].normalize(seen)
    finally:
        for each in backends:
            await each.close()
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis_url)
        stale = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if stale:
            await client.delete(*stale)
        await client.aclose()

    emitted = [event for events in results for event in events]
    assert len(emitted) == 3
    assert len({event.type for event in emitted}) == 3
    assert later == []


async def test_a_partial_payment_makes_the_invoice_partially_paid(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer, _, invoice = billed(ns, total=1000)
    payment = pay(ns, customer, invoice, 250)

    events = by_type(await normalizer.normalize(change(ns, "customerpayment", payment)))

    status = events[EventType.INVOICE_STATUS_CHANGED]
    assert (status.data["from"], status.data["to"]) == ("OPEN", "PARTIALLY_PAID")
    assert status.data["amountDue"] == "750.00"
    assert EventType.CREDIT_STATUS_CHANGED not in events  # no limit, so always in good standing
    assert events[EventType.PAYMENT_RECEIVED].data["balanceAfter"] == "750.00"


async def test_a_second_payment_is_compared_with_what_the_first_left(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer, _, invoice = billed(ns, total=1000)
    first = pay(ns, customer, invoice, 400)
    await normalizer.normalize(change(ns, "customerpayment", first))

    second = pay(ns, customer, invoice, 600)
    events = by_type(await normalizer.normalize(change(ns, "customerpayment", second)))

    status = events[EventType.INVOICE_STATUS_CHANGED]
    assert (status.data["from"], status.data["to"]) == ("PARTIALLY_PAID", "PAID")


async def test_a_deleted_payment_reopens_its_invoice(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer, _, invoice = billed(ns, total=500, limit=100)
    payment = pay(ns, customer, invoice, 500)
    posted = change(ns, "customerpayment", payment)
    await normalizer.normalize(posted)

    assert ns.delete(f"/customerPayment/{payment}").status_code == 204
    gone = dataclasses.replace(posted, change_type="delete", modified_at=dt.datetime.now(dt.UTC))
    events = by_type(await normalizer.normalize(gone))

    status = events[EventType.INVOICE_STATUS_CHANGED]
    assert (status.data["from"], status.data["to"]) == ("PAID", "OPEN")
    credit = events[EventType.CREDIT_STATUS_CHANGED]
    assert (credit.data["from"], credit.data["to"]) == ("GOOD_STANDING", "OVER_LIMIT")
    assert EventType.PAYMENT_RECEIVED not in events


async def test_an_order_booked_then_billed(ns: NetSuiteHttp, normalizer: Normalizer) -> None:
    customer = new_customer(ns)
    order = ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "externalId": f"opp-{uuid.uuid4().hex[:8]}",
            "item": {"items": [{"item": {"id": "101"}, "quantity": 2, "rate": 300}]},
        },
    )
    booked = await normalizer.normalize(change(ns, "salesorder", order))

    invoice = ns.create("/invoice", {"entity": {"id": customer}, "createdFrom": {"id": order}})
    billed_events = await normalizer.normalize(change(ns, "salesorder", order, "update"))
    posted = by_type(await normalizer.normalize(change(ns, "invoice", invoice)))

    assert [event.type for event in booked] == [EventType.ORDER_BOOKED]
    assert booked[0].subject == f"ord:{order}"
    assert booked[0].data["status"] == "PENDING_FULFILLMENT"
    assert booked[0].data["total"] == "600.00"
    assert [event.type for event in billed_events] == [EventType.ORDER_STATUS_CHANGED]
    assert (billed_events[0].data["from"], billed_events[0].data["to"]) == (
        "PENDING_FULFILLMENT",
        "BILLED",
    )
    assert posted[EventType.INVOICE_POSTED].data["status"] == "OPEN"
    assert posted[EventType.INVOICE_POSTED].data["orderId"] == f"ord:{order}"


async def test_an_invoice_that_takes_the_customer_over_its_limit(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer, _, invoice = billed(ns, total=2000, limit=1500)

    events = by_type(await normalizer.normalize(change(ns, "invoice", invoice)))

    assert events[EventType.INVOICE_POSTED].customer == f"cus:erp:{customer}"
    credit = events[EventType.CREDIT_STATUS_CHANGED]
    assert (credit.data["from"], credit.data["to"]) == ("GOOD_STANDING", "OVER_LIMIT")
    assert credit.data["balance"] == "2000.00"


async def test_a_customer_created_then_put_on_hold(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    key = f"CUST-T{uuid.uuid4().hex[:8].upper()}"
    customer = new_customer(ns, externalId=key)
    created = await normalizer.normalize(change(ns, "customer", customer))

    ns.patch(f"/customer/{customer}", {"creditHoldOverride": {"id": "ON"}})
    held = by_type(await normalizer.normalize(change(ns, "customer", customer, "update")))

    assert [event.type for event in created] == [EventType.CUSTOMER_CREATED]
    assert created[0].subject == f"cus:{key}"
    updated = held[EventType.CUSTOMER_UPDATED]
    assert updated.data["changedFields"] == ["creditHold"]
    credit = held[EventType.CREDIT_STATUS_CHANGED]
    assert (credit.data["from"], credit.data["to"]) == ("GOOD_STANDING", "ON_HOLD")
    assert credit.customer == f"cus:{key}"


async def test_a_first_sight_hold_uses_the_old_values_the_notification_carried(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer = new_customer(ns)
    ns.patch(f"/customer/{customer}", {"creditHoldOverride": {"id": "ON"}})

    with_old = change(ns, "customer", customer, "update", previous={"credit_hold": "AUTO"})
    events = by_type(await normalizer.normalize(with_old))

    credit = events[EventType.CREDIT_STATUS_CHANGED]
    assert (credit.data["from"], credit.data["to"]) == ("GOOD_STANDING", "ON_HOLD")
    assert events[EventType.CUSTOMER_UPDATED].data["changedFields"] is None  # first sight


def linked_customer(ns: NetSuiteHttp, emulators: Emulators, mirror: str | None) -> str:
    """A new ERP customer whose Salesforce account mirrors ``mirror`` as its credit status."""
    key = f"CUST-M{uuid.uuid4().hex[:8].upper()}"
    customer = new_customer(ns, externalId=key)
    emulators.sf_create(
        "Account",
        {"Name": f"Mirror {key} Inc.", "ERP_Customer_Id__c": key, "Credit_Status__c": mirror},
    )
    return customer


async def test_a_first_sight_that_differs_from_the_mirror_is_a_change_from_the_mirrored_standing(
    ns: NetSuiteHttp, emulators: Emulators, normalizer: Normalizer
) -> None:
    # given a customer Accord never saw, its account mirroring "Good Standing"
    customer = linked_customer(ns, emulators, "Good Standing")
    # when it is put on hold in the ERP and the change carries no old values (a scan's find)
    ns.patch(f"/customer/{customer}", {"creditHoldOverride": {"id": "ON"}})
    events = by_type(await normalizer.normalize(change(ns, "customer", customer, "update")))

    # then its standing moved from what the commercial side believed
    assert events[EventType.CUSTOMER_UPDATED].data["changedFields"] is None  # first sight
    credit = events[EventType.CREDIT_STATUS_CHANGED]
    assert (credit.data["from"], credit.data["to"]) == ("GOOD_STANDING", "ON_HOLD")


async def test_a_stale_mirror_is_the_previous_standing_even_when_the_change_moved_nothing(
    ns: NetSuiteHttp, emulators: Emulators, normalizer: Normalizer
) -> None:
    # given a customer in good standing whose account still mirrors "Over Limit"
    customer = linked_customer(ns, emulators, "Over Limit")
    # when an edit of it is first seen
    ns.patch(f"/customer/{customer}", {"phone": "+1 555 0123"})
    events = by_type(await normalizer.normalize(change(ns, "customer", customer, "update")))

    credit = events[EventType.CREDIT_STATUS_CHANGED]
    assert (credit.data["from"], credit.data["to"]) == ("OVER_LIMIT", "GOOD_STANDING")


@pytest.mark.parametrize("mirror", ["Good Standing", None])
async def test_a_first_sight_that_agrees_with_the_mirror_or_finds_none_is_no_credit_event(
    ns: NetSuiteHttp, emulators: Emulators, normalizer: Normalizer, mirror: str | None
) -> None:
    # given a customer in good standing whose account mirrors the same, or nothing
    customer = linked_customer(ns, emulators, mirror)
    ns.patch(f"/customer/{customer}", {"phone": "+1 555 0124"})

    events = await normalizer.normalize(change(ns, "customer", customer, "update"))

    assert [event.type for event in events] == [EventType.CUSTOMER_UPDATED]
    # and the standing is recorded: the next move is a change from it
    ns.patch(f"/customer/{customer}", {"creditHoldOverride": {"id": "ON"}})
    held = by_type(await normalizer.normalize(change(ns, "customer", customer, "update")))
    credit = held[EventType.CREDIT_STATUS_CHANGED]
    assert (credit.data["from"], credit.data["to"]) == ("GOOD_STANDING", "ON_HOLD")


async def test_a_first_sight_while_salesforce_is_down_is_recorded_without_an_event(
    ns: NetSuiteHttp,
    emulators: Emulators,
    normalizer: Normalizer,
    sf_control: SandboxControl,
) -> None:
    # given a customer on hold whose account mirrors "Good Standing", and Salesforce down
    customer = linked_customer(ns, emulators, "Good Standing")
    ns.patch(f"/customer/{customer}", {"creditHoldOverride": {"id": "ON"}})
    sf_control.fault(pattern="/services/data/*", outage=True)
    try:
        # when the ERP change is first seen, it is not held up by the other system
        events = await normalizer.normalize(change(ns, "customer", customer, "update"))
    finally:
        sf_control.fault(clear=True)

    # then the standing is recorded with no event (propagation still compares the mirror)
    assert [event.type for event in events] == [EventType.CUSTOMER_UPDATED]
    assert sf_control.count("GET /services/data/v59.0/query") > 0  # it was asked


async def test_an_edit_that_changes_nothing_canonical_is_no_event(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    customer = new_customer(ns)
    await normalizer.normalize(change(ns, "customer", customer))

    ns.patch(f"/customer/{customer}", {"phone": "+1 555 0199"})  # not a canonical ERP field
    events = await normalizer.normalize(change(ns, "customer", customer, "update"))

    assert events == []


async def test_a_salesforce_account_created_then_updated(
    emulators: Emulators, normalizer: Normalizer
) -> None:
    account = emulators.sf_create("Account", {"Name": f"Normalise {uuid.uuid4().hex[:6]} Ltd"})
    stamp = emulators.sf_get("Account", account)["SystemModstamp"]
    at = dt.datetime.fromisoformat(stamp.replace("+0000", "+00:00"))
    created = await normalizer.normalize(
        Change("salesforce", RecordKind.CUSTOMER, account, "create", at)
    )

    emulators.sf_update("Account", account, {"Industry": "Energy", "Phone": "+1 555 0111"})
    stamp = emulators.sf_get("Account", account)["SystemModstamp"]
    at = dt.datetime.fromisoformat(stamp.replace("+0000", "+00:00"))
    updated = await normalizer.normalize(
        Change("salesforce", RecordKind.CUSTOMER, account, "update", at)
    )
    repeated = await normalizer.normalize(
        Change("salesforce", RecordKind.CUSTOMER, account, "update", at)
    )

    assert [event.type for event in created] == [EventType.CUSTOMER_CREATED]
    assert created[0].subject == f"cus:sf:{account}"
    assert created[0].source == "salesforce"
    assert [event.type for event in updated] == [EventType.CUSTOMER_UPDATED]
    assert updated[0].data["changedFields"] == ["industry", "phone"]
    assert updated[0].data["fields"]["industry"] == "Energy"
    assert repeated == []


async def test_process_publishes_what_it_finds_in_order(
    ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp, backend: StateBackend
) -> None:
    published: list[Event] = []

    async def publish(event: Event) -> None:
        published.append(event)

    normalizer = Normalizer(crm, erp, backend, publish=publish, today=erp.today)
    customer, _, invoice = billed(ns, total=300)
    payment = pay(ns, customer, invoice, 300)

    returned = await normalizer.process(change(ns, "customerpayment", payment))

    assert published == returned
    assert [event.type for event in published][:2] == [
        EventType.PAYMENT_RECEIVED,
        EventType.INVOICE_STATUS_CHANGED,
    ]


async def test_records_it_does_not_follow_and_records_that_are_gone_yield_nothing(
    normalizer: Normalizer,
) -> None:
    now = dt.datetime.now(dt.UTC)

    order = RecordKind.ORDER  # the CRM reports no orders
    invoice = RecordKind.INVOICE
    assert await normalizer.normalize(Change("salesforce", order, "003", "update", now)) == []
    assert await normalizer.normalize(Change("another", invoice, "1", "create", now)) == []
    assert await normalizer.normalize(Change("netsuite", invoice, "999999", "update", now)) == []


class BusWithOutage:
    """A real in-process bus that is unreachable while ``down`` is set, as Redis may be."""

    def __init__(self) -> None:
        self.bus = MemoryBus()
        self.down = False

    async def publish(self, event: Event) -> str:
        if self.down:
            raise BusUnavailable("Redis at redis://bus is unavailable: connection refused")
        return await self.bus.publish(event)

    async def log(self) -> list[Event]:
        subscription = self.bus.subscribe(from_now=False)
        found: list[Event] = []
        for _ in range(await self.bus.log_length()):
            found.append(await anext(subscription))
        await subscription.aclose()
        return found


@pytest.fixture(params=["memory", "redis"])
async def shared_backend(request: pytest.FixtureRequest) -> AsyncIterator[StateBackend]:
    """The state backend in each of its forms (Redis: a real one, under a prefix of its own)."""
    prefix = unique_prefix()
    if request.param == "memory":
        yield MemoryBackend(prefix=prefix)
        return
    redis_url: str = request.getfixturevalue("redis_url")
    backend = RedisBackend(redis_url, prefix=prefix)
    yield backend
    await backend.close()
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    stale = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if stale:
        await client.delete(*stale)
    await client.aclose()


async def test_events_whose_publication_failed_are_published_when_the_change_comes_again(
    ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp, shared_backend: StateBackend
) -> None:
    backend = shared_backend
    # given a payment, and the bus unreachable when its webhook is processed
    bus = BusWithOutage()
    normalizer = Normalizer(crm, erp, backend, publish=bus.publish, today=erp.today)
    customer, _, invoice = billed(ns, total=400, limit=100)
    payment = pay(ns, customer, invoice, 400)
    seen = change(ns, "customerpayment", payment)
    bus.down = True
    with pytest.raises(BusUnavailable):
        await normalizer.process(seen)

    # when the bus is back and the change comes again (the sender's retry, or the poller)
    bus.down = False
    await normalizer.process(seen)
    await normalizer.process(seen)

    # then every event of the payment is on the bus, once
    assert sorted(event.type.value for event in await bus.log()) == sorted(
        kind.value
        for kind in (
            EventType.PAYMENT_RECEIVED,
            EventType.INVOICE_STATUS_CHANGED,
            EventType.CREDIT_STATUS_CHANGED,
        )
    )


async def test_events_of_a_processing_that_died_while_publishing_go_out_once_later(
    ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp, backend: StateBackend
) -> None:
    # given a replica whose publication hangs, then dies (its task is cancelled at shutdown)
    bus = MemoryBus()
    entered = asyncio.Event()
    now = [1_000_000.0]

    async def hanging(event: Event) -> str:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("never published")

    def clock() -> float:
        return now[0]

    dying = Normalizer(crm, erp, backend, publish=hanging, today=erp.today, clock=clock)
    other = Normalizer(crm, erp, backend, publish=bus.publish, today=erp.today, clock=clock)
    customer, _, invoice = billed(ns, total=250, limit=100)
    payment = pay(ns, customer, invoice, 250)
    seen = change(ns, "customerpayment", payment)
    task = asyncio.create_task(dying.process(seen))
    await asyncio.wait_for(entered.wait(), 10)

    # when another replica sees the same change meanwhile, and later sweeps the outbox
    meanwhile = await other.process(seen)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    early = await other.flush_outbox()
    now[0] += 31.0
    swept = await other.flush_outbox()
    again = await other.flush_outbox()

    # then the events go out once, after the grace period the dead publisher had
    assert (meanwhile, early, again) == ([], [], [])
    assert sorted(event.type.value for event in swept) == sorted(
        kind.value
        for kind in (
            EventType.PAYMENT_RECEIVED,
            EventType.INVOICE_STATUS_CHANGED,
            EventType.CREDIT_STATUS_CHANGED,
        )
    )
    assert await bus.log_length() == 3


async def test_a_value_that_comes_back_within_the_second_is_a_change_of_its_own(
    ns: NetSuiteHttp, normalizer: Normalizer
) -> None:
    # given a customer whose hold goes ON, AUTO and ON again, each change said to be of the
    # same second (the identity a change had before moves were numbered)
    customer = new_customer(ns)
    first = change(ns, "customer", customer)
    await normalizer.normalize(first)
    same_second = first.modified_at.replace(microsecond=0)

    # when each change is normalised as it comes, and the last one is seen again
    credit = []
    for setting in ("ON", "AUTO", "ON"):
        ns.patch(f"/customer/{customer}", {"creditHoldOverride": {"id": setting}})
        move = dataclasses.replace(
            change(ns, "customer", customer, "update"), modified_at=same_second
        )
        credit.append(by_type(await normalizer.normalize(move))[EventType.CREDIT_STATUS_CHANGED])
    again = await normalizer.normalize(move)

    # then the three are three events, the first and the last with ids of their own although
    # they report the same move at the same second, and the repeat is no new event
    assert [(e.data["from"], e.data["to"]) for e in credit] == [
        ("GOOD_STANDING", "ON_HOLD"),
        ("ON_HOLD", "GOOD_STANDING"),
        ("GOOD_STANDING", "ON_HOLD"),
    ]
    assert len({event.id for event in credit}) == 3
    assert again == []
