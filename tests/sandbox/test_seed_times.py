"""No seeded record is stamped after the moment the sandbox starts, at any hour, on either
emulator: a change feed starting from the newest record never starts in the future."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from sandbox.netsuite import NetSuiteEmulator
from sandbox.salesforce import SalesforceEmulator
from sandbox.world import World, build_world

# Early in the day (before the seed's 09:00 booking hour), around it, late, and across the end
# of a month and of a year.
STARTS = [
    "2026-12-05T00:30:00+00:00",
    "2026-12-05T08:59:00+00:00",
    "2026-12-05T09:01:00+00:00",
    "2026-12-05T23:59:00+00:00",
    "2026-11-30T23:59:58+00:00",
    "2026-12-31T23:59:59+00:00",
    "2026-12-05T00:00:00+00:00",
]
CUSTOMERS = 80


def world_at(start: str) -> World:
    moment = dt.datetime.fromisoformat(start)
    return build_world(7, CUSTOMERS, now=moment)


def salesforce_stamps(emulator: SalesforceEmulator) -> Iterator[tuple[str, str, dt.datetime]]:
    for sobject, table in emulator.store.tables.items():
        for record_id, record in table.items():
            for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                value = record.get(name)
                if isinstance(value, dt.datetime):
                    yield sobject, record_id, value


def netsuite_stamps(emulator: NetSuiteEmulator) -> Iterator[tuple[str, int, dt.datetime]]:
    store = emulator.store
    for customer in store.customers.values():
        yield "customer", customer.id, customer.date_created
        yield "customer", customer.id, customer.last_modified
    for tran in store.transactions.values():
        yield tran.type, tran.id, tran.created
        yield tran.type, tran.id, tran.last_modified


@pytest.mark.parametrize("start", STARTS)
def test_no_seeded_record_is_stamped_after_the_start(start: str) -> None:
    # Given a world generated as of a chosen instant
    world = world_at(start)
    moment = world.started

    # When both emulators load it
    salesforce = SalesforceEmulator(world)
    netsuite = NetSuiteEmulator(world)

    # Then every creation and modification time lies before the start
    sf = list(salesforce_stamps(salesforce))
    ns = list(netsuite_stamps(netsuite))
    assert sf
    assert ns
    assert [stamp for stamp in sf if stamp[2] > moment] == []
    assert [stamp for stamp in ns if stamp[2] > moment] == []
    # ... including the records dated on the start's own day, which the seed books at 09:00
    today = [tran for tran in netsuite.store.transactions.values() if tran.tran_date == world.as_of]
    assert today, "the world should hold transactions dated on its start day"
    assert all(tran.created.date() == world.as_of for tran in today)


@pytest.mark.parametrize("start", STARTS)
def test_the_seed_keeps_its_dates_and_only_clamps_the_time_of_day(start: str) -> None:
    world = world_at(start)
    netsuite = NetSuiteEmulator(world)
    booked_at = dt.time(9, 0)
    for tran in netsuite.store.transactions.values():
        expected = dt.datetime.combine(tran.tran_date, booked_at, dt.UTC)
        if tran.tran_date < world.as_of or expected <= world.started - dt.timedelta(minutes=1):
            assert tran.created == expected
        else:
            assert tran.created <= world.started
            assert tran.created.date() == tran.tran_date


def test_the_same_seed_and_start_give_the_same_world() -> None:
    one = NetSuiteEmulator(world_at(STARTS[0])).store
    two = NetSuiteEmulator(world_at(STARTS[0])).store
    assert {t.id: t.created for t in one.transactions.values()} == {
        t.id: t.created for t in two.transactions.values()
    }


def test_the_start_day_is_the_utc_day_whatever_the_offset_given() -> None:
    # 01:30 in Berlin on the 5th is still the 4th in UTC
    world = build_world(7, 5, now=dt.datetime.fromisoformat("2026-12-05T01:30:00+01:00"))
    assert world.as_of == dt.date(2026, 12, 5)
    late = build_world(7, 5, now=dt.datetime.fromisoformat("2026-12-05T00:30:00+01:00"))
    assert late.as_of == dt.date(2026, 12, 4)
