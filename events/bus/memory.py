"""The bus in one process: the embedded default, with the Redis bus's semantics.

The log is a bounded deque of (id, event), ids ``"<ms>-<seq>"`` as Redis makes them. Each
consumer group keeps, as a Redis group does, the position of the next entry to hand out and
its pending entries (handed out, not acknowledged) with their consumer, time and delivery
count. Nothing here awaits inside a step, so asyncio cannot interleave two of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from events.bus.codec import decode_event, encode_event
from events.bus.consumer import (
    DeadLetter,
    Handler,
    check_names,
    describe_failure,
    gave_up_reason,
    unacknowledged_reason,
    wait_any,
)
from events.bus.errors import BusClosed
from events.bus.fanout import FanOut, Subscription
from events.bus.instruments import dead_lettered, delivered, published
from events.bus.options import BusOptions
from events.model import Event

__all__ = ["MemoryBus"]

logger = logging.getLogger("accord.events.bus")


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float
    deliveries: int
    entry_id: str
    event: Event
    failure: str | None = None


@dataclass(slots=True)
class _Group:
    next_seq: int
    """Sequence number (see `MemoryBus._first_seq`) of the next entry to hand out."""
    pending: dict[int, _Pending] = field(default_factory=dict)
    dead: deque[DeadLetter] = field(default_factory=deque)


class MemoryBus:
    """The event bus of a single process; see `events.bus.Bus` for the contract."""

    name: str = "memory"

    def __init__(
        self,
        *,
        options: BusOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.options = options or BusOptions()
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._log: deque[tuple[str, Event]] = deque()
        self._first_seq = 0
        """Sequence number of ``_log[0]``: entries are numbered from 0 as published."""
        self._last = (0, 0)
        self._groups: dict[str, _Group] = {}
        self._fanout = FanOut(self.options.subscriber_queue)
        self._activity: asyncio.Future[None] | None = None
        """Done when an entry is published or the bus closes; consumers wait on it."""
        self._closing = asyncio.Event()
        self._closed = False
        self._consumers = 0
        self._no_consumers = asyncio.Event()
        self._no_consumers.set()

    @property
    def subscribers(self) -> int:
        return len(self._fanout)

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("the event bus is closed")

    def _pulse(self) -> None:
        if self._activity is not None and not self._activity.done():
            self._activity.set_result(None)
        self._activity = None

    def _next_activity(self) -> asyncio.Future[None]:
        if self._activity is None:
            self._activity = asyncio.get_running_loop().create_future()
        return self._activity

    async def start(self) -> None:
        self._check_open()

    async def publish(self, event: Event) -> str:
        self._check_open()
        # Stored as it would come back from Redis: checked as JSON, normalised the same way.
        stored = decode_event(encode_event(event))
        now = self._wall_clock_ms()
        last_ms, last_seq = self._last
        self._last = (now, 0) if now > last_ms else (last_ms, last_seq + 1)
        entry_id = f"{self._last[0]}-{self._last[1]}"
        self._log.append((entry_id, stored))
        while len(self._log) > self.options.max_length:
            self._log.popleft()
            self._first_seq += 1
        self._fanout.deliver(entry_id, stored)
        self._pulse()
        published(stored)
        return entry_id

    async def log_length(self) -> int:
        self._check_open()
        return len(self._log)

    def subscribe(self, *, from_now: bool = True) -> Subscription:
        self._check_open()
        mailbox = self._fanout.open()
        backlog = None if from_now else _replay([event for _, event in self._log])
        return Subscription(self._fanout, mailbox, backlog)

    # -- consumer groups --------------------------------------------------------------------

    def _group(self, name: str, from_now: bool) -> _Group:
        group = self._groups.get(name)
        if group is None:
            start = self._first_seq + len(self._log) if from_now else self._first_seq
            group = self._groups[name] = _Group(next_seq=start)
        return group

    async def create_group(self, group: str, *, from_now: bool = False) -> None:
        self._check_open()
        check_names(group, "-")
        self._group(group, from_now)

    async def consume(
        self,
        group: str,
        consumer: str,
        handler: Handler,
        *,
        stop: asyncio.Event | None = None,
        from_now: bool = False,
    ) -> None:
        self._check_open()
        check_names(group, consumer)
        state = self._group(group, from_now)
        self._consumers += 1
        self._no_consumers.clear()
        try:
            while not self._closed and not (stop is not None and stop.is_set()):
                seq = self._claim(group, state, consumer)
                if seq is None:
                    seq = self._take_next(state, consumer)
                if seq is None:
                    await self._idle(state, stop)
                    continue
                await self._process(group, state, seq, handler)
        finally:
            self._consumers -= 1
            if self._consumers == 0:
                self._no_consumers.set()

    def _claim(self, group: str, state: _Group, consumer: str) -> int | None:
        """The oldest pending entry idle for `claim_idle`, now this consumer's; None if none."""
        now = self._clock()
        for seq, pending in list(state.pending.items()):
            if now - pending.delivered_at < self.options.claim_idle:
                continue
            if seq < self._first_seq:
                del state.pending[seq]  # trimmed from the log before anyone acknowledged it
                logger.warning(
                    "event-bus group %r lost pending entry %s: trimmed from the log",
                    group,
                    pending.entry_id,
                )
                continue
            pending.consumer = consumer
            pending.delivered_at = now
            pending.deliveries += 1
            return seq
        return None

    def _take_next(self, state: _Group, consumer: str) -> int | None:
        state.next_seq = max(state.next_seq, self._first_seq)
        index = state.next_seq - self._first_seq
        if index >= len(self._log):
            return None
        entry_id, event = self._log[index]
        seq = state.next_seq
        state.next_seq += 1
        state.pending[seq] = _Pending(consumer, self._clock(), 1, entry_id, event)
        return seq

    async def _idle(self, state: _Group, stop: asyncio.Event | None) -> None:
        """Until something is published, a pending entry becomes claimable, or we must stop."""
        timeout = None
        if state.pending:
            oldest = min(pending.delivered_at for pending in state.pending.values())
            timeout = max(0.0, oldest + self.options.claim_idle - self._clock())
        await wait_any(
            [self._closing, *([stop] if stop is not None else [])],
            timeout,
            wakeup=self._next_activity(),
        )

    async def _process(self, group: str, state: _Group, seq: int, handler: Handler) -> None:
        pending = state.pending[seq]
        limit = self.options.max_deliveries
        if pending.deliveries > limit:
            self._bury(group, state, seq, unacknowledged_reason(limit, pending.failure))
            return
        delivered(group, pending.event)
        try:
            await handler(pending.event)
        except Exception as exc:
            pending.failure = describe_failure(exc)
            logger.warning(
                "event-bus group %r: handler failed on %s (delivery %d of %d)",
                group,
                pending.entry_id,
                pending.deliveries,
                limit,
                exc_info=True,
            )
            if pending.deliveries >= limit and seq in state.pending:
                self._bury(group, state, seq, gave_up_reason(pending.deliveries, pending.failure))
            return
        state.pending.pop(seq, None)

    def _bury(self, group: str, state: _Group, seq: int, reason: str) -> None:
        pending = state.pending.pop(seq)
        state.dead.append(DeadLetter(pending.entry_id, pending.event, reason))
        while len(state.dead) > self.options.dead_letter_max_length:
            state.dead.popleft()
        logger.error("event-bus entry %s dead-lettered: %s", pending.entry_id, reason)
        dead_lettered(group)

    async def dead_letters(self, group: str, limit: int = 100) -> list[DeadLetter]:
        self._check_open()
        state = self._groups.get(group)
        if state is None or limit <= 0:
            return []
        return list(reversed(state.dead))[:limit]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._fanout.close()
        self._pulse()
        try:
            await asyncio.wait_for(self._no_consumers.wait(), self.options.close_timeout)
        except TimeoutError:
            logger.warning("event bus closed while handlers were still running")


async def _replay(events: list[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event
