"""A long-lived subscription's memory does not grow with every event it delivers."""

from __future__ import annotations

import enum
import tracemalloc
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLObjectType

from schema.build import build_schema
from schema.execution import ExecutionContext, direct_resolvers

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


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@strawberry.input
class Filter:
    prefix: str


@strawberry.type
class Item:
    name: str
    renamed: int = strawberry.field(name="count")

    @strawberry.field
    def shout(self, times: int = 1, size: Size | None = None, as_of: str | None = None) -> str:
        loud = self.name.upper() * times
        return f"{loud} {size.value if size else '-'} {as_of or '-'}"

    @strawberry.field
    def asked(self, info: strawberry.Info) -> str:
        return f"{info.field_name} under {info.path.prev.key if info.path.prev else '-'}"

    @strawberry.field
    async def later(self, root: Item) -> str:
        return f"{root.name} later"


@strawberry.type
class Catalogue:
    @strawberry.field
    def items(self, first: int = 10) -> list[Item]:
        return [Item(name="a", renamed=1), Item(name="b", renamed=2)][:first]

    @strawberry.field
    def matching(self, where: Filter, names: list[str] | None = None) -> list[str]:
        return [n for n in names or ["apple", "berry"] if n.startswith(where.prefix)]


QUERY = """{
  items(first: 2) {
    name count shout(times: 2, size: LARGE, asOf: "today") plain: shout asked later
  }
  matching(where: {prefix: "a"})
}"""


async def test_fields_strawberry_would_not_convert_resolve_directly_with_the_same_answers() -> None:
    # given a schema with plain fields (one renamed), resolvers taking scalars, an enum,
    # the info and the root, and a field taking an input object and a list
    schema = strawberry.Schema(query=Catalogue)
    before = await schema.execute(QUERY)

    # when the fields strawberry passes through unchanged get resolvers of their own
    changed = direct_resolvers(schema)

    # then those fields (and not the one with an input object) changed, and answer the same
    assert sorted(changed) == [
        "Catalogue.items",
        "Item.asked",
        "Item.count",
        "Item.later",
        "Item.name",
        "Item.shout",
    ]
    after = await schema.execute(QUERY)
    assert after.errors is None
    assert (
        after.data
        == before.data
        == {
            "items": [
                {
                    "name": name,
                    "count": count,
                    "shout": f"{name.upper() * 2} large today",
                    "plain": f"{name.upper()} - -",
                    "asked": f"asked under {index}",
                    "later": f"{name} later",
                }
                for index, (name, count) in enumerate([("a", 1), ("b", 2)])
            ],
            "matching": ["apple"],
        }
    )


def test_accord_s_schema_reads_plain_fields_directly_under_its_access_rules() -> None:
    schema = build_schema()._schema
    money = schema.type_map["Money"]
    credit = schema.type_map["CreditSummary"]
    assert isinstance(money, GraphQLObjectType)
    assert isinstance(credit, GraphQLObjectType)
    assert "read_attribute" in money.fields["amount"].resolve.__qualname__
    assert "direct" in schema.query_type.fields["customer"].resolve.__qualname__  # type: ignore[union-attr]
    # a confidential field is guarded around the direct read, not instead of it
    assert "guard" in credit.fields["limit"].resolve.__qualname__
