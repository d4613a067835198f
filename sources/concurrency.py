"""How many requests a source may have in flight at once, counted across every replica.

NetSuite limits the requests an *account* has in flight at once (15 on a standard account,
more with SuiteCloud Plus licences) and refuses the next one with 429; two replicas each
keeping under the limit on their own can still exceed it together. So the NetSuite client
takes a slot of a `ConcurrencyBudget` around each request: with Redis configured the budget
is shared by every replica (`state.budget.RedisBudget`), otherwise it is this process's
(`LocalBudget`). A request waiting for a slot counts against its attempt's timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

__all__ = ["ConcurrencyBudget", "LocalBudget"]


class ConcurrencyBudget(Protocol):
    limit: int

    def slot(self) -> AbstractAsyncContextManager[None]:
        """Hold one of ``limit`` slots for the duration of the block (waiting for one)."""


class LocalBudget:
    """A budget of this process alone."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a concurrency budget needs at least one slot")
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            yield
