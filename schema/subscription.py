"""The Subscription root: status changes as they happen, from the event bus.

Each subscription checks the caller's role when it starts, filters the bus's canonical events
by type (and by customer or workflow when asked), and yields one payload per event. The
payload carries the event's own facts (what changed, from what to what, amounts) and the
object it is about, read fresh for each event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from domain import ids
from events.bus import Bus
from events.model import Event, EventType
from mutations.common import authorize
from resolvers import customers as customer_resolvers
from resolvers.context import AccordContext
from resolvers.errors import BadInputError
from schema.types import Customer, Info, Invoice, Order, Payment
from schema.workflows import Workflow
from sources.records import CrmAccount, ErpCustomer


@strawberry.type(description="What every event carries (CloudEvents attributes).")
class EventInfo:
    id: strawberry.ID = strawberry.field(description="Stable id of the change.")
    type: str = strawberry.field(description="e.g. com.accord.payment.received")
    source: str = strawberry.field(description="The system the change happened in.")
    subject: str = strawberry.field(description="Canonical id of the object.")
    time: dt.datetime = strawberry.field(description="When the change happened there.")
    customer_id: strawberry.ID | None = strawberry.field(description="The customer concerned.")
    data: JSON = strawberry.field(description="The event's data, as published.")

    @classmethod
    def of(cls, event: Event) -> EventInfo:
        return cls(
            id=strawberry.ID(event.id),
            type=event.type.value,
            source=event.source,
            subject=event.subject,
            time=event.time,
            customer_id=strawberry.ID(event.customer) if event.customer else None,
            data=dict(event.data),  # type: ignore[arg-type]
        )


async def _customer(info: Info, event: Event) -> Customer | None:
    if not event.customer:
        return None
    try:
        ref = ids.parse_customer_id(event.customer)
    except ids.InvalidId:
        return None
    data = await customer_resolvers.load_customer(info.context, ref, {"id", "name", "credit"})
    return Customer(data=data)


@strawberry.type(description="An invoice's payment status changed.")
class InvoiceStatusEvent:
    event: EventInfo = strawberry.field(description="The event itself (CloudEvents attributes).")
    previous_status: str | None = strawberry.field(description="The status before.")
    status: str | None = strawberry.field(description="The status now.")

    @strawberry.field(description="The invoice, read when the event arrived.")  # type: ignore[untyped-decorator]
    async def invoice(self, info: Info) -> Invoice | None:
        erp_id = _erp_id("Invoice", self.event.subject)
        found = await info.context.loaders.invoice_by_id.load(erp_id) if erp_id else None
        return Invoice.of(found) if found else None

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The invoiced customer, with its balance now."
    )
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, _event(self.event))


@strawberry.type(description="A customer payment was received in the ERP.")
class PaymentEvent:
    event: EventInfo = strawberry.field(description="The event itself (CloudEvents attributes).")

    @strawberry.field(description="The payment, read when the event arrived.")  # type: ignore[untyped-decorator]
    async def payment(self, info: Info) -> Payment | None:
        erp_id = _erp_id("Payment", self.event.subject)
        found = await info.context.loaders.payment_by_id.load(erp_id) if erp_id else None
        return Payment.of(found) if found else None

    @strawberry.field(description="The paying customer, with its balance now.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, _event(self.event))


@strawberry.type(description="A sales order was booked or its status changed.")
class OrderStatusEvent:
    event: EventInfo = strawberry.field(description="The event itself (CloudEvents attributes).")
    previous_status: str | None = strawberry.field(description="The status before.")
    status: str | None = strawberry.field(description="The status now.")

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The order, read when the event arrived."
    )
    async def order(self, info: Info) -> Order | None:
        erp_id = _erp_id("Order", self.event.subject)
        found = await info.context.loaders.order_by_id.load(erp_id) if erp_id else None
        return Order.of(found) if found else None

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The customer who placed the order."
    )
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, _event(self.event))


@strawberry.type(description="A customer's credit standing changed.")
class CreditStatusEvent:
    event: EventInfo = strawberry.field(description="The event itself (CloudEvents attributes).")
    previous_status: str | None = strawberry.field(description="The credit standing before.")
    status: str | None = strawberry.field(description="The credit standing now.")

    @strawberry.field(description="The customer, with its credit now.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, _event(self.event))


@strawberry.type(description="A workflow changed state.")
class WorkflowEvent:
    event: EventInfo = strawberry.field(description="The event itself (CloudEvents attributes).")

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The workflow as it stands now."
    )
    async def workflow(self, info: Info) -> Workflow | None:
        services = info.context.services
        if services is None:
            return None
        found = await services.workflows.get(self.event.subject)
        return Workflow(record=found) if found else None


def _event(info: EventInfo) -> Event:
    return Event(
        id=info.id,
        type=EventType(info.type),
        source=info.source,
        subject=info.subject,
        time=info.time,
        data=cast(dict[str, Any], info.data or {}),
        customer=info.customer_id,
    )


def _erp_id(type_name: str, subject: str) -> str | None:
    try:
        return ids.parse_erp_object_id(type_name, subject)
    except ids.InvalidId:
        return None


async def _customer_filter(info: Info, customer_id: strawberry.ID | None) -> tuple[str, ...] | None:
    """The canonical ids events may carry for the customer a client named, in any of its forms.

    Events name a customer by its cross-reference key when it has one, so a customer named by
    its Salesforce or ERP id is looked up first; when that look-up fails, the subscription
    fails with the source's error rather than wait, unmatched, for events under the key.
    """
    if customer_id is None:
        return None
    try:
        ref = ids.parse_customer_id(customer_id)
    except ids.InvalidId as exc:
        raise BadInputError(str(exc), argument="customerId") from None
    if ref.key:
        return (ids.customer_id(ref.key, None, None),)
    data = await customer_resolvers.load_customer(info.context, ref, {"id"})
    forms = {ids.customer_id(None, ref.salesforce_id, ref.erp_id)}
    for side in (data.account, data.erp):
        if isinstance(side, GraphQLError):
            # a fresh error: raised as it is, the source failure inside would read as a bug
            raise GraphQLError(side.message, extensions=side.extensions)
        if isinstance(side, CrmAccount):
            forms.add(ids.customer_id(None, side.salesforce_id, None))
        if isinstance(side, ErpCustomer):
            forms.add(ids.customer_id(None, None, side.erp_id))
    if data.key:
        forms.add(ids.customer_id(data.key, None, None))
    return tuple(forms)  # a few forms at most: a tuple holds them in less than a set


def _of_customer(wanted: tuple[str, ...] | None) -> Callable[[Event], bool]:
    return lambda event: wanted is None or event.customer in wanted


def _events(
    info: Info, types: frozenset[EventType], accept: Callable[[Event], bool]
) -> AsyncGenerator[Event, None]:
    """The bus's events of ``types`` that ``accept`` takes, each read against the systems as
    they are then. Only the operation's context is kept, not ``info``: a subscription
    resolver drops its ``info`` once it has this, since the resolve info holds the executor
    that started the operation (each event is executed anew, `api.pipeline`)."""
    bus = info.context.bus
    if bus is None:
        raise BadInputError("subscriptions need the event bus, which is not running")
    return _bus_events(info.context, bus, types, accept)


async def _bus_events(
    context: AccordContext, bus: Bus, types: frozenset[EventType], accept: Callable[[Event], bool]
) -> AsyncGenerator[Event, None]:
    subscription = bus.subscribe()
    try:
        async for event in subscription:
            if event.type in types and accept(event):
                # Each event is read against the systems as they are now, not an earlier view.
                context.loaders.renew(live=True)
                yield event
    finally:
        # Unsubscribe now, however the operation ended: a client gone away (the SSE stream
        # cancelled) leaves the iterator in a reference cycle that only the collector breaks,
        # and until then it would keep receiving every event.
        await subscription.aclose()


def _status(event: Event) -> tuple[str | None, str | None]:
    data: dict[str, Any] = dict(event.data)
    previous = data.get("from", data.get("previous_status"))
    current = data.get("to", data.get("status"))
    return (
        str(previous) if previous is not None else None,
        str(current) if current is not None else None,
    )


# The event types each subscription takes, shared by all its subscribers.
_INVOICE_TYPES = frozenset({EventType.INVOICE_STATUS_CHANGED, EventType.INVOICE_POSTED})
_PAYMENT_TYPES = frozenset({EventType.PAYMENT_RECEIVED})
_ORDER_TYPES = frozenset({EventType.ORDER_BOOKED, EventType.ORDER_STATUS_CHANGED})
_CREDIT_TYPES = frozenset({EventType.CREDIT_STATUS_CHANGED})
_WORKFLOW_TYPES = frozenset({EventType.WORKFLOW_CHANGED})


@strawberry.type(description="Status changes as they happen.")
class Subscription:
    @strawberry.subscription(description="Invoices whose status changed, for one customer or all.")  # type: ignore[untyped-decorator]
    async def invoice_status_changed(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[InvoiceStatusEvent, None]:
        authorize("subscribe", info.context.caller)
        wanted = await _customer_filter(info, customer_id)
        events = _events(info, _INVOICE_TYPES, _of_customer(wanted))
        del info  # kept no longer than needed: see _events
        async for event in events:
            previous, current = _status(event)
            yield InvoiceStatusEvent(
                event=EventInfo.of(event), previous_status=previous, status=current
            )

    @strawberry.subscription(description="Payments received, for one customer or all.")  # type: ignore[untyped-decorator]
    async def payment_received(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[PaymentEvent, None]:
        authorize("subscribe", info.context.caller)
        wanted = await _customer_filter(info, customer_id)
        events = _events(info, _PAYMENT_TYPES, _of_customer(wanted))
        del info  # kept no longer than needed: see _events
        async for event in events:
            yield PaymentEvent(event=EventInfo.of(event))

    @strawberry.subscription(description="Orders booked or whose status changed.")  # type: ignore[untyped-decorator]
    async def order_status_changed(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[OrderStatusEvent, None]:
        authorize("subscribe", info.context.caller)
        wanted = await _customer_filter(info, customer_id)
        events = _events(info, _ORDER_TYPES, _of_customer(wanted))
        del info  # kept no longer than needed: see _events
        async for event in events:
            previous, current = _status(event)
            yield OrderStatusEvent(
                event=EventInfo.of(event), previous_status=previous, status=current
            )

    @strawberry.subscription(description="Customers whose credit standing changed.")  # type: ignore[untyped-decorator]
    async def credit_status_changed(
        self, info: Info, customer_id: strawberry.ID | None = None
    ) -> AsyncGenerator[CreditStatusEvent, None]:
        authorize("subscribe", info.context.caller)
        wanted = await _customer_filter(info, customer_id)
        events = _events(info, _CREDIT_TYPES, _of_customer(wanted))
        del info  # kept no longer than needed: see _events
        async for event in events:
            previous, current = _status(event)
            yield CreditStatusEvent(
                event=EventInfo.of(event), previous_status=previous, status=current
            )

    @strawberry.subscription(description="Workflows that changed state, one or all.")  # type: ignore[untyped-decorator]
    async def workflow_changed(
        self, info: Info, id: strawberry.ID | None = None
    ) -> AsyncGenerator[WorkflowEvent, None]:
        authorize("readWorkflows", info.context.caller)
        events = _events(info, _WORKFLOW_TYPES, lambda e: id in (None, e.subject))
        del info  # kept no longer than needed: see _events
        async for event in events:
            yield WorkflowEvent(event=EventInfo.of(event))
