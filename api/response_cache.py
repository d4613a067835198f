"""Whole answers to persisted and registered queries, kept per caller access until the records
they were built from change.

The Lightning component asks the same credit query for the same accounts thousands of times
a day, by its hash. Once such an answer is computed, the next caller who may see exactly the
same fields gets it without running the query again. Safety comes from four rules:

1. **Keyed by access, never shared across it.** The key is the document's hash, the
   operation, the variables and the caller's *access*: the row of `schema.access.READ_RULES`
   for the caller's role (and whether it may read upstream text). Two roles with the same row
   see the same answer to the same query, so they share; roles that see different fields
   (anonymous callers, analytics with masked text) never do.
2. **Dropped with the records it holds.** An answer is kept only when every value in it came
   through the read cache (its request's `cache.reads.ReadLog` is tracked: no page read past
   the cache, no live read), and it is tagged with the same (source, entity, key) targets the
   read cache keeps. Whatever drops one of those targets from the read cache — an event on the
   bus, a write through Accord, a replica falling behind its events — drops the answer too
   (`ReadCache.on_invalidate`). An answer whose records were invalidated while it was being
   computed is not kept.
3. **Never older than its fields allow.** It lives until its least fresh record would stop
   being fresh in the read cache, and no longer than the shortest TTL class (registry) of the
   fields the operation selects.
4. **Clean answers of cacheable operations only.** Queries whose root fields look one object
   up (`customer`, `order`, `invoice`, `payment`), answered without errors and with nothing
   served stale. Lists are read as pages past the cache and are not kept.

The same plan gives GET requests for persisted queries their ``Cache-Control``: ``max-age``
as above, ``public`` only when every field selected is read alike by every caller (anonymous
included), ``private`` otherwise.

The answers are kept in this process (bounded by entries and bytes); each replica drops its
own on the events it receives, as it does its records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)

from cache.bounded import SizedTLRUCache, approximate_size
from cache.invalidation import Target
from cache.reads import ReadLog
from domain.ownership import REGISTRY, Classification, Role
from schema.access import (
    READ_RULES,
    Access,
    classification_of,
    may_read_upstream_text,
    quotes_upstream,
    rule,
)

__all__ = [
    "CACHEABLE_ROOTS",
    "CachedAnswer",
    "ResponseCache",
    "ResponseCacheSettings",
    "ResponsePlan",
    "access_of",
    "plan_of",
]

# Root fields that look one object up through the loaders (and so through the read cache).
CACHEABLE_ROOTS = frozenset({"customer", "order", "invoice", "payment", "__typename"})
_ROLES: tuple[Role | None, ...] = (None, *Role)


@dataclass(frozen=True)
class ResponseCacheSettings:
    enabled: bool = True
    max_entries: int = 10_000
    max_bytes: int = 32 * 2**20


@dataclass(frozen=True)
class ResponsePlan:
    """What an operation's answers may be: kept (``cacheable``), for at most ``ttl`` seconds
    (the shortest TTL class of its registry fields), and shown to anyone (``public``)."""

    cacheable: bool
    ttl: float
    public: bool


def plan_of(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode
) -> ResponsePlan:
    """The plan of ``operation``: computed once per document (it walks the selections)."""
    paths: set[str] = set()
    info = TypeInfo(schema)

    class Fields(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = info.get_parent_type()
            if parent is not None:
                paths.add(f"{parent.name}.{node.name.value}")

    # The operation and every fragment of the document: a superset of what it selects.
    for definition in document.definitions:
        if definition is operation or not isinstance(definition, OperationDefinitionNode):
            visit(definition, TypeInfoVisitor(info, Fields()))
    query = schema.query_type
    roots = {
        node.name.value
        for node in operation.selection_set.selections
        if isinstance(node, FieldNode)
    }
    cacheable = (
        operation.operation is OperationType.QUERY
        and query is not None
        and len(roots) == len(operation.selection_set.selections)  # no fragments at the root
        and roots <= CACHEABLE_ROOTS
    )
    ttls = [REGISTRY[path].ttl.seconds for path in paths if path in REGISTRY]
    classes = {c for c in (classification_of(path) for path in paths) if c is not None}
    public = not any(quotes_upstream(path) for path in paths) and all(
        rule(c, role) is Access.ALLOW for c in classes for role in _ROLES
    )
    return ResponsePlan(cacheable, float(min(ttls)) if ttls else float("inf"), public)


def access_of(role: Role | None) -> Hashable:
    """What a caller of ``role`` may see: its row of the read rules, and upstream text."""
    return (tuple(READ_RULES[c][role] for c in Classification), may_read_upstream_text(role))


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    result: ExecutionResult
    expires: float  # clock seconds
    targets: frozenset[Target]
    size: int = 0
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False)  # by media type

    def max_age(self, now: float) -> int:
        return max(0, int(self.expires - now))


def _expiry(_key: Any, answer: CachedAnswer, _now: float) -> float:
    return answer.expires


def _size(answer: CachedAnswer) -> int:
    return answer.size


class ResponseCache:
    """Answers by (document hash, operation, variables, access); see the module docstring."""

    def __init__(
        self,
        settings: ResponseCacheSettings = ResponseCacheSettings(),
        *,
        clock: Callable[[], float] = time.time,
        changed_since: Callable[[frozenset[Target], int], bool] | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._changed_since = changed_since
        self._answers: SizedTLRUCache[Hashable, CachedAnswer] = SizedTLRUCache(
            settings.max_entries, settings.max_bytes, _expiry, timer=clock, sizeof=_size
        )
        self._by_target: dict[Target, set[Hashable]] = {}
        self.hits = 0
        self.stored = 0
        self.dropped = 0

    @staticmethod
    def key(
        document_hash: str,
        operation: str | None,
        variables: Mapping[str, Any] | None,
        role: Role | None,
    ) -> Hashable:
        values = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"), default=str)
        return (document_hash, operation, values, access_of(role))

    def now(self) -> float:
        return self._clock()

    def get(self, key: Hashable) -> CachedAnswer | None:
        answer = self._answers.get(key)
        if answer is None:
            return None
        if answer.expires <= self._clock():
            self._answers.pop(key, None)
            return None
        self.hits += 1
        return answer

    def lifetime(self, plan: ResponsePlan, reads: ReadLog) -> float:
        """Seconds an answer built from ``reads`` may be kept (0: not at all)."""
        now = self._clock()
        return max(0.0, min(plan.ttl, reads.fresh_until - now))

    def put(
        self, key: Hashable, result: ExecutionResult, plan: ResponsePlan, reads: ReadLog
    ) -> CachedAnswer | None:
        """Keep ``result`` when ``plan`` and ``reads`` allow; the entry kept, if any."""
        if not plan.cacheable or reads.untracked or not reads.targets:
            return None
        targets = frozenset(reads.targets)
        if self._changed_since is not None and self._changed_since(targets, reads.epoch):
            return None  # a record it holds changed while it was computed
        lifetime = self.lifetime(plan, reads)
        if lifetime <= 0:
            return None
        size = 200 + approximate_size(result.data) + 64 * len(targets)
        answer = CachedAnswer(result, self._clock() + lifetime, targets, size)
        self._answers[key] = answer
        for target in targets:
            self._by_target.setdefault(target, set()).add(key)
        self.stored += 1
        if len(self._by_target) > 4 * max(1, len(self._answers)) + 1000:
            self._reindex()
        return answer

    def invalidated(self, targets: list[Target] | None) -> None:
        """The read cache dropped ``targets`` (None: everything of this process)."""
        if targets is None:
            self.dropped += len(self._answers)
            self._answers.clear()
            self._by_target.clear()
            return
        for target in targets:
            for key in self._by_target.pop(target, ()):
                if self._answers.pop(key, None) is not None:
                    self.dropped += 1

    def clear(self) -> None:
        self.invalidated(None)

    def _reindex(self) -> None:
        """Forget the tags of answers the LRU let go of."""
        index: dict[Target, set[Hashable]] = {}
        for key, answer in list(self._answers.items()):
            for target in answer.targets:
                index.setdefault(target, set()).add(key)
        self._by_target = index

    def __len__(self) -> int:
        return len(self._answers)
