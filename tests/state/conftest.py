"""Backends for the shared-state suite: every semantic test runs on memory and on Redis.

`replicas` opens backends that share one state, as Accord's replicas do: independent Redis
connections under the test's own key prefix (deleted afterwards), or, in memory, the single
process's one backend. `backend` is the first of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from state.backend import StateBackend
from state.memory_backend import MemoryBackend
from state.redis_backend import RedisBackend
from tests.redis_keys import unique_prefix

OpenReplica = Callable[[], StateBackend]


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


async def delete_prefix(client: aioredis.Redis, prefix: str) -> None:
    stale = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
    if stale:
        await client.delete(*stale)


@pytest.fixture
async def raw_redis(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the test Redis; deletes every key under the test's prefix afterwards."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await delete_prefix(client, prefix)
    await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def replicas(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[OpenReplica]:
    if request.param == "memory":
        shared = MemoryBackend(prefix=prefix)
        yield lambda: shared
        return
    url: str = request.getfixturevalue("redis_url")
    opened: list[RedisBackend] = []

    def open_replica() -> StateBackend:
        backend = RedisBackend(url, prefix=prefix)
        opened.append(backend)
        return backend

    yield open_replica
    for backend in opened:
        await backend.close()
    cleaner = aioredis.Redis.from_url(url, decode_responses=True)
    await delete_prefix(cleaner, prefix)
    await cleaner.aclose()


@pytest.fixture
def backend(replicas: OpenReplica) -> StateBackend:
    return replicas()
