"""A concurrency budget shared by every replica, in Redis (`sources.concurrency`).

The slots of a budget are the members of one sorted set, ``<prefix>budget:<name>``, each
scored by when its holder's claim lapses (Redis's own clock, so that replicas' clocks do not
matter). Taking a slot is one Lua script: drop the lapsed claims, and add this one if fewer
than ``limit`` remain; giving it back removes it. A replica that dies while holding slots
loses them after ``hold`` seconds, so they are never lost for good.

If Redis cannot be reached, the budget falls back to a semaphore of this process (of the
same size) rather than stopping every NetSuite call: reads go on while Redis is away, at the
risk of several replicas exceeding the account's limit for that time (NetSuite then answers
429, which the resilience layer retries). The fallback and the return are logged once each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from state.codec import DEFAULT_PREFIX
from state.urls import redact_url

__all__ = ["RedisBudget"]

logger = logging.getLogger("accord.state")

# KEYS[1] slots; ARGV[1] limit, ARGV[2] hold in ms, ARGV[3] the claim's token
_TAKE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""


class RedisBudget:
    def __init__(
        self,
        url: str,
        name: str,
        limit: int,
        *,
        prefix: str = DEFAULT_PREFIX,
        hold: float = 60.0,
        timeout: float = 2.0,
        poll: float = 0.005,
    ) -> None:
        """``hold``: how long a claim outlives a holder that never gives it back (longer than
        any request); ``poll``: the first pause between two tries while no slot is free."""
        if limit < 1:
            raise ValueError("a concurrency budget needs at least one slot")
        self.limit = limit
        self.key = f"{prefix}budget:{name}"
        self.hold = hold
        self.poll = poll
        import redis.asyncio as aioredis  # loaded by the processes that use Redis only

        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._take = self._redis.register_script(_TAKE)
        self._fallback = asyncio.Semaphore(limit)
        self._what = f"the shared {name} budget (Redis at {redact_url(url)})"
        self._down = False  # logged once when Redis goes away, once when it is back
        self._rng = random.Random()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        from redis.exceptions import RedisError

        token = uuid.uuid4().hex
        try:
            await self._claim(token)
        except RedisError as exc:
            if not self._down:
                self._down = True
                logger.warning(
                    "%s is unavailable (%s): counting this process's requests only", self._what, exc
                )
            async with self._fallback:
                yield
            return
        if self._down:
            self._down = False
            logger.info("%s is available again", self._what)
        try:
            yield
        finally:
            await asyncio.shield(self._give_back(token))

    async def _claim(self, token: str) -> None:
        pause = self.poll
        while not await self._take(
            keys=[self.key], args=[self.limit, int(self.hold * 1000), token]
        ):
            await asyncio.sleep(self._rng.uniform(pause / 2, pause))
            pause = min(pause * 2, 0.1)

    async def _give_back(self, token: str) -> None:
        from redis.exceptions import RedisError

        with contextlib.suppress(RedisError):  # if not given back, the claim lapses after hold
            await self._redis.zrem(self.key, token)

    async def close(self) -> None:
        await self._redis.aclose()
