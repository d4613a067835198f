"""The world's customer payments as bank statement lines applied to invoices.

Tryton offers three ways to record "a customer paid these invoices": the invoice's Pay
wizard, ``account.payment`` (payment orders sent to a bank, which reach the books only with
a clearing module) and bank statements (``account.statement``). The statement is what a
finance team posts when money arrives, takes one line per invoice paid, handles partial
payments, and is a plain model with workflow buttons, so it is the one used here:

- one statement per company and payment date on the company's bank journal, each validated
  by its number of payments;
- one line per invoice a payment applies to: the payment's number (``number``, the world's
  ``PYMT…``), date, party, amount, memo (``description``) and the invoice (``related_to``);
- validating and posting the statements makes one accounting move per payment (lines with
  the same number, date and party are grouped), adds it to the invoice's payments and
  reconciles the invoice when it is paid in full, which marks it paid. A part payment leaves
  the invoice posted with less to pay.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sandbox.tryton.seed.books import Books
from sandbox.tryton.seed.confirm import call_confirming, chunks, company
from sandbox.tryton.seed.parties import Parties, erp_customers
from sandbox.tryton.seed.sales import Sales
from sandbox.world import World
from sources.tryton.rpc import TrytonRpc

__all__ = ["seed_payments"]

BATCH = 200  # statements per call


def _amount(value: Decimal, currency: str) -> Decimal:
    return value.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))


async def seed_payments(
    rpc: TrytonRpc, world: World, books: Books, parties: Parties, sales: Sales
) -> int:
    """Record every payment; the number of statement lines."""
    lines: dict[tuple[int, dt.date], list[dict[str, Any]]] = defaultdict(list)
    for customer in erp_customers(world):
        company_id = books.companies[customer.subsidiary.ns_id]
        for payment in customer.payments:
            for application in payment.applications:
                invoice = sales.invoices[application.invoice.tran_id]
                lines[(company_id, payment.date)].append(
                    {
                        "number": payment.tran_id,
                        "description": payment.memo,
                        "date": payment.date,
                        "amount": _amount(application.amount, payment.currency),
                        "party": parties.ids[customer.key or ""],
                        "account": books.accounts[company_id].receivable,
                        "related_to": f"account.invoice,{invoice}",
                    }
                )
    by_company: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (company_id, day), day_lines in sorted(lines.items(), key=lambda item: item[0][1]):
        by_company[company_id].append(
            {
                "name": f"Bank {day.isoformat()}",
                "company": company_id,
                "journal": books.statement_journals[company_id],
                "date": day,
                "number_of_lines": len({line["number"] for line in day_lines}),
                "lines": [("create", day_lines)],
            }
        )
    for company_id, statements in by_company.items():
        ctx = company(company_id)
        for batch in chunks(statements, BATCH):
            ids = await rpc.create("account.statement", list(batch), context=ctx)
            await call_confirming(rpc, "account.statement", "validate_statement", ids, context=ctx)
            await call_confirming(rpc, "account.statement", "post", ids, context=ctx)
    return sum(len(day_lines) for day_lines in lines.values())
