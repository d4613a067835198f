"""The bus over Redis Streams: every replica publishes to, and reads from, one shared log.

Layout (``<p>`` is the prefix, ``accord:`` by default)::

    <p>events:stream             stream  the log: one field "event" = CloudEvents JSON   MAXLEN ~ n
    <p>events:dead:<group>       stream  a group's dead letters, MAXLEN ~ n: fields "entry"
                                         (the log id), "reason", "event" (the entry's text)
    <p>events:failures:<group>   hash    log id -> the last handler error, while pending

Fan-out: one reader task per bus (per process) follows the log with ``XREAD BLOCK`` from the
last id it saw and hands each event to this process's subscribers (`events.bus.fanout`). It
never joins a consumer group, so every replica sees every event. When Redis drops it, it
waits (doubling from `BusOptions.reconnect_min` to `reconnect_max`, with jitter) and goes on
from its last id, so nothing still in the log is missed.

Durable processing: `consume` reads through a consumer group (``XREADGROUP``), so each entry
goes to one consumer of the group, and acknowledges (``XACK``) only after the handler
returns. An entry left pending (its consumer died, or its handler raised) is claimed with
``XAUTOCLAIM`` once idle for `BusOptions.claim_idle`, by whichever consumer of the group looks
next (each looks every half `claim_idle`, and at once when it starts); its delivery count
comes from ``XPENDING``. Past `max_deliveries` it goes to the group's dead letters, acknowledged.

Blocking reads use a client of their own, named ``accord-bus:<instance>`` in ``CLIENT LIST``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from events.bus.codec import EVENT_FIELD, MalformedEntry, decode_entry, decode_event, encode_event
from events.bus.consumer import (
    DeadLetter,
    Handler,
    check_names,
    describe_failure,
    gave_up_reason,
    unacknowledged_reason,
    wait_any,
)
from events.bus.errors import BusClosed, BusError, BusUnavailable
from events.bus.fanout import FanOut, Mailbox, Subscription, later
from events.bus.instruments import dead_lettered, delivered, published
from events.bus.options import BusOptions
from events.model import Event
from sources.outage import OutageLog
from state.codec import DEFAULT_PREFIX
from state.urls import redact_url

__all__ = ["RedisBus"]

logger = logging.getLogger("accord.events.bus")

_Entry = tuple[str, Mapping[str, str] | None]
"""A stream entry as the client returns it (``decode_responses``): id and fields."""
_START = "0-0"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _entries(reply: Any) -> list[_Entry]:
    """The entries of an XREAD/XREADGROUP reply on our one stream (RESP2 list or RESP3 map)."""
    if not reply:
        return []
    streams = reply.items() if isinstance(reply, dict) else reply
    found: list[_Entry] = []
    for _name, entries in streams:
        found.extend((str(entry_id), fields) for entry_id, fields in entries)
    return found


def _raw(fields: Mapping[str, str] | None) -> str:
    """An entry's text, kept in a dead letter: its event field, or all its fields."""
    if fields and isinstance(fields.get(EVENT_FIELD), str):
        return fields[EVENT_FIELD]
    return json.dumps(dict(fields or {}), ensure_ascii=False)


class RedisBus:
    """The event bus shared by replicas; see `events.bus.Bus` for the contract."""

    name: str = "redis"

    def __init__(
        self, url: str, *, prefix: str = DEFAULT_PREFIX, options: BusOptions | None = None
    ) -> None:
        self.options = options or BusOptions()
        self.url = redact_url(url)
        self.prefix = prefix
        self.instance = uuid.uuid4().hex[:12]
        """Names this bus's blocking connection in ``CLIENT LIST``: ``accord-bus:<instance>``."""
        self.stream = f"{prefix}events:stream"
        self.reconnects = 0
        """How often the fan-out reader lost Redis and started over."""
        opts = self.options
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=opts.connect_timeout,
            socket_timeout=opts.command_timeout,
            # A dropped connection is retried once at once: it is nearly always a stale
            # pooled socket. A repeated XADD may append twice; consumers are idempotent.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            health_check_interval=30,
        )
        self._blocking = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=opts.connect_timeout,
            socket_timeout=opts.block + opts.command_timeout,
            retry=Retry(NoBackoff(), 0),  # the loops around blocking reads retry, with backoff
            client_name=f"accord-bus:{self.instance}",
        )
        self._fanout = FanOut(opts.subscriber_queue)
        self._last_id: str | None = None
        """The last log id the fan-out has handled; None until it knows where the log ends."""
        self._published: str | None = None
        """The greatest id this process has published: a later subscription starts after it."""
        self._positioned = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._closed = False
        self._consumers = 0
        self._no_consumers = asyncio.Event()
        self._no_consumers.set()

    # -- plumbing ---------------------------------------------------------------------------

    def _dead_key(self, group: str) -> str:
        return f"{self.prefix}events:dead:{group}"

    def _failures_key(self, group: str) -> str:
        return f"{self.prefix}events:failures:{group}"

    def _check_open(self) -> None:
        if self._closed:
            raise BusClosed("the event bus is closed")

    @contextmanager
    def _talking(self) -> Iterator[None]:
        """Translate the client's failures into the bus's errors."""
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise BusUnavailable(f"Redis at {self.url} is unavailable: {exc}") from exc
        except RedisError as exc:
            raise BusError(f"Redis at {self.url} refused an event-bus operation: {exc}") from exc

    async def _pause(self, delay: float, stop: asyncio.Event | None = None) -> float:
        """Wait about `delay` seconds (less if closing or stopped); return the next delay."""
        await wait_any([self._closing, *([stop] if stop else [])], delay * random.uniform(0.5, 1))
        return min(delay * 2, self.options.reconnect_max)

    def _stopping(self, stop: asyncio.Event | None) -> bool:
        return self._closed or (stop is not None and stop.is_set())

    # -- publishing and fan-out ---------------------------------------------------------------

    @property
    def subscribers(self) -> int:
        return len(self._fanout)

    async def publish(self, event: Event) -> str:
        self._check_open()
        text = encode_event(event)
        with self._talking():
            entry_id = await self._redis.xadd(
                self.stream,
                {EVENT_FIELD: text},
                maxlen=self.options.max_length,
                approximate=True,
            )
        self._published = later(self._published, str(entry_id))
        published(event)
        return str(entry_id)

    async def log_length(self) -> int:
        self._check_open()
        with self._talking():
            return await self._redis.xlen(self.stream)

    async def _log_end(self) -> str:
        found = await self._redis.xrevrange(self.stream, max="+", min="-", count=1)
        return str(found[0][0]) if found else _START

    def _position(self, entry_id: str) -> None:
        if self._last_id is None:
            self._last_id = entry_id
            self._fanout.position(entry_id)
            self._positioned.set()

    async def start(self) -> None:
        self._check_open()
        if self._last_id is None:
            with self._talking():
                end = await self._log_end()
            self._position(end)
        self._ensure_reader()

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(
                self._read_forever(), name=f"accord-bus-fanout:{self.instance}"
            )

    def subscribe(self, *, from_now: bool = True) -> Subscription:
        self._check_open()
        mailbox = self._fanout.open(later(self._last_id, self._published))
        self._ensure_reader()
        backlog = None if from_now else self._history(mailbox)
        return Subscription(self._fanout, mailbox, backlog)

    async def _history(self, mailbox: Mailbox) -> AsyncIterator[Event]:
        """The retained entries up to where `mailbox`'s live events begin."""
        await wait_any([self._positioned, self._closing], None)
        upto = mailbox.start_after
        if upto is None or upto == _START:
            return
        lower = "-"
        while True:
            with self._talking():
                found = await self._redis.xrange(
                    self.stream, min=lower, max=upto, count=self.options.batch
                )
            page = cast(list[_Entry], found or [])
            for entry_id, fields in page:
                try:
                    event = decode_entry(fields)
                except MalformedEntry as exc:
                    logger.warning("event-bus replay skipped entry %s: %s", entry_id, exc)
                    continue
                yield event
            if len(page) < self.options.batch:
                return
            lower = f"({page[-1][0]}"

    async def _read_forever(self) -> None:
        """Follow the log and hand every event to this process's subscribers, until closed."""
        delay = self.options.reconnect_min
        outage = OutageLog(logger, f"event-bus fan-out: Redis at {self.url}")
        while not self._closed:
            try:
                if self._last_id is None:
                    self._position(await self._log_end())
                assert self._last_id is not None
                reply = await self._blocking.xread(
                    {self.stream: self._last_id},
                    count=self.options.batch,
                    block=_ms(self.options.block),
                )
            except Exception as exc:  # Redis gone, or anything else: the reader must survive
                self.reconnects += 1
                # one line when the outage starts and one when it ends, not one per retry
                outage.failed(f"{describe_failure(exc)}; retrying from {self._last_id}")
                delay = await self._pause(delay)
                continue
            outage.succeeded()
            delay = self.options.reconnect_min
            self._dispatch(_entries(reply))

    def _dispatch(self, entries: list[_Entry]) -> None:
        for entry_id, fields in entries:
            self._last_id = entry_id
            if not len(self._fanout):
                continue
            try:
                event = decode_entry(fields)
            except MalformedEntry as exc:
                logger.warning("event-bus fan-out skipped entry %s: %s", entry_id, exc)
                continue
            self._fanout.deliver(entry_id, event)

    # -- consumer groups ----------------------------------------------------------------------

    async def _create_group(self, group: str, from_now: bool) -> None:
        try:
            await self._redis.xgroup_create(
                self.stream, group, id="$" if from_now else "0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def create_group(self, group: str, *, from_now: bool = False) -> None:
        self._check_open()
        check_names(group, "-")
        with self._talking():
            await self._create_group(group, from_now)

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
        with self._talking():
            await self._create_group(group, from_now)
        loop = asyncio.get_running_loop()
        opts = self.options
        next_claim = loop.time()  # at once: take over what a dead consumer left pending
        delay = opts.reconnect_min
        group_exists = True
        outage = OutageLog(logger, f"event-bus consumer {group}/{consumer}: Redis at {self.url}")
        self._consumers += 1
        self._no_consumers.clear()
        try:
            while not self._stopping(stop):
                try:
                    if not group_exists:
                        await self._create_group(group, from_now)
                        group_exists = True
                    if loop.time() >= next_claim:
                        await self._reclaim(group, consumer, handler, stop)
                        next_claim = loop.time() + opts.claim_idle / 2
                        continue
                    wait = min(opts.block, next_claim - loop.time())
                    for entry_id, fields in await self._read_group(group, consumer, wait, stop):
                        if self._stopping(stop):
                            break  # the rest stay pending, and are claimed after claim_idle
                        await self._process(group, entry_id, fields, 1, handler)
                except RedisError as exc:
                    if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                        group_exists = False  # the stream or the group was deleted: recreate
                    outage.failed(describe_failure(exc))
                    delay = await self._pause(delay, stop)
                else:
                    outage.succeeded()
                    delay = opts.reconnect_min
        finally:
            self._consumers -= 1
            if self._consumers == 0:
                self._no_consumers.set()

    async def _read_group(
        self, group: str, consumer: str, wait: float, stop: asyncio.Event | None
    ) -> list[_Entry]:
        """New entries for `consumer`, waiting up to `wait` seconds; [] if stopped meanwhile.

        A read cut short by stop or close is cancelled; entries Redis had already handed over
        stay pending for this consumer and are claimed after `claim_idle`.
        """
        read = asyncio.ensure_future(
            self._blocking.xreadgroup(
                group,
                consumer,
                {self.stream: ">"},
                count=self.options.batch,
                block=_ms(wait),
            )
        )
        try:
            await wait_any([self._closing, *([stop] if stop else [])], None, wakeup=read)
        finally:
            if not read.done():
                read.cancel()
                await asyncio.wait([read])
        if read.cancelled():
            return []
        return _entries(read.result())

    async def _reclaim(
        self, group: str, consumer: str, handler: Handler, stop: asyncio.Event | None
    ) -> None:
        """Claim and handle every entry of `group` idle for `claim_idle`, a page at a time."""
        cursor = _START
        while not self._stopping(stop):
            reply = await self._redis.xautoclaim(
                self.stream,
                group,
                consumer,
                min_idle_time=_ms(self.options.claim_idle),
                start_id=cursor,
                count=self.options.batch,
            )
            cursor = str(reply[0])
            claimed = cast(list[_Entry], reply[1])
            trimmed = cast(list[str], reply[2]) if len(reply) > 2 else []
            if trimmed:
                await self._redis.hdel(self._failures_key(group), *trimmed)
                logger.warning(
                    "event-bus group %r lost %d pending entries trimmed from the log: %s",
                    group,
                    len(trimmed),
                    ", ".join(trimmed[:10]),
                )
            if claimed:
                counts = await self._deliveries(group, [entry_id for entry_id, _ in claimed])
                for entry_id, fields in claimed:
                    if self._stopping(stop):
                        return
                    deliveries = counts.get(entry_id)
                    if deliveries is not None:  # None: acknowledged meanwhile
                        await self._process(group, entry_id, fields, deliveries, handler)
            if cursor == _START:
                return

    async def _deliveries(self, group: str, entry_ids: list[str]) -> dict[str, int]:
        """How often each of `entry_ids` was delivered to `group`, if still pending."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xpending_range(self.stream, group, min=entry_id, max=entry_id, count=1)
            replies = await pipe.execute()
        counts: dict[str, int] = {}
        for reply in replies:
            for pending in reply:
                counts[str(pending["message_id"])] = int(pending["times_delivered"])
        return counts

    async def _process(
        self,
        group: str,
        entry_id: str,
        fields: Mapping[str, str] | None,
        deliveries: int,
        handler: Handler,
    ) -> None:
        try:
            event = decode_entry(fields)
        except MalformedEntry as exc:
            await self._bury(group, entry_id, _raw(fields), f"malformed entry: {exc}")
            return
        limit = self.options.max_deliveries
        if deliveries > limit:
            failure = cast(str | None, await self._redis.hget(self._failures_key(group), entry_id))
            await self._bury(group, entry_id, _raw(fields), unacknowledged_reason(limit, failure))
            return
        delivered(group, event)
        try:
            await handler(event)
        except Exception as exc:
            failure = describe_failure(exc)
            logger.warning(
                "event-bus group %r: handler failed on %s (delivery %d of %d)",
                group,
                entry_id,
                deliveries,
                limit,
                exc_info=True,
            )
            if deliveries >= limit:
                await self._bury(group, entry_id, _raw(fields), gave_up_reason(deliveries, failure))
            else:
                await self._redis.hset(self._failures_key(group), entry_id, failure)
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, group, entry_id)
            pipe.hdel(self._failures_key(group), entry_id)
            await pipe.execute()

    async def _bury(self, group: str, entry_id: str, raw: str, reason: str) -> None:
        """Move an entry to `group`'s dead letters and acknowledge it, in one transaction."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self._dead_key(group),
                {"entry": entry_id, "reason": reason, EVENT_FIELD: raw},
                maxlen=self.options.dead_letter_max_length,
                approximate=True,
            )
            pipe.xack(self.stream, group, entry_id)
            pipe.hdel(self._failures_key(group), entry_id)
            await pipe.execute()
        logger.error("event-bus group %r dead-lettered %s: %s", group, entry_id, reason)
        dead_lettered(group)

    async def dead_letters(self, group: str, limit: int = 100) -> list[DeadLetter]:
        self._check_open()
        if limit <= 0:
            return []
        with self._talking():
            found = await self._redis.xrevrange(self._dead_key(group), count=limit)
        letters = []
        for dead_id, fields in cast(list[tuple[str, dict[str, str]]], found or []):
            try:
                event: Event | None = decode_event(fields.get(EVENT_FIELD, ""))
            except MalformedEntry:
                event = None
            letters.append(
                DeadLetter(str(fields.get("entry", dead_id)), event, fields.get("reason", ""))
            )
        return letters

    # -- closing ----------------------------------------------------------------------------

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader])
        self._fanout.close()
        try:
            await asyncio.wait_for(self._no_consumers.wait(), self.options.close_timeout)
        except TimeoutError:
            logger.warning("event bus closed while handlers were still running")
        await self._blocking.aclose()
        await self._redis.aclose()
