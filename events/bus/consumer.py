"""What both buses share about consumer groups: the handler type, dead letters and waiting.

A group sees every entry of the log; each entry is handed to one of its consumers and stays
pending until the handler returns. A pending entry idle for `BusOptions.claim_idle` (its
consumer died, or its handler raised) is claimed by the next consumer that looks; after
`BusOptions.max_deliveries` deliveries it is moved to the group's dead letters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from events.model import Event

__all__ = [
    "DeadLetter",
    "Handler",
    "check_names",
    "describe_failure",
    "gave_up_reason",
    "unacknowledged_reason",
    "wait_any",
]

Handler = Callable[[Event], Awaitable[None]]
"""Handles one event; must be idempotent (keyed by ``event.id``): delivery is at least once."""

_FAILURE_SHOWN = 500


class DeadLetter(NamedTuple):
    """An entry a consumer group gave up on: its log id, its event (None when the entry
    did not decode) and why."""

    entry_id: str
    event: Event | None
    reason: str


def check_names(group: str, consumer: str) -> None:
    if not group or not consumer:
        raise ValueError("a consumer group and a consumer need non-empty names")


def describe_failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:_FAILURE_SHOWN]


def gave_up_reason(deliveries: int, failure: str) -> str:
    """Why an entry whose handler raised on its last allowed delivery is dead-lettered."""
    return f"handler failed on delivery {deliveries}, the last allowed: {failure}"


def unacknowledged_reason(deliveries: int, failure: str | None) -> str:
    """Why an entry claimed once more than allowed is dead-lettered without running."""
    last = failure or "none recorded (its consumers stopped or died while handling it)"
    return f"not acknowledged after {deliveries} deliveries; last error: {last}"


async def wait_any(
    events: list[asyncio.Event],
    at_most: float | None,
    *,
    wakeup: asyncio.Future[Any] | None = None,
) -> None:
    """Until one of `events` is set, `wakeup` is done, or `at_most` seconds pass (None: no
    limit). `events` must stay set once set (they are watched from tasks that start later);
    an edge-triggered signal goes in `wakeup`, a future taken before the caller yields."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events if not event.is_set()]
    if len(waiters) < len(events):
        for waiter in waiters:
            waiter.cancel()
        if waiters:
            await asyncio.wait(waiters)
        return
    watched: list[asyncio.Future[Any]] = [*waiters, *([wakeup] if wakeup is not None else [])]
    if not watched:
        await asyncio.sleep(at_most or 0)
        return
    try:
        await asyncio.wait(watched, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        if waiters:
            await asyncio.wait(waiters)
