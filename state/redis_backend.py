"""`StateBackend` over Redis: the shared engine when several replicas run (``ACCORD_REDIS_URL``).

Layout (``<p>`` is the prefix, ``accord:`` by default)::

    <p>kv:<key>        string   canonical JSON value, PX for TTLs; counters are plain integers
    <p>ix:<index>      zset     ordered index: member -> score
    <p>log:<log>       stream   append-only log, one field "v" holding the entry's JSON
    <p>lease:<name>    string   the owner's token, PX = the lease's TTL

Operations that read then write (compare-and-set, leases) are single Lua scripts, so each is
atomic against every other replica; counters with a TTL are one MULTI/EXEC. Connection
failures become `StateUnavailable` naming the (password-redacted) URL. A dropped connection
is retried once at once (it is nearly always a stale pooled socket); a timeout never is,
because the command may have run and replaying an increment or an append would double it.
Redis Cluster is not supported: `get_many` issues one MGET across keys.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from state.codec import (
    DEFAULT_PREFIX,
    check_limit,
    check_max_length,
    check_owner,
    check_score,
    check_ttl,
    decode,
    decode_value,
    encode,
    parse_log_id,
    ttl_ms,
)
from state.errors import StateUnavailable, StateValueError
from state.urls import redact_url

__all__ = ["RedisBackend", "redact_url"]

_ENTRY_FIELD = "v"

# KEYS[1] value; ARGV[1] expected JSON ("" = absent or null), ARGV[2] new JSON,
# ARGV[3] TTL in ms ("" = none)
_COMPARE_AND_SET = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current and current ~= 'null' then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
if ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
"""

# KEYS[1] lease; ARGV[1] owner, ARGV[2] TTL ms
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

# Keyset paging past (score, member). KEYS[1] index; ARGV[1] score, ARGV[2] member,
# ARGV[3] limit, ARGV[4] "1" for descending. If the anchor is still there at that score, its
# rank gives the page directly; if not, the entries tied at its score that sort on its near
# side are counted and skipped. Members are compared byte by byte, as Redis orders them:
# Lua's own string comparison follows the server's collation locale.
_INDEX_AFTER = """
local key, score, member = KEYS[1], ARGV[1], ARGV[2]
local limit, descending = tonumber(ARGV[3]), ARGV[4] == '1'
local function precedes(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local held = redis.call('ZSCORE', key, member)
if held and tonumber(held) == tonumber(score) then
  if descending then
    local rank = redis.call('ZREVRANK', key, member)
    return redis.call('ZREVRANGE', key, rank + 1, rank + limit, 'WITHSCORES')
  end
  local rank = redis.call('ZRANK', key, member)
  return redis.call('ZRANGE', key, rank + 1, rank + limit, 'WITHSCORES')
end
local skip = 0
while true do
  local tied
  if descending then
    tied = redis.call('ZREVRANGEBYSCORE', key, score, score, 'LIMIT', skip, 128)
  else
    tied = redis.call('ZRANGEBYSCORE', key, score, score, 'LIMIT', skip, 128)
  end
  local passed = 0
  for _, other in ipairs(tied) do
    local near
    if descending then near = precedes(member, other) else near = precedes(other, member) end
    if not near then break end
    passed = passed + 1
  end
  skip = skip + passed
  if passed < 128 then break end
end
if descending then
  return redis.call('ZREVRANGEBYSCORE', key, score, '-inf', 'WITHSCORES', 'LIMIT', skip, limit)
end
return redis.call('ZRANGEBYSCORE', key, score, '+inf', 'WITHSCORES', 'LIMIT', skip, limit)
"""


def _pairs(flat: Sequence[str]) -> list[tuple[str, float]]:
    """A script's flat WITHSCORES reply, [member, score, member, score, ...], as pairs."""
    return [(flat[i], float(flat[i + 1])) for i in range(0, len(flat), 2)]


class RedisBackend:
    """Shared state in Redis; see `state.backend.StateBackend` for the contract."""

    name: str = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        connect_timeout: float = 2.0,
        command_timeout: float = 5.0,
    ) -> None:
        self.prefix = prefix
        self.url = redact_url(url)
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=connect_timeout,
            socket_timeout=command_timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            health_check_interval=30,
        )
        self._compare_and_set = self._redis.register_script(_COMPARE_AND_SET)
        self._lease = self._redis.register_script(_LEASE)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)
        self._index_after = self._redis.register_script(_INDEX_AFTER)

    def _kv(self, key: str) -> str:
        return f"{self.prefix}kv:{key}"

    def _ix(self, index: str) -> str:
        return f"{self.prefix}ix:{index}"

    def _log(self, log: str) -> str:
        return f"{self.prefix}log:{log}"

    def _lease_key(self, name: str) -> str:
        return f"{self.prefix}lease:{name}"

    @contextmanager
    def _talking(self) -> Iterator[None]:
        """Translate the client's failures into the state layer's errors."""
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StateUnavailable(f"Redis at {self.url} is unavailable: {exc}") from exc
        except ResponseError as exc:
            raise StateValueError(f"Redis refused the operation: {exc}") from exc
        except RedisError as exc:
            raise StateUnavailable(f"Redis at {self.url} failed: {exc}") from exc

    async def ping(self) -> None:
        with self._talking():
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()

    # -- values ---------------------------------------------------------------------------

    async def get(self, key: str) -> Any | None:
        with self._talking():
            text = cast(str | None, await self._redis.get(self._kv(key)))
        return decode_value(key, text)

    async def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        if not keys:
            return []
        with self._talking():
            texts = cast(list[str | None], await self._redis.mget([self._kv(k) for k in keys]))
        return [decode_value(key, text) for key, text in zip(keys, texts, strict=True)]

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        check_ttl(ttl)
        text = encode(value)
        with self._talking():
            done = await self._redis.set(
                self._kv(key), text, px=None if ttl is None else ttl_ms(ttl), nx=only_if_absent
            )
        return bool(done)

    async def delete(self, key: str) -> bool:
        with self._talking():
            removed = await self._redis.delete(self._kv(key))
        return removed > 0

    async def compare_and_set(
        self, key: str, expected: Any | None, value: Any, *, ttl: float | None = None
    ) -> bool:
        check_ttl(ttl)
        args = [
            "" if expected is None else encode(expected),
            encode(value),
            "" if ttl is None else str(ttl_ms(ttl)),
        ]
        with self._talking():
            replaced = await self._compare_and_set(keys=[self._kv(key)], args=args)
        return bool(replaced)

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        check_ttl(ttl)
        name = self._kv(key)
        with self._talking():
            if ttl is None:
                return await self._redis.incrby(name, amount)
            # Creating the counter at 0 with the TTL (NX: only if absent) and adding in one
            # transaction sets the expiry once, when the window opens.
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(name, "0", px=ttl_ms(ttl), nx=True)
                pipe.incrby(name, amount)
                results = await pipe.execute()
            return cast(int, results[1])

    # -- ordered indexes --------------------------------------------------------------------

    async def index_add(self, index: str, member: str, score: float) -> None:
        value = check_score(score)
        with self._talking():
            await self._redis.zadd(self._ix(index), {member: value})

    async def index_remove(self, index: str, member: str) -> None:
        with self._talking():
            await self._redis.zrem(self._ix(index), member)

    async def index_range(
        self,
        index: str,
        *,
        after: tuple[float, str] | None = None,
        limit: int = 50,
        reverse: bool = False,
    ) -> list[tuple[str, float]]:
        check_limit(limit)
        anchor = None if after is None else (check_score(after[0]), after[1])
        if limit == 0:
            return []
        name = self._ix(index)
        with self._talking():
            if anchor is None:
                found = await self._redis.zrange(name, 0, limit - 1, desc=reverse, withscores=True)
                return [
                    (member, float(score)) for member, score in cast(list[tuple[str, float]], found)
                ]
            flat = await self._index_after(
                keys=[name], args=[repr(anchor[0]), anchor[1], limit, "1" if reverse else "0"]
            )
        return _pairs(cast(list[str], flat))

    async def index_count(self, index: str) -> int:
        with self._talking():
            return await self._redis.zcard(self._ix(index))

    # -- append-only logs ---------------------------------------------------------------------

    async def log_append(self, log: str, entry: Any, *, max_length: int | None = None) -> str:
        check_max_length(max_length)
        fields: dict[FieldT, EncodableT] = {_ENTRY_FIELD: encode(entry)}
        with self._talking():
            entry_id = await self._redis.xadd(
                self._log(log), fields, maxlen=max_length, approximate=True
            )
        return cast(str, entry_id)

    async def log_read(
        self, log: str, *, after: str | None = None, limit: int = 100, reverse: bool = False
    ) -> list[tuple[str, Any]]:
        check_limit(limit)
        anchor = None if after is None else parse_log_id(after)
        # Nothing precedes 0-0, and an exclusive bound there is an error in Redis.
        if limit == 0 or (reverse and anchor == (0, 0)):
            return []
        name = self._log(log)
        with self._talking():
            if reverse:
                upper = "+" if after is None else f"({after}"
                found = await self._redis.xrevrange(name, max=upper, min="-", count=limit)
            else:
                lower = "-" if after is None else f"({after}"
                found = await self._redis.xrange(name, min=lower, max="+", count=limit)
        return [
            (str(entry_id), decode(fields[_ENTRY_FIELD], where=f"log {log!r}"))
            for entry_id, fields in cast(list[tuple[str, dict[str, str]]], found)
        ]

    async def log_length(self, log: str) -> int:
        with self._talking():
            return await self._redis.xlen(self._log(log))

    # -- leases -------------------------------------------------------------------------------

    async def lease(self, name: str, owner: str, ttl: float) -> bool:
        check_owner(owner)
        check_ttl(ttl)
        with self._talking():
            taken = await self._lease(keys=[self._lease_key(name)], args=[owner, ttl_ms(ttl)])
        return bool(taken)

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        check_ttl(ttl)
        with self._talking():
            renewed = await self._renew(keys=[self._lease_key(name)], args=[owner, ttl_ms(ttl)])
        return bool(renewed)

    async def release(self, name: str, owner: str) -> bool:
        with self._talking():
            released = await self._release(keys=[self._lease_key(name)], args=[owner])
        return bool(released)
