"""Tryton parties as Accord's ERP customers: what is read, and how changes are written.

A customer is a ``party.party`` that is not a company's own party. Its cross-reference key
(Salesforce's ``Account.ERP_Customer_Id__c``) is the party's ``code``. Tryton keeps one party
for all companies; the company a customer buys from (its legal entity) is the one its credit
limit is kept in (``party.party.credit_limit_amount`` rows, one per company), and its credit
limit, balance (``receivable``) and overdue balance are that company's, in its currency.

A party read is one ``search_read`` with the dotted fields below; the balance is company
dependent, so it is read once per company among the parties read (one call each, together),
and the overdue balance sums the posted invoices whose due date lies before Tryton's today
(one call).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sources.records import Address, CreditHold, ErpCustomer
from sources.tryton.identifiers import accord_tax_id
from sources.tryton.reference import Reference
from sources.tryton.rpc import TrytonRpc

__all__ = ["ADDRESS_FIELDS", "PARTY_FIELDS", "PartyRows", "billing_row", "legal_entity_row"]

ADDRESS_FIELDS = ("street", "city", "postal_code", "invoice", "country.code", "subdivision.code")
PARTY_FIELDS = [
    "code",
    "name",
    "active",
    "create_date",
    "write_date",
    "email",
    "phone",
    "customer_payment_term",
    "customer_currency",
    "categories",
    "tax_identifier.type",
    "tax_identifier.code_compact",
    "credit_limit_amounts.company",
    "credit_limit_amounts.credit_limit_amount",
    *(f"addresses.{name}" for name in ADDRESS_FIELDS),
]


def legal_entity_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """The party's credit limit row that names its company (the first one kept)."""
    rows = sorted(row.get("credit_limit_amounts.") or [], key=lambda r: int(r["id"]))
    return rows[0] if rows else None


def billing_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """The party's invoice address row (its first address when none is marked)."""
    addresses = sorted(row.get("addresses.") or [], key=lambda a: int(a["id"]))
    return next((a for a in addresses if a.get("invoice")), addresses[0] if addresses else None)


def _address(row: dict[str, Any] | None) -> Address | None:
    if row is None:
        return None
    subdivision = (row.get("subdivision.") or {}).get("code")
    return Address(
        street=row.get("street") or None,
        city=row.get("city") or None,
        # ISO 3166-2 "US-IL" is the state "IL" of the country
        state=str(subdivision).split("-", 1)[-1] if subdivision else None,
        postal_code=row.get("postal_code") or None,
        country=(row.get("country.") or {}).get("code"),
    )


class PartyRows:
    """Turns party rows into `ErpCustomer`s, reading the company-dependent figures."""

    def __init__(self, rpc: TrytonRpc, today: Any) -> None:
        self.rpc = rpc
        self.today = today

    async def _balances(self, companies: dict[int, list[int]]) -> dict[int, Decimal]:
        async def one(company: int, ids: list[int]) -> list[dict[str, Any]]:
            return await self.rpc.search_read(
                "party.party",
                [["id", "in", ids]],
                ["receivable"],
                context={"company": company, "active_test": False},
            )

        pages = await asyncio.gather(*(one(c, ids) for c, ids in companies.items()))
        return {
            int(row["id"]): Decimal(row.get("receivable") or 0) for page in pages for row in page
        }

    async def _overdue(self, companies: dict[int, list[int]]) -> dict[int, Decimal]:
        parties = [p for ids in companies.values() for p in ids]
        company_of = {p: c for c, ids in companies.items() for p in ids}
        rows = await self.rpc.search_read(
            "account.invoice",
            [["type", "=", "out"], ["state", "=", "posted"], ["party", "in", parties]],
            ["party", "company", "amount_to_pay", "lines_to_pay.maturity_date"],
        )
        today: dt.date = self.today()
        overdue: dict[int, Decimal] = defaultdict(Decimal)
        for row in rows:
            party = int(row["party"])
            if company_of.get(party) != row.get("company"):
                continue
            dues = [
                line["maturity_date"]
                for line in row.get("lines_to_pay.") or []
                if line.get("maturity_date")
            ]
            if dues and min(dues) < today:
                overdue[party] += Decimal(row.get("amount_to_pay") or 0)
        return overdue

    async def customers(
        self, rows: list[dict[str, Any]], reference: Reference, holds: dict[str, int]
    ) -> list[ErpCustomer]:
        """The customers of ``rows`` (read with `PARTY_FIELDS`), in their order."""
        companies: dict[int, list[int]] = defaultdict(list)
        for row in rows:
            entity = legal_entity_row(row)
            if entity is not None and entity.get("company"):
                companies[int(entity["company"])].append(int(row["id"]))
        balances, overdue = (
            await asyncio.gather(self._balances(companies), self._overdue(companies))
            if companies
            else ({}, {})
        )
        held = {category: hold for hold, category in holds.items()}
        found = []
        for row in rows:
            party = int(row["id"])
            entity = legal_entity_row(row)
            company = int(entity["company"]) if entity and entity.get("company") else None
            limit = entity.get("credit_limit_amount") if entity else None
            identifier = row.get("tax_identifier.")
            hold = next(
                (held[c] for c in row.get("categories") or [] if c in held), CreditHold.AUTO.value
            )
            currency = row.get("customer_currency")
            if currency is None and company is not None:
                entity_currency = reference.companies[company].currency
            else:
                entity_currency = reference.currencies.get(currency or 0)
            terms = row.get("customer_payment_term")
            found.append(
                ErpCustomer(
                    erp_id=str(party),
                    erp_key=row.get("code") or None,
                    name=row.get("name"),
                    email=row.get("email") or None,
                    phone=row.get("phone") or None,
                    billing_address=_address(billing_row(row)),
                    legal_entity_id=str(company) if company is not None else None,
                    currency=entity_currency,
                    terms_id=str(terms) if terms else None,
                    tax_id=accord_tax_id(identifier.get("type"), str(identifier["code_compact"]))
                    if identifier and identifier.get("code_compact")
                    else None,
                    credit_limit=Decimal(limit) if limit is not None else None,
                    balance=balances.get(party, Decimal(0)),
                    overdue_balance=overdue.get(party, Decimal(0)),
                    credit_hold=CreditHold(hold),
                    inactive=not row.get("active", True),
                    last_modified=row.get("write_date") or row.get("create_date"),
                )
            )
        return found


def chunked(values: Sequence[int], size: int) -> list[list[int]]:
    unique = list(dict.fromkeys(values))
    return [unique[start : start + size] for start in range(0, len(unique), size)]
