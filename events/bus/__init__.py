"""The event bus contract, and the factory that picks its implementation.

Two ways to receive events, for two kinds of consumer:

- `Bus.subscribe` is fan-out: every subscriber in every replica gets every event published
  after it subscribed, in log order. GraphQL subscriptions and cache invalidation use it.
  Nothing is retried: a subscriber that falls `BusOptions.subscriber_queue` events behind
  is dropped with `SubscriberOverflow`, never silently skipped.
- `Bus.consume` is durable, once per group: each event goes to one consumer of the group
  and is acknowledged only when the handler returns. A consumer that dies (or a handler that
  raises) leaves the event pending; another consumer (or the same one) takes it again after
  `BusOptions.claim_idle`, and after `max_deliveries` it is moved to the group's dead
  letters. Delivery is at least once, so handlers are idempotent, keyed by ``event.id``.
  Propagation to the other system uses it.

Both implementations keep exactly these semantics; ``tests/events/test_bus.py`` runs against
each. In memory (the default) the log lives in the process; with ``ACCORD_REDIS_URL`` it is a
Redis stream shared by every replica (`events.bus.redis` describes the layout).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from events.bus.consumer import DeadLetter, Handler
from events.bus.errors import BusClosed, BusError, BusUnavailable, SubscriberOverflow
from events.bus.fanout import Subscription
from events.bus.memory import MemoryBus
from events.bus.options import BusOptions
from events.model import Event
from state.codec import DEFAULT_PREFIX

if TYPE_CHECKING:
    from events.bus.redis import RedisBus

__all__ = [
    "Bus",
    "BusClosed",
    "BusError",
    "BusOptions",
    "BusUnavailable",
    "DeadLetter",
    "Handler",
    "MemoryBus",
    "RedisBus",
    "SubscriberOverflow",
    "Subscription",
    "open_bus",
]


class Bus(Protocol):
    name: str
    """``"memory"`` or ``"redis"``."""

    options: BusOptions

    async def start(self) -> None:
        """Find where the log ends and start following it for this process's subscribers.

        Call it at startup: it fails early with `BusUnavailable` when Redis cannot be
        reached, and once it has returned, a subscription sees every event published after
        `subscribe` returned. (Without it, the first `subscribe` starts the reader, and its
        subscriptions begin where the reader finds the log's end.) Memory: nothing to do.
        """

    async def publish(self, event: Event) -> str:
        """Append `event` to the durable log and return its entry id, ``"<ms>-<seq>"``.

        Entry ids increase, so one publisher's events reach every subscriber and group in the
        order it published them. Raises ``TypeError``/``ValueError`` when the event's data is
        not JSON, `BusUnavailable` when Redis cannot be reached, `BusClosed` after `close`.
        """

    def subscribe(self, *, from_now: bool = True) -> Subscription:
        """An async iterator over every event published (by any replica) from now on.

        With `from_now` False it yields the events the log still holds first, then goes on
        live without a gap or a repeat. Call it from within the event loop. The iterator
        raises `SubscriberOverflow` (after yielding what it received) if its subscriber falls
        `subscriber_queue` events behind, and ends when the bus closes. ``aclose()`` (or
        dropping it, as a ``break`` out of ``async for`` does) unsubscribes.

        Redis: the subscription starts at the fan-out reader's position, which may be a few
        entries before the log's end, so an event published just before may be included.
        """

    @property
    def subscribers(self) -> int:
        """How many subscriptions of this process are open."""

    async def create_group(self, group: str, *, from_now: bool = False) -> None:
        """Create `group` unless it exists: at the log's oldest entry, or its end with
        `from_now`. `consume` does this itself; call it first when the group must exist
        before something is published (a group that starts from now)."""

    async def consume(
        self,
        group: str,
        consumer: str,
        handler: Handler,
        *,
        stop: asyncio.Event | None = None,
        from_now: bool = False,
    ) -> None:
        """Hand each event of the log to `handler`, once per `group`, until `stop` or `close`.

        `consumer` names this consumer within the group: unique per replica and task. The
        event is acknowledged when `handler` returns; if it raises, the error is logged and
        kept, and the event is handed out again once idle for `claim_idle`. The entry is
        dead-lettered when the handler fails on its `max_deliveries`-th delivery, when it is
        claimed once more than that (its consumers died while handling it), and when it is
        not an event at all. A cancelled consumer leaves its current
        event pending, exactly as a dead one does.

        A group that does not exist yet is created starting at the log's oldest entry, so no
        event published before the first consumer started is missed (with `from_now`: at its
        end). An existing group resumes where it was, whatever `from_now` says.
        """

    async def dead_letters(self, group: str, limit: int = 100) -> list[DeadLetter]:
        """The newest `limit` entries `group` gave up on, newest first."""

    async def log_length(self) -> int:
        """How many entries the log holds now (at least `max_length` once that many were
        published; Redis may keep up to about 100 more, as it trims whole stream nodes)."""

    async def close(self) -> None:
        """Stop the fan-out reader, end every subscription, let running handlers finish (up
        to `close_timeout`) and consumers return, and release connections."""


def open_bus(
    redis_url: str | None, *, prefix: str = DEFAULT_PREFIX, options: BusOptions | None = None
) -> Bus:
    """Redis Streams at `redis_url`, or the in-process bus when it is None.

    Nothing connects here: call `Bus.start` at startup to fail early and clearly.
    """
    if redis_url is None:
        return MemoryBus(options=options)
    from events.bus.redis import RedisBus  # the Redis client loads only when used

    return RedisBus(redis_url, prefix=prefix, options=options)


def __getattr__(name: str) -> Any:
    if name == "RedisBus":
        from events.bus.redis import RedisBus

        return RedisBus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
