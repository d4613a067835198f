"""The second level, on a real Redis: shared between replicas, expiring, invalidated, and
never in the way when Redis is not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from cache import entities as E
from cache.codec import CODEC_VERSION, shape
from cache.read_cache import CacheSettings, ReadCache
from cache.redis_level import RedisLevel
from cache.stale import StaleNotes
from sources.errors import SourceUnavailable
from sources.records import ErpCustomer
from tests.cache.test_read_cache import Clock, Source, customer

SETTINGS = CacheSettings(negative_ttl=5.0, stale_horizon=3600.0)


def replica(redis_url: str, prefix: str, clock: Clock | None = None) -> ReadCache:
    return ReadCache(SETTINGS, redis_url=redis_url, prefix=prefix, clock=clock or Clock())


@asynccontextmanager
async def two_replicas(
    redis_url: str, prefix: str, clock: Clock | None = None
) -> AsyncIterator[tuple[ReadCache, ReadCache]]:
    """Two replicas' caches sharing the test Redis (and ``clock``), closed afterwards."""
    one, two = replica(redis_url, prefix, clock), replica(redis_url, prefix, clock)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


def key_of(prefix: str, entity: str, key: str) -> str:
    tag = f"v{CODEC_VERSION}.1.{shape(ErpCustomer)}"
    return f"{prefix}cache:netsuite:{entity}:{tag}:{key}"


async def test_a_second_replica_reads_the_first_ones_entry(redis_url: str, prefix: str) -> None:
    source = Source({"1": customer("1")})
    async with two_replicas(redis_url, prefix) as (one, two):
        await one.load(E.CUSTOMER, ["1"], source.fetch)

        found = await two.load(E.CUSTOMER, ["1"], source.fetch)

        assert found == {"1": customer("1")}
        assert source.calls == [["1"]]
        assert two.stats.redis_hits == 1
        # and it is now in the second replica's own level: no Redis round trip next time
        await two.load(E.CUSTOMER, ["1"], source.fetch)
        assert two.stats.hits == 1


async def test_entries_are_keyed_and_expire_as_documented(
    redis_url: str, prefix: str, raw_redis: aioredis.Redis
) -> None:
    cache = replica(redis_url, prefix)
    source = Source({"1": customer("1")})
    try:
        await cache.load(E.CUSTOMER, ["1", "404"], source.fetch)
    finally:
        await cache.close()

    found = await raw_redis.get(key_of(prefix, "customer", "1"))
    assert found is not None
    stored = json.loads(found)
    assert stored["v"]["erp_id"] == "1"
    assert stored["v"]["balance"] == "100.00"
    # kept for the stale horizon (fresh or not is decided by "at" and the reader's TTL)
    assert 3500_000 < await raw_redis.pttl(key_of(prefix, "customer", "1")) <= 3600_000
    # "no such record" is kept only for the negative TTL
    negative = await raw_redis.get(key_of(prefix, "customer", "404"))
    assert negative is not None
    assert json.loads(negative)["v"] is None
    assert 0 < await raw_redis.pttl(key_of(prefix, "customer", "404")) <= 5_000


async def test_a_fresh_entry_in_redis_ages_by_when_its_source_answered(
    redis_url: str, prefix: str
) -> None:
    clock = Clock()
    source = Source({"1": customer("1")})
    async with two_replicas(redis_url, prefix, clock) as (one, two):
        await one.load(E.CUSTOMER, ["1"], source.fetch)
        clock.advance(31)  # older than the customer's TTL

        await two.load(E.CUSTOMER, ["1"], source.fetch)

        assert len(source.calls) == 2


async def test_invalidation_reaches_redis(redis_url: str, prefix: str) -> None:
    source = Source({"1": customer("1", "100.00")})
    async with two_replicas(redis_url, prefix) as (one, two):
        await one.load(E.CUSTOMER, ["1"], source.fetch)
        source.records["1"] = customer("1", "0.00")

        await one.invalidate("netsuite", "customer", ["1"])
        found = await two.load(E.CUSTOMER, ["1"], source.fetch)

        assert found == {"1": customer("1", "0.00")}
        assert len(source.calls) == 2


class SlowWrites(RedisLevel):
    """The test Redis, with writes that wait for ``go`` first (a connection being opened)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writing = asyncio.Event()
        self.go = asyncio.Event()

    async def set_many(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        self.writing.set()
        await self.go.wait()
        await super().set_many(items)


async def test_a_read_answered_before_a_change_does_not_reach_redis_after_its_invalidation(
    redis_url: str, prefix: str
) -> None:
    source = Source({"1": customer("1", "100.00")})
    async with two_replicas(redis_url, prefix) as (one, two):
        # given a read whose source answered before a change, still writing to Redis
        slow = one._level2 = SlowWrites(redis_url)
        reading = asyncio.create_task(one.load(E.CUSTOMER, ["1"], source.fetch))
        await asyncio.wait_for(slow.writing.wait(), 5)

        # when the change's event is handled meanwhile, and the write then goes through
        source.records["1"] = customer("1", "0.00")
        await one.invalidate("netsuite", "customer", ["1"])
        slow.go.set()
        await reading

        # then no replica is served the value from before the change
        found = await two.load(E.CUSTOMER, ["1"], source.fetch)
        assert found == {"1": customer("1", "0.00")}


async def test_a_replica_that_never_read_a_key_serves_the_shared_copy_in_an_outage(
    redis_url: str, prefix: str
) -> None:
    clock = Clock()
    source = Source({"1": customer("1")})
    async with two_replicas(redis_url, prefix, clock) as (one, two):
        await one.load(E.CUSTOMER, ["1"], source.fetch)
        clock.advance(120)
        source.failure = SourceUnavailable("netsuite", "down")
        notes = StaleNotes()

        found = await two.load(E.CUSTOMER, ["1"], source.fetch, notes)

        assert found == {"1": customer("1")}
        [stale] = list(notes)
        assert stale.age == pytest.approx(120)


async def test_an_unreadable_entry_is_a_miss(
    redis_url: str, prefix: str, raw_redis: aioredis.Redis
) -> None:
    await raw_redis.set(key_of(prefix, "customer", "1"), b'{"at": 1, "v": {"erp_id": 3}}')
    await raw_redis.set(key_of(prefix, "customer", "2"), b"not json")
    cache = replica(redis_url, prefix)
    source = Source({"1": customer("1"), "2": customer("2")})
    try:
        found = await cache.load(E.CUSTOMER, ["1", "2"], source.fetch)
    finally:
        await cache.close()
    assert found == {"1": customer("1"), "2": customer("2")}
    assert source.calls == [["1", "2"]]


async def test_without_redis_the_cache_reads_its_sources() -> None:
    cache = ReadCache(SETTINGS, redis_url="redis://127.0.0.1:1/0", prefix="test:")
    source = Source({"1": customer("1")})
    try:
        assert await cache.load(E.CUSTOMER, ["1"], source.fetch) == {"1": customer("1")}
        await cache.invalidate("netsuite", "customer", ["1"])
        assert await cache.load(E.CUSTOMER, ["1"], source.fetch) == {"1": customer("1")}
    finally:
        await cache.close()
    assert len(source.calls) == 2
