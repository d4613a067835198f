"""`ReadCache`: source records in two levels, one upstream read per key at a time, and the
last known value when a source fails.

Reading keys of an entity (`ReadCache.load`):

1. **Level 1**, this process: a TLRU cache bounded to ``max_entries`` and ``max_bytes``
   (`cache.bounded`). Fresh
   entries answer at once. An entry stays (as a stale copy) until the stale horizon, a missing
   record only for the negative TTL: the per-entry lifetime is why it is a TLRU rather than a
   one-TTL cache.
2. **Single flight**: a key some request of this process is already reading is not read again;
   the request waits for that read. So a batch for A, B, C while another batch reads B reads only
   A and C, and a hundred concurrent requests for one missing customer make one upstream call.
   The read runs as its own task: a request that goes away does not cancel it for the others.
3. **Level 2**, Redis when configured (`cache.redis_level`): one MGET for the flight's keys;
   fresh entries there are copied into level 1.
4. **The source**: one batch call for what is left. Found records, and records the source does
   not have (negative entries), are stored in both levels; then every waiter gets its value.

When the source fails with an outage-like error (unavailable, timeout, rate limit, circuit
open, auth, garbage) and a key has a copy younger than the stale horizon, in either level, the
copy is served and noted in the request's `StaleNotes`; keys without one get the error, as if
there were no cache. A stale copy is never made fresh again: the next request tries the source,
and once it answers, the flag disappears.

`invalidate` drops entries from both levels and makes any read already in flight for them
neither answer later requests nor store what it read (it may have read before the change).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache

from cache.bounded import SizedTLRUCache, approximate_size
from cache.codec import CODEC_VERSION, CodecError, decode, decode_list, encode, shape
from cache.entities import Entity, entity_named
from cache.identities import Identities
from cache.invalidation import DEFAULT_SOURCES, Changes, Target, invalidation_for
from cache.reads import ReadLog
from cache.stale import StaleNotes, StaleValue
from domain.ownership import System
from events.model import Event

if TYPE_CHECKING:
    from cache.redis_level import RedisLevel

from sources.errors import (
    SourceAuthError,
    SourceError,
    SourceForbidden,
    SourceProtocolError,
    SourceRateLimited,
    SourceTimeout,
    SourceUnavailable,
)
from telemetry import metrics
from telemetry.metrics import Sample

__all__ = ["CacheSettings", "CacheStats", "Fetch", "ReadCache"]

logger = logging.getLogger("accord.cache")

Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, Any]]]
"""A port's batch method: keys in, a mapping of what exists out; raises `SourceError`."""

STALE_ON: tuple[type[SourceError], ...] = (
    SourceUnavailable,  # and CircuitOpen
    SourceTimeout,
    SourceRateLimited,
    SourceAuthError,
    SourceForbidden,
    SourceProtocolError,
)
"""Failures of the source itself. Refusals of the request (validation, conflict) are not
answered from stale copies: the same request would be refused with fresh data too."""


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool = True  # ACCORD_CACHE=off turns the cache off
    max_entries: int = 100_000  # level 1 entries (ACCORD_CACHE_SIZE)
    max_bytes: int = 128 * 2**20  # and their estimated size (ACCORD_CACHE_MEMORY_MB)
    stale_horizon: float = 86_400.0  # how long a last known value may be served on failure
    negative_ttl: float = 10.0  # "no such record", at most this long (and at most the TTL)
    ttl_overrides: Mapping[str, float] = field(default_factory=dict)  # entity name -> seconds
    redis_timeout: float = 0.5  # a slower Redis is treated as a miss


@dataclass
class CacheStats:
    """Counts by key, since start."""

    hits: int = 0  # fresh in level 1
    redis_hits: int = 0  # fresh in level 2
    misses: int = 0  # read from the source
    coalesced: int = 0  # waited for another request's read
    stale: int = 0  # answered with a stale copy
    stale_redis: int = 0  # ... of them, the copy came from level 2
    failed: int = 0  # the source failed and there was no copy
    upstream_batches: int = 0
    invalidated: int = 0


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any  # a record, a tuple of records, or None (missing)
    at: float  # when the source answered (clock seconds)
    expires: float  # when level 1 lets go of it (stale horizon, or the negative TTL)

    @property
    def missing(self) -> bool:
        return self.value is None


@dataclass(frozen=True, slots=True)
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    stale: _Entry | None = None  # the copy served, when the source failed
    reason: str = ""  # the failure's code, when stale
    at: float | None = None  # when the source gave the value (None: just now)


_CacheKey = tuple[str, str, str]


def _expiry(_key: Any, entry: _Entry, _now: float) -> float:
    return entry.expires


def _entry_size(entry: _Entry) -> int:
    return 96 + approximate_size(entry.value)  # the entry, its key and the record


class ReadCache:
    """Source records cached for every request of this process (and every replica, via Redis).

    Build one per process in the composition root; it holds source data only, never an answer
    computed for a caller (see the `cache` package docstring).
    """

    def __init__(
        self,
        settings: CacheSettings = CacheSettings(),
        *,
        redis_url: str | None = None,
        prefix: str = "accord:",
        sources: Mapping[System, str] = DEFAULT_SOURCES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.prefix = prefix
        self.sources = dict(sources)
        self.stats = CacheStats()
        metrics.watch(self, _cache_samples)  # read at each scrape: nothing per lookup
        # cross-references are small: a quarter of the budget, beside the records
        self.identities = Identities(settings.max_entries, settings.max_bytes // 4)
        self._clock = clock
        self._level1: SizedTLRUCache[_CacheKey, _Entry] = SizedTLRUCache(
            settings.max_entries, settings.max_bytes, _expiry, timer=clock, sizeof=_entry_size
        )
        self._level2: RedisLevel | None = None
        if redis_url:
            from cache.redis_level import RedisLevel  # the Redis client loads only when used

            self._level2 = RedisLevel(redis_url, timeout=settings.redis_timeout)
        self._flights: dict[_CacheKey, asyncio.Future[_Outcome]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._epoch = 0
        self._cleared = 0
        # key -> epoch of its last invalidation; reads in flight longer than this are rare
        self._invalidated: TTLCache[_CacheKey, int] = TTLCache(settings.max_entries, ttl=600.0)
        self._listeners: list[Callable[[list[Target] | None], None]] = []
        for name in settings.ttl_overrides:
            entity_named(name)  # an unknown name is a configuration mistake

    # ------------------------------------------------------------------ policy

    @property
    def shared(self) -> bool:
        """Whether a second level (Redis) is configured."""
        return self._level2 is not None

    def ttl(self, entity: Entity) -> float:
        """Seconds a value of ``entity`` is fresh: the registry's, unless overridden."""
        return float(self.settings.ttl_overrides.get(entity.name, entity.ttl))

    def negative_ttl(self, entity: Entity) -> float:
        return min(self.settings.negative_ttl, self.ttl(entity))

    def _fresh(self, entity: Entity, entry: _Entry, now: float) -> bool:
        ttl = self.negative_ttl(entity) if entry.missing else self.ttl(entity)
        return now - entry.at < ttl

    def _usable_stale(self, entry: _Entry | None, now: float) -> bool:
        return (
            entry is not None and not entry.missing and now - entry.at < self.settings.stale_horizon
        )

    def _entry(self, entity: Entity, value: Any, at: float) -> _Entry:
        if value is None:
            keep = self.negative_ttl(entity)
        else:
            keep = max(self.settings.stale_horizon, self.ttl(entity))
        return _Entry(value, at, at + keep)

    # ------------------------------------------------------------------ reading

    def fetcher(
        self,
        entity: Entity,
        fetch: Fetch,
        notes: StaleNotes | None = None,
        reads: ReadLog | None = None,
    ) -> Fetch:
        """``fetch`` read through the cache: the batch function of one request's loader."""

        async def cached(keys: Sequence[str]) -> Mapping[str, Any]:
            return await self.load(entity, keys, fetch, notes, reads)

        return cached

    async def load(
        self,
        entity: Entity,
        keys: Sequence[str],
        fetch: Fetch,
        notes: StaleNotes | None = None,
        reads: ReadLog | None = None,
    ) -> dict[str, Any]:
        """The values of ``keys``: a record (or list of records) for each key that exists,
        nothing for a single record the source does not have, and the `SourceError` for a key
        whose source failed with no stale copy to serve. ``reads`` learns each key answered
        and until when its value is fresh."""
        source = self.sources[entity.system]
        now = self._clock()
        found: dict[str, Any] = {}
        waiting: dict[str, asyncio.Future[_Outcome]] = {}
        mine: list[str] = []
        for key in dict.fromkeys(keys):
            ck = (source, entity.name, key)
            entry = self._level1.get(ck)
            if entry is not None and self._fresh(entity, entry, now):
                self.stats.hits += 1
                if reads is not None:
                    reads.read(ck, entry.at + self._lifetime(entity, entry.value))
                if not entry.missing:
                    found[key] = _give(entry.value)
                continue
            flight = self._flights.get(ck)
            if flight is not None:
                self.stats.coalesced += 1
                waiting[key] = flight
            else:
                mine.append(key)
        if mine:
            loop = asyncio.get_running_loop()
            futures: dict[str, asyncio.Future[_Outcome]] = {}
            for key in mine:
                futures[key] = self._flights[(source, entity.name, key)] = loop.create_future()
            task = loop.create_task(self._fly(entity, source, futures, fetch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            waiting.update(futures)
        if waiting:
            # asyncio.wait never cancels what it waits for: a request that is cancelled here
            # leaves the shared futures to the other requests waiting on them.
            await asyncio.wait(waiting.values())
        for key, future in waiting.items():
            outcome = future.result()
            if outcome.error is not None:
                if not isinstance(outcome.error, SourceError):
                    raise outcome.error
                found[key] = outcome.error
            elif outcome.stale is not None:
                found[key] = _give(outcome.value)
                if notes is not None:
                    notes.add(
                        StaleValue(
                            source,
                            entity.name,
                            key,
                            max(0.0, self._clock() - outcome.stale.at),
                            entity.fields,
                            outcome.reason,
                        )
                    )
            elif outcome.value is not None:
                found[key] = _give(outcome.value)
            if reads is not None and outcome.error is None and outcome.stale is None:
                at = outcome.at if outcome.at is not None else now
                reads.read((source, entity.name, key), at + self._lifetime(entity, outcome.value))
        return found

    def _lifetime(self, entity: Entity, value: Any) -> float:
        return self.negative_ttl(entity) if value is None else self.ttl(entity)

    async def _fly(
        self,
        entity: Entity,
        source: str,
        futures: dict[str, asyncio.Future[_Outcome]],
        fetch: Fetch,
    ) -> None:
        """Read ``futures``' keys (level 2, then the source) and settle every future."""
        started = self._epoch
        outcomes: dict[str, _Outcome] = {}
        try:
            await self._read(entity, source, list(futures), fetch, started, outcomes)
        except BaseException as exc:  # a bug or a shutdown: every waiter hears of it
            for key in futures:
                outcomes.setdefault(key, _Outcome(error=exc))
            if not isinstance(exc, Exception):
                raise
            logger.exception("cache: reading %s %s failed", source, entity.name)
        finally:
            for key, future in futures.items():
                ck = (source, entity.name, key)
                if self._flights.get(ck) is future:
                    del self._flights[ck]
                if not future.done():
                    future.set_result(outcomes.get(key) or _Outcome(error=_lost(source)))

    async def _read(
        self,
        entity: Entity,
        source: str,
        keys: list[str],
        fetch: Fetch,
        started: int,
        outcomes: dict[str, _Outcome],
    ) -> None:
        stale: dict[str, _Entry] = {}
        if self._level2 is not None:
            stored = await self._level2.get_many([self._redis_key(source, entity, k) for k in keys])
            now = self._clock()
            for key, payload in zip(keys, stored, strict=True):
                entry = self._from_redis(entity, payload)
                if entry is None:
                    continue
                if self._fresh(entity, entry, now):
                    self.stats.redis_hits += 1
                    self.identities.observe(entry.value)
                    self._remember(source, entity, key, entry, started)
                    outcomes[key] = _Outcome(value=entry.value, at=entry.at)
                elif self._usable_stale(entry, now):
                    stale[key] = entry
        remaining = [key for key in keys if key not in outcomes]
        if not remaining:
            return
        self.stats.misses += len(remaining)
        self.stats.upstream_batches += 1
        try:
            answer = await fetch(remaining)
        except SourceError as error:
            self._serve_stale(entity, source, remaining, error, stale, outcomes)
            return
        at = self._clock()
        to_redis: list[tuple[str, bytes, float]] = []
        written: list[str] = []
        for key in remaining:
            value = answer.get(key)
            if entity.many:
                value = tuple(value or ())
            self.identities.observe(value)
            entry = self._entry(entity, value, at)
            outcomes[key] = _Outcome(value=value, at=at)
            if self._remember(source, entity, key, entry, started) and self._level2 is not None:
                written.append(key)
                to_redis.append(
                    (self._redis_key(source, entity, key), _payload(entry), entry.expires - at)
                )
        if self._level2 is not None and to_redis:
            await self._level2.set_many(to_redis)
            # An invalidation that ran while the write was on its way (its DEL may have reached
            # Redis first) must not leave what was read before the change: delete it again.
            late = [
                self._redis_key(source, entity, key)
                for key in written
                if self._invalidated.get((source, entity.name, key), -1) > started
            ]
            await self._level2.delete(late)

    def _serve_stale(
        self,
        entity: Entity,
        source: str,
        keys: list[str],
        error: SourceError,
        stale: dict[str, _Entry],
        outcomes: dict[str, _Outcome],
    ) -> None:
        now = self._clock()
        for key in keys:
            copy = stale.get(key)
            local = self._level1.get((source, entity.name, key))
            newer = local is not None and (copy is None or local.at > copy.at)
            from_redis = copy is not None
            if newer and self._usable_stale(local, now):
                copy, from_redis = local, False
            if copy is not None and isinstance(error, STALE_ON):
                self.stats.stale += 1
                self.stats.stale_redis += from_redis
                outcomes[key] = _Outcome(value=copy.value, stale=copy, reason=error.code)
            else:
                self.stats.failed += 1
                outcomes[key] = _Outcome(error=error)

    def _remember(self, source: str, entity: Entity, key: str, entry: _Entry, started: int) -> bool:
        """Store in level 1 unless the key was invalidated after the read began."""
        ck = (source, entity.name, key)
        if self._cleared > started or self._invalidated.get(ck, -1) > started:
            return False
        self._level1[ck] = entry
        return True

    # ------------------------------------------------------------------ level 2 encoding

    def _redis_key(self, source: str, entity: Entity, key: str) -> str:
        tag = f"v{CODEC_VERSION}.{entity.field_set}.{shape(entity.record)}"
        return f"{self.prefix}cache:{source}:{entity.name}:{tag}:{key}"

    def _from_redis(self, entity: Entity, payload: bytes | None) -> _Entry | None:
        if payload is None:
            return None
        try:
            data = json.loads(payload)
            at = float(data["at"])
            raw = data["v"]
            if raw is None:
                value: Any = None if not entity.many else ()
            elif entity.many:
                value = tuple(decode_list(entity.record, raw))
            else:
                value = decode(entity.record, raw)
        except (ValueError, KeyError, TypeError, CodecError) as exc:
            logger.warning(
                "cache: an unreadable %s entry in Redis is ignored: %s", entity.name, exc
            )
            return None
        return self._entry(entity, value, at)

    # ------------------------------------------------------------------ invalidation

    def changes(self) -> Changes:
        """A collector of entries to drop, expanded through what this cache has learned."""
        return Changes(self.identities, self.sources)

    def on_invalidate(self, listener: Callable[[list[Target] | None], None]) -> None:
        """Call ``listener`` with the targets of every invalidation, or None when this
        process's entries were all dropped (`forget_local`): what was built from them (the
        response cache's answers) goes with them."""
        self._listeners.append(listener)

    @property
    def epoch(self) -> int:
        """A count of invalidations so far; see `changed_since`."""
        return self._epoch

    def changed_since(self, targets: Iterable[Target], epoch: int) -> bool:
        """Whether any of ``targets`` was invalidated (or everything dropped) after ``epoch``:
        an answer built from them while that happened may hold what was read before."""
        if self._cleared > epoch:
            return True
        return any(self._invalidated.get(target, -1) > epoch for target in targets)

    def _tell(self, targets: list[Target] | None) -> None:
        for listener in self._listeners:
            try:
                listener(targets)
            except Exception:
                logger.exception("cache: an invalidation listener failed")

    def forget_local(self) -> None:
        """Drop every first-level entry of this process: when it may have missed invalidations
        (its event subscription fell behind), only Redis and the sources are to be trusted."""
        self._epoch += 1
        self._cleared = self._epoch  # reads already under way do not store what they find
        self._level1.clear()
        self._flights.clear()
        self._tell(None)

    async def invalidate(self, source: str, entity: str, keys: Iterable[str]) -> None:
        """Drop entries of ``entity`` from both levels (an idempotent delete in Redis)."""
        await self.invalidate_targets([(source, entity, key) for key in keys])

    async def invalidate_targets(self, targets: Iterable[Target]) -> None:
        self._epoch += 1
        redis_keys: list[str] = []
        targets = list(targets)
        self._tell(targets)
        for source, name, key in targets:
            entity = entity_named(name)
            ck = (source, name, key)
            self._level1.pop(ck, None)
            self._flights.pop(ck, None)  # later requests start a read of their own
            self._invalidated[ck] = self._epoch
            self.stats.invalidated += 1
            redis_keys.append(self._redis_key(source, entity, key))
        if self._level2 is not None:
            await self._level2.delete(redis_keys)

    async def invalidate_event(self, event: Event) -> list[Target]:
        """Drop what ``event`` made wrong; the entries dropped. For the bus subscription."""
        targets = invalidation_for(event, self.identities, self.sources)
        await self.invalidate_targets(targets)
        return targets

    def observe(self, value: Any) -> None:
        """Learn the cross-references of a record read outside the cache (a page, a write)."""
        self.identities.observe(value)

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        if self._level2 is not None:
            await self._level2.close()


def _give(value: Any) -> Any:
    """A request's own list of a shared tuple of records; records are frozen and shared."""
    return list(value) if isinstance(value, tuple) else value


def _payload(entry: _Entry) -> bytes:
    return json.dumps(
        {"at": entry.at, "v": None if entry.value is None else encode(entry.value)},
        separators=(",", ":"),
    ).encode()


def _lost(source: str) -> SourceError:
    return SourceUnavailable(source, "the read was abandoned")


def _cache_samples(cache: ReadCache) -> Iterable[Sample]:
    """The read cache's counts for /metrics: fresh hits and stale copies served (the source
    failed) by the level that held them; misses read from the source, reads coalesced into
    another's, source failures with no copy to serve (level "source"); invalidations."""
    stats = cache.stats
    lookups = "Read-cache lookups by level and result (each key of a batch counts once)."
    for level, result, value in (
        ("memory", "hit", stats.hits),
        ("redis", "hit", stats.redis_hits),
        ("source", "miss", stats.misses),
        ("source", "coalesced", stats.coalesced),
        ("memory", "stale", stats.stale - stats.stale_redis),
        ("redis", "stale", stats.stale_redis),
        ("source", "failed", stats.failed),
    ):
        yield Sample(
            "accord_cache_lookups_total",
            "counter",
            lookups,
            {"level": level, "result": result},
            float(value),
        )
    yield Sample(
        "accord_cache_invalidations_total",
        "counter",
        "Cached entries dropped because a write or an event changed them.",
        {},
        float(stats.invalidated),
    )
