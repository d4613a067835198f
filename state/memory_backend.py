"""`StateBackend` in one process: the embedded default, when no Redis is configured.

Every method does its work without awaiting anything, so under asyncio each call is atomic
with respect to every other: that is what makes `compare_and_set`, `incr` and the leases
exact here, as Lua scripts and transactions make them in Redis. TTLs run on the monotonic
clock; expired values and leases behave as absent and are swept now and then so that a
process does not accumulate them. Values are kept as canonical JSON text, so callers never
share objects with the store and equality means the same as in Redis.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from state.codec import (
    DEFAULT_PREFIX,
    INT64_MAX,
    INT64_MIN,
    LogId,
    check_limit,
    check_max_length,
    check_owner,
    check_score,
    check_ttl,
    decode,
    decode_value,
    encode,
    parse_log_id,
)
from state.errors import StateValueError

__all__ = ["MemoryBackend"]

_SWEEP_EVERY = 1024
"""Writes between two sweeps of expired values and leases."""


@dataclass(slots=True)
class _Value:
    text: str
    expires: float | None


@dataclass(slots=True)
class _Index:
    scores: dict[str, float] = field(default_factory=dict)
    order: list[tuple[float, str]] = field(default_factory=list)
    """(score, member), sorted: Python orders str by code point, which is UTF-8 byte order."""


@dataclass(slots=True)
class _Log:
    ids: list[LogId] = field(default_factory=list)
    entries: list[tuple[str, str]] = field(default_factory=list)
    """(id text, entry JSON), parallel to `ids`."""
    last: LogId = (0, 0)
    """The greatest id ever handed out, kept when trimming, as Redis keeps a stream's."""


@dataclass(slots=True)
class _Lease:
    owner: str
    expires: float


class MemoryBackend:
    """Shared state for a single process; see `state.backend.StateBackend` for the contract."""

    name: str = "memory"

    def __init__(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.prefix = prefix  # nothing else shares this process's dicts; kept for symmetry
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._values: dict[str, _Value] = {}
        self._indexes: dict[str, _Index] = {}
        self._logs: dict[str, _Log] = {}
        self._leases: dict[str, _Lease] = {}
        self._writes = 0

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- values ---------------------------------------------------------------------------

    def _text(self, key: str) -> str | None:
        held = self._values.get(key)
        if held is None:
            return None
        if held.expires is not None and held.expires <= self._clock():
            del self._values[key]
            return None
        return held.text

    def _put(self, key: str, text: str, ttl: float | None) -> None:
        self._values[key] = _Value(text, None if ttl is None else self._clock() + ttl)
        self._wrote()

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            now = self._clock()
            stale = [
                key
                for key, held in self._values.items()
                if held.expires is not None and held.expires <= now
            ]
            for key in stale:
                del self._values[key]
            for name in [n for n, lease in self._leases.items() if lease.expires <= now]:
                del self._leases[name]

    async def get(self, key: str) -> Any | None:
        return decode_value(key, self._text(key))

    async def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        texts = [self._text(key) for key in keys]
        return [decode_value(key, text) for key, text in zip(keys, texts, strict=True)]

    async def set(
        self, key: str, value: Any, *, ttl: float | None = None, only_if_absent: bool = False
    ) -> bool:
        check_ttl(ttl)
        text = encode(value)
        if only_if_absent and self._text(key) is not None:
            return False
        self._put(key, text, ttl)
        return True

    async def delete(self, key: str) -> bool:
        existed = self._text(key) is not None
        self._values.pop(key, None)
        return existed

    async def compare_and_set(
        self, key: str, expected: Any | None, value: Any, *, ttl: float | None = None
    ) -> bool:
        check_ttl(ttl)
        text = encode(value)
        current = self._text(key)
        if expected is None:
            matches = current is None or current == "null"
        else:
            matches = current == encode(expected)
        if not matches:
            return False
        self._put(key, text, ttl)
        return True

    async def incr(self, key: str, amount: int = 1, *, ttl: float | None = None) -> int:
        check_ttl(ttl)
        text = self._text(key)
        if text is None:
            current, expires = 0, None if ttl is None else self._clock() + ttl
        else:
            current = decode(text, where=f"key {key!r}")
            if type(current) is not int:
                raise StateValueError(f"key {key!r} does not hold an integer")
            expires = self._values[key].expires
        total = current + amount
        if not INT64_MIN <= total <= INT64_MAX:
            raise StateValueError(f"incrementing key {key!r} would overflow 64 bits")
        self._values[key] = _Value(str(total), expires)
        self._wrote()
        return total

    # -- ordered indexes --------------------------------------------------------------------

    async def index_add(self, index: str, member: str, score: float) -> None:
        value = check_score(score)
        held = self._indexes.setdefault(index, _Index())
        old = held.scores.get(member)
        if old is not None:
            del held.order[bisect.bisect_left(held.order, (old, member))]
        held.scores[member] = value
        bisect.insort(held.order, (value, member))

    async def index_remove(self, index: str, member: str) -> None:
        held = self._indexes.get(index)
        if held is None or member not in held.scores:
            return
        old = held.scores.pop(member)
        del held.order[bisect.bisect_left(held.order, (old, member))]
        if not held.scores:
            del self._indexes[index]

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
        held = self._indexes.get(index)
        if held is None or limit == 0:
            return []
        order = held.order
        if reverse:
            end = len(order) if anchor is None else bisect.bisect_left(order, anchor)
            page = order[max(0, end - limit) : end][::-1]
        else:
            start = 0 if anchor is None else bisect.bisect_right(order, anchor)
            page = order[start : start + limit]
        return [(member, score) for score, member in page]

    async def index_count(self, index: str) -> int:
        held = self._indexes.get(index)
        return 0 if held is None else len(held.scores)

    # -- append-only logs ---------------------------------------------------------------------

    async def log_append(self, log: str, entry: Any, *, max_length: int | None = None) -> str:
        check_max_length(max_length)
        text = encode(entry)
        held = self._logs.setdefault(log, _Log())
        # As Redis does: the wall clock's millisecond, or the last one if the clock went back.
        now = self._wall_clock_ms()
        last_ms, last_seq = held.last
        entry_id = (now, 0) if now > last_ms else (last_ms, last_seq + 1)
        held.last = entry_id
        id_text = f"{entry_id[0]}-{entry_id[1]}"
        held.ids.append(entry_id)
        held.entries.append((id_text, text))
        if max_length is not None and len(held.ids) > max_length:
            drop = len(held.ids) - max_length
            del held.ids[:drop]
            del held.entries[:drop]
        return id_text

    async def log_read(
        self, log: str, *, after: str | None = None, limit: int = 100, reverse: bool = False
    ) -> list[tuple[str, Any]]:
        check_limit(limit)
        anchor = None if after is None else parse_log_id(after)
        held = self._logs.get(log)
        if held is None or limit == 0:
            return []
        if reverse:
            end = len(held.ids) if anchor is None else bisect.bisect_left(held.ids, anchor)
            page = held.entries[max(0, end - limit) : end][::-1]
        else:
            start = 0 if anchor is None else bisect.bisect_right(held.ids, anchor)
            page = held.entries[start : start + limit]
        return [(id_text, decode(text, where=f"log {log!r}")) for id_text, text in page]

    async def log_length(self, log: str) -> int:
        held = self._logs.get(log)
        return 0 if held is None else len(held.ids)

    # -- leases -------------------------------------------------------------------------------

    def _holder(self, name: str) -> str | None:
        held = self._leases.get(name)
        if held is None:
            return None
        if held.expires <= self._clock():
            del self._leases[name]
            return None
        return held.owner

    async def lease(self, name: str, owner: str, ttl: float) -> bool:
        check_owner(owner)
        check_ttl(ttl)
        holder = self._holder(name)
        if holder is not None and holder != owner:
            return False
        self._leases[name] = _Lease(owner, self._clock() + ttl)
        self._wrote()
        return True

    async def renew(self, name: str, owner: str, ttl: float) -> bool:
        check_ttl(ttl)
        if self._holder(name) != owner:
            return False
        self._leases[name] = _Lease(owner, self._clock() + ttl)
        return True

    async def release(self, name: str, owner: str) -> bool:
        if self._holder(name) != owner:
            return False
        del self._leases[name]
        return True
