"""The user Accord logs in as: an integration user that works in every company.

Its company filter is "all", so what it sees does not depend on a company cached for it
(a Tryton user with the filter "one" keeps seeing the companies cached at its first call,
whatever context it sends later); each call names the company it works in. Its groups let it
read and write parties, sales, invoices and statements, and, being in the credit limit group,
a sale over a customer's credit limit stops with a warning it can confirm (an approval, in
Accord's terms) instead of a plain refusal.
"""

from __future__ import annotations

from sandbox.tryton.seed.books import Books
from sources.tryton.rpc import TrytonRpc

__all__ = ["INTEGRATION_GROUPS", "seed_integration_user"]

INTEGRATION_GROUPS = (
    ("party", "group_party_admin"),
    ("product", "group_product_admin"),
    ("account", "group_account"),
    ("account_statement", "group_statement"),
    ("account_credit_limit", "group_credit_limit"),
    ("sale", "group_sale"),
)


async def seed_integration_user(rpc: TrytonRpc, books: Books, login: str, password: str) -> int:
    groups = [
        await rpc.call("ir.model.data", "get_id", module, name)
        for module, name in INTEGRATION_GROUPS
    ]
    companies = sorted(books.companies.values())
    (user,) = await rpc.create(
        "res.user",
        [
            {
                "name": "Accord integration",
                "login": login,
                "password": password,
                "companies": [("add", companies)],
                "company": companies[0],
                "company_filter": "all",
                "groups": [("add", groups)],
            }
        ],
    )
    return user
