"""What is particular to Redis: where things land, prefixes, and an unreachable server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from state.backend import open_backend
from state.errors import StateUnavailable, StateValueError
from state.memory_backend import MemoryBackend
from state.redis_backend import RedisBackend, redact_url


@pytest.fixture
async def redis_backend(
    redis_url: str, prefix: str, raw_redis: aioredis.Redis
) -> AsyncIterator[RedisBackend]:
    backend = RedisBackend(redis_url, prefix=prefix)
    yield backend
    await backend.close()


async def test_keys_land_under_the_prefix_one_namespace_per_kind(
    redis_backend: RedisBackend, raw_redis: aioredis.Redis, prefix: str
) -> None:
    # when a value, an index, a log and a lease are written under one name
    await redis_backend.set("order:1", {"b": 2, "a": 1}, ttl=10)
    await redis_backend.index_add("order:1", "m", 1.5)
    entry_id = await redis_backend.log_append("order:1", {"event": "created"})
    await redis_backend.lease("order:1", "replica-1", 10)

    # then each lands in its own key, of the Redis type documented in docs/state.md
    assert await raw_redis.type(f"{prefix}kv:order:1") == "string"
    assert await raw_redis.get(f"{prefix}kv:order:1") == '{"a":1,"b":2}'
    assert 9000 < await raw_redis.pttl(f"{prefix}kv:order:1") <= 10000
    assert await raw_redis.zrange(f"{prefix}ix:order:1", 0, -1, withscores=True) == [("m", 1.5)]
    assert await raw_redis.xrange(f"{prefix}log:order:1") == [
        (entry_id, {"v": '{"event":"created"}'})
    ]
    assert await raw_redis.get(f"{prefix}lease:order:1") == "replica-1"
    assert 9000 < await raw_redis.pttl(f"{prefix}lease:order:1") <= 10000
    assert sorted(await raw_redis.keys(f"{prefix}*")) == sorted(
        f"{prefix}{kind}:order:1" for kind in ("kv", "ix", "log", "lease")
    )


async def test_counters_are_plain_redis_integers(
    redis_backend: RedisBackend, raw_redis: aioredis.Redis, prefix: str
) -> None:
    await redis_backend.incr("hits", 3)

    assert await raw_redis.get(f"{prefix}kv:hits") == "3"
    assert await raw_redis.incrby(f"{prefix}kv:hits", 1) == 4
    assert await redis_backend.get("hits") == 4


async def test_backends_with_different_prefixes_do_not_meet(
    redis_url: str, prefix: str, raw_redis: aioredis.Redis
) -> None:
    tenant_a = RedisBackend(redis_url, prefix=f"{prefix}a:")
    tenant_b = RedisBackend(redis_url, prefix=f"{prefix}b:")
    try:
        await tenant_a.set("k", "a")
        await tenant_a.lease("l", "owner-a", 10)

        assert await tenant_b.get("k") is None
        assert await tenant_b.lease("l", "owner-b", 10) is True
    finally:
        await tenant_a.close()
        await tenant_b.close()


async def test_a_value_that_is_not_json_is_reported(
    redis_backend: RedisBackend, raw_redis: aioredis.Redis, prefix: str
) -> None:
    # given a key some other tool wrote
    await raw_redis.set(f"{prefix}kv:foreign", "not json{")

    with pytest.raises(StateValueError, match="foreign"):
        await redis_backend.get("foreign")


async def test_an_unreachable_redis_is_reported_clearly_without_its_password() -> None:
    # nothing listens on port 1
    backend = RedisBackend("redis://:s3cret@127.0.0.1:1/0", connect_timeout=1)
    try:
        with pytest.raises(StateUnavailable, match=r"127\.0\.0\.1:1") as raised:
            await backend.ping()
        assert "s3cret" not in str(raised.value)
        with pytest.raises(StateUnavailable):
            await backend.set("k", 1)
    finally:
        await backend.close()


def test_redact_url_hides_only_the_password() -> None:
    assert (
        redact_url("redis://user:pw@cache.internal:6380/2")
        == "redis://user:***@cache.internal:6380/2"
    )
    assert redact_url("rediss://:pw@cache.internal/0") == "rediss://:***@cache.internal/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


async def test_open_backend_picks_memory_without_a_url_and_redis_with_one(redis_url: str) -> None:
    embedded = open_backend(None)
    shared = open_backend(redis_url)
    try:
        assert isinstance(embedded, MemoryBackend)
        assert embedded.name == "memory"
        assert isinstance(shared, RedisBackend)
        assert shared.name == "redis"
        assert shared.prefix == "accord:"
        await shared.ping()
    finally:
        await shared.close()
