"""Each caller's cost budget per minute: the sum of the costs of its operations in a minute.

The count is kept in the state backend: in Redis when Accord shares state (so every replica
charges the same budget), in the process otherwise. A window is a calendar minute (a fixed
window: a caller may spend up to twice its budget across the turn of a minute, never more).
An operation that would take the caller over its budget is refused, with the seconds until
the next window as ``retry_after``, and costs nothing.

When the backend is shared (Redis), a process does not ask it on every operation: it takes
a lease of ``per_minute / 50`` units of a caller's budget at a time (or the operation's cost,
if larger) and spends it locally, asking again when the lease runs short. Leases come out of
the shared count, so the replicas together never spend more than the budget; what they may
do is refuse an operation while another replica still holds unspent units (at most one
lease each, 2 % of the budget), and lose a lease's rest when the minute turns. The
embedded memory backend counts every operation, as before. A lease also makes the budget
cost one Redis round trip per some thousands of operations instead of one per operation.

When the backend cannot be reached the operation is served uncharged (and the fact logged):
an outage of the shared store must not take reads down with it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache

from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.budget")

WINDOW = 60.0
KEY_PREFIX = "budget:"
LEASE_PARTS = 50  # a lease of a shared budget is this fraction of it
LEASED_CALLERS = 10_000  # callers whose leases a process keeps (the least recent dropped)


class BudgetExceeded(Exception):
    """The caller has spent its budget for this minute."""

    def __init__(self, retry_after: int, per_minute: int) -> None:
        super().__init__(f"the cost budget of {per_minute} per minute is spent")
        self.retry_after = retry_after
        self.per_minute = per_minute


@dataclass(frozen=True)
class Charge:
    """What a charge left: the budget, what remains of it, and when it renews."""

    per_minute: int
    remaining: int
    resets_in: int

    def headers(self) -> dict[str, str]:
        """The budget as ``RateLimit-*`` response headers (IETF httpapi draft)."""
        return {
            "RateLimit-Limit": str(self.per_minute),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-Reset": str(self.resets_in),
        }


class _Lease:
    """Units of one caller's budget for one window, taken from the shared count."""

    __slots__ = ("asking", "left", "seen", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.asking: asyncio.Future[None] | None = None  # a request for more, under way
        self.left = 0  # taken and not spent yet
        self.seen = 0  # the shared count when last asked, at most the budget


class CostBudget:
    def __init__(
        self,
        backend: StateBackend,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``per_minute`` 0 turns budgets off."""
        self.backend = backend
        self.per_minute = per_minute
        self.clock = clock
        # a shared backend is asked for leases; the embedded one counts each operation
        self.lease = per_minute // LEASE_PARTS if backend.name != "memory" else 0
        self._leases: LRUCache[str, _Lease] = LRUCache(LEASED_CALLERS)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def charge(self, caller: str, cost: int) -> Charge | None:
        """Take ``cost`` from ``caller``'s budget for this minute; raises `BudgetExceeded`
        when it does not fit. None when budgets are off or the backend is unreachable."""
        if not self.enabled:
            return None
        now = self.clock()
        window = math.floor(now / WINDOW)
        resets_in = max(1, math.ceil((window + 1) * WINDOW - now))
        lease = self._leases.get(caller)
        if lease is None or lease.window != window:
            lease = self._leases[caller] = _Lease(window)
        if lease.left < cost:
            try:
                await self._ensure(lease, caller, cost)
            except StateError as exc:
                logger.warning("cost budget not charged (%s): %s", caller, exc)
                return None
            if lease.left < cost:
                raise BudgetExceeded(resets_in, self.per_minute)
        lease.left -= cost
        return Charge(self.per_minute, self.per_minute - lease.seen + lease.left, resets_in)

    async def _ensure(self, lease: _Lease, caller: str, cost: int) -> None:
        """Ask the backend for more units until ``cost`` fits or the budget says no, one
        request per lease at a time: operations short while another asks (a burst of them at
        once) wait for its answer and ask themselves only if still short, so that a burst
        does not lease a whole minute's budget to one replica."""
        if not self.lease:  # the embedded backend: each operation counted, in one step
            await self._extend(lease, caller, cost)
            return
        while lease.left < cost:
            asking = lease.asking
            if asking is not None and not asking.done():
                await asyncio.shield(asking)
                continue
            asking = lease.asking = asyncio.ensure_future(self._extend(lease, caller, cost))
            await asyncio.shield(asking)
            return  # its own answer: the cost fits now, or the budget is spent

    async def _extend(self, lease: _Lease, caller: str, cost: int) -> None:
        """Take more units into ``lease``: enough for ``cost``, a whole lease when it fits,
        never past the budget (units over it are given back at once)."""
        try:
            want = max(cost - lease.left, self.lease)
            key = f"{KEY_PREFIX}{caller}:{lease.window}"
            total = await self.backend.incr(key, want, ttl=2 * WINDOW)
            over = max(0, total - self.per_minute)
            if over:
                await self.backend.incr(key, -min(over, want))  # a refused one costs nothing
            lease.left += max(0, want - over)
            lease.seen = max(lease.seen, min(total, self.per_minute))
        finally:
            lease.asking = None  # before the waiters wake: the next one short asks anew
