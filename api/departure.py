"""Ending long-lived streams when the server stops.

An event stream or a WebSocket subscription never ends by itself, so a stopping server would
otherwise wait out its whole grace period for them and then cut them off. `Departure` is
announced once, when stopping starts (before the server waits for open connections): each
server-sent event stream then ends with a going-away comment, and each WebSocket connection
is closed with 1001 (going away), so that clients reconnect, through the load balancer, to a
replica that stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

__all__ = ["Departure"]

logger = logging.getLogger("accord.departure")

T = TypeVar("T")


class Departure:
    """Told once that the server stops; what holds a connection open listens for it."""

    def __init__(self) -> None:
        self._announced = asyncio.Event()
        self._held = 0
        self._released = asyncio.Event()
        self._released.set()

    @property
    def announced(self) -> bool:
        return self._announced.is_set()

    async def wait(self) -> None:
        """Return once the departure is announced."""
        await self._announced.wait()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Count a connection as open while the block runs: `announce` waits for it."""
        self._held += 1
        self._released.clear()
        try:
            yield
        finally:
            self._held -= 1
            if self._held == 0:
                self._released.set()

    async def announce(self, within: float = 5.0) -> None:
        """Tell every listener the server stops, and wait up to ``within`` seconds for the
        connections held open to close."""
        self._announced.set()
        try:
            await asyncio.wait_for(self._released.wait(), within)
        except TimeoutError:
            logger.warning(
                "stopping: %d connection(s) still open %.0f seconds after being told to go; "
                "the server closes them",
                self._held,
                within,
            )

    async def until_announced(self, stream: AsyncIterator[T]) -> AsyncIterator[T]:
        """The items of ``stream`` until it ends or the departure is announced; an item being
        awaited then is abandoned (its wait is cancelled)."""
        if self.announced:
            return
        stop = asyncio.ensure_future(self._announced.wait())
        step: asyncio.Future[T] | None = None
        try:
            while True:
                step = asyncio.ensure_future(_next(stream))
                await asyncio.wait((step, stop), return_when=asyncio.FIRST_COMPLETED)
                if not step.done():
                    return
                try:
                    item = step.result()
                except StopAsyncIteration:
                    return
                step = None
                yield item
        finally:
            for pending in (step, stop):
                if pending is not None and not pending.done():
                    pending.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await pending


async def _next(stream: AsyncIterator[T]) -> T:
    return await stream.__anext__()
