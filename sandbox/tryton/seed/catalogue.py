"""The world's products as Tryton products, priced in each company's currency.

Each product is a template (``product.template``, code = the world's SKU) with one variant
(``product.product``), sold by the unit. All are services: Tryton then invoices them when a
sale is processed and needs no warehouse moves, which the world does not have. Their list
price is per company (Tryton keeps it company by company), converted as the world converts
prices. One accounting category books their revenue to each company's sales account.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sandbox.tryton.seed.books import Books
from sandbox.tryton.seed.confirm import company
from sandbox.world import FX_FROM_USD, World
from sources.tryton.rpc import TrytonRpc

__all__ = ["Catalogue", "seed_catalogue"]


@dataclass(frozen=True)
class Catalogue:
    unit: int  # product.uom "Unit"
    products: dict[str, int]  # SKU -> product.product id


def price(usd: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1) if currency == "JPY" else Decimal("0.01")
    return (usd * FX_FROM_USD[currency]).quantize(exponent)


async def seed_catalogue(rpc: TrytonRpc, world: World, books: Books) -> Catalogue:
    unit = await rpc.call("ir.model.data", "get_id", "product", "uom_unit")
    (category,) = await rpc.create(
        "product.category", [{"name": "Accord catalogue", "accounting": True}]
    )
    for company_id, accounts in books.accounts.items():
        await rpc.call(
            "product.category",
            "write",
            [category],
            {"account_revenue": accounts.revenue, "account_expense": accounts.expense},
            context=company(company_id),
        )
    templates = await rpc.create(
        "product.template",
        [
            {
                "name": product.name,
                "code": product.sku,
                "type": "service",
                "default_uom": unit,
                "sale_uom": unit,
                "salable": True,
                "account_category": category,
                "products": [("create", [{"description": product.family}])],
            }
            for product in world.products
        ],
    )
    for sub in world.subsidiaries:
        prices: list[object] = []
        for template, product in zip(templates, world.products, strict=True):
            prices += [[template], {"list_price": price(product.list_price_usd, sub.currency)}]
        await rpc.call(
            "product.template", "write", *prices, context=company(books.companies[sub.ns_id])
        )
    rows = await rpc.search_read(
        "product.product", [["template", "in", templates]], ["template", "code"]
    )
    by_template = {row["template"]: row["id"] for row in rows}
    return Catalogue(
        unit=unit,
        products={
            product.sku: by_template[template]
            for template, product in zip(templates, world.products, strict=True)
        },
    )
