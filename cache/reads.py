"""Per request: which cached records an answer was built from, and until when each is fresh.

The request's context holds one `ReadLog`; the read cache adds each key it answers, as the
same (source, entity, key) target its invalidation drops, with the moment the value stops
being fresh. A value the request got another way (a page read past the cache, a record read
live) makes the log ``untracked``: what the answer depends on is then not known in full.

The response cache (`api.response_cache`) keeps an answer only when its log is tracked, tags
it with the log's targets and lets it live no longer than its least fresh value.
"""

from __future__ import annotations

from cache.invalidation import Target

__all__ = ["ReadLog"]


class ReadLog:
    """The targets one request read through the cache, and the earliest end of freshness."""

    __slots__ = ("epoch", "fresh_until", "targets", "untracked")

    def __init__(self, epoch: int = 0) -> None:
        self.targets: set[Target] = set()
        self.fresh_until = float("inf")
        self.untracked = False
        self.epoch = epoch  # the cache's invalidation count when the request began

    def read(self, target: Target, fresh_until: float) -> None:
        self.targets.add(target)
        if fresh_until < self.fresh_until:
            self.fresh_until = fresh_until

    def read_untracked(self) -> None:
        self.untracked = True
