"""Cache test support: a Redis key prefix per test (deleted afterwards), and a raw client of
the test Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from tests.redis_keys import unique_prefix


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own in the test Redis; its keys are deleted afterwards."""
    chosen = unique_prefix()
    yield chosen
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{chosen}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
async def raw_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()
