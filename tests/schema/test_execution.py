"""A long-lived subscription's memory does not grow with every event it delivers."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLObjectType

from schema.build import build_schema
from schema.execution import ExecutionContext, read_attributes

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


@strawberry.type
class Item:
    name: str
    renamed: int = strawberry.field(name="count")

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Catalogue:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(name="a", renamed=1), Item(name="b", renamed=2)]


def test_plain_fields_read_their_attribute_and_the_rest_keep_their_resolvers() -> None:
    # given a schema with plain fields (one renamed) and a field with a resolver
    schema = strawberry.Schema(query=Catalogue)
    before = schema.execute_sync("{ items { name count shout } }")

    # when the plain fields get resolvers of their own
    changed = read_attributes(schema._schema)

    # then those fields (and only those) changed, and every answer is the same
    assert sorted(changed) == ["Item.count", "Item.name"]
    item = schema._schema.type_map["Item"]
    assert isinstance(item, GraphQLObjectType)
    assert item.fields["name"].resolve is not None
    assert item.fields["name"].resolve(Item(name="x", renamed=0), None) == "x"
    assert item.fields["count"].resolve(Item(name="x", renamed=7), None) == 7
    after = schema.execute_sync("{ items { name count shout } }")
    assert (
        after.data
        == before.data
        == {
            "items": [
                {"name": "a", "count": 1, "shout": "A"},
                {"name": "b", "count": 2, "shout": "B"},
            ]
        }
    )
    assert after.errors is None


def test_accord_s_schema_reads_plain_fields_directly_under_its_access_rules() -> None:
    schema = build_schema()._schema
    money = schema.type_map["Money"]
    credit = schema.type_map["CreditSummary"]
    assert isinstance(money, GraphQLObjectType)
    assert isinstance(credit, GraphQLObjectType)
    assert "read_attribute" in money.fields["amount"].resolve.__qualname__
    # a confidential field is guarded around the direct read, not instead of it
    assert "guard" in credit.fields["limit"].resolve.__qualname__
