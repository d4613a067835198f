"""The Redis backend when Redis goes away, comes back, or answers too slowly.

Every operation then fails as `StateUnavailable` within the configured timeout (never an
unbounded wait), and the same backend works again as soon as Redis answers: no restart.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from state.backend import open_backend
from state.errors import StateUnavailable
from tests.redis_keys import unique_prefix
from tests.redis_server import RedisServer

TIMEOUT = 0.3


async def test_every_operation_fails_typed_while_redis_is_down_and_works_once_it_is_back(
    own_redis: RedisServer,
) -> None:
    # given a backend on a Redis that then dies
    backend = open_backend(own_redis.url, prefix=unique_prefix(), timeout=TIMEOUT)
    try:
        await backend.set("k", {"v": 1})
        own_redis.stop()

        # when anything is asked of it, each answer is StateUnavailable
        for operation in (
            backend.ping(),
            backend.get("k"),
            backend.set("k", 2),
            backend.compare_and_set("k", None, 3),
            backend.incr("n"),
            backend.index_add("i", "m", 1.0),
            backend.log_append("l", {"e": 1}),
            backend.lease("lease", "me", 5.0),
        ):
            with pytest.raises(StateUnavailable):
                await operation

        # then, Redis back (empty: it kept nothing), the same backend serves again
        own_redis.start()
        await backend.ping()
        assert await backend.set("k", {"v": 2})
        assert await backend.get("k") == {"v": 2}
    finally:
        await backend.close()


async def test_a_redis_that_does_not_answer_fails_within_the_timeout(
    own_redis: RedisServer,
) -> None:
    # given a backend with a 0.3 s timeout, connected, and a Redis that then stalls for 6 s
    backend = open_backend(own_redis.url, prefix=unique_prefix(), timeout=TIMEOUT)
    try:
        await backend.set("k", 1)
        own_redis.pause(6.0)

        # when a value is read, it fails as unavailable long before Redis answers again
        started = time.monotonic()
        with pytest.raises(StateUnavailable):
            await backend.get("k")
        # (a read that waited Redis out would have succeeded; the bound leaves a loaded
        # machine seconds of slack over the 0.3 s timeout)
        assert time.monotonic() - started < 5.0

        # then, once Redis answers again, so does the backend
        deadline = time.monotonic() + 30
        while True:
            try:
                assert await backend.get("k") == 1
                break
            except StateUnavailable:
                assert time.monotonic() < deadline, "the backend never recovered"
                await asyncio.sleep(0.1)
    finally:
        await backend.close()
