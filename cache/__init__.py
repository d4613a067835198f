"""The read cache: source records kept between requests, in this process and in Redis.

Why a package of its own: the cache sits between the read and write paths and the sources.
The read path's loaders read through it (`resolvers.loaders`), the write path's ports drop
what each write changes (`cache.writes`), and the event bus drops what each event changes
(`ReadCache.invalidate_event`); it belongs to none of ``resolvers/``, ``mutations/`` or
``sources/``, and imports only ``sources/``, ``events/model`` and the ownership registry.

Modules: `read_cache` (`ReadCache`: two levels, single flight, stale on error), `entities`
(what is cached and its TTL from the registry), `codec` (records as exact JSON for Redis),
`redis_level` (the Redis level), `invalidation` (which entries a change or an event makes
wrong), `identities` (cross-references learned for invalidation), `stale` (the per-request
record behind ``extensions.stale``), `writes` (ports that invalidate after each write).
docs/caching.md describes the whole.

**Caller safety — the rule.** The cache holds what the *sources* said, keyed by source,
entity and key: canonical records, never a GraphQL answer, never anything computed for, or
filtered by, a caller. Authentication, anonymous-read policy and every role check run on each
request, after and independently of the cache, so one caller's view can never be served to
another. Anything that would make a cached value depend on who asked (a per-role projection, a
rendered response, a field dropped for a role) must not be cached here.
"""

from __future__ import annotations

from cache.entities import ENTITIES, Entity, entity_named
from cache.invalidation import Changes, Target, invalidation_for
from cache.read_cache import CacheSettings, CacheStats, ReadCache
from cache.stale import StaleNotes, StaleValue
from cache.writes import InvalidatingCrm, InvalidatingErp

__all__ = [
    "ENTITIES",
    "CacheSettings",
    "CacheStats",
    "Changes",
    "Entity",
    "InvalidatingCrm",
    "InvalidatingErp",
    "ReadCache",
    "StaleNotes",
    "StaleValue",
    "Target",
    "entity_named",
    "invalidation_for",
]
