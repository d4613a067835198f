"""Seed a Tryton database with the sandbox world, over JSON-RPC only.

`seed` logs in as the administrator of a database whose modules are activated and writes,
in order: the books (`books`: currencies, countries, one company per legal entity, charts,
taxes, fiscal years, payment terms, bank journals), the catalogue (`catalogue`), the customers
the ERP knows as parties (`parties`), their sales and invoices (`sales`), their payments as
bank statements (`payments`), their credit limits, and the integration user Accord logs in as
(`users`). Writes go in batches, one call per company and kind where Tryton allows it, so the
time goes into Tryton's own work (posting invoices, mostly), not round trips.

The same world always gives the same records. Tryton stamps ``create_date`` and
``write_date`` with its own clock; dates of documents (sales, invoices, due dates, payments)
are the world's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sandbox.tryton.seed.books import seed_books
from sandbox.tryton.seed.catalogue import seed_catalogue
from sandbox.tryton.seed.confirm import forget_confirmations
from sandbox.tryton.seed.parties import seed_credit_limits, seed_parties
from sandbox.tryton.seed.payments import seed_payments
from sandbox.tryton.seed.sales import seed_sales
from sandbox.tryton.seed.users import seed_integration_user
from sandbox.world import World
from sources.tryton.rpc import TrytonRpc

__all__ = ["SeedReport", "seed"]


@dataclass
class SeedReport:
    """What the seed wrote, and how long each step took (seconds)."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


async def seed(rpc: TrytonRpc, world: World, *, login: str, password: str) -> SeedReport:
    report = SeedReport()
    started = time.monotonic()

    def lap(step: str) -> None:
        nonlocal started
        now = time.monotonic()
        report.seconds[step] = round(now - started, 2)
        started = now

    await rpc.login()
    books = await seed_books(rpc, world)
    lap("books")
    catalogue = await seed_catalogue(rpc, world, books)
    lap("catalogue")
    parties = await seed_parties(rpc, world, books)
    lap("parties")
    sales = await seed_sales(rpc, world, books, catalogue, parties)
    lap("sales and invoices")
    payment_lines = await seed_payments(rpc, world, books, parties, sales)
    lap("payments")
    await seed_credit_limits(rpc, world, books, parties)
    await seed_integration_user(rpc, books, login, password)
    await forget_confirmations(rpc)
    lap("credit limits and user")
    report.counts = {
        "companies": len(books.companies),
        "parties": len(parties.ids),
        "sales": len(sales.orders),
        "invoices": len(sales.invoices),
        "payment_lines": payment_lines,
    }
    return report
