"""The canonical types: Customer, Order, Invoice, Payment, Opportunity and their parts.

Each field is declared with `schema.directives.owned`, so its description names its owner and
the SDL carries ``@owner``. Fields that need data resolve through ``resolvers`` (DataLoaders
per request); the types themselves only shape canonical records into GraphQL objects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry import Private

from domain import ids
from domain.ownership import REGISTRY, FieldOwnership
from resolvers import customers as customer_resolvers
from resolvers import lookahead
from resolvers.context import AccordContext
from resolvers.errors import SourceFieldError
from resolvers.loaders import BatchLoader
from resolvers.paging import Slice, cursor_scope, slice_loaded
from schema.bound import registry_fields
from schema.directives import owned, resolves
from schema.enums import (
    CreditHoldSetting,
    CreditStatus,
    InvoiceStatus,
    OrderStatus,
    SourceSystem,
)
from schema.scalars import CountryCode, CurrencyCode
from sources import records
from sources.errors import SourceError

Info = strawberry.Info[AccordContext, None]
N = TypeVar("N")


# --------------------------------------------------------------------------- value types


@strawberry.type(description="An amount of money in one currency.")
class Money:
    amount: Decimal = strawberry.field(description="The amount, exact, as a decimal string.")
    currency: CurrencyCode = strawberry.field(description="The ISO 4217 currency of the amount.")


def money(amount: Decimal | None, currency: str | None) -> Money | None:
    if amount is None or currency is None:
        return None
    return some_money(amount, currency)


def some_money(amount: Decimal, currency: str) -> Money:
    return Money(amount=records.to_currency(amount, currency), currency=CurrencyCode(currency))


def _country(code: str | None) -> CountryCode | None:
    return CountryCode(code) if code else None


def _currency(code: str | None) -> CurrencyCode | None:
    return CurrencyCode(code) if code else None


@strawberry.type(description="The legal entity (ERP subsidiary) that books a customer.")
class LegalEntity:
    id: strawberry.ID = owned("LegalEntity.id", "Canonical id of the legal entity.")
    erp_id: strawberry.ID = owned("LegalEntity.erpId", "The ERP's internal id.")
    name: str = owned("LegalEntity.name", "Registered name.")
    country: CountryCode | None = owned("LegalEntity.country", "Country of registration.")
    currency: CurrencyCode | None = owned("LegalEntity.currency", "Functional currency.")

    @classmethod
    def of(cls, entity: records.LegalEntity) -> LegalEntity:
        return cls(
            id=strawberry.ID(ids.erp_object_id("LegalEntity", entity.erp_id)),
            erp_id=strawberry.ID(entity.erp_id),
            name=entity.name,
            country=_country(entity.country),
            currency=_currency(entity.currency),
        )


@strawberry.type(description="Payment terms agreed with a customer.")
class PaymentTerms:
    name: str = owned("PaymentTerms.name", "The terms' name, e.g. Net 30.")
    days: int | None = owned("PaymentTerms.days", "Days from invoice date to due date.")


@strawberry.type(description="A customer's credit position.")
class CreditSummary:
    limit: Money | None = owned("CreditSummary.limit", "The credit limit; null when none is set.")
    balance: Money = owned("CreditSummary.balance", "Open receivables balance.")
    overdue: Money = owned("CreditSummary.overdue", "Part of the balance past its due date.")
    available: Money | None = owned(
        "CreditSummary.available", "Limit minus balance (negative when over); null without limit."
    )
    status: CreditStatus = owned("CreditSummary.status", "Credit standing.")
    hold: CreditHoldSetting = owned("CreditSummary.hold", "The ERP's credit hold setting.")

    @classmethod
    def of(cls, customer: records.ErpCustomer) -> CreditSummary:
        currency = customer.currency or "XXX"
        limit = customer.credit_limit
        return cls(
            limit=money(limit, currency),
            balance=some_money(customer.balance, currency),
            overdue=some_money(customer.overdue_balance, currency),
            available=money(None if limit is None else limit - customer.balance, currency),
            status=customer.credit_status,
            hold=customer.credit_hold,
        )


@strawberry.type(description="One line of an order, invoice or opportunity.")
class LineItem:
    number: int = strawberry.field(description="Position of the line, from 1.")
    sku: str | None = strawberry.field(description="Product code.")
    description: str | None = strawberry.field(description="Product name or line text.")
    quantity: Decimal = strawberry.field(description="Quantity.")
    unit_price: Money = strawberry.field(description="Price of one unit.")
    amount: Money = strawberry.field(description="Line total.")

    @classmethod
    def of(cls, line: records.Line, currency: str) -> LineItem:
        return cls(
            number=line.number,
            sku=line.sku,
            description=line.description,
            quantity=line.quantity,
            unit_price=some_money(line.unit_price, currency),
            amount=some_money(line.amount, currency),
        )


# --------------------------------------------------------------------------- connections


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more follow this page.")
    has_previous_page: bool = strawberry.field(description="Whether this page follows others.")
    start_cursor: str | None = strawberry.field(description="The cursor of the page's first node.")
    end_cursor: str | None = strawberry.field(
        description="The cursor of its last node: pass it as `after` for the next page."
    )


@strawberry.type
class Edge(Generic[N]):
    cursor: str = strawberry.field(description="Pass as `after` to continue after this node.")
    node: N = strawberry.field(description="The node.")


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]] = strawberry.field(description="The page's nodes, each with its cursor.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    total_count: int | None = strawberry.field(
        description="How many nodes the whole list holds, when the owning system tells."
    )

    @strawberry.field(description="The nodes of this page, without cursors.")  # type: ignore[untyped-decorator]
    def nodes(self) -> list[N]:
        return [edge.node for edge in self.edges]


def connection(
    edges: Sequence[tuple[str, N]], has_next: bool, has_previous: bool, total: int | None
) -> Connection[N]:
    return Connection(
        edges=[Edge(cursor=cursor, node=node) for cursor, node in edges],
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=edges[0][0] if edges else None,
            end_cursor=edges[-1][0] if edges else None,
        ),
        total_count=total,
    )


def connection_of_slice(page: Slice[N]) -> Connection[N]:
    return connection(page.items, page.has_next, page.has_previous, page.total)


# --------------------------------------------------------------------------- customer


@strawberry.type(
    description="A customer as Accord sees it: engagement data from the CRM, money and legal "
    "data from the ERP, joined on the cross-reference key both systems hold."
)
@registry_fields("Customer")
class Customer:
    data: Private[customer_resolvers.CustomerData]

    def value_of(self, entry: FieldOwnership) -> Any:
        """A bound field's value: its attribute on the side of the system that owns it."""
        side = self.data.side(entry.owner)
        return None if side is None else getattr(side, entry.bound.attribute)

    @resolves("Customer.id", "Canonical id: cus:<cross-reference key>.")
    def id(self) -> strawberry.ID:
        ref = self.data.ref
        key = self.data.key
        if key is None:
            # The key is on the record of the system the customer was found by: when that
            # system failed, no other id may stand in for the canonical one.
            side = self.data.account if ref.salesforce_id else self.data.erp
            if isinstance(side, BaseException):
                raise side
        return strawberry.ID(ids.customer_id(key, ref.salesforce_id, ref.erp_id))

    @resolves("Customer.salesforceId", "Salesforce Account id (18 characters).")
    def salesforce_id(self) -> strawberry.ID | None:
        if self.data.ref.salesforce_id:
            return strawberry.ID(self.data.ref.salesforce_id)
        account = self.data.crm_side()
        return strawberry.ID(account.salesforce_id) if account else None

    @resolves("Customer.erpId", "The ERP's internal customer id.")
    def erp_id(self) -> strawberry.ID | None:
        if self.data.ref.erp_id:
            return strawberry.ID(self.data.ref.erp_id)
        customer = self.data.erp_side()
        return strawberry.ID(customer.erp_id) if customer else None

    @resolves("Customer.systems", "The systems that hold this customer.")
    def systems(self) -> list[SourceSystem] | None:
        found = []
        if self.data.crm_side() is not None:
            found.append(SourceSystem.CRM)
        if self.data.erp_side() is not None:
            found.append(SourceSystem.ERP)
        return found

    @resolves("Customer.legalEntity", "The legal entity that books this customer.")
    async def legal_entity(self, info: Info) -> LegalEntity | None:
        entity_id = self.value_of(REGISTRY["Customer.legalEntity"])
        if entity_id is None:
            return None
        try:
            entities = await info.context.sources.erp.legal_entities()
        except SourceError as exc:
            raise SourceFieldError.from_source_error(exc) from exc
        entity = entities.get(entity_id)
        return LegalEntity.of(entity) if entity else None

    @resolves("Customer.paymentTerms", "Payment terms.")
    async def payment_terms(self, info: Info) -> PaymentTerms | None:
        terms_id = self.value_of(REGISTRY["Customer.paymentTerms"])
        if terms_id is None:
            return None
        try:
            terms = (await info.context.sources.erp.payment_terms()).get(terms_id)
        except SourceError as exc:
            raise SourceFieldError.from_source_error(exc) from exc
        return PaymentTerms(name=terms.name, days=terms.days) if terms else None

    @resolves("Customer.credit", "Credit limit, balance, overdue amount and standing.")
    def credit(self) -> CreditSummary | None:
        customer = self.data.erp_side()
        return CreditSummary.of(customer) if customer else None

    # The three ERP lists answer at once when a page of customers has them loaded already
    # (`BatchLoader.loaded`): no coroutine per customer and field. Otherwise the resolver's
    # value is a coroutine that waits for the loader, which GraphQL execution awaits.

    @resolves("Customer.orders", "Sales orders posted in the ERP, newest first.")
    def orders(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        status: OrderStatus | None = None,
    ) -> Connection[Order] | None:
        customer = self.data.erp_side()
        erp_id = customer.erp_id if customer else None

        def page(found: Sequence[records.ErpOrder]) -> Connection[Order]:
            chosen = [Order.of(o) for o in found if status is None or o.status is status]
            cursors = cursor_scope("Customer.orders", erp_id, status)
            return connection_of_slice(slice_loaded(chosen, first, after, cursors))

        return _list_field(info.context.loaders.orders_by_customer, erp_id, page)

    @resolves("Customer.invoices", "Invoices, newest first.")
    def invoices(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        status: InvoiceStatus | None = None,
    ) -> Connection[Invoice] | None:
        customer = self.data.erp_side()
        erp_id = customer.erp_id if customer else None

        def page(found: Sequence[records.ErpInvoice]) -> Connection[Invoice]:
            chosen = [Invoice.of(i) for i in found if status is None or i.status is status]
            cursors = cursor_scope("Customer.invoices", erp_id, status)
            return connection_of_slice(slice_loaded(chosen, first, after, cursors))

        return _list_field(info.context.loaders.invoices_by_customer, erp_id, page)

    @resolves("Customer.payments", "Payments received, newest first.")
    def payments(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Payment] | None:
        customer = self.data.erp_side()
        erp_id = customer.erp_id if customer else None

        def page(found: Sequence[records.ErpPayment]) -> Connection[Payment]:
            cursors = cursor_scope("Customer.payments", erp_id)
            chosen = [Payment.of(payment) for payment in found]
            return connection_of_slice(slice_loaded(chosen, first, after, cursors))

        return _list_field(info.context.loaders.payments_by_customer, erp_id, page)

    @resolves("Customer.opportunities", "Sales opportunities, latest close date first.")
    async def opportunities(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        stage: str | None = None,
    ) -> Connection[Opportunity] | None:
        account = self.data.crm_side()
        found = (
            await info.context.loaders.opportunities_by_account.load(account.salesforce_id)
            if account
            else []
        )
        chosen = [Opportunity.of(opp) for opp in found if stage is None or opp.stage == stage]
        cursors = cursor_scope("Customer.opportunities", account and account.salesforce_id, stage)
        return connection_of_slice(slice_loaded(chosen, first, after, cursors))


R = TypeVar("R")
L = TypeVar("L")


def _list_field(
    loader: BatchLoader[str, list[L]],
    key: str | None,
    page: Callable[[Sequence[L]], R],
) -> R:
    """A list field of a customer: ``page`` of the list at once when it is loaded already,
    else (typed as the answer, for the schema) a coroutine that loads it first."""
    if key is None:
        return page([])
    done = loader.loaded(key)
    if done is not None:
        return page(done.result())

    async def later() -> R:
        return page(await loader.load(key))

    return cast(R, later())


async def load_customer(info: Info, ref: ids.CustomerRef) -> Customer:
    """A related customer (of an order, an invoice...), with the fields the query selected
    below it loaded from their owners."""
    data = await customer_resolvers.load_customer(info.context, ref, lookahead.selected(info))
    return Customer(data=data)


# --------------------------------------------------------------------------- orders and money


@strawberry.type(description="A sales order posted in the ERP.")
class Order:
    record: Private[records.ErpOrder]
    id: strawberry.ID = owned("Order.id", "Canonical id: ord:<ERP internal id>.")
    erp_id: strawberry.ID = owned("Order.erpId", "The ERP's internal id.")
    number: str = owned("Order.number", "Order number, e.g. SO001234.")
    status: OrderStatus = owned("Order.status", "Fulfilment and billing status.")
    order_date: dt.date | None = owned("Order.orderDate", "Date of the order.")
    total: Money | None = owned("Order.total", "Order total.")
    memo: str | None = owned("Order.memo", "Memo.")

    @classmethod
    def of(cls, record: records.ErpOrder) -> Order:
        return cls(
            record=record,
            id=strawberry.ID(ids.erp_object_id("Order", record.erp_id)),
            erp_id=strawberry.ID(record.erp_id),
            number=record.number,
            status=record.status,
            order_date=record.order_date,
            total=money(record.total, record.currency),
            memo=record.memo,
        )

    @resolves("Order.lines", "Order lines.")
    async def lines(self, info: Info) -> list[LineItem] | None:
        found = await info.context.loaders.transaction_lines.load(self.record.erp_id)
        return [LineItem.of(line, self.record.currency or "XXX") for line in found]

    @resolves("Order.customer", "The customer who placed the order.")
    async def customer(self, info: Info) -> Customer | None:
        return await load_customer(info, ids.CustomerRef(erp_id=self.record.customer_erp_id))

    @resolves("Order.opportunity", "The Salesforce opportunity the order was booked from.")
    async def opportunity(self, info: Info) -> Opportunity | None:
        external = self.record.external_id
        if not external or not ids_is_salesforce(external):
            return None
        found = await info.context.loaders.opportunity_by_id.load(external)
        return Opportunity.of(found) if found else None

    @resolves("Order.invoices", "Invoices billed from this order.")
    async def invoices(self, info: Info) -> list[Invoice] | None:
        found = await info.context.loaders.invoices_by_order.load(self.record.erp_id)
        return [Invoice.of(invoice) for invoice in found]


def ids_is_salesforce(value: str) -> bool:
    try:
        ids.parse_salesforce_id(value, "Opportunity")
    except ids.InvalidId:
        return False
    return True


@strawberry.type(description="An invoice posted in the ERP.")
class Invoice:
    record: Private[records.ErpInvoice]
    id: strawberry.ID = owned("Invoice.id", "Canonical id: inv:<ERP internal id>.")
    erp_id: strawberry.ID = owned("Invoice.erpId", "The ERP's internal id.")
    number: str = owned("Invoice.number", "Invoice number, e.g. INV010042.")
    status: InvoiceStatus = owned(
        "Invoice.status", "Payment status; OVERDUE once past due with an amount due."
    )
    issue_date: dt.date | None = owned("Invoice.issueDate", "Invoice date.")
    due_date: dt.date | None = owned("Invoice.dueDate", "Due date.")
    total: Money | None = owned("Invoice.total", "Invoice total.")
    amount_paid: Money | None = owned("Invoice.amountPaid", "Amount paid so far.")
    amount_due: Money | None = owned("Invoice.amountDue", "Amount still due.")

    @classmethod
    def of(cls, record: records.ErpInvoice) -> Invoice:
        return cls(
            record=record,
            id=strawberry.ID(ids.erp_object_id("Invoice", record.erp_id)),
            erp_id=strawberry.ID(record.erp_id),
            number=record.number,
            status=record.status,
            issue_date=record.issue_date,
            due_date=record.due_date,
            total=money(record.total, record.currency),
            amount_paid=money(record.amount_paid, record.currency),
            amount_due=money(record.amount_due, record.currency),
        )

    @resolves("Invoice.lines", "Invoice lines.")
    async def lines(self, info: Info) -> list[LineItem] | None:
        found = await info.context.loaders.transaction_lines.load(self.record.erp_id)
        return [LineItem.of(line, self.record.currency or "XXX") for line in found]

    @resolves("Invoice.customer", "The customer billed.")
    async def customer(self, info: Info) -> Customer | None:
        return await load_customer(info, ids.CustomerRef(erp_id=self.record.customer_erp_id))

    @resolves("Invoice.order", "The sales order this invoice bills.")
    async def order(self, info: Info) -> Order | None:
        if self.record.order_erp_id is None:
            return None
        found = await info.context.loaders.order_by_id.load(self.record.order_erp_id)
        return Order.of(found) if found else None

    @resolves("Invoice.payments", "Payments applied to this invoice.")
    async def payments(self, info: Info) -> list[Payment] | None:
        found = await info.context.loaders.payments_by_invoice.load(self.record.erp_id)
        return [Payment.of(payment) for payment in found]


@strawberry.type(description="The part of a payment applied to one invoice.")
class PaymentApplication:
    invoice_id: Private[str]
    amount: Money = strawberry.field(description="Amount applied to the invoice.")

    @strawberry.field(description="The invoice paid.")  # type: ignore[untyped-decorator]
    async def invoice(self, info: Info) -> Invoice | None:
        found = await info.context.loaders.invoice_by_id.load(self.invoice_id)
        return Invoice.of(found) if found else None


@strawberry.type(description="A customer payment received in the ERP.")
class Payment:
    record: Private[records.ErpPayment]
    id: strawberry.ID = owned("Payment.id", "Canonical id: pay:<ERP internal id>.")
    erp_id: strawberry.ID = owned("Payment.erpId", "The ERP's internal id.")
    number: str = owned("Payment.number", "Payment number.")
    payment_date: dt.date | None = owned("Payment.paymentDate", "Date received.")
    amount: Money | None = owned("Payment.amount", "Amount received.")
    unapplied: Money | None = owned("Payment.unapplied", "Amount not applied to any invoice.")
    memo: str | None = owned("Payment.memo", "Memo.")
    applications: list[PaymentApplication] = owned(
        "Payment.applications", "How the payment was applied to invoices."
    )

    @classmethod
    def of(cls, record: records.ErpPayment) -> Payment:
        currency = record.currency or "XXX"
        return cls(
            record=record,
            id=strawberry.ID(ids.erp_object_id("Payment", record.erp_id)),
            erp_id=strawberry.ID(record.erp_id),
            number=record.number,
            payment_date=record.payment_date,
            amount=money(record.amount, record.currency),
            unapplied=money(record.unapplied, record.currency),
            memo=record.memo,
            applications=[
                PaymentApplication(
                    invoice_id=application.invoice_erp_id,
                    amount=some_money(application.amount, currency),
                )
                for application in record.applications
            ],
        )

    @resolves("Payment.customer", "The paying customer.")
    async def customer(self, info: Info) -> Customer | None:
        return await load_customer(info, ids.CustomerRef(erp_id=self.record.customer_erp_id))


# --------------------------------------------------------------------------- opportunity


@strawberry.type(description="A sales opportunity in the CRM.")
class Opportunity:
    record: Private[records.CrmOpportunity]
    id: strawberry.ID = owned("Opportunity.id", "Canonical id: opp:<Salesforce id>.")
    salesforce_id: strawberry.ID = owned("Opportunity.salesforceId", "Salesforce Opportunity id.")
    name: str = owned("Opportunity.name", "Opportunity name.")
    stage: str = owned("Opportunity.stage", "Sales stage, e.g. Closed Won.")
    close_date: dt.date | None = owned("Opportunity.closeDate", "Expected or actual close date.")
    amount: Money | None = owned("Opportunity.amount", "Amount.")
    is_closed: bool = owned("Opportunity.isClosed", "Whether the opportunity is closed.")
    is_won: bool = owned("Opportunity.isWon", "Whether the opportunity was won.")

    @classmethod
    def of(cls, record: records.CrmOpportunity) -> Opportunity:
        return cls(
            record=record,
            id=strawberry.ID(ids.opportunity_id(record.salesforce_id)),
            salesforce_id=strawberry.ID(record.salesforce_id),
            name=record.name,
            stage=record.stage,
            close_date=record.close_date,
            amount=money(record.amount, record.currency),
            is_closed=record.is_closed,
            is_won=record.is_won,
        )

    @resolves("Opportunity.lines", "Products on the opportunity.")
    async def lines(self, info: Info) -> list[LineItem] | None:
        found = await info.context.loaders.opportunity_lines.load(self.record.salesforce_id)
        return [LineItem.of(line, self.record.currency or "XXX") for line in found]

    @resolves("Opportunity.customer", "The account's customer.")
    async def customer(self, info: Info) -> Customer | None:
        if self.record.account_id is None:
            return None
        return await load_customer(info, ids.CustomerRef(salesforce_id=self.record.account_id))

    @resolves("Opportunity.order", "The ERP sales order booked from this opportunity.")
    async def order(self, info: Info) -> Order | None:
        found = await info.context.loaders.order_by_opportunity.load(self.record.salesforce_id)
        return Order.of(found) if found else None
