"""The event bus: fan-out to every replica's subscribers, and durable once-per-group delivery.

Every semantic test runs on the memory bus and on Redis. `replicas` opens buses that share one
log, as Accord's replicas do: independent Redis clients under the test's own key prefix
(deleted afterwards), or, in memory, the process's one bus.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from events.bus import (
    Bus,
    BusClosed,
    BusOptions,
    BusUnavailable,
    DeadLetter,
    MemoryBus,
    RedisBus,
    SubscriberOverflow,
    Subscription,
    open_bus,
)
from events.bus.codec import EVENT_FIELD
from events.model import Event, EventType, event_id
from tests.redis_keys import unique_prefix

WAIT = 5.0
"""Seconds any one expected thing may take before the test fails: generous, never a target."""

FAST = BusOptions(
    claim_idle=0.3,
    block=0.2,
    reconnect_min=0.05,
    reconnect_max=0.2,
    close_timeout=2.0,
)

OpenReplica = Callable[..., Bus]


@pytest.fixture
def prefix() -> str:
    return unique_prefix()


async def delete_prefix(client: aioredis.Redis, prefix: str) -> None:
    stale = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
    if stale:
        await client.delete(*stale)


@pytest.fixture(params=["memory", "redis"])
async def replicas(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[OpenReplica]:
    """Opens a bus per call, all on one log; each call may pass its own `BusOptions`."""
    opened: list[Bus] = []
    if request.param == "memory":

        def open_memory(options: BusOptions = FAST) -> Bus:
            if not opened:
                opened.append(open_bus(None, options=options))
            return opened[0]

        yield open_memory
    else:
        url: str = request.getfixturevalue("redis_url")

        def open_redis(options: BusOptions = FAST) -> Bus:
            bus = open_bus(url, prefix=prefix, options=options)
            opened.append(bus)
            return bus

        yield open_redis
        cleaner = aioredis.Redis.from_url(url, decode_responses=True)
        try:
            await delete_prefix(cleaner, prefix)
        finally:
            await cleaner.aclose()
    for bus in opened:
        await bus.close()


@pytest.fixture
async def raw_redis(redis_url: str, prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A plain client on the test Redis, for what another tool might do to our keys."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await delete_prefix(client, prefix)
    await client.aclose()


def payment(n: int, **data: Any) -> Event:
    return Event(
        id=event_id("netsuite", "payment", n),
        type=EventType.PAYMENT_RECEIVED,
        source="netsuite",
        subject=f"pay:{50000 + n}",
        time=dt.datetime(2024, 5, 1, 12, 0, n % 60, tzinfo=dt.UTC),
        data={"amount": f"{n}.00", **data},
        customer="cus:CUST-000042",
    )


async def receive(subscription: Subscription, count: int = 1) -> list[Event]:
    return [await asyncio.wait_for(anext(subscription), WAIT) for _ in range(count)]


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Until `condition` holds; fails after `WAIT` seconds saying `what` did not happen."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - the conditions are plain state, not events
            await asyncio.sleep(0.01)
    assert condition(), what


async def ready(*buses: Bus) -> None:
    for bus in buses:
        await bus.start()


class Stopped:
    """Runs `Bus.consume` calls as tasks; stops them all (and checks they returned) on exit."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def run(self, bus: Bus, group: str, consumer: str, handler: Any) -> asyncio.Task[None]:
        task = asyncio.create_task(bus.consume(group, consumer, handler, stop=self.stop))
        self.tasks.append(task)
        return task

    async def __aenter__(self) -> Stopped:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        running = [task for task in self.tasks if not task.done()]
        if running:
            done, _ = await asyncio.wait(running, timeout=WAIT)
            assert done == set(running), "consumers did not return after stop"
        for task in self.tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error


# -- fan-out ------------------------------------------------------------------------------------


async def test_a_subscriber_receives_what_is_published_after_it_subscribed(
    replicas: OpenReplica,
) -> None:
    # given a bus with an event published before anyone subscribed
    bus = replicas()
    await ready(bus)
    await bus.publish(payment(1))
    subscription = bus.subscribe()

    # when two more are published
    first_id = await bus.publish(payment(2))
    await bus.publish(payment(3))

    # then the subscriber gets those two, as published
    assert await receive(subscription, 2) == [payment(2), payment(3)]
    assert first_id.count("-") == 1
    await subscription.aclose()


async def test_every_replicas_subscribers_receive_every_event(replicas: OpenReplica) -> None:
    # given two replicas with subscribers on both
    one, two = replicas(), replicas()
    await ready(one, two)
    subscribers = [one.subscribe(), two.subscribe(), two.subscribe()]

    # when each replica publishes an event
    await one.publish(payment(1))
    await two.publish(payment(2))

    # then every subscriber, wherever it is, receives both
    for subscription in subscribers:
        assert await receive(subscription, 2) == [payment(1), payment(2)]


async def test_one_publishers_events_arrive_in_the_order_it_published_them(
    replicas: OpenReplica,
) -> None:
    one, two = replicas(), replicas()
    await ready(one, two)
    subscription = two.subscribe()

    ids = [await one.publish(payment(n)) for n in range(60)]

    assert await receive(subscription, 60) == [payment(n) for n in range(60)]
    as_pairs = [tuple(int(part) for part in entry.split("-")) for entry in ids]
    assert as_pairs == sorted(as_pairs)
    assert len(set(ids)) == 60


async def test_a_subscription_from_the_start_replays_the_log_then_goes_live(
    replicas: OpenReplica,
) -> None:
    bus = replicas()
    await ready(bus)
    await bus.publish(payment(1))
    await bus.publish(payment(2))

    subscription = bus.subscribe(from_now=False)
    await bus.publish(payment(3))

    assert await receive(subscription, 3) == [payment(1), payment(2), payment(3)]


async def test_a_subscriber_that_falls_behind_is_dropped_with_a_signal_not_a_gap(
    replicas: OpenReplica,
) -> None:
    # given a subscriber that reads and one that does not, with room for 5 events each
    bus = replicas(BusOptions(subscriber_queue=5, block=0.2, close_timeout=2.0))
    await ready(bus)
    slow, fast = bus.subscribe(), bus.subscribe()

    # when 12 events are published, the fast one reading each as it comes
    for n in range(12):
        await bus.publish(payment(n))
        assert await receive(fast) == [payment(n)]

    # then the slow one gets the 5 it held, in order, and then SubscriberOverflow
    assert await receive(slow, 5) == [payment(n) for n in range(5)]
    with pytest.raises(SubscriberOverflow, match="fell more than 5 events behind"):
        await receive(slow)
    # and it is no longer a subscriber, while the fast one still is and still receives
    assert bus.subscribers == 1
    await bus.publish(payment(99))
    assert await receive(fast) == [payment(99)]


async def test_closing_or_leaving_a_subscription_unsubscribes_and_leaves_no_task(
    replicas: OpenReplica,
) -> None:
    tasks_before = asyncio.all_tasks()
    bus = replicas()
    await ready(bus)
    closed, left, kept = bus.subscribe(), bus.subscribe(), bus.subscribe()
    assert bus.subscribers == 3

    # when one subscription is closed and another left by a break out of `async for`
    await closed.aclose()
    await bus.publish(payment(1))
    async for _event in left:
        break
    del left

    # then only the kept one is still subscribed, and a closed one yields nothing more
    assert bus.subscribers == 1
    with pytest.raises(StopAsyncIteration):
        await anext(closed)
    assert await receive(kept) == [payment(1)]

    # and closing the bus ends the rest and leaves no task of its own behind
    await bus.close()
    with pytest.raises(StopAsyncIteration):
        await anext(kept)
    assert bus.subscribers == 0
    assert asyncio.all_tasks() == tasks_before


async def test_the_log_is_trimmed_to_about_its_maximum_length(replicas: OpenReplica) -> None:
    bus = replicas(BusOptions(max_length=10, block=0.2))

    for n in range(250):
        await bus.publish(payment(n))

    # memory keeps exactly 10; Redis trims whole stream nodes (MAXLEN ~), keeping a few more
    length = await bus.log_length()
    assert 10 <= length < 250
    if bus.name == "memory":
        assert length == 10


async def test_an_event_whose_data_is_not_json_is_refused_and_not_published(
    replicas: OpenReplica,
) -> None:
    bus = replicas()

    with pytest.raises(TypeError):
        await bus.publish(payment(1, note=object()))

    assert await bus.log_length() == 0


async def test_a_closed_bus_refuses_work(replicas: OpenReplica) -> None:
    bus = replicas()
    await bus.close()

    with pytest.raises(BusClosed):
        await bus.publish(payment(1))
    with pytest.raises(BusClosed):
        bus.subscribe()
    with pytest.raises(BusClosed):
        await bus.consume("g", "c", _ignore)


async def _ignore(event: Event) -> None:
    return None


# -- consumer groups --------------------------------------------------------------------------


async def test_each_group_handles_every_event_once_shared_among_its_consumers(
    replicas: OpenReplica,
) -> None:
    # given a group with a consumer on each of two replicas, and a second group
    one, two = replicas(), replicas()
    seen: dict[str, list[tuple[str, str]]] = {"propagation": [], "audit": []}

    def recorder(group: str, consumer: str) -> Any:
        async def handle(event: Event) -> None:
            seen[group].append((consumer, event.id))

        return handle

    async with Stopped() as consumers:
        # when events are published, some before any consumer started
        await one.publish(payment(0))
        consumers.run(one, "propagation", "one", recorder("propagation", "one"))
        consumers.run(two, "propagation", "two", recorder("propagation", "two"))
        consumers.run(two, "audit", "two", recorder("audit", "two"))
        for n in range(1, 30):
            await (one if n % 2 else two).publish(payment(n))

        # then each group handles each event exactly once
        expected = sorted(payment(n).id for n in range(30))
        await eventually(lambda: len(seen["propagation"]) >= 30, "propagation handled all")
        await eventually(lambda: len(seen["audit"]) >= 30, "audit handled all")
        assert sorted(event for _, event in seen["propagation"]) == expected
        assert sorted(event for _, event in seen["audit"]) == expected
        # and in publication order within the one-consumer group
        assert [event for _, event in seen["audit"]] == [payment(n).id for n in range(30)]


async def test_a_new_group_from_now_skips_what_was_published_before(
    replicas: OpenReplica,
) -> None:
    bus = replicas()
    handled: list[str] = []

    async def handle(event: Event) -> None:
        handled.append(event.id)

    await bus.publish(payment(1))
    await bus.create_group("late", from_now=True)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume("late", "c", handle, stop=stop, from_now=True))
    await bus.publish(payment(2))

    await eventually(lambda: handled == [payment(2).id], "the later event handled")
    stop.set()
    await asyncio.wait_for(task, WAIT)
    assert handled == [payment(2).id]


@pytest.mark.parametrize("dies", ["before applying", "after applying"])
async def test_a_consumer_that_dies_before_acknowledging_gets_it_again_and_it_applies_once(
    replicas: OpenReplica, dies: str
) -> None:
    # given an idempotent effect (keyed by the event's id) and two replicas in one group
    one, two = replicas(), replicas()
    applied: set[str] = set()
    effects: Counter[str] = Counter()
    deliveries: list[tuple[str, str]] = []

    def apply_once(event: Event) -> None:
        if event.id not in applied:
            applied.add(event.id)
            effects[event.subject] += 1

    reached = asyncio.Event()
    never = asyncio.Event()

    async def dying(event: Event) -> None:
        deliveries.append(("one", event.id))
        if dies == "after applying":
            apply_once(event)
        reached.set()
        await never.wait()  # the replica dies here, between reading and acknowledging

    async def healthy(event: Event) -> None:
        deliveries.append(("two", event.id))
        apply_once(event)

    async with Stopped() as consumers:
        # when replica one reads the event and dies in its handler
        doomed = consumers.run(one, "propagation", "one", dying)
        await one.publish(payment(7))
        await asyncio.wait_for(reached.wait(), WAIT)
        doomed.cancel()
        await asyncio.wait([doomed])

        # then replica two gets it again once it has been idle for claim_idle
        consumers.run(two, "propagation", "two", healthy)
        await eventually(lambda: ("two", payment(7).id) in deliveries, "redelivery to two")

        # and the effect happened exactly once
        assert effects == Counter({payment(7).subject: 1})
        assert deliveries == [("one", payment(7).id), ("two", payment(7).id)]

        # and the group moves on: the next event is handled once, by the survivor
        await two.publish(payment(8))
        await eventually(lambda: payment(8).subject in effects, "next event handled")
        assert effects == Counter({payment(7).subject: 1, payment(8).subject: 1})
    assert await two.dead_letters("propagation") == []


async def test_a_handler_that_raises_gets_the_event_again_and_others_are_not_held_up(
    replicas: OpenReplica,
) -> None:
    bus = replicas()
    attempts: Counter[str] = Counter()
    done: list[str] = []

    async def flaky(event: Event) -> None:
        attempts[event.id] += 1
        if event.data.get("flaky") and attempts[event.id] < 3:
            raise RuntimeError("ERP timed out")
        done.append(event.id)

    async with Stopped() as consumers:
        consumers.run(bus, "propagation", "c", flaky)
        await bus.publish(payment(1, flaky=True))
        await bus.publish(payment(2))

        await eventually(lambda: payment(1).id in done, "the flaky event handled at last")
    assert done == [payment(2).id, payment(1).id]
    assert attempts[payment(1).id] == 3
    assert await bus.dead_letters("propagation") == []


async def test_an_event_that_keeps_failing_is_dead_lettered_after_max_deliveries(
    replicas: OpenReplica,
) -> None:
    bus = replicas(BusOptions(claim_idle=0.1, max_deliveries=3, block=0.2, close_timeout=2.0))
    attempts: Counter[str] = Counter()
    done: list[str] = []

    async def handler(event: Event) -> None:
        attempts[event.id] += 1
        if event.data.get("poison"):
            raise ValueError("no such account")
        done.append(event.id)

    async with Stopped() as consumers:
        consumers.run(bus, "propagation", "c", handler)
        await bus.publish(payment(1, poison=True))
        await bus.publish(payment(2))

        letters: list[DeadLetter] = []
        async with asyncio.timeout(WAIT):
            while not letters:
                letters = await bus.dead_letters("propagation")
                await asyncio.sleep(0.02)

    [(entry_id, event, reason)] = letters
    assert event == payment(1, poison=True)
    assert "delivery 3" in reason
    assert "ValueError: no such account" in reason
    assert entry_id.count("-") == 1
    assert attempts[payment(1).id] == 3
    assert done == [payment(2).id]
    assert await bus.dead_letters("other group") == []


async def test_an_event_whose_consumers_keep_dying_is_dead_lettered(
    replicas: OpenReplica,
) -> None:
    # given a group that allows one delivery
    options = BusOptions(claim_idle=0.1, max_deliveries=1, block=0.2, close_timeout=2.0)
    one, two = replicas(options), replicas(options)
    reached = asyncio.Event()
    handled: list[str] = []

    async def dying(event: Event) -> None:
        reached.set()
        await asyncio.Event().wait()

    async def healthy(event: Event) -> None:
        handled.append(event.id)

    async with Stopped() as consumers:
        # when its consumer dies while handling the event
        doomed = consumers.run(one, "propagation", "one", dying)
        await one.publish(payment(1))
        await asyncio.wait_for(reached.wait(), WAIT)
        doomed.cancel()
        await asyncio.wait([doomed])
        consumers.run(two, "propagation", "two", healthy)

        # then the next consumer to claim it dead-letters it without running it
        letters: list[DeadLetter] = []
        async with asyncio.timeout(WAIT):
            while not letters:
                letters = await two.dead_letters("propagation")
                await asyncio.sleep(0.02)
    assert [(event, reason) for _, event, reason in letters] == [
        (
            payment(1),
            "not acknowledged after 1 deliveries; last error: none recorded "
            "(its consumers stopped or died while handling it)",
        )
    ]
    assert handled == []


async def test_stop_makes_a_waiting_consumer_return(replicas: OpenReplica) -> None:
    bus = replicas(BusOptions(block=30.0, claim_idle=60.0, close_timeout=2.0))
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume("g", "c", _ignore, stop=stop))
    await asyncio.sleep(0.1)  # it is now waiting for entries

    stop.set()

    await asyncio.wait_for(task, WAIT)  # well before its 30 s read would end
    assert task.result() is None


async def test_closing_the_bus_ends_its_consumers(replicas: OpenReplica) -> None:
    bus = replicas(BusOptions(block=30.0, claim_idle=60.0, close_timeout=2.0))
    task = asyncio.create_task(bus.consume("g", "c", _ignore))
    await asyncio.sleep(0.1)

    await asyncio.wait_for(bus.close(), WAIT)

    assert task.done()
    assert task.result() is None


# -- Redis only: what other tools and the network do --------------------------------------------


@pytest.fixture
async def redis_replicas(redis_url: str, prefix: str) -> AsyncIterator[Callable[[], RedisBus]]:
    opened: list[RedisBus] = []

    def open_replica() -> RedisBus:
        bus = RedisBus(redis_url, prefix=prefix, options=FAST)
        opened.append(bus)
        return bus

    yield open_replica
    for bus in opened:
        await bus.close()


async def test_garbage_in_the_stream_is_skipped_by_subscribers_and_dead_lettered_by_groups(
    redis_replicas: Callable[[], RedisBus], raw_redis: aioredis.Redis
) -> None:
    # given a subscriber and a consumer, and another tool writing garbage to our stream
    bus = redis_replicas()
    await bus.start()
    subscription = bus.subscribe()
    handled: list[Event] = []

    async def handle(event: Event) -> None:
        handled.append(event)

    async with Stopped() as consumers:
        consumers.run(bus, "propagation", "c", handle)
        await raw_redis.xadd(bus.stream, {EVENT_FIELD: "{not json"})
        await raw_redis.xadd(bus.stream, {"something": "else"})
        await raw_redis.xadd(bus.stream, {EVENT_FIELD: '{"specversion": "1.0", "id": "x"}'})
        await raw_redis.xadd(bus.stream, {EVENT_FIELD: '["a", "list"]'})
        await bus.publish(payment(1))

        # then the subscriber's next event is the real one
        assert await receive(subscription) == [payment(1)]
        # and the group handles the real one and dead-letters the garbage, acknowledged
        await eventually(lambda: handled == [payment(1)], "the real event handled")

    letters = await bus.dead_letters("propagation")
    assert len(letters) == 4
    assert all(
        event is None and reason.startswith("malformed entry") for _, event, reason in letters
    )
    pending = await raw_redis.xpending(bus.stream, "propagation")
    assert pending["pending"] == 0


async def test_the_fan_out_reader_reconnects_and_goes_on_from_its_last_event(
    redis_replicas: Callable[[], RedisBus], raw_redis: aioredis.Redis
) -> None:
    # given a subscriber on one replica that has received an event from the other
    publisher, follower = redis_replicas(), redis_replicas()
    await follower.start()
    subscription = follower.subscribe()
    await publisher.publish(payment(1))
    assert await receive(subscription) == [payment(1)]

    # when Redis drops the follower's reading connection, and events are published meanwhile
    name = f"accord-bus:{follower.instance}"
    victims = [client["id"] for client in await raw_redis.client_list() if client["name"] == name]
    assert victims
    for victim in victims:
        await raw_redis.client_kill_filter(_id=victim)
    await publisher.publish(payment(2))
    await publisher.publish(payment(3))

    # then the reader reconnects and delivers them, once each and in order
    assert await receive(subscription, 2) == [payment(2), payment(3)]
    assert follower.reconnects >= 1
    await publisher.publish(payment(4))
    assert await receive(subscription) == [payment(4)]


async def test_a_consumer_recreates_its_group_when_the_stream_is_deleted(
    redis_replicas: Callable[[], RedisBus], raw_redis: aioredis.Redis
) -> None:
    bus = redis_replicas()
    handled: list[str] = []

    async def handle(event: Event) -> None:
        handled.append(event.id)

    async with Stopped() as consumers:
        consumers.run(bus, "propagation", "c", handle)
        await bus.publish(payment(1))
        await eventually(lambda: handled == [payment(1).id], "first event handled")

        # when an operator deletes the stream, group and all, and events go on
        await raw_redis.delete(bus.stream)
        await bus.publish(payment(2))

        # then the consumer meets NOGROUP, recreates its group from the start, and goes on

        await eventually(lambda: handled == [payment(1).id, payment(2).id], "handled after")


async def test_an_unreachable_redis_fails_start_and_does_not_crash_the_reader() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0", options=FAST)
    try:
        with pytest.raises(BusUnavailable, match=r"127\.0\.0\.1:1"):
            await bus.start()
        with pytest.raises(BusUnavailable):
            await bus.publish(payment(1))
        subscription = bus.subscribe()  # starts the reader, which keeps trying
        await eventually(lambda: bus.reconnects >= 2, "the reader retried")
    finally:
        await bus.close()
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)


async def test_open_bus_picks_the_implementation() -> None:
    assert isinstance(open_bus(None), MemoryBus)
    bus = open_bus("redis://user:secret@127.0.0.1:6379/0", prefix="x:")
    assert isinstance(bus, RedisBus)
    assert bus.url == "redis://user:***@127.0.0.1:6379/0"
    assert bus.stream == "x:events:stream"
    await bus.close()
    with pytest.raises(ValueError, match="claim_idle"):
        BusOptions(claim_idle=0)
