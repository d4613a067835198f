"""Shared state: the few storage primitives Accord's replicas must agree on.

This concern fits none of the other folders. `sources/` talks to the systems Accord fronts,
`events/` moves canonical events, `mutations/` decides what to write; but idempotency
records, persisted workflows, dead letters, the audit trail, bus watermarks and shared caches
all need the same thing underneath: keys with TTLs, atomic compare-and-set, counters, ordered
indexes, append-only logs and leases, with the same semantics whether Accord runs embedded
(one process, state in memory) or as several replicas sharing Redis (``ACCORD_REDIS_URL``).

`state.backend.StateBackend` is that contract, `state.backend.open_backend` picks the
implementation (`state.memory_backend.MemoryBackend` or `state.redis_backend.RedisBackend`),
and the stores built on it (`state.idempotency.IdempotencyStore`, ...) are written once over
the contract. docs/state.md describes the key layout in Redis and the TTLs.
"""
