"""Tryton's sales, invoices and payments as Accord's orders, invoices and payments.

Ids: Tryton numbers each model's records on its own, so a sale and an invoice may share a
number. Accord's ids for documents name the kind: ``S<sale id>``, ``I<invoice id>``,
``P<move id>``; a customer's id is its party's id, a legal entity's its company's.

- an order is a ``sale.sale``: its ``number``, ``sale_date``, ``reference`` (the Salesforce
  opportunity it was booked from, Accord's external id), ``description`` (memo) and state;
- an invoice is a customer ``account.invoice`` (``type`` ``out``): its due date is the
  earliest ``maturity_date`` of its ``lines_to_pay``; paid is its total less
  ``amount_to_pay``; it is overdue while something is left to pay after the due date;
- a payment is the ``account.statement.line``s posted together as one ``account.move``
  (lines sharing a ``number``, date and party): its id is that move's, its number the lines'
  ``number`` (Accord's external id), each line applies its amount to the invoice it is
  ``related_to``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sources.records import (
    ErpInvoice,
    ErpOrder,
    ErpPayment,
    InvoiceStatus,
    Line,
    OrderStatus,
    PaymentApplication,
)
from sources.tryton.reference import Reference

__all__ = [
    "INVOICE_FIELDS",
    "LINE_FIELDS",
    "ORDER_FIELDS",
    "PAYMENT_FIELDS",
    "document_ids",
    "invoice_status",
    "to_invoices",
    "to_lines",
    "to_orders",
    "to_payments",
]

ORDER_FIELDS = [
    "number",
    "party",
    "reference",
    "sale_date",
    "state",
    "invoice_state",
    "currency",
    "total_amount",
    "description",
]
INVOICE_FIELDS = [
    "number",
    "party",
    "company",
    "invoice_date",
    "state",
    "currency",
    "total_amount",
    "amount_to_pay",
    "lines_to_pay.maturity_date",
    "sales",
]
PAYMENT_FIELDS = [
    "number",
    "date",
    "party",
    "amount",
    "description",
    "related_to",
    "move",
    "statement.company",
]
LINE_FIELDS = [
    "sequence",
    "type",
    "product.code",
    "description",
    "quantity",
    "unit_price",
    "amount",
]

KINDS = {"S": "sale.sale", "I": "account.invoice", "P": "account.move"}


def document_ids(values: Iterable[str], kind: str) -> list[int]:
    """The Tryton ids of the ids of ``kind`` (``S``, ``I``, ``P``) among ``values``."""
    found = []
    for value in values:
        if value[:1] == kind and value[1:].isascii() and value[1:].isdigit():
            found.append(int(value[1:]))
    return list(dict.fromkeys(found))


def _order_status(state: str | None, invoice_state: str | None) -> OrderStatus:
    """A sale's canonical status: quoted is pending approval; confirmed, or processing with
    nothing invoiced, pending fulfillment; its invoice not posted yet (``pending``), pending
    billing; invoiced (awaiting payment, paid) or done, billed."""
    if state in ("draft", "quotation"):
        return OrderStatus.PENDING_APPROVAL
    if state == "cancelled":
        return OrderStatus.CANCELLED
    if state == "done":
        return OrderStatus.BILLED
    if state == "confirmed" or invoice_state in (None, "none"):
        return OrderStatus.PENDING_FULFILLMENT
    if invoice_state == "pending":
        return OrderStatus.PENDING_BILLING
    return OrderStatus.BILLED


def to_orders(rows: list[dict[str, Any]], reference: Reference) -> list[ErpOrder]:
    return [
        ErpOrder(
            erp_id=f"S{row['id']}",
            number=str(row.get("number") or ""),
            customer_erp_id=str(row.get("party") or ""),
            external_id=row.get("reference") or None,
            order_date=row.get("sale_date"),
            status=_order_status(row.get("state"), row.get("invoice_state")),
            currency=reference.currencies.get(row.get("currency") or 0),
            total=Decimal(row.get("total_amount") or 0),
            memo=row.get("description") or None,
        )
        for row in rows
    ]


def _due_date(row: dict[str, Any]) -> dt.date | None:
    dues = [
        line["maturity_date"]
        for line in row.get("lines_to_pay.") or []
        if line.get("maturity_date") is not None
    ]
    return min(dues) if dues else None


def invoice_status(
    state: str | None, due: dt.date | None, to_pay: Decimal, paid: Decimal, today: dt.date
) -> InvoiceStatus:
    """The canonical status of a customer invoice; due today is not overdue."""
    if state == "cancelled":
        return InvoiceStatus.VOIDED
    if state == "paid" or (state == "posted" and to_pay == 0):
        return InvoiceStatus.PAID
    if due is not None and due < today:
        return InvoiceStatus.OVERDUE
    return InvoiceStatus.PARTIALLY_PAID if paid > 0 else InvoiceStatus.OPEN


def to_invoices(
    rows: list[dict[str, Any]], reference: Reference, today: dt.date
) -> list[ErpInvoice]:
    invoices = []
    for row in rows:
        total = Decimal(row.get("total_amount") or 0)
        state = row.get("state")
        # a draft invoice owes nothing yet; Tryton reads its amount to pay as its total
        to_pay = Decimal(row.get("amount_to_pay") or 0) if state != "cancelled" else Decimal(0)
        paid = total - to_pay if state in ("posted", "paid") else Decimal(0)
        due = _due_date(row)
        sales = row.get("sales") or []
        invoices.append(
            ErpInvoice(
                erp_id=f"I{row['id']}",
                number=str(row.get("number") or ""),
                customer_erp_id=str(row.get("party") or ""),
                order_erp_id=f"S{min(sales)}" if sales else None,
                issue_date=row.get("invoice_date"),
                due_date=due,
                status=invoice_status(state, due, to_pay, paid, today),
                currency=reference.currencies.get(row.get("currency") or 0),
                total=total,
                amount_paid=paid,
                amount_due=to_pay,
            )
        )
    return invoices


def to_payments(rows: list[dict[str, Any]], reference: Reference) -> list[ErpPayment]:
    """Payments from statement lines, grouped by the move posting made of them (lines not
    posted yet are not payments)."""
    by_move: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: int(r["id"])):
        if row.get("move"):
            by_move[int(row["move"])].append(row)
    payments = []
    for move, lines in by_move.items():
        first = lines[0]
        company = (first.get("statement.") or {}).get("company")
        entity = reference.companies.get(int(company)) if company else None
        applications = []
        unapplied = Decimal(0)
        for line in lines:
            amount = Decimal(line.get("amount") or 0)
            model, _, invoice = str(line.get("related_to") or "").partition(",")
            if model == "account.invoice" and invoice.isdigit():
                applications.append(PaymentApplication(f"I{invoice}", amount))
            else:
                unapplied += amount
        payments.append(
            ErpPayment(
                erp_id=f"P{move}",
                number=str(first.get("number") or ""),
                customer_erp_id=str(first.get("party") or ""),
                payment_date=first.get("date"),
                currency=entity.currency if entity else None,
                amount=sum((Decimal(line.get("amount") or 0) for line in lines), Decimal(0)),
                unapplied=unapplied,
                memo=first.get("description") or None,
                applications=tuple(applications),
            )
        )
    return payments


def to_lines(rows: list[dict[str, Any]], parent: str, prefix: str) -> dict[str, list[Line]]:
    """Document lines (sale or invoice lines) grouped by their document's Accord id, numbered
    from 1 in Tryton's order (sequence, then id); comments and subtotals are left out."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("type", "line") == "line" and row.get(parent):
            grouped[f"{prefix}{row[parent]}"].append(row)
    found: dict[str, list[Line]] = {}
    for document, lines in grouped.items():
        lines.sort(key=lambda r: (r.get("sequence") is None, r.get("sequence") or 0, r["id"]))
        found[document] = [
            Line(
                number=number,
                sku=(row.get("product.") or {}).get("code"),
                description=row.get("description") or None,
                quantity=Decimal(str(row.get("quantity") or 0)),
                unit_price=Decimal(row.get("unit_price") or 0),
                amount=Decimal(row.get("amount") or 0),
            )
            for number, row in enumerate(lines, start=1)
        ]
    return found


def group(items: Iterable[Any], key: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for item in items:
        grouped.setdefault(key(item), []).append(item)
    return grouped


def newest_first(items: Sequence[Any], date: Any) -> list[Any]:
    """Documents newest first (by date, then id), as the NetSuite adapter orders them."""
    return sorted(items, key=lambda d: (date(d) or dt.date.min, _number(d.erp_id)), reverse=True)


def _number(erp_id: str) -> int:
    return int(erp_id[1:]) if erp_id[1:].isdigit() else 0


def replace_lines(item: Any, lines: Sequence[Line]) -> Any:
    return dataclasses.replace(item, lines=tuple(lines))
