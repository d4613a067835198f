"""Each caller's cost budget per minute: the sum of the costs of its operations in a minute.

The count is kept in the state backend: in Redis when Accord shares state (so every replica
charges the same budget), in the process otherwise. A window is a calendar minute (a fixed
window: a caller may spend up to twice its budget across the turn of a minute, never more).
An operation that would take the caller over its budget is refused, with the seconds until
the next window as ``retry_after``, and costs nothing.

When the backend cannot be reached the operation is served uncharged (and the fact logged):
an outage of the shared store must not take reads down with it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from state.backend import StateBackend
from state.errors import StateError

logger = logging.getLogger("accord.budget")

WINDOW = 60.0
KEY_PREFIX = "budget:"


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
        key = f"{KEY_PREFIX}{caller}:{window}"
        try:
            spent = await self.backend.incr(key, cost, ttl=2 * WINDOW)
            if spent > self.per_minute:
                if cost:
                    await self.backend.incr(key, -cost)  # a refused operation costs nothing
                raise BudgetExceeded(resets_in, self.per_minute)
        except StateError as exc:
            logger.warning("cost budget not charged (%s): %s", caller, exc)
            return None
        return Charge(self.per_minute, self.per_minute - spent, resets_in)
