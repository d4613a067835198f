"""The cache's second level: entries in Redis, shared by every replica (``ACCORD_REDIS_URL``).

One string per entry, ``<prefix>cache:<source>:<entity>:<tag>:<key>``, holding JSON
``{"at": <unix seconds read>, "v": <value>}``, with Redis expiring it when no replica may use it
any more (the stale horizon; the negative TTL for a missing record). Reads are one MGET per
batch, writes one pipeline of SETs with PX, invalidation one DEL.

The cache is an optimisation: when Redis fails or is slow, the level answers "absent" and
writes nothing, the failure is logged (at most once a minute), and Accord reads its sources.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from state.urls import redact_url

__all__ = ["RedisLevel"]

logger = logging.getLogger("accord.cache")

_LOG_EVERY = 60.0


class RedisLevel:
    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        self.url = redact_url(url)
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self.failures = 0
        self._logged_at = -_LOG_EVERY

    def _failed(self, action: str, exc: BaseException) -> None:
        self.failures += 1
        now = time.monotonic()
        if now - self._logged_at >= _LOG_EVERY:
            self._logged_at = now
            logger.warning(
                "cache: Redis at %s failed to %s (%s); reading sources", self.url, action, exc
            )

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            found = await self._redis.mget(keys)
        except (RedisError, OSError) as exc:
            self._failed("read", exc)
            return [None] * len(keys)
        return [value.encode() if isinstance(value, str) else value for value in found]

    async def set_many(self, items: Sequence[tuple[str, bytes, float]]) -> None:
        """Store (key, payload, seconds to live) each, in one round trip."""
        if not items:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key, payload, ttl in items:
                    pipe.set(key, payload, px=max(1, int(ttl * 1000)))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self._failed("write", exc)

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            await self._redis.delete(*keys)
        except (RedisError, OSError) as exc:
            self._failed("invalidate", exc)

    async def close(self) -> None:
        await self._redis.aclose()
