"""Reading a sandbox Tryton in tests: clients of it, and one snapshot of what the seed wrote.

Everything here goes over real HTTPS to the trytond the sandbox started, through Accord's own
JSON-RPC client, as the integration user the endpoints file names.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandbox.endpoints import TrytonEndpoint
from sources.resilience import ResiliencePolicy
from sources.tryton.rpc import TrytonConfig, TrytonRpc

# Tests want an answer or the error at once: no retries to hide a failure.
POLICY = ResiliencePolicy(timeout=60.0, max_attempts=1)


def rpc_for(endpoint: TrytonEndpoint, **overrides: Any) -> TrytonRpc:
    """Accord's client of the sandbox Tryton, logged in as the integration user."""
    values: dict[str, Any] = {
        "url": endpoint.url,
        "database": endpoint.database,
        "user": endpoint.user,
        "password": endpoint.password,
        "ca_file": endpoint.ca_file,
        "policy": POLICY,
        **overrides,
    }
    return TrytonRpc(TrytonConfig(**values))


@dataclass
class Snapshot:
    """What the Tryton holds, read once: rows by kind, money as Decimal, dates as dates."""

    companies: list[dict[str, Any]]
    parties: dict[str, dict[str, Any]]  # by code
    money: dict[str, dict[str, Decimal]]  # code -> receivable, credit limit (its company's)
    identifiers: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    sales: dict[str, dict[str, Any]]  # by number
    invoices: dict[int, dict[str, Any]]  # by id
    maturities: dict[int, dt.date]  # move line id -> maturity date
    statement_lines: list[dict[str, Any]]
    context: dict[str, Any]


async def _read(endpoint: TrytonEndpoint) -> Snapshot:
    rpc = rpc_for(endpoint)
    try:
        await rpc.login()
        companies = await rpc.search_read("company.company", [], ["party.name", "currency.code"])
        parties = await rpc.search_read(
            "party.party",
            [["code", "like", "CUST-%"]],
            ["code", "name", "categories.name", "customer_payment_term.name"],
        )
        money: dict[str, dict[str, Decimal]] = {}
        for company in companies:
            rows = await rpc.search_read(
                "party.party",
                [["code", "like", "CUST-%"]],
                ["code", "receivable", "credit_limit_amount"],
                context={"company": company["id"]},
            )
            for row in rows:
                if row["credit_limit_amount"] is not None or row["receivable"]:
                    money[row["code"]] = {
                        "company": company["id"],
                        "receivable": row["receivable"],
                        "credit_limit": row["credit_limit_amount"],
                    }
        party_ids = [p["id"] for p in parties]
        identifiers = await rpc.search_read(
            "party.identifier", [["party", "in", party_ids]], ["party.code", "type", "code_compact"]
        )
        addresses = await rpc.search_read(
            "party.address",
            [["party", "in", party_ids]],
            ["party.code", "street", "city", "postal_code", "country.code", "subdivision.code"],
        )
        sales = await rpc.search_read(
            "sale.sale",
            [],
            [
                "number",
                "reference",
                "state",
                "invoice_state",
                "party.code",
                "company",
                "currency.code",
                "sale_date",
                "total_amount",
                "invoices",
            ],
        )
        invoices = await rpc.search_read(
            "account.invoice",
            [["type", "=", "out"]],
            [
                "number",
                "state",
                "party.code",
                "company",
                "invoice_date",
                "total_amount",
                "amount_to_pay",
                "lines_to_pay",
            ],
        )
        line_ids = [i for invoice in invoices for i in invoice["lines_to_pay"]]
        lines = await rpc.search_read(
            "account.move.line", [["id", "in", line_ids]], ["maturity_date"]
        )
        statement_lines = await rpc.search_read(
            "account.statement.line",
            [],
            ["number", "amount", "date", "party.code", "related_to", "description", "move"],
        )
        return Snapshot(
            companies=companies,
            parties={p["code"]: p for p in parties},
            money=money,
            identifiers=identifiers,
            addresses=addresses,
            sales={s["number"]: s for s in sales},
            invoices={i["id"]: i for i in invoices},
            maturities={line["id"]: line["maturity_date"] for line in lines},
            statement_lines=statement_lines,
            context=rpc.context,
        )
    finally:
        await rpc.close()


def snapshot(endpoint: TrytonEndpoint) -> Snapshot:
    return asyncio.run(_read(endpoint))
