"""Per request: which cached records an answer was built from, and until when each is fresh.

The request's context holds one `ReadLog`; the read cache adds each key it answers, as the
same (source, entity, key) target its invalidation drops, with the moment the value stops
being fresh. A value the request got another way (a page read past the cache, a record read
live) makes the log ``untracked``: what the answer depends on is then not known in full.

The response cache (`api.response_cache`) keeps an answer only when its log is tracked, tags
it with the log's targets and lets it live no longer than its least fresh value.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from cache.invalidation import Target

__all__ = ["ReadLog"]


_NOTHING: frozenset[Target] = frozenset()


class ReadLog:
    """The targets one request read through the cache, and the earliest end of freshness."""

    __slots__ = ("_targets", "epoch", "fresh_until", "untracked")

    def __init__(self, epoch: int = 0) -> None:
        self._targets: set[Target] | None = None  # made at the first read: most hold none
        self.fresh_until = float("inf")
        self.untracked = False
        self.epoch = epoch  # the cache's invalidation count when the request began

    @property
    def targets(self) -> AbstractSet[Target]:
        return _NOTHING if self._targets is None else self._targets

    def read(self, target: Target, fresh_until: float) -> None:
        if self._targets is None:
            self._targets = set()
        self._targets.add(target)
        if fresh_until < self.fresh_until:
            self.fresh_until = fresh_until

    def read_untracked(self) -> None:
        self.untracked = True
