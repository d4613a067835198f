"""The Query root: lookups by every key clients hold, and paged lists."""

from __future__ import annotations

import datetime as dt

import strawberry

from domain import ids
from resolvers import customers as customer_resolvers
from resolvers import invoices as invoice_resolvers
from resolvers import lookahead
from resolvers.errors import BadInputError
from schema.catalogue import AccordInfo
from schema.enums import CreditStatus, InvoiceStatus
from schema.scalars import CountryCode
from schema.types import (
    Connection,
    Customer,
    Info,
    Invoice,
    Opportunity,
    Order,
    Payment,
    connection,
)
from sources.ports import ErpPort

MAX_NAME_FILTER = 100


@strawberry.input(description="Filters on the customer list; all given filters must match.")
class CustomerFilter:
    name_contains: str | None = strawberry.field(
        default=None, description="Part of the customer's name (CRM), case-insensitive."
    )
    country: CountryCode | None = strawberry.field(
        default=None, description="Billing country (CRM)."
    )
    credit_status: CreditStatus | None = strawberry.field(
        default=None, description="Credit standing (ERP)."
    )


@strawberry.input(description="Filters on the invoice list; all given filters must match.")
class InvoiceFilter:
    status: InvoiceStatus | None = strawberry.field(default=None, description="Payment status.")
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Canonical id of the billed customer."
    )
    due_before: dt.date | None = strawberry.field(
        default=None, description="Due strictly before this date."
    )
    due_after: dt.date | None = strawberry.field(
        default=None, description="Due strictly after this date."
    )


def _id_error(exc: ids.InvalidId, argument: str) -> BadInputError:
    return BadInputError(str(exc), argument=argument)


def customer_ref(
    erp: ErpPort,
    id: strawberry.ID | None,
    salesforce_id: strawberry.ID | None,
    erp_id: strawberry.ID | None,
) -> ids.CustomerRef:
    """The customer named by exactly one of its keys, as the ``customer`` lookup and an entity
    reference (`schema.federation`) give them; a malformed key is BAD_USER_INPUT."""
    given = [
        (name, value)
        for name, value in (("id", id), ("salesforceId", salesforce_id), ("erpId", erp_id))
        if value is not None
    ]
    if len(given) != 1:
        raise BadInputError("customer takes exactly one of id, salesforceId and erpId")
    name, value = given[0]
    try:
        if name == "id":
            return ids.parse_customer_id(value)
        if name == "salesforceId":
            return ids.CustomerRef(salesforce_id=ids.parse_salesforce_id(value, "Account"))
        return ids.CustomerRef(
            erp_id=ids.parse_erp_id(value, "customer", erp.accepts_id, erp.id_shape)
        )
    except ids.InvalidId as exc:
        raise _id_error(exc, name) from None


def erp_id_of(info: Info, type_name: str, value: str) -> str:
    """The ERP id inside a canonical id of ``type_name`` (``ord:…``, ``inv:…``, ``pay:…``)."""
    erp = info.context.sources.erp
    try:
        return ids.parse_erp_object_id(type_name, value, erp.accepts_id, erp.id_shape)
    except ids.InvalidId as exc:
        raise _id_error(exc, "id") from None


@strawberry.type(description="Read Accord's canonical finance objects, live from their owners.")
class Query:
    @strawberry.field(  # type: ignore[untyped-decorator]
        name="_accord",
        description="Facts about this Accord: who owns each field, how sensitive it is, how "
        "long it may be cached, and which products fill the CRM and ERP roles.",
    )
    def accord_info(self) -> AccordInfo:
        return AccordInfo()

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="One customer, by exactly one of: canonical id, Salesforce Account id (what "
        "a Lightning component holds), or ERP internal id. Null when no system knows it."
    )
    async def customer(
        self,
        info: Info,
        id: strawberry.ID | None = None,
        salesforce_id: strawberry.ID | None = None,
        erp_id: strawberry.ID | None = None,
    ) -> Customer | None:
        ref = customer_ref(info.context.sources.erp, id, salesforce_id, erp_id)
        data = await customer_resolvers.resolve_root(info.context, ref, lookahead.selected(info))
        return Customer(data=data) if data else None

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Customers, a page at a time. Without a CRM filter the ERP's customers are "
        "listed; with a name or country filter, the CRM accounts linked to the ERP."
    )
    async def customers(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: CustomerFilter | None = None,
    ) -> Connection[Customer] | None:
        chosen = filter or CustomerFilter()
        name = chosen.name_contains
        if name is not None and (not name.strip() or len(name) > MAX_NAME_FILTER):
            raise BadInputError(
                f"nameContains must have 1 to {MAX_NAME_FILTER} characters", argument="filter"
            )
        page = await customer_resolvers.list_customers(
            info.context,
            customer_resolvers.CustomerFilter(
                name_contains=name.strip() if name else None,
                country=chosen.country,
                credit_status=chosen.credit_status,
            ),
            first,
            after,
            lookahead.selected_nodes(info),
        )
        edges = [(cursor, Customer(data=data)) for cursor, data in page.edges]
        return connection(edges, page.has_next, page.has_previous, page.total)

    @strawberry.field(description="One sales order by canonical id.")  # type: ignore[untyped-decorator]
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        found = await info.context.loaders.order_by_id.load(erp_id_of(info, "Order", id))
        return Order.of(found) if found else None

    @strawberry.field(description="One invoice by canonical id.")  # type: ignore[untyped-decorator]
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        found = await info.context.loaders.invoice_by_id.load(erp_id_of(info, "Invoice", id))
        return Invoice.of(found) if found else None

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Invoices across customers, a page at a time, newest internal id last."
    )
    async def invoices(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: InvoiceFilter | None = None,
    ) -> Connection[Invoice] | None:
        chosen = filter or InvoiceFilter()
        customer = None
        if chosen.customer_id is not None:
            try:
                customer = ids.parse_customer_id(chosen.customer_id)
            except ids.InvalidId as exc:
                raise _id_error(exc, "filter.customerId") from None
        page = await invoice_resolvers.list_invoices(
            info.context,
            invoice_resolvers.InvoiceFilter(
                status=chosen.status,
                customer=customer,
                due_before=chosen.due_before,
                due_after=chosen.due_after,
            ),
            first,
            after,
        )
        edges = [(cursor, Invoice.of(invoice)) for cursor, invoice in page.edges]
        return connection(edges, page.has_next, page.has_previous, page.total)

    @strawberry.field(description="One payment by canonical id.")  # type: ignore[untyped-decorator]
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        found = await info.context.loaders.payment_by_id.load(erp_id_of(info, "Payment", id))
        return Payment.of(found) if found else None

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="One opportunity, by canonical id or Salesforce id."
    )
    async def opportunity(self, info: Info, id: strawberry.ID) -> Opportunity | None:
        try:
            salesforce_id = (
                ids.parse_opportunity_id(id)
                if id.startswith("opp:")
                else ids.parse_salesforce_id(id, "Opportunity")
            )
        except ids.InvalidId as exc:
            raise _id_error(exc, "id") from None
        found = await info.context.loaders.opportunity_by_id.load(salesforce_id)
        return Opportunity.of(found) if found else None
