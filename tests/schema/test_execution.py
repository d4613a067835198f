"""A long-lived subscription's memory does not grow with every event it delivers."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncGenerator

import strawberry

from schema.execution import ExecutionContext

EVENTS = 3000


@strawberry.type
class Payload:
    id: int
    name: str


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[Payload, None]:
        for n in range(EVENTS):
            yield Payload(id=n, name=f"tick {n}")


async def grown_while_subscribed(schema: strawberry.Schema) -> int:
    """Bytes graphql-core's executor still holds after the last event than after the first,
    while the subscription is still open (both measured with it open)."""
    stream = await schema.subscribe("subscription { ticks { id name } }")
    assert not hasattr(stream, "errors")
    iterator = stream.__aiter__()
    await iterator.__anext__()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(EVENTS - 2):
            await iterator.__anext__()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        await iterator.aclose()  # type: ignore[attr-defined]
    executor = [tracemalloc.Filter(True, "*graphql/execution/*")]
    stats = after.filter_traces(executor).compare_to(before.filter_traces(executor), "filename")
    return sum(stat.size_diff for stat in stats)


async def test_the_memory_a_subscription_holds_stays_flat() -> None:
    # given a subscription delivering 3,000 events, resolved with Accord's execution context
    schema = strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=ExecutionContext
    )

    grown = await grown_while_subscribed(schema)

    # then what the executor holds did not grow with them (without it: ~100 bytes an event)
    assert grown < 20_000, grown


async def test_graphql_cores_own_context_grows_with_every_event() -> None:
    # the check above can fail: the default context keeps something for every event
    schema = strawberry.Schema(query=Query, subscription=Subscription)

    assert await grown_while_subscribed(schema) > 100_000
