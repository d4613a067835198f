"""The world's customers, those the ERP knows, as Tryton parties.

A party carries the customer's cross-reference key as its **code** (``party.party.code``,
unique, searchable): the value Salesforce holds in ``Account.ERP_Customer_Id__c``. It has the
ERP's version of the name and billing street where the world recorded drift, one address used
for invoices and deliveries, phone / email / website contact mechanisms, the tax id as a typed
identifier (`sandbox.tryton.identifiers`), the customer payment term and currency, and, for
the companies it buys from, a credit limit.

NetSuite's credit hold override has no Tryton field; a customer held ON or released OFF is put
in the party category "Credit hold" or "Credit hold released" (AUTO: neither).

Credit limits are written last, after the sales are confirmed: Tryton checks them when a sale
is confirmed, and the seed replays history, not new orders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.tryton.identifiers import tryton_identifier
from sandbox.tryton.seed.books import Books
from sandbox.tryton.seed.confirm import chunks, company
from sandbox.world import Customer, World
from sources.tryton.rpc import TrytonRpc

__all__ = ["CREDIT_HOLD_CATEGORIES", "Parties", "seed_credit_limits", "seed_parties"]

CREDIT_HOLD_CATEGORIES = {"ON": "Credit hold", "OFF": "Credit hold released"}
BATCH = 500  # parties per create call


@dataclass(frozen=True)
class Parties:
    ids: dict[str, int]  # customer key -> party id
    addresses: dict[str, int]  # customer key -> its address id


def erp_customers(world: World) -> list[Customer]:
    """The customers the ERP knows, in the world's order."""
    return [customer for customer in world.customers if customer.ns_id is not None]


def _values(customer: Customer, books: Books, categories: dict[str, int]) -> dict[str, Any]:
    address = customer.address
    domain = customer.website.removeprefix("https://www.")
    subdivision = books.subdivisions.get((address.country, address.state or ""))
    values: dict[str, Any] = {
        "name": customer.erp_name or customer.name,
        "code": customer.key,
        "addresses": [
            (
                "create",
                [
                    {
                        "street": customer.erp_street or address.street,
                        "postal_code": address.postal_code,
                        "city": address.city,
                        "country": books.countries[address.country],
                        "subdivision": subdivision,
                        "invoice": True,
                        "delivery": True,
                    }
                ],
            )
        ],
        "contact_mechanisms": [
            (
                "create",
                [
                    {"type": "phone", "value": customer.phone},
                    {"type": "email", "value": f"accounts@{domain}"},
                    {"type": "website", "value": customer.website},
                ],
            )
        ],
        "customer_payment_term": books.terms[customer.terms.ns_id],
        "customer_currency": books.currencies[customer.currency],
    }
    if customer.tax_id:
        identifier = tryton_identifier(address.country, customer.tax_id)
        values["identifiers"] = [("create", [identifier])]
    if customer.credit_hold in categories:
        values["categories"] = [("add", [categories[customer.credit_hold]])]
    return values


async def seed_parties(rpc: TrytonRpc, world: World, books: Books) -> Parties:
    names = list(CREDIT_HOLD_CATEGORIES.values())
    category_ids = await rpc.create("party.category", [{"name": name} for name in names])
    categories = {
        hold: category_ids[names.index(name)] for hold, name in CREDIT_HOLD_CATEGORIES.items()
    }
    customers = erp_customers(world)
    ids: dict[str, int] = {}
    for sub in world.subsidiaries:
        # Company-dependent values (payment term, currency) go to the customer's company.
        mine = [c for c in customers if c.subsidiary.ns_id == sub.ns_id]
        for batch in chunks(mine, BATCH):
            created = await rpc.create(
                "party.party",
                [_values(c, books, categories) for c in batch],
                context=company(books.companies[sub.ns_id]),
            )
            ids.update((c.key or "", i) for c, i in zip(batch, created, strict=True))
    rows = await rpc.search_read("party.address", [["party", "in", list(ids.values())]], ["party"])
    address_of = {row["party"]: row["id"] for row in rows}
    return Parties(ids=ids, addresses={key: address_of[i] for key, i in ids.items()})


async def seed_credit_limits(rpc: TrytonRpc, world: World, books: Books, parties: Parties) -> None:
    """Each customer's credit limit, in the currency of the company it buys from."""
    for sub in world.subsidiaries:
        limits: list[Any] = []
        for customer in erp_customers(world):
            if customer.subsidiary.ns_id == sub.ns_id and customer.key:
                limits += [
                    [parties.ids[customer.key]],
                    {"credit_limit_amount": customer.credit_limit},
                ]
        if limits:
            await rpc.call(
                "party.party", "write", *limits, context=company(books.companies[sub.ns_id])
            )
