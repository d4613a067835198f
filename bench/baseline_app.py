"""The baseline of the serving benchmarks: a bare strawberry app answering from constants.

It has the shape of Accord's Lightning credit query, ``customer(salesforceId) { name credit
{ limit { amount currency } balance { amount } overdue { amount } available { amount }
status } }``, with the same scalars (``Decimal`` as a string, ``CurrencyCode``) and enum, and
answers every id with the same constant customer. For the lists scenario it also answers
``customers(first) { nodes { name credit {...} invoices(first) { nodes { number status
amountDue { amount } dueDate } } } }`` with that many constant customers of five invoices.
It is strawberry's own ASGI app with its parser and validation caches on, served the way
Accord is (`api.serving.serve`: uvicorn with the same loop and parser, one worker, the
start-up heap frozen). The distance from it to
Accord is then Accord's own work: its HTTP layer, context, resolvers and cache.

    python -m bench.baseline_app --port P
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import enum
from typing import NewType

import strawberry
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from api.serving import serve

CurrencyCode = NewType("CurrencyCode", str)


@strawberry.enum
class CreditStatus(enum.Enum):
    GOOD_STANDING = "GOOD_STANDING"
    OVER_LIMIT = "OVER_LIMIT"
    ON_HOLD = "ON_HOLD"


@strawberry.type
class Money:
    amount: decimal.Decimal
    currency: CurrencyCode


@strawberry.type
class CreditSummary:
    limit: Money | None
    balance: Money
    overdue: Money
    available: Money | None
    status: CreditStatus


@strawberry.enum
class InvoiceStatus(enum.Enum):
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    OVERDUE = "OVERDUE"


@strawberry.type
class AmountDue:
    amount: decimal.Decimal


@strawberry.type
class Invoice:
    number: str
    status: InvoiceStatus
    amount_due: AmountDue
    due_date: dt.date | None


@strawberry.type
class InvoiceConnection:
    nodes: list[Invoice]


INVOICES = [
    Invoice(
        number=f"INV-{n:05d}",
        status=InvoiceStatus.OPEN,
        amount_due=AmountDue(amount=decimal.Decimal("1250.00")),
        due_date=dt.date(2026, 1, 31),
    )
    for n in range(5)
]


@strawberry.type
class Customer:
    name: str
    credit: CreditSummary | None

    @strawberry.field
    def invoices(self, first: int | None = 50) -> InvoiceConnection | None:
        return InvoiceConnection(nodes=INVOICES[: first or 0])


@strawberry.type
class CustomerConnection:
    nodes: list[Customer]


def _money(amount: str) -> Money:
    return Money(amount=decimal.Decimal(amount), currency=CurrencyCode("USD"))


CUSTOMER = Customer(
    name="Acme Industrial Supply",
    credit=CreditSummary(
        limit=_money("50000.00"),
        balance=_money("12500.00"),
        overdue=_money("1250.00"),
        available=_money("37500.00"),
        status=CreditStatus.GOOD_STANDING,
    ),
)


MANY = [Customer(name=f"Customer {n}", credit=CUSTOMER.credit) for n in range(500)]


@strawberry.type
class Query:
    @strawberry.field
    def customer(self, salesforce_id: strawberry.ID) -> Customer | None:
        return CUSTOMER

    @strawberry.field
    def customers(self, first: int | None = 50) -> CustomerConnection | None:
        return CustomerConnection(nodes=MANY[: first or 0])


schema = strawberry.Schema(
    query=Query,
    extensions=[lambda: ParserCache(maxsize=1000), lambda: ValidationCache(maxsize=1000)],
    scalar_overrides={
        decimal.Decimal: strawberry.scalar(
            name="Decimal", serialize=lambda value: format(value, "f"), parse_value=decimal.Decimal
        ),
        CurrencyCode: strawberry.scalar(name="CurrencyCode", serialize=str, parse_value=str),
    },
)
app = GraphQL(schema, graphql_ide=None)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(app, host=args.host, port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
