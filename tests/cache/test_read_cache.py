"""`ReadCache` logic: freshness, single flight, negative entries, stale copies, invalidation.

The source here is a small in-memory stand-in for a port's batch method that records every
call (the cache is the thing under test; the HTTP tests in test_cache_http.py use the real
adapters and the sandbox). Time is a clock the test moves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from cache import entities as E
from cache.read_cache import CacheSettings, ReadCache
from cache.stale import StaleNotes
from sources.errors import CircuitOpen, SourceTimeout, SourceUnavailable, SourceValidationError
from sources.records import Address, CreditHold, CrmAccount, ErpCustomer, ErpInvoice, InvoiceStatus


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def customer(erp_id: str, balance: str = "100.00") -> ErpCustomer:
    return ErpCustomer(
        erp_id=erp_id,
        erp_key=f"CUST-{erp_id}",
        name=f"Customer {erp_id}",
        email=None,
        legal_entity_id="1",
        currency="USD",
        terms_id=None,
        tax_id=None,
        credit_limit=Decimal("1000.00"),
        balance=Decimal(balance),
        overdue_balance=Decimal("0.00"),
        credit_hold=CreditHold.AUTO,
        inactive=False,
        last_modified=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )


def account(account_id: str) -> CrmAccount:
    return CrmAccount(
        salesforce_id=account_id,
        erp_key=f"CUST-{account_id}",
        name="Acme",
        account_number=None,
        industry=None,
        owner=None,
        phone=None,
        website=None,
        billing_address=Address(None, None, None, None, "US"),
        currency="USD",
        credit_status_mirror=None,
        tax_id=None,
        last_modified=None,
    )


class Source:
    """Answers from ``records``; records each call; can be held, or made to fail."""

    def __init__(self, records: dict[str, object]) -> None:
        self.records = records
        self.calls: list[list[str]] = []
        self.gate: asyncio.Event | None = None
        self.failure: Exception | None = None

    def hold(self) -> asyncio.Event:
        self.gate = asyncio.Event()
        return self.gate

    async def fetch(self, keys: Sequence[str]) -> Mapping[str, object]:
        self.calls.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return {key: self.records[key] for key in keys if key in self.records}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> ReadCache:
    return ReadCache(CacheSettings(negative_ttl=5.0, stale_horizon=3600.0), clock=clock)


async def started() -> None:
    """Let tasks already scheduled run up to their first wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_fresh_value_is_read_once(cache: ReadCache) -> None:
    source = Source({"1": customer("1"), "2": customer("2")})

    first = await cache.load(E.CUSTOMER, ["1", "2"], source.fetch)
    second = await cache.load(E.CUSTOMER, ["2", "1"], source.fetch)

    assert first == second == {"1": customer("1"), "2": customer("2")}
    assert source.calls == [["1", "2"]]
    assert (cache.stats.misses, cache.stats.hits) == (2, 2)


async def test_each_entity_lives_as_long_as_its_most_volatile_field(
    cache: ReadCache, clock: Clock
) -> None:
    erp = Source({"1": customer("1")})
    crm = Source({"001": account("001")})
    await cache.load(E.CUSTOMER, ["1"], erp.fetch)
    await cache.load(E.ACCOUNT, ["001"], crm.fetch)

    clock.advance(29)
    await cache.load(E.CUSTOMER, ["1"], erp.fetch)
    assert len(erp.calls) == 1  # credit figures: 30 s
    clock.advance(2)
    await cache.load(E.CUSTOMER, ["1"], erp.fetch)
    await cache.load(E.ACCOUNT, ["001"], crm.fetch)

    assert len(erp.calls) == 2
    assert len(crm.calls) == 1  # account owner: 300 s
    clock.advance(300)
    await cache.load(E.ACCOUNT, ["001"], crm.fetch)
    assert len(crm.calls) == 2


async def test_ttl_overrides_shorten_an_entity(clock: Clock) -> None:
    cache = ReadCache(CacheSettings(ttl_overrides={"customer": 0.5}), clock=clock)
    source = Source({"1": customer("1")})
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    clock.advance(0.6)
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    assert len(source.calls) == 2
    with pytest.raises(KeyError):
        ReadCache(CacheSettings(ttl_overrides={"no_such_entity": 1.0}))


async def test_a_missing_record_is_remembered_briefly(cache: ReadCache, clock: Clock) -> None:
    source = Source({})

    assert await cache.load(E.CUSTOMER, ["404"], source.fetch) == {}
    assert await cache.load(E.CUSTOMER, ["404"], source.fetch) == {}
    clock.advance(5.1)  # the negative TTL, shorter than the customer's 30 s
    source.records["404"] = customer("404")
    found = await cache.load(E.CUSTOMER, ["404"], source.fetch)

    assert found == {"404": customer("404")}
    assert source.calls == [["404"], ["404"]]


async def test_lists_are_cached_empty_or_not_and_each_request_gets_its_own_list(
    cache: ReadCache,
) -> None:
    invoice = ErpInvoice(
        "7",
        "INV7",
        "1",
        None,
        None,
        None,
        InvoiceStatus.OPEN,
        "USD",
        Decimal(1),
        Decimal(0),
        Decimal(1),
    )
    source = Source({"1": [invoice]})

    first = await cache.load(E.INVOICES_OF_CUSTOMER, ["1", "2"], source.fetch)
    first["1"].clear()  # a resolver that mutates its list harms nobody else
    second = await cache.load(E.INVOICES_OF_CUSTOMER, ["1", "2"], source.fetch)

    assert second == {"1": [invoice], "2": []}
    assert source.calls == [["1", "2"]]


async def test_a_batch_waits_for_keys_already_being_read_and_reads_only_the_rest(
    cache: ReadCache,
) -> None:
    source = Source({key: customer(key) for key in "ABC"})
    gate = source.hold()
    other = asyncio.create_task(cache.load(E.CUSTOMER, ["B"], source.fetch))
    await started()

    mine = asyncio.create_task(cache.load(E.CUSTOMER, ["A", "B", "C"], source.fetch))
    await started()
    gate.set()

    assert await mine == {key: customer(key) for key in "ABC"}
    assert await other == {"B": customer("B")}
    assert source.calls == [["B"], ["A", "C"]]
    assert cache.stats.coalesced == 1


async def test_a_hundred_concurrent_misses_make_one_read(cache: ReadCache) -> None:
    source = Source({})
    gate = source.hold()
    loads = [asyncio.create_task(cache.load(E.CUSTOMER, ["999"], source.fetch)) for _ in range(100)]
    await started()
    gate.set()

    assert await asyncio.gather(*loads) == [{}] * 100
    assert source.calls == [["999"]]


async def test_a_cancelled_request_does_not_cancel_the_read_for_the_others(
    cache: ReadCache,
) -> None:
    source = Source({"1": customer("1")})
    gate = source.hold()
    first = asyncio.create_task(cache.load(E.CUSTOMER, ["1"], source.fetch))
    await started()
    second = asyncio.create_task(cache.load(E.CUSTOMER, ["1"], source.fetch))
    await started()

    first.cancel()
    gate.set()

    assert await second == {"1": customer("1")}
    with pytest.raises(asyncio.CancelledError):
        await first
    assert source.calls == [["1"]]


async def test_a_failure_without_a_copy_is_the_error_for_that_key_only(
    cache: ReadCache, clock: Clock
) -> None:
    source = Source({"1": customer("1"), "2": customer("2")})
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    clock.advance(31)
    source.failure = SourceUnavailable("netsuite", "connection refused")
    notes = StaleNotes()

    found = await cache.load(E.CUSTOMER, ["1", "2"], source.fetch, notes)

    assert found["1"] == customer("1")  # the last known value
    assert isinstance(found["2"], SourceUnavailable)  # no copy: the error, as without a cache
    [stale] = list(notes)
    assert (stale.source, stale.entity, stale.key) == ("netsuite", "customer", "1")
    assert stale.age == pytest.approx(31)
    assert stale.error == "SOURCE_UNAVAILABLE"
    assert "CreditSummary.balance" in stale.to_json()["fields"]


@pytest.mark.parametrize(
    "failure",
    [
        SourceTimeout("netsuite", "no answer"),
        CircuitOpen("netsuite", "breaker open", retry_after=3.0),
    ],
)
async def test_outage_like_failures_serve_the_copy(
    cache: ReadCache, clock: Clock, failure: Exception
) -> None:
    source = Source({"1": customer("1")})
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    clock.advance(60)
    source.failure = failure
    notes = StaleNotes()
    assert await cache.load(E.CUSTOMER, ["1"], source.fetch, notes) == {"1": customer("1")}
    assert len(notes) == 1


async def test_a_refusal_of_the_request_is_not_answered_from_a_copy(
    cache: ReadCache, clock: Clock
) -> None:
    source = Source({"1": customer("1")})
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    clock.advance(31)
    source.failure = SourceValidationError("netsuite", "invalid query")

    found = await cache.load(E.CUSTOMER, ["1"], source.fetch, StaleNotes())

    assert isinstance(found["1"], SourceValidationError)


async def test_a_copy_is_served_until_the_stale_horizon_and_recovery_clears_the_flag(
    cache: ReadCache, clock: Clock
) -> None:
    source = Source({"1": customer("1", "100.00")})
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    source.failure = SourceUnavailable("netsuite", "down")

    clock.advance(1800)
    during = StaleNotes()
    assert await cache.load(E.CUSTOMER, ["1"], source.fetch, during) == {"1": customer("1")}
    # a stale answer is not made fresh: the next request tries the source again
    again = StaleNotes()
    await cache.load(E.CUSTOMER, ["1"], source.fetch, again)
    assert len(during) == len(again) == 1
    assert len(source.calls) == 3

    source.failure = None
    source.records["1"] = customer("1", "40.00")
    after = StaleNotes()
    assert await cache.load(E.CUSTOMER, ["1"], source.fetch, after) == {"1": customer("1", "40.00")}
    assert len(after) == 0

    source.failure = SourceUnavailable("netsuite", "down")
    clock.advance(3601)  # past the horizon: no copy any more
    late = await cache.load(E.CUSTOMER, ["1"], source.fetch, StaleNotes())
    assert isinstance(late["1"], SourceUnavailable)


async def test_an_unexpected_exception_reaches_every_waiter_and_nothing_is_stored(
    cache: ReadCache,
) -> None:
    source = Source({"1": customer("1")})
    source.failure = RuntimeError("bug in an adapter")
    gate = source.hold()
    loads = [asyncio.create_task(cache.load(E.CUSTOMER, ["1"], source.fetch)) for _ in range(3)]
    await started()
    gate.set()

    results = await asyncio.gather(*loads, return_exceptions=True)

    assert all(isinstance(result, RuntimeError) for result in results)
    source.failure = None
    assert await cache.load(E.CUSTOMER, ["1"], source.fetch) == {"1": customer("1")}
    assert len(source.calls) == 2


async def test_invalidation_drops_an_entry(cache: ReadCache) -> None:
    source = Source({"1": customer("1", "100.00")})
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    source.records["1"] = customer("1", "0.00")

    await cache.invalidate("netsuite", "customer", ["1"])

    assert await cache.load(E.CUSTOMER, ["1"], source.fetch) == {"1": customer("1", "0.00")}
    assert len(source.calls) == 2
    with pytest.raises(KeyError):
        await cache.invalidate("netsuite", "no_such_entity", ["1"])


async def test_a_read_in_flight_when_invalidated_is_neither_joined_nor_kept(
    cache: ReadCache,
) -> None:
    # given a read that began before a payment
    source = Source({"1": customer("1", "100.00")})
    gate = source.hold()
    before = asyncio.create_task(cache.load(E.CUSTOMER, ["1"], source.fetch))
    await started()
    # when the payment lands and the entry is invalidated
    source.records["1"] = customer("1", "0.00")
    await cache.invalidate("netsuite", "customer", ["1"])
    source.gate = None  # reads from now on answer at once
    after = await cache.load(E.CUSTOMER, ["1"], source.fetch)
    gate.set()
    await before

    # then a request after the invalidation made a read of its own
    assert after == {"1": customer("1", "0.00")}
    assert len(source.calls) == 2
    # and the older read did not overwrite the newer value
    assert await cache.load(E.CUSTOMER, ["1"], source.fetch) == {"1": customer("1", "0.00")}
    assert len(source.calls) == 2


async def test_forgetting_local_entries_drops_them_and_keeps_out_reads_under_way(
    cache: ReadCache,
) -> None:
    # given one cached entry and one read still under way
    source = Source({"1": customer("1", "100.00"), "2": customer("2", "100.00")})
    await cache.load(E.CUSTOMER, ["1"], source.fetch)
    gate = source.hold()
    under_way = asyncio.create_task(cache.load(E.CUSTOMER, ["2"], source.fetch))
    await started()

    # when the process forgets what it holds (it may have missed invalidations)
    cache.forget_local()
    gate.set()
    source.gate = None
    await under_way

    # then both keys are read again from the source
    await cache.load(E.CUSTOMER, ["1", "2"], source.fetch)
    assert source.calls == [["1"], ["2"], ["1", "2"]]


async def test_identities_are_learned_from_what_passes_through(cache: ReadCache) -> None:
    source = Source({"CUST-1": customer("1")})
    await cache.load(E.CUSTOMER_BY_KEY, ["CUST-1"], source.fetch)

    changes = cache.changes()
    changes.erp_customer(erp_id="1")

    assert changes.targets == [
        ("netsuite", "customer", "1"),
        ("netsuite", "customer_by_key", "CUST-1"),
    ]
