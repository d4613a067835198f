"""The books every sandbox Tryton starts with: currencies, countries, the legal entities as
companies, a minimal chart of accounts and taxes for each, fiscal years with periods, payment
terms and a bank statement journal per company.

Tryton models a legal entity as a company (``company.company``) with its own currency, chart
of accounts, fiscal years, numbering and taxes, so each of the world's subsidiaries becomes
one. Companies keep their books in UTC (``timezone``), so Tryton's "today" is the same UTC
date Accord's sandbox clock uses. The chart is the least a sales ledger needs: bank,
receivable and payable (reconcilable, per party), taxes payable, sales and expenses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sandbox.tryton.seed.confirm import company
from sandbox.world import COUNTRY_NAMES, FX_FROM_USD, World
from sources.tryton.rpc import TrytonRpc

__all__ = ["Accounts", "Books", "seed_books"]

# ISO 3166-2 subdivisions the world's addresses use: (country, code) -> (name, type)
SUBDIVISIONS = {
    ("US", "NY"): ("New York", "state"),
    ("US", "TX"): ("Texas", "state"),
    ("US", "IL"): ("Illinois", "state"),
    ("US", "WA"): ("Washington", "state"),
    ("US", "CO"): ("Colorado", "state"),
    ("CA", "ON"): ("Ontario", "province"),
    ("CA", "BC"): ("British Columbia", "province"),
    ("CA", "QC"): ("Quebec", "province"),
    ("AU", "NSW"): ("New South Wales", "state"),
    ("AU", "VIC"): ("Victoria", "state"),
}
# The standard sales tax of each entity's country; the US entity has none of its own.
STANDARD_TAX = {
    "GB": ("VAT 20%", Decimal("0.20")),
    "DE": ("USt 19%", Decimal("0.19")),
    "FR": ("TVA 20%", Decimal("0.20")),
    "CA": ("GST 5%", Decimal("0.05")),
    "JP": ("Consumption tax 10%", Decimal("0.10")),
    "AU": ("GST 10%", Decimal("0.10")),
}
FIRST_DAY = dt.date(2000, 1, 1)  # currency rates hold from here on


@dataclass(frozen=True)
class Accounts:
    bank: int
    receivable: int
    payable: int
    tax: int
    revenue: int
    expense: int


@dataclass
class Books:
    currencies: dict[str, int] = field(default_factory=dict)  # ISO code -> id
    countries: dict[str, int] = field(default_factory=dict)
    subdivisions: dict[tuple[str, str], int] = field(default_factory=dict)
    companies: dict[int, int] = field(default_factory=dict)  # world subsidiary id -> company
    accounts: dict[int, Accounts] = field(default_factory=dict)  # company -> its accounts
    terms: dict[int, int] = field(default_factory=dict)  # world terms id -> payment term
    statement_journals: dict[int, int] = field(default_factory=dict)  # company -> journal


def _digits(code: str) -> int:
    return 0 if code == "JPY" else 2


async def _currencies(rpc: TrytonRpc, world: World, books: Books) -> None:
    values = [
        {
            "name": currency.name,
            "code": currency.code,
            "symbol": currency.code,
            "digits": _digits(currency.code),
            "rounding": Decimal(1).scaleb(-_digits(currency.code)),
            # Tryton's rates are units per unit of the reference currency, here USD.
            "rates": [("create", [{"date": FIRST_DAY, "rate": FX_FROM_USD[currency.code]}])],
        }
        for currency in world.currencies
    ]
    ids = await rpc.create("currency.currency", values)
    books.currencies = {c.code: i for c, i in zip(world.currencies, ids, strict=True)}


async def _countries(rpc: TrytonRpc, books: Books) -> None:
    codes = list(COUNTRY_NAMES)
    ids = await rpc.create(
        "country.country", [{"code": code, "name": COUNTRY_NAMES[code]} for code in codes]
    )
    books.countries = dict(zip(codes, ids, strict=True))
    keys = list(SUBDIVISIONS)
    ids = await rpc.create(
        "country.subdivision",
        [
            {
                "country": books.countries[country],
                "code": f"{country}-{code}",
                "name": SUBDIVISIONS[(country, code)][0],
                "type": SUBDIVISIONS[(country, code)][1],
            }
            for country, code in keys
        ],
    )
    books.subdivisions = dict(zip(keys, ids, strict=True))


async def _companies(rpc: TrytonRpc, world: World, books: Books) -> None:
    subsidiaries = world.subsidiaries
    parties = await rpc.create(
        "party.party",
        [
            {
                "name": sub.name,
                "code": f"ENTITY-{sub.country}",
                "addresses": [("create", [{"country": books.countries[sub.country]}])],
            }
            for sub in subsidiaries
        ],
    )
    ids = await rpc.create(
        "company.company",
        [
            {"party": party, "currency": books.currencies[sub.currency], "timezone": "UTC"}
            for sub, party in zip(subsidiaries, parties, strict=True)
        ],
    )
    books.companies = {sub.ns_id: i for sub, i in zip(subsidiaries, ids, strict=True)}
    # The seeding user works in every company, each call naming its own.
    await rpc.call(
        "res.user",
        "write",
        [rpc.user_id],
        {"companies": [("add", ids)], "company": ids[0], "company_filter": "all"},
    )
    await rpc.refresh_context()


async def _chart(rpc: TrytonRpc, company_id: int, country: str) -> Accounts:
    ctx = company(company_id)
    kinds: list[dict[str, object]] = [
        {"name": "Cash and bank", "statement": "balance", "assets": True},
        {"name": "Receivable", "statement": "balance", "assets": True, "receivable": True},
        {"name": "Payable", "statement": "balance", "payable": True},
        {"name": "Taxes", "statement": "balance"},
        {"name": "Revenue", "statement": "income", "revenue": True},
        {"name": "Expense", "statement": "income", "expense": True},
    ]
    types = await rpc.create(
        "account.account.type", [{**kind, "company": company_id} for kind in kinds], context=ctx
    )
    per_party = {"reconcile": True, "party_required": True}
    rows: list[tuple[str, str, dict[str, bool]]] = [
        ("1000", "Bank", {}),
        ("1100", "Accounts receivable", per_party),
        ("2100", "Accounts payable", per_party),
        ("2200", "Taxes payable", {}),
        ("4000", "Sales", {}),
        ("6000", "Expenses", {}),
    ]
    ids = await rpc.create(
        "account.account",
        [
            {"code": code, "name": name, "type": kind, "company": company_id, **extra}
            for (code, name, extra), kind in zip(rows, types, strict=True)
        ],
        context=ctx,
    )
    accounts = Accounts(*ids)
    await rpc.call(
        "account.configuration",
        "write",
        [1],
        {
            "default_account_receivable": accounts.receivable,
            "default_account_payable": accounts.payable,
            "default_category_account_revenue": accounts.revenue,
            "default_category_account_expense": accounts.expense,
        },
        context=ctx,
    )
    taxes = [("Exempt", Decimal(0))]
    if country in STANDARD_TAX:
        taxes.insert(0, STANDARD_TAX[country])
    await rpc.create(
        "account.tax",
        [
            {
                "name": name,
                "description": name,
                "type": "percentage",
                "rate": rate,
                "invoice_account": accounts.tax,
                "credit_note_account": accounts.tax,
                "company": company_id,
            }
            for name, rate in taxes
        ],
        context=ctx,
    )
    return accounts


def fiscal_years(world: World) -> range:
    """Calendar years from the oldest seeded document's to the one after the start's."""
    return range((world.as_of - dt.timedelta(days=430)).year, world.as_of.year + 2)


async def _fiscal_years(rpc: TrytonRpc, world: World, books: Books) -> None:
    move_type = await rpc.call("ir.model.data", "get_id", "account", "sequence_type_account_move")
    invoice_type = await rpc.call(
        "ir.model.data", "get_id", "account_invoice", "sequence_type_account_invoice"
    )
    for sub in world.subsidiaries:
        company_id = books.companies[sub.ns_id]
        ctx = company(company_id)
        years = []
        for year in fiscal_years(world):
            moves, invoices, credits = await rpc.create(
                "ir.sequence.strict",
                [
                    {
                        "name": f"{label} {year}",
                        "sequence_type": kind,
                        "company": company_id,
                        "prefix": prefix,
                        "padding": 5,
                    }
                    for label, kind, prefix in (
                        ("Moves", move_type, f"{sub.country}/{year}/"),
                        ("Invoices", invoice_type, f"{sub.country}-INV-{year}-"),
                        ("Credit notes", invoice_type, f"{sub.country}-CN-{year}-"),
                    )
                ],
                context=ctx,
            )
            numbering = {
                "company": company_id,
                "out_invoice_sequence": invoices,
                "out_credit_note_sequence": credits,
                "in_invoice_sequence": invoices,
                "in_credit_note_sequence": credits,
            }
            years.append(
                {
                    "name": f"{year}",
                    "start_date": dt.date(year, 1, 1),
                    "end_date": dt.date(year, 12, 31),
                    "company": company_id,
                    "move_sequence": moves,
                    "invoice_sequences": [("create", [numbering])],
                }
            )
        ids = await rpc.create("account.fiscalyear", years, context=ctx)
        await rpc.call("account.fiscalyear", "create_period", ids, context=ctx)


async def _terms(rpc: TrytonRpc, world: World, books: Books) -> None:
    values = [
        {
            "name": terms.name,
            "lines": [
                (
                    "create",
                    [
                        {
                            "type": "remainder",
                            "relativedeltas": [("create", [{"days": terms.days}])]
                            if terms.days
                            else [],
                        }
                    ],
                )
            ],
        }
        for terms in world.terms
    ]
    ids = await rpc.create("account.invoice.payment_term", values)
    books.terms = {t.ns_id: i for t, i in zip(world.terms, ids, strict=True)}


async def _statement_journals(rpc: TrytonRpc, world: World, books: Books) -> None:
    journal = await rpc.call("ir.model.data", "get_id", "account_statement", "journal_statement")
    for sub in world.subsidiaries:
        company_id = books.companies[sub.ns_id]
        (books.statement_journals[company_id],) = await rpc.create(
            "account.statement.journal",
            [
                {
                    "name": f"Bank {sub.currency}",
                    "journal": journal,
                    "currency": books.currencies[sub.currency],
                    "company": company_id,
                    "account": books.accounts[company_id].bank,
                    "validation": "number_of_lines",
                }
            ],
            context=company(company_id),
        )


async def seed_books(rpc: TrytonRpc, world: World) -> Books:
    books = Books()
    await _currencies(rpc, world, books)
    await _countries(rpc, books)
    await _companies(rpc, world, books)
    for sub in world.subsidiaries:
        company_id = books.companies[sub.ns_id]
        books.accounts[company_id] = await _chart(rpc, company_id, sub.country)
    await _fiscal_years(rpc, world, books)
    await _terms(rpc, world, books)
    await _statement_journals(rpc, world, books)
    return books
