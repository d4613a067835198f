"""bookOrder's steps: quote-to-cash from a Salesforce opportunity, each persisted before and
after it runs.

1. ``validate`` (read-only): the opportunity is Closed Won with a positive amount and priced
   lines; its account is complete for finance (a legal entity books its billing country, the
   deal's currency is that entity's, the billing address is complete, the tax id has the
   country's form); no other order was booked from it.
2. ``credit_check`` (read-only): the order total plus the open balance stays within the
   credit limit, the account is not on hold and has a limit; otherwise the workflow waits in
   PENDING_APPROVAL for finance.
3. ``upsert_customer``: a customer new to the ERP is created by external id (its
   cross-reference key); undone by deleting it, unless orders of other work rest on it.
4. ``create_sales_order``: the ERP sales order, whose external id is the opportunity's id, so
   that it can never be booked twice, and whose memo names the workflow, so that the booking
   knows its own order from one booked otherwise; undone by deleting it.
5. ``write_back`` (`mutations.booking_write_back`): the ERP order number and status on the
   opportunity and the ERP key on the account, all or none.

The writing steps look for what they may have written before writing (an answer lost to a
timeout, a crash), and their undo looks for it too; an undo reverts only this booking's own
effects (`mutations.booking_records`). An approved booking validates again before it posts.
Finance's approval covers the order total it was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from mutations.booking_records import others_depend_on_customer, posted_by, services_of
from mutations.booking_write_back import WriteBack
from mutations.change_feed import RecordKind, report
from mutations.common import erp_customer_by_key
from mutations.policies import BOOKING_POLICIES, BookingFacts, evaluate
from mutations.workflow import (
    NeedsApproval,
    Step,
    StepContext,
    StepRefused,
    Workflow,
)
from sources.errors import RecordNotFound, SourceWarning
from sources.ports import ErpCapability
from sources.records import (
    CreditHold,
    CustomerFields,
    ErpOrder,
    NewSalesOrder,
    OrderLineInput,
    OrderStatus,
)


class _BookingStep:
    """What bookOrder's steps share unless they say otherwise: they write, get three tries
    for retryable upstream failures, and leave nothing to undo."""

    read_only = False
    attempts = 3
    independent_undo = False

    async def compensate(self, ctx: StepContext) -> None:
        return None


class Validate(_BookingStep):
    name = "validate"
    read_only = True

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        services = services_of(ctx)
        opportunity_id = ctx.workflow.input["opportunityId"]
        found = await services.crm.opportunities_by_ids([opportunity_id])
        opportunity = found.get(opportunity_id)
        if opportunity is None:
            raise StepRefused(
                "OPPORTUNITY_NOT_FOUND",
                f"no opportunity {opportunity_id}",
                [
                    {
                        "code": "OPPORTUNITY_NOT_FOUND",
                        "field": "opportunityId",
                        "message": f"no opportunity {opportunity_id}",
                    }
                ],
            )
        lines_by_id, accounts, entities, orders = await asyncio.gather(
            services.crm.opportunity_lines([opportunity_id]),
            services.crm.accounts_by_ids(
                [opportunity.account_id] if opportunity.account_id else []
            ),
            services.erp.legal_entities(),
            services.erp.orders_by_external_ids([opportunity_id]),
        )
        lines = lines_by_id.get(opportunity_id, [])
        account = accounts.get(opportunity.account_id or "")
        existing = orders.get(opportunity_id)
        if existing is not None and not posted_by(ctx.workflow, existing):
            message = f"the opportunity was already booked as ERP order {existing.number}"
            raise StepRefused(
                "ORDER_ALREADY_BOOKED",
                message,
                [{"code": "ORDER_ALREADY_BOOKED", "field": "opportunityId", "message": message}],
            )
        key = account.erp_key if account else None
        customer = None
        if key:
            customer = await erp_customer_by_key(services, key)
        country = account.billing().country if account else None
        entity = (
            entities.get(customer.legal_entity_id or "")
            if customer is not None
            else next((e for e in entities.values() if e.country == country), None)
        )
        facts = BookingFacts(
            opportunity=opportunity,
            lines=lines,
            account=account,
            legal_entity=entity,
            erp_currency=customer.currency if customer else None,
            tax_id=(
                customer.tax_id
                if customer and customer.tax_id
                else account.tax_id
                if account
                else None
            ),
        )
        violations = evaluate(BOOKING_POLICIES, facts)
        if violations:
            raise StepRefused(
                "POLICY_VIOLATION",
                "; ".join(v.message for v in violations),
                [{"code": v.code, "message": v.message, "field": v.field} for v in violations],
            )
        assert account is not None
        assert entity is not None
        total = sum((line.amount for line in lines), Decimal(0))
        return {
            "opportunity_id": opportunity_id,
            "opportunity_name": opportunity.name,
            "account_id": account.salesforce_id,
            "account_key_before": account.erp_key,
            "opportunity_before": {
                "order_number": opportunity.erp_order_number,
                "order_status": opportunity.erp_order_status,
            },
            "key": key or f"SF-{account.salesforce_id}",
            "customer_exists": customer is not None,
            "legal_entity_id": entity.erp_id,
            "currency": opportunity.currency or entity.currency,
            "total": total,
            "lines": [
                {
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "description": line.description,
                }
                for line in lines
            ],
            "customer": {
                "name": account.name,
                "phone": account.phone,
                "tax_id": facts.tax_id,
                "billing_address": account.billing_address,
            },
        }


class CreditCheck(_BookingStep):
    name = "credit_check"
    read_only = True

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        state = ctx.workflow.state
        total = Decimal(state["total"])
        if _approval_covers(ctx.workflow, total):
            return {"credit": {"approved_by": ctx.workflow.approved_by}}
        services = services_of(ctx)
        customer = await erp_customer_by_key(services, state["key"])
        if customer is None:
            raise NeedsApproval(
                "NO_CREDIT_LIMIT",
                "a customer new to the ERP has no credit limit yet",
                {"order_total": total, "currency": state["currency"]},
            )
        if customer.credit_hold is CreditHold.ON:
            raise NeedsApproval(
                "CREDIT_HOLD", "the customer is on credit hold", {"order_total": total}
            )
        if customer.credit_limit is None:
            raise NeedsApproval(
                "NO_CREDIT_LIMIT", "the customer has no credit limit", {"order_total": total}
            )
        exposure = customer.balance + total
        if customer.credit_hold is CreditHold.AUTO and exposure > customer.credit_limit:
            raise NeedsApproval(
                "CREDIT_LIMIT_EXCEEDED",
                f"open balance {customer.balance} plus this order {total} exceeds the credit "
                f"limit {customer.credit_limit} {customer.currency}",
                {
                    "limit": customer.credit_limit,
                    "balance": customer.balance,
                    "order_total": total,
                    "currency": customer.currency,
                },
            )
        return {"credit": {"limit": customer.credit_limit, "balance": customer.balance}}


def _approval_covers(workflow: Workflow, total: Decimal) -> bool:
    """Whether finance's approval covers an order of ``total`` in the booking's currency: an
    approval is for the order total it was asked for (a deal that grew since, and is run
    again by a retry, is checked, and asked for, anew)."""
    approved = workflow.approved_for
    if not workflow.approved_by or not approved or "order_total" not in approved:
        return False
    currency = approved.get("currency")
    if currency is not None and currency != workflow.state.get("currency"):
        return False
    return total <= Decimal(str(approved["order_total"]))


class UpsertCustomer(_BookingStep):
    """Creates the ERP customer when there is none with the key. ``customer_creating`` is
    remembered before the write, so that a customer found later (after a crash, or an answer
    that never came) is known to be this booking's, to adopt or to undo."""

    name = "upsert_customer"

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        services = services_of(ctx)
        state = ctx.workflow.state
        key = state["key"]
        existing = await erp_customer_by_key(services, key)
        if existing is not None:
            mine = bool(state.get("customer_creating"))
            return {"customer_erp_id": existing.erp_id, "customer_created": mine}
        await ctx.remember(customer_creating=True)
        details = state["customer"]
        address = details["billing_address"]
        terms = await services.erp.payment_terms()
        net30 = next((t.erp_id for t in terms.values() if t.days == 30), None)
        fields = CustomerFields(
            name=details["name"],
            phone=details.get("phone"),
            legal_entity_id=state["legal_entity_id"],
            currency=state["currency"],
            terms_id=net30,
            tax_id=details.get("tax_id"),
            billing_address=_address(address),
        )
        erp_id = await services.erp.upsert_customer(key, fields, idempotency_key=ctx.key())
        await ctx.audit_write(
            outcome="applied",
            system=services.erp.source,
            record_type="customer",
            record_id=erp_id,
            after=fields,
            idempotency_key=ctx.key(),
            upstream_ids={"externalId": key},
        )
        await report(services.changes, services.erp.source, RecordKind.CUSTOMER, erp_id, "create")
        return {"customer_erp_id": erp_id, "customer_created": True}

    async def compensate(self, ctx: StepContext) -> None:
        state = ctx.workflow.state
        if not state.get("customer_creating"):
            return  # this booking never wrote a customer
        services = services_of(ctx)
        erp_id = state.get("customer_erp_id") if state.get("customer_created") else None
        if erp_id is None:
            found = await erp_customer_by_key(services, state["key"])
            erp_id = found.erp_id if found is not None else None
        if erp_id is not None and await others_depend_on_customer(ctx, erp_id):
            # another booking's order (or an invoice) now rests on it: not this undo's to take
            await ctx.audit_write(
                outcome="kept",
                system=services.erp.source,
                record_type="customer",
                record_id=erp_id,
                message="left the customer this booking created: other orders depend on it",
            )
        elif erp_id is not None:
            await _delete(services.erp.delete_customer, erp_id)
            await ctx.audit_write(
                outcome="compensated",
                system=services.erp.source,
                record_type="customer",
                record_id=erp_id,
                message="deleted the customer this booking created",
            )
            await report(
                services.changes, services.erp.source, RecordKind.CUSTOMER, erp_id, "delete"
            )
        state.update(customer_creating=False, customer_created=False)
        state.pop("customer_erp_id", None)


class CreateSalesOrder(_BookingStep):
    """Posts the sales order, its memo naming the workflow: an order with the opportunity's
    external id and this memo is this booking's (found after a crash or a lost answer, it is
    adopted or undone); any other is someone else's booking.

    An ERP with a credit check of its own (Tryton's) may stop the order for a confirmation:
    the workflow then waits in PENDING_APPROVAL with the ERP's message, the order kept
    unconfirmed; once finance approves, the same order is confirmed (an approved booking
    tells the ERP so), and a cancel undoes it."""

    name = "create_sales_order"

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        services = services_of(ctx)
        state = ctx.workflow.state
        existing = await _order_of(ctx)
        waiting = (
            existing is not None
            and existing.status is OrderStatus.PENDING_APPROVAL
            and ErpCapability.CREDIT_CHECK_APPROVAL in services.erp.capabilities
        )
        if existing is not None and not waiting:
            return {
                "order_erp_id": existing.erp_id,
                "order_number": existing.number,
                "order_status": existing.status.value,
            }
        order = NewSalesOrder(
            customer_erp_id=state["customer_erp_id"],
            external_id=state["opportunity_id"],
            order_date=services.today(),
            currency=state["currency"],
            lines=tuple(
                OrderLineInput(
                    line["sku"],
                    Decimal(line["quantity"]),
                    Decimal(line["unit_price"]),
                    line.get("description"),
                )
                for line in state["lines"]
            ),
            memo=f"Booked by Accord from opportunity {state['opportunity_name']} "
            f"({ctx.workflow.id})",
            reference=state["opportunity_id"],
            approved=_approval_covers(ctx.workflow, Decimal(state["total"])),
        )
        try:
            erp_id = await services.erp.create_sales_order(order, idempotency_key=ctx.key())
        except SourceWarning as warning:
            raise NeedsApproval(
                "ERP_CREDIT_CHECK",
                f"{warning.source}: {warning.message}",
                {"order_total": Decimal(state["total"]), "currency": state["currency"]},
            ) from warning
        created = (await services.erp.orders_by_ids([erp_id]))[erp_id]
        await ctx.audit_write(
            outcome="applied",
            system=services.erp.source,
            record_type="salesOrder",
            record_id=erp_id,
            after={"number": created.number, "total": created.total, "currency": created.currency},
            idempotency_key=ctx.key(),
            upstream_ids={"externalId": state["opportunity_id"]},
        )
        await report(services.changes, services.erp.source, RecordKind.ORDER, erp_id, "create")
        return {
            "order_erp_id": erp_id,
            "order_number": created.number,
            "order_status": created.status.value,
        }

    async def compensate(self, ctx: StepContext) -> None:
        state = ctx.workflow.state
        erp_id = state.get("order_erp_id")
        if erp_id is None:
            found = await _order_of(ctx, refuse_others=False)
            erp_id = found.erp_id if found is not None else None
        if erp_id is not None:
            await _delete(services_of(ctx).erp.delete_sales_order, erp_id)
            await ctx.audit_write(
                outcome="compensated",
                system=services_of(ctx).erp.source,
                record_type="salesOrder",
                record_id=erp_id,
                message="deleted the order this booking created",
            )
            await report(
                services_of(ctx).changes,
                services_of(ctx).erp.source,
                RecordKind.ORDER,
                erp_id,
                "delete",
            )
        state.pop("order_erp_id", None)


async def _order_of(ctx: StepContext, *, refuse_others: bool = True) -> ErpOrder | None:
    """The ERP order this booking posted, if there is one. An order of the opportunity that
    another booking posted refuses the booking (``refuse_others``), or is left alone."""
    opportunity_id = ctx.workflow.state["opportunity_id"]
    found = await services_of(ctx).erp.orders_by_external_ids([opportunity_id])
    order = found.get(opportunity_id)
    if order is None:
        return None
    if not posted_by(ctx.workflow, order):
        if not refuse_others:
            return None
        message = f"the opportunity was already booked as ERP order {order.number}"
        raise StepRefused(
            "ORDER_ALREADY_BOOKED",
            message,
            [{"code": "ORDER_ALREADY_BOOKED", "field": "opportunityId", "message": message}],
        )
    return order


async def _delete(delete: Callable[[str], Awaitable[None]], erp_id: str) -> None:
    """Delete an ERP record; one that is gone already (an earlier undo whose answer was lost,
    or a person) counts as deleted."""
    with contextlib.suppress(RecordNotFound):
        await delete(erp_id)


def _address(value: Mapping[str, Any]) -> Any:
    from sources.records import Address

    return Address(
        street=value.get("street"),
        city=value.get("city"),
        state=value.get("state"),
        postal_code=value.get("postal_code"),
        country=value.get("country"),
    )


BOOK_ORDER_STEPS: list[Step] = [
    Validate(),
    CreditCheck(),
    UpsertCustomer(),
    CreateSalesOrder(),
    WriteBack(),
]
