"""A small support-ticket subgraph that extends Accord's Customer with ``tickets``.

It stands for another team's service in the supergraph: it knows customers only by Accord's
canonical id (the key other teams use), holds tickets in memory, and counts the entity
references the gateway sends it, so a test can see them batched.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any, Final

import strawberry
import uvicorn
from strawberry.asgi import GraphQL
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig

from schema.scalars import SCALAR_MAP

FEDERATION_VERSION: Final = "2.3"


@strawberry.enum(description="Where a ticket stands.")
class TicketStatus(enum.Enum):
    OPEN = "OPEN"
    WAITING = "WAITING"
    SOLVED = "SOLVED"


@dataclass
class Desk:
    """The tickets, and the entity references received (one list per ``_entities`` call)."""

    tickets: list[TicketRecord]
    reference_batches: list[int] = field(default_factory=list)

    @classmethod
    def for_customers(cls, customer_ids: list[str]) -> Desk:
        """Deterministic tickets: customer i has i % 3 + 1 of them."""
        statuses = list(TicketStatus)
        tickets = [
            TicketRecord(
                id=f"tkt-{index:03d}-{n}",
                subject=f"Question {n + 1} about invoice delivery",
                status=statuses[(index + n) % len(statuses)],
                opened_on=dt.date(2026, 1, 1) + dt.timedelta(days=index + n),
                customer_id=customer_id,
            )
            for index, customer_id in enumerate(customer_ids)
            for n in range(index % 3 + 1)
        ]
        return cls(tickets)


@dataclass(frozen=True)
class TicketRecord:
    id: str
    subject: str
    status: TicketStatus
    opened_on: dt.date
    customer_id: str


def _desk(info: strawberry.Info) -> Desk:
    desk: Desk = info.context["desk"]
    return desk


# No description on Customer and its key: Accord's describe them, and a second, different
# description would only make composition pick one.
@strawberry.federation.type(keys=["id"])
class Customer:
    id: strawberry.ID

    @strawberry.field(description="Support tickets the customer opened, oldest first.")  # type: ignore[untyped-decorator]
    def tickets(self, info: strawberry.Info) -> list[Ticket]:
        return [Ticket.of(t) for t in _desk(info).tickets if t.customer_id == self.id]

    @classmethod
    def resolve_reference(cls, info: strawberry.Info, id: strawberry.ID) -> Customer:
        _desk(info).reference_batches[-1] += 1
        return cls(id=id)


@strawberry.federation.type(keys=["id"], description="A support ticket.")
class Ticket:
    id: strawberry.ID = strawberry.field(description="The ticket's id.")
    subject: str = strawberry.field(description="What the customer asked.")
    status: TicketStatus = strawberry.field(description="Where it stands.")
    opened_on: dt.date = strawberry.field(description="When it was opened.")
    customer: Customer = strawberry.field(description="Who opened it.")

    @classmethod
    def of(cls, record: TicketRecord) -> Ticket:
        return cls(
            id=strawberry.ID(record.id),
            subject=record.subject,
            status=record.status,
            opened_on=record.opened_on,
            customer=Customer(id=strawberry.ID(record.customer_id)),
        )


@strawberry.type
class Query:
    @strawberry.field(description="Tickets, oldest first.")  # type: ignore[untyped-decorator]
    def tickets(self, info: strawberry.Info, first: int = 20) -> list[Ticket]:
        return [Ticket.of(t) for t in _desk(info).tickets[:first]]


class _CountingSchema(strawberry.federation.Schema):
    def entities_resolver(
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        _desk(info).reference_batches.append(0)
        return super().entities_resolver(info, representations)


# Accord's scalar definitions (a shared package, in a real estate), so that Date is described
# alike in both subgraphs and composition has nothing to reconcile.
schema = _CountingSchema(
    query=Query,
    types=[Customer],
    federation_version=FEDERATION_VERSION,
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
)


def sdl() -> str:
    return schema.as_str() + "\n"


class TicketsApp(GraphQL[dict[str, Any], None]):
    """The subgraph over HTTP (any path), serving ``desk``."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(schema, graphql_ide=None)
        self.desk = desk

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"desk": self.desk}


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.federation.tickets``: the ticket subgraph for the gateway demo."""
    parser = argparse.ArgumentParser(prog="python -m tests.federation.tickets")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4001)
    parser.add_argument(
        "--customers",
        default=",".join(f"cus:CUST-{n:06d}" for n in range(1, 11)),
        help="comma-separated canonical ids of the customers who have tickets",
    )
    args = parser.parse_args(argv)
    desk = Desk.for_customers([c.strip() for c in args.customers.split(",") if c.strip()])
    print(f"the ticket subgraph serves http://{args.host}:{args.port}/graphql", flush=True)
    uvicorn.run(TicketsApp(desk), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
