"""In-process fan-out: every subscriber of this process gets every event, in log order.

One `FanOut` per bus. The bus hands it each event once, as it appears in the log (memory:
as it is published; Redis: as the process's one reader task reads it), and the fan-out puts
it in every subscriber's `Mailbox` without waiting. A mailbox is bounded: a subscriber that
falls `limit` events behind is dropped, and its iterator raises `SubscriberOverflow` once it
has yielded what it was given, so no one ever sees a silent gap and no one slows the others.

The fan-out holds mailboxes weakly: a `Subscription` left behind without `aclose` (a
``break`` out of ``async for``) is collected, and so is its mailbox.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator

from events.bus.errors import SubscriberOverflow
from events.bus.instruments import SUBSCRIBER, delivered
from events.model import Event
from state.codec import LogId, parse_log_id

__all__ = ["FanOut", "Mailbox", "Subscription", "later"]

logger = logging.getLogger("accord.events.bus")


def later(one: str | None, other: str | None) -> str | None:
    """The greater of two log ids (None counts as less than any)."""
    if one is None or other is None:
        return other if one is None else one
    return one if parse_log_id(one) >= parse_log_id(other) else other


class Mailbox:
    """The events waiting for one subscriber."""

    __slots__ = (
        "__weakref__",
        "_after",
        "_waiter",
        "ended",
        "events",
        "limit",
        "overflowed",
        "start_after",
    )

    def __init__(self, limit: int, start_after: str | None) -> None:
        # made at the first event: an empty deque is half a kilobyte, and most subscribers
        # wait far longer than they hold anything
        self.events: deque[Event] | None = None
        self.limit = limit
        self.start_after: str | None = None
        """The last log id before this subscriber's first event; None until the bus knows."""
        self._after: LogId = (0, 0)
        self.begin_after(start_after)
        self.overflowed = False
        self.ended = False
        self._waiter: asyncio.Future[None] | None = None

    def begin_after(self, entry_id: str | None) -> None:
        """Take nothing up to `entry_id` (or up to where it already begins, if later)."""
        self.start_after = later(self.start_after, entry_id)
        if self.start_after is not None:
            self._after = parse_log_id(self.start_after)

    def put(self, entry: LogId, event: Event) -> bool:
        """Queue `event` unless it comes before this subscriber's start; False (and the
        mailbox overflowed) when it is full."""
        if entry <= self._after:
            return True
        if self.events is None:
            self.events = deque()
        elif len(self.events) >= self.limit:
            self.overflowed = True
            self._wake()
            return False
        self.events.append(event)
        self._wake()
        return True

    def end(self) -> None:
        self.ended = True
        self._wake()

    async def wait(self) -> None:
        """Until something is put, or the mailbox overflows or ends."""
        if self._waiter is None or self._waiter.done():
            self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class FanOut:
    """The subscribers of one bus in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._mailboxes: weakref.WeakSet[Mailbox] = weakref.WeakSet()
        self._closed = False

    def __len__(self) -> int:
        return len(self._mailboxes)

    def open(self, start_after: str | None = None) -> Mailbox:
        mailbox = Mailbox(self.limit, start_after)
        if self._closed:
            mailbox.end()
        else:
            self._mailboxes.add(mailbox)
        return mailbox

    def remove(self, mailbox: Mailbox) -> None:
        self._mailboxes.discard(mailbox)

    def position(self, entry_id: str) -> None:
        """The bus starts following the log after `entry_id`: no subscription begins earlier."""
        for mailbox in list(self._mailboxes):
            mailbox.begin_after(entry_id)

    def deliver(self, entry_id: str, event: Event) -> None:
        entry = parse_log_id(entry_id)
        for mailbox in list(self._mailboxes):
            if not mailbox.put(entry, event):
                self._mailboxes.discard(mailbox)
                logger.warning(
                    "dropped an event-bus subscriber that fell %d events behind", self.limit
                )

    def close(self) -> None:
        """End every subscription: their iterators finish after what they hold."""
        self._closed = True
        for mailbox in list(self._mailboxes):
            mailbox.end()
        self._mailboxes = weakref.WeakSet()


class Subscription(AsyncIterator[Event]):
    """An async iterator over the events published after it started (or, with a `backlog`,
    the retained ones first). `aclose` (or dropping it) unsubscribes; it ends when the bus
    closes, and raises `SubscriberOverflow` if it fell too far behind."""

    def __init__(
        self, fanout: FanOut, mailbox: Mailbox, backlog: AsyncIterator[Event] | None = None
    ) -> None:
        self._fanout = fanout
        self._mailbox = mailbox
        self._backlog = backlog
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._backlog is not None:
            try:
                return await anext(self._backlog)
            except StopAsyncIteration:
                self._backlog = None
            except BaseException:
                await self.aclose()
                raise
        mailbox = self._mailbox
        while True:
            if self._closed:
                raise StopAsyncIteration
            events = mailbox.events
            if events:
                event = events.popleft()
                delivered(SUBSCRIBER, event)
                return event
            if mailbox.overflowed:
                await self.aclose()
                raise SubscriberOverflow(mailbox.limit)
            if mailbox.ended:
                await self.aclose()
                raise StopAsyncIteration
            await mailbox.wait()

    async def aclose(self) -> None:
        """Unsubscribe; the iterator yields nothing more."""
        if self._closed:
            return
        self._closed = True
        self._fanout.remove(self._mailbox)
        self._mailbox.events = None
        backlog, self._backlog = self._backlog, None
        if backlog is not None:
            close = getattr(backlog, "aclose", None)
            if close is not None:
                await close()
