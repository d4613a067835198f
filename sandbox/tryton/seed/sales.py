"""The world's sales orders as Tryton sales, and their invoices, posted.

Every order is created in the company of its customer, quoted and confirmed. Tryton numbers
sales itself; its sale sequence is set to the world's numbering (``SO`` + six digits from
30001) and the orders are quoted in the world's order, so each Tryton sale has the number the
world gave it. An order booked from a Salesforce opportunity carries the opportunity id as its
``reference``. How the world's NetSuite statuses become Tryton states:

- ``B`` (pending fulfillment): confirmed with invoicing on request (``invoice_method``
  ``manual``), so Tryton processes it without making an invoice: state ``processing``,
  invoice state ``none``;
- ``F`` and ``G`` (pending billing, billed): invoiced when processed (``order``); the draft
  invoice Tryton makes is dated as the world dates it and posted. Its payment term gives the
  due date, so Tryton's maturity dates are the world's due dates; a paid sale moves on to
  ``done`` once its invoice is paid.

Tryton numbers posted invoices itself, per company and fiscal year and in date order (a legal
requirement it enforces), e.g. ``US-INV-2026-00012``; an invoice is found from its sale.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sandbox.tryton.seed.books import Books
from sandbox.tryton.seed.catalogue import Catalogue
from sandbox.tryton.seed.confirm import (
    call_confirming,
    chunks,
    company,
    confirm_ahead,
    warning_name,
)
from sandbox.tryton.seed.parties import Parties, erp_customers
from sandbox.world import Customer, SalesOrder, World
from sources.tryton.rpc import TrytonRpc

__all__ = ["FIRST_SALE_NUMBER", "Sales", "seed_sales"]

FIRST_SALE_NUMBER = 30001
BATCH = 500  # sales per create call


class Sales:
    def __init__(self) -> None:
        self.orders: dict[str, int] = {}  # world order number -> sale id
        self.invoices: dict[str, int] = {}  # world invoice number -> invoice id


def _sale(
    customer: Customer, order: SalesOrder, books: Books, catalogue: Catalogue, parties: Parties
) -> dict[str, Any]:
    key = customer.key or ""
    address = parties.addresses[key]
    return {
        "company": books.companies[customer.subsidiary.ns_id],
        "party": parties.ids[key],
        "currency": books.currencies[order.currency],
        "reference": order.external_id,
        "sale_date": order.date,
        "quotation_date": order.date,
        "payment_term": books.terms[customer.terms.ns_id],
        "invoice_address": address,
        "shipment_address": address,
        "invoice_method": "manual" if order.status == "B" else "order",
        "lines": [
            (
                "create",
                [
                    {
                        "type": "line",
                        "product": catalogue.products[line.product.sku],
                        "description": line.product.name,
                        "quantity": float(line.quantity),
                        "unit": catalogue.unit,
                        "unit_price": line.unit_price,
                    }
                    for line in order.lines
                ],
            )
        ],
    }


async def _number_like_the_world(rpc: TrytonRpc) -> None:
    (config,) = await rpc.call("sale.configuration", "read", [1], ["sale_sequence"])
    await rpc.call(
        "ir.sequence",
        "write",
        [config["sale_sequence"]],
        {"prefix": "SO", "padding": 6, "number_next": FIRST_SALE_NUMBER},
    )


async def _create_sales(
    rpc: TrytonRpc, world: World, books: Books, catalogue: Catalogue, parties: Parties
) -> Sales:
    sales = Sales()
    for sub in world.subsidiaries:
        orders = [
            (customer, order)
            for customer in erp_customers(world)
            if customer.subsidiary.ns_id == sub.ns_id
            for order in customer.sales_orders
        ]
        for batch in chunks(orders, BATCH):
            ids = await rpc.create(
                "sale.sale",
                [_sale(c, o, books, catalogue, parties) for c, o in batch],
                context=company(books.companies[sub.ns_id]),
            )
            sales.orders.update((o.tran_id, i) for (_, o), i in zip(batch, ids, strict=True))
    # Quoting numbers the sales: in the world's order, they get the world's numbers.
    in_order = [sales.orders[number] for number in sorted(sales.orders)]
    for button in ("quote", "confirm"):
        for some in chunks(in_order, BATCH):
            await call_confirming(rpc, "sale.sale", button, list(some), context={})
    return sales


async def _post_invoices(rpc: TrytonRpc, world: World, books: Books, sales: Sales) -> None:
    rows = await rpc.search_read(
        "sale.sale", [["id", "in", list(sales.orders.values())]], ["number", "invoices"]
    )
    invoice_of = {row["number"]: row["invoices"] for row in rows}
    dates: list[Any] = []
    by_company: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for customer in erp_customers(world):
        for invoice in customer.invoices:
            assert invoice.sales_order is not None
            made = invoice_of[invoice.sales_order.tran_id]
            if len(made) != 1:
                raise RuntimeError(f"sale {invoice.sales_order.tran_id} made {len(made)} invoices")
            sales.invoices[invoice.tran_id] = made[0]
            dates += [[made[0]], {"invoice_date": invoice.date}]
            by_company[books.companies[customer.subsidiary.ns_id]].append((invoice.date, made[0]))
    for batch in chunks(dates, 2 * BATCH):
        await rpc.call("account.invoice", "write", *batch)
    # Tryton asks to confirm posting an invoice that falls due before today (most seeded
    # ones), and one to a customer whose EU VAT number was not checked with VIES (no sandbox
    # can reach VIES). Confirm them all ahead, then post each company's invoices in one call
    # (a posting that mixes companies fails in Tryton 8.2).
    eu_vat = await rpc.search_read("party.identifier", [["type", "=", "eu_vat"]], ["id"])
    await confirm_ahead(
        rpc,
        [
            *(
                warning_name("account.invoice", [i], "invoice_payment_term")
                for dated in by_company.values()
                for _, i in dated
            ),
            *(
                warning_name("party.identifier", [row["id"]], "account.invoice eu_vat valid")
                for row in eu_vat
            ),
        ],
    )
    for company_id, dated in by_company.items():
        # Tryton numbers invoices in date order: earlier batches hold the earlier dates.
        ids = [i for _, i in sorted(dated)]
        for batch in chunks(ids, BATCH):
            await call_confirming(
                rpc, "account.invoice", "post", list(batch), context=company(company_id)
            )


async def seed_sales(
    rpc: TrytonRpc, world: World, books: Books, catalogue: Catalogue, parties: Parties
) -> Sales:
    await _number_like_the_world(rpc)
    sales = await _create_sales(rpc, world, books, catalogue, parties)
    await _post_invoices(rpc, world, books, sales)
    return sales
