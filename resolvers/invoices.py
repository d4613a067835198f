"""Invoices across customers: the ERP pages them by internal id, filtered at the source."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from domain.ids import CustomerRef
from resolvers.context import AccordContext
from resolvers.customers import erp_customer
from resolvers.errors import BadInputError, SourceFieldError
from resolvers.paging import cursor_scope, decode_cursor, encode_cursor, page_size
from sources.errors import SourceError
from sources.ports import InvoiceQuery
from sources.records import ErpInvoice, InvoiceStatus


@dataclass(frozen=True)
class InvoiceFilter:
    status: InvoiceStatus | None = None
    customer: CustomerRef | None = None
    due_before: dt.date | None = None
    due_after: dt.date | None = None


@dataclass(frozen=True)
class InvoicePage:
    edges: list[tuple[str, ErpInvoice]]
    has_next: bool
    has_previous: bool
    total: int | None


async def list_invoices(
    ctx: AccordContext, filters: InvoiceFilter, first: int | None, after: str | None
) -> InvoicePage:
    size = page_size(first)
    cursors = cursor_scope(
        "invoices", filters.status, filters.customer, filters.due_before, filters.due_after
    )
    cursor = decode_cursor(after, "e", cursors)
    after_id = cursor[1] if cursor else None
    if after_id is not None and not ctx.sources.erp.accepts_id(after_id):
        raise BadInputError(f"{after!r} is not a cursor of this list", argument="after")
    customer_ids: list[str] | None = None
    if filters.customer is not None:
        customer = await erp_customer(ctx, filters.customer)
        if customer is None:
            return InvoicePage([], False, after is not None, 0)
        customer_ids = [customer.erp_id]
    try:
        page = await ctx.sources.erp.invoice_page(
            InvoiceQuery(
                status=filters.status,
                customer_erp_ids=customer_ids,
                due_before=filters.due_before,
                due_after=filters.due_after,
                after_id=after_id,
                limit=size,
            )
        )
    except SourceError as exc:
        raise SourceFieldError.from_source_error(exc) from exc
    for invoice in page.items:
        ctx.loaders.invoice_by_id.prime(invoice.erp_id, invoice)
    edges = [(encode_cursor("e", invoice.erp_id, cursors), invoice) for invoice in page.items]
    return InvoicePage(edges, page.has_more, after is not None, page.total)
