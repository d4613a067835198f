"""The pollers at every hour: a sandbox started at a chosen instant (before, around and after
the seed's 09:00 booking hour, late at night, and across a month end), and a change made
after the start is delivered. Each start runs its own small sandbox process."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Iterator

import pytest

from events.model import EventType
from events.normalize import Normalizer
from events.pollers import feed_poller
from sandbox.emulator_client import EmulatorClient
from sandbox.endpoints import Endpoints
from sandbox.process import SandboxProcess
from sources.clock import SourceClock
from state.memory_backend import MemoryBackend
from tests.adapters import make_crm, make_erp
from tests.events.test_pollers import Published
from tests.sandbox.test_netsuite_support import NetSuiteHttp, new_customer

STARTS = [
    dt.datetime(2026, 12, 5, 0, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 5, 8, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 5, 9, 1, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 5, 23, 59, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 30, 23, 59, 58, tzinfo=dt.UTC),  # the change lands on December 1st
]


@pytest.fixture(scope="module", params=STARTS, ids=lambda start: start.strftime("%m-%dT%H:%M:%S"))
def sandbox_at(request: pytest.FixtureRequest) -> Iterator[Endpoints]:
    process = SandboxProcess(seed=9, customers=30, now=request.param)
    endpoints = process.start()
    yield endpoints
    process.stop()


def start_of(endpoints: Endpoints) -> dt.datetime:
    return dt.datetime.fromisoformat(endpoints.sandbox.now)


async def past_the_month_end_at_the_source(clock: SourceClock, start: dt.datetime) -> None:
    """When the start lies just before a month end, wait until the source's clock passed it."""
    month_end = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    if start >= month_end:
        return
    deadline = time.monotonic() + 10
    while (clock.now() or start) < month_end:
        assert time.monotonic() < deadline, "the source's clock did not pass the month end"
        await asyncio.sleep(0.1)


async def test_a_netsuite_change_made_after_the_start_is_delivered(sandbox_at: Endpoints) -> None:
    # Given a poller's first round on a sandbox started at the chosen instant
    crm, erp = make_crm(sandbox_at), make_erp(sandbox_at)
    await crm.start()
    await erp.start()
    ns = NetSuiteHttp.connect(sandbox_at)
    try:
        backend = MemoryBackend()
        published = Published()
        normalizer = Normalizer(crm, erp, backend, publish=published, today=erp.today)
        poller = feed_poller(erp, backend, normalizer.process, interval=0.5)
        assert await poller.poll_once() == 0

        # its watermarks are never later than NetSuite's own present
        present = erp.client.clock.now()
        assert present is not None
        assert start_of(sandbox_at) <= present < start_of(sandbox_at) + dt.timedelta(minutes=5)
        for scan in poller.scans:
            mark = await poller.watermark(scan)
            assert mark is not None
            assert mark.at <= present
        await past_the_month_end_at_the_source(erp.client.clock, start_of(sandbox_at))

        # When a customer is created after the start
        customer = new_customer(ns, creditLimit=1000)
        await poller.poll_once()
        await poller.poll_once()

        # Then it is delivered, once
        who = f"cus:erp:{customer}"
        assert published.about(who) == [(EventType.CUSTOMER_CREATED, who)]
    finally:
        ns.close()
        await crm.close()
        await erp.close()


async def test_a_salesforce_change_made_after_the_start_is_delivered(
    sandbox_at: Endpoints,
) -> None:
    crm, erp = make_crm(sandbox_at), make_erp(sandbox_at)
    await crm.start()
    await erp.start()
    emulators = EmulatorClient(sandbox_at)
    try:
        backend = MemoryBackend()
        published = Published()
        normalizer = Normalizer(crm, erp, backend, publish=published, today=erp.today)
        poller = feed_poller(crm, backend, normalizer.process)
        assert await poller.poll_once() == 0
        present = crm.clock.now()
        assert present is not None
        for scan in poller.scans:
            mark = await poller.watermark(scan)
            assert mark is not None
            assert mark.at <= present
        await past_the_month_end_at_the_source(crm.clock, start_of(sandbox_at))

        account = emulators.sf_create("Account", {"Name": f"Hourly {uuid.uuid4().hex[:6]} Ltd"})
        await poller.poll_once()
        await poller.poll_once()

        who = f"cus:sf:{account}"
        assert published.about(who) == [(EventType.CUSTOMER_CREATED, who)]
    finally:
        emulators.close()
        await crm.close()
        await erp.close()
