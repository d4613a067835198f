"""Pollers against the session's emulators: every change exactly once with webhooks off, and
no duplicates with webhooks and pollers both on. Each test works on records it creates and
looks only at events about them."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette

from api.webhooks import intake_routes
from events.model import Event, EventType
from events.normalize import Change, Normalizer, RecordKind
from events.pollers import Poller, Watermark, feed_poller
from sandbox.endpoints import Endpoints
from sandbox.intake import register_intake
from sources.netsuite import NetSuiteErp
from sources.salesforce import SalesforceCrm
from state.backend import StateBackend
from state.memory_backend import MemoryBackend
from state.redis_backend import RedisBackend
from tests.accord import Emulators
from tests.events.http_support import WAIT, serving
from tests.redis_keys import unique_prefix
from tests.sandbox.test_netsuite_support import NetSuiteHttp, new_customer

SECRET = "poller-test-intake-secret"
NETSUITE = "netsuite"


class Published:
    """The bus stand-in: what the normaliser published, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def events_as_pairs(self) -> list[tuple[EventType, str]]:
        return [(e.type, e.subject) for e in self.events]

    def about(self, customer: str) -> list[tuple[EventType, str]]:
        return [(e.type, e.subject) for e in self.events if e.customer == customer]


def ids_are_unique(events: list[Event]) -> bool:
    return len({event.id for event in events}) == len(events)


async def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "expected events did not arrive"
        await asyncio.sleep(0.05)


async def test_with_webhooks_off_the_poller_delivers_every_change_exactly_once(
    ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp
) -> None:
    backend = MemoryBackend()
    published = Published()
    normalizer = Normalizer(crm, erp, backend, publish=published, today=erp.today)
    poller = feed_poller(erp, backend, normalizer.process, interval=0.5)
    assert await poller.poll_once() == 0  # the first round only sets the watermarks

    customer = new_customer(ns, creditLimit=500)
    await poller.poll_once()
    order = ns.create(
        "/salesOrder",
        {
            "entity": {"id": customer},
            "item": {"items": [{"item": {"id": "101"}, "quantity": 1, "rate": 1000}]},
        },
    )
    await poller.poll_once()
    invoice = ns.create("/invoice", {"entity": {"id": customer}, "createdFrom": {"id": order}})
    await poller.poll_once()
    payment = ns.create(
        "/customerPayment",
        {
            "customer": {"id": customer},
            "payment": 1000,
            "apply": {"items": [{"doc": {"id": invoice}, "apply": True, "amount": 1000}]},
        },
    )
    for _ in range(3):  # later rounds see the watermark's second again, and add nothing
        await poller.poll_once()

    who = f"cus:erp:{customer}"
    assert sorted(published.about(who), key=lambda pair: (pair[0].value, pair[1])) == sorted(
        [
            (EventType.CUSTOMER_CREATED, who),
            (EventType.ORDER_BOOKED, f"ord:{order}"),
            (EventType.INVOICE_POSTED, f"inv:{invoice}"),
            (EventType.CREDIT_STATUS_CHANGED, who),  # over the limit when invoiced
            (EventType.ORDER_STATUS_CHANGED, f"ord:{order}"),  # billed
            (EventType.PAYMENT_RECEIVED, f"pay:{payment}"),
            (EventType.INVOICE_STATUS_CHANGED, f"inv:{invoice}"),
            (EventType.CREDIT_STATUS_CHANGED, who),  # back in good standing
        ],
        key=lambda pair: (pair[0].value, pair[1]),
    )
    assert ids_are_unique(published.events)


async def test_with_webhooks_and_poller_both_on_no_duplicates_reach_the_bus(
    sandbox: Endpoints, ns: NetSuiteHttp, crm: SalesforceCrm, erp: NetSuiteErp
) -> None:
    backend = MemoryBackend()
    published = Published()
    normalizer = Normalizer(crm, erp, backend, publish=published, today=erp.today)
    poller = feed_poller(erp, backend, normalizer.process, interval=0.2)
    await poller.poll_once()
    routes = intake_routes(
        backend=backend,
        process=normalizer.process,
        feeds=[(crm, SECRET), (erp, SECRET)],
    )

    async def step(write: Callable[[], str], *expected: tuple[EventType, str]) -> str:
        """Write (off the loop, so webhooks are taken meanwhile), then await its events."""
        record = await asyncio.to_thread(write)
        wanted = [(kind, subject.format(record)) for kind, subject in expected]
        await eventually(lambda: all(pair in published.events_as_pairs() for pair in wanted))
        return record

    async with serving(Starlette(routes=routes)) as url:
        await register_intake(sandbox, url, SECRET)
        polling = asyncio.create_task(poller.run())
        try:
            customer = await step(
                lambda: new_customer(ns, creditLimit=500),
                (EventType.CUSTOMER_CREATED, "cus:erp:{}"),
            )
            who = f"cus:erp:{customer}"
            order = await step(
                lambda: ns.create(
                    "/salesOrder",
                    {
                        "entity": {"id": customer},
                        "item": {"items": [{"item": {"id": "101"}, "quantity": 1, "rate": 900}]},
                    },
                ),
                (EventType.ORDER_BOOKED, "ord:{}"),
            )
            invoice = await step(
                lambda: ns.create(
                    "/invoice", {"entity": {"id": customer}, "createdFrom": {"id": order}}
                ),
                (EventType.INVOICE_POSTED, "inv:{}"),
                (EventType.CREDIT_STATUS_CHANGED, who),
                (EventType.ORDER_STATUS_CHANGED, f"ord:{order}"),
            )
            payment = await step(
                lambda: ns.create(
                    "/customerPayment",
                    {
                        "customer": {"id": customer},
                        "payment": 900,
                        "apply": {
                            "items": [{"doc": {"id": invoice}, "apply": True, "amount": 900}]
                        },
                    },
                ),
                (EventType.PAYMENT_RECEIVED, "pay:{}"),
                (EventType.INVOICE_STATUS_CHANGED, f"inv:{invoice}"),
            )
            await asyncio.sleep(1.0)  # several more poller rounds over the same records
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
            await register_intake(sandbox, url, SECRET, enabled=False)

    mine = [event for event in published.events if event.customer == who]
    assert sorted((event.type.value, event.subject) for event in mine) == sorted(
        (kind.value, subject)
        for kind, subject in [
            (EventType.CUSTOMER_CREATED, who),
            (EventType.ORDER_BOOKED, f"ord:{order}"),
            (EventType.INVOICE_POSTED, f"inv:{invoice}"),
            (EventType.CREDIT_STATUS_CHANGED, who),
            (EventType.ORDER_STATUS_CHANGED, f"ord:{order}"),
            (EventType.PAYMENT_RECEIVED, f"pay:{payment}"),
            (EventType.INVOICE_STATUS_CHANGED, f"inv:{invoice}"),
            (EventType.CREDIT_STATUS_CHANGED, who),
        ]
    )
    assert ids_are_unique(mine)


async def test_one_replica_polls_a_source_at_a_time(erp: NetSuiteErp) -> None:
    backend = MemoryBackend()
    seen: list[Change] = []

    async def process(change: Change) -> None:
        seen.append(change)

    first = feed_poller(erp, backend, process, owner="replica-a")
    second = feed_poller(erp, backend, process, owner="replica-b")

    assert await first.poll_once() == 0
    assert await second.poll_once() is None  # replica-a holds the lease
    assert await first.poll_once() is not None
    await backend.release(first.lease_name, "replica-a")
    assert await second.poll_once() is not None


async def test_a_failed_round_keeps_the_change_for_the_next(
    ns: NetSuiteHttp, erp: NetSuiteErp
) -> None:
    backend = MemoryBackend()
    seen: list[Change] = []
    failing = {"on": True}

    async def process(change: Change) -> None:
        if failing["on"]:
            raise RuntimeError("the bus is down")
        seen.append(change)

    poller = feed_poller(erp, backend, process)
    await poller.poll_once()
    customer = new_customer(ns)

    with pytest.raises(RuntimeError):
        await poller.poll_once()
    failing["on"] = False
    await poller.poll_once()

    assert ("customer", customer) in [(c.kind, c.record_id) for c in seen]


async def test_the_watermark_survives_a_restart_in_redis(
    ns: NetSuiteHttp, erp: NetSuiteErp, redis_url: str
) -> None:
    prefix = unique_prefix()
    seen: list[Change] = []

    async def process(change: Change) -> None:
        seen.append(change)

    before = RedisBackend(redis_url, prefix=prefix)
    after = RedisBackend(redis_url, prefix=prefix)
    try:
        await feed_poller(erp, before, process, owner="pod-1").poll_once()
        await before.close()
        customer = new_customer(ns)  # written while no poller runs

        restarted = feed_poller(erp, after, process, owner="pod-1")
        await restarted.poll_once()
    finally:
        await after.close()
        client = aioredis.Redis.from_url(redis_url)
        stale = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if stale:
            await client.delete(*stale)
        await client.aclose()

    assert [(c.kind, c.record_id, c.change_type) for c in seen] == [
        ("customer", customer, "create")
    ]


async def test_the_salesforce_poller_finds_accounts_created_and_updated(
    emulators: Emulators, crm: SalesforceCrm, erp: NetSuiteErp
) -> None:
    backend: StateBackend = MemoryBackend()
    published = Published()
    normalizer = Normalizer(crm, erp, backend, publish=published, today=erp.today)
    poller: Poller = feed_poller(crm, backend, normalizer.process)
    assert await poller.poll_once() == 0

    account = emulators.sf_create("Account", {"Name": f"Polled {uuid.uuid4().hex[:6]} Ltd"})
    await poller.poll_once()
    emulators.sf_update("Account", account, {"Industry": "Retail"})
    await poller.poll_once()
    await poller.poll_once()

    who = f"cus:sf:{account}"
    assert published.about(who) == [
        (EventType.CUSTOMER_CREATED, who),
        (EventType.CUSTOMER_UPDATED, who),
    ]
    assert published.events[-1].data["changedFields"] == ["industry"]


class FutureStampedScan:
    """A table whose newest records are stamped nine hours into the source's future (clock
    skew, an import), and which gains one record changed after the start."""

    name = "future"

    def __init__(self, present: dt.datetime) -> None:
        self.now = present
        self.rows = [
            Change(NETSUITE, RecordKind.CUSTOMER, "1", "update", present - dt.timedelta(days=1)),
            Change(NETSUITE, RecordKind.CUSTOMER, "2", "update", present + dt.timedelta(hours=9)),
        ]

    def present(self) -> dt.datetime | None:
        return self.now

    async def start(self) -> Watermark:
        newest = max(row.modified_at for row in self.rows)
        return Watermark(newest, {r.record_id: r.modified_at.isoformat() for r in self.rows})

    async def since(self, mark: Watermark) -> list[Change]:
        found = [row for row in self.rows if row.modified_at >= mark.at]
        return sorted(found, key=lambda row: row.modified_at)


async def test_a_watermark_is_never_later_than_the_sources_present() -> None:
    # Given a source whose newest record lies nine hours in its future
    present = dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC)
    scan = FutureStampedScan(present)
    fed: list[Change] = []

    async def process(change: Change) -> None:
        fed.append(change)

    poller = Poller(NETSUITE, [scan], MemoryBackend(), process)

    # When the first round sets the watermark
    await poller.poll_once()

    # Then it is the source's present, still knowing the future record as history
    mark = await poller.watermark(scan)
    assert mark is not None
    assert mark.at == present
    assert set(mark.skip) == {"1", "2"}

    # And a change made one second after the start is fed (again in the rounds that still see
    # its second, which the normaliser's snapshots discard), the history never
    scan.now = present + dt.timedelta(seconds=2)
    scan.rows.append(
        Change(NETSUITE, RecordKind.CUSTOMER, "3", "create", present + dt.timedelta(seconds=1))
    )
    await poller.poll_once()
    assert [change.record_id for change in fed] == ["3"]
    await poller.poll_once()
    assert {change.record_id for change in fed} == {"3"}
    later = await poller.watermark(scan)
    assert later is not None
    assert later.at <= scan.now


async def test_a_stored_watermark_from_the_future_is_moved_back() -> None:
    # Given a watermark stored in the future (written before the clamp existed, or by skew)
    present = dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC)
    scan = FutureStampedScan(present)
    backend = MemoryBackend()
    fed: list[str] = []

    async def process(change: Change) -> None:
        fed.append(change.record_id)

    poller = Poller(NETSUITE, [scan], backend, process)
    await backend.set(
        f"events:poll:{NETSUITE}:future",
        Watermark(
            present + dt.timedelta(hours=9), {"2": scan.rows[1].modified_at.isoformat()}
        ).to_json(),
    )

    # When a record changes now and the poller runs
    scan.rows.append(Change(NETSUITE, RecordKind.CUSTOMER, "4", "update", present))
    await poller.poll_once()

    # Then the change is found, and the watermark no longer lies in the future
    assert fed == ["4"]
    mark = await poller.watermark(scan)
    assert mark is not None
    assert mark.at == present
