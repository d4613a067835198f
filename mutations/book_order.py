"""bookOrder: quote-to-cash from a Salesforce opportunity, as a persisted workflow.

Steps (each persisted before and after it runs):

1. ``validate`` (read-only): the opportunity is Closed Won with a positive amount and priced
   lines; its account is complete for finance (a legal entity books its billing country, the
   deal's currency is that entity's, the billing address is complete, the tax id has the
   country's form); no other order was booked from it.
2. ``credit_check`` (read-only): the order total plus the open balance stays within the
   credit limit, the account is not on hold and has a limit; otherwise the workflow waits in
   PENDING_APPROVAL for finance.
3. ``upsert_customer``: a customer new to the ERP is created by external id (its
   cross-reference key); undone by deleting it.
4. ``create_sales_order``: the ERP sales order, whose external id is the opportunity's id, so
   that it can never be booked twice; undone by deleting it.
5. ``write_back``: the ERP order number and status on the opportunity and the ERP key on the
   account, all or none.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mutations.common import (
    Outcome,
    Problem,
    WriteServices,
    erp_customer_by_key,
    idempotent,
    upstream_problem,
)
from mutations.policies import BOOKING_POLICIES, BookingFacts, evaluate
from mutations.workflow import (
    NeedsApproval,
    Step,
    StepContext,
    StepRefused,
    Workflow,
    WorkflowKind,
    WorkflowStatus,
)
from resolvers.context import Caller
from sources.errors import SourceError
from sources.records import (
    CreditHold,
    CustomerFields,
    NewSalesOrder,
    OrderLineInput,
)

WORKFLOW_NAMESPACE = uuid.UUID("6f1c7d0e-3a52-4d8e-9d1f-2b7e3c9a4e10")


def services_of(ctx: StepContext) -> WriteServices:
    services: WriteServices = ctx.services
    return services


def workflow_id_for(key: str) -> str:
    """The workflow a bookOrder idempotency key starts: the same key, the same workflow."""
    return f"wf:{uuid.uuid5(WORKFLOW_NAMESPACE, f'bookOrder:{key}')}"


class _BookingStep:
    """What bookOrder's steps share unless they say otherwise: they write, get three tries
    for retryable upstream failures, and leave nothing to undo."""

    read_only = False
    attempts = 3

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
        if existing is not None and ctx.workflow.state.get("order_erp_id") != existing.erp_id:
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
        country = account.billing_address.country if account else None
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
        if ctx.workflow.approved_by:
            return {"credit": {"approved_by": ctx.workflow.approved_by}}
        services = services_of(ctx)
        total = Decimal(state["total"])
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


class UpsertCustomer(_BookingStep):
    name = "upsert_customer"

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        services = services_of(ctx)
        state = ctx.workflow.state
        key = state["key"]
        existing = await erp_customer_by_key(services, key)
        if existing is not None:
            return {"customer_erp_id": existing.erp_id, "customer_created": False}
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
            system="netsuite",
            record_type="customer",
            record_id=erp_id,
            after=fields,
            idempotency_key=ctx.key(),
            upstream_ids={"externalId": key},
        )
        return {"customer_erp_id": erp_id, "customer_created": True}

    async def compensate(self, ctx: StepContext) -> None:
        state = ctx.workflow.state
        if not state.get("customer_created"):
            return
        await services_of(ctx).erp.delete_customer(state["customer_erp_id"])
        await ctx.audit_write(
            outcome="compensated",
            system="netsuite",
            record_type="customer",
            record_id=state["customer_erp_id"],
            message="deleted the customer this booking created",
        )


class CreateSalesOrder(_BookingStep):
    name = "create_sales_order"

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        services = services_of(ctx)
        state = ctx.workflow.state
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
            memo=f"Booked by Accord from opportunity {state['opportunity_name']}",
            reference=state["opportunity_id"],
        )
        erp_id = await services.erp.create_sales_order(order, idempotency_key=ctx.key())
        created = (await services.erp.orders_by_ids([erp_id]))[erp_id]
        await ctx.audit_write(
            outcome="applied",
            system="netsuite",
            record_type="salesOrder",
            record_id=erp_id,
            after={"number": created.number, "total": created.total, "currency": created.currency},
            idempotency_key=ctx.key(),
            upstream_ids={"externalId": state["opportunity_id"]},
        )
        return {
            "order_erp_id": erp_id,
            "order_number": created.number,
            "order_status": created.status.value,
        }

    async def compensate(self, ctx: StepContext) -> None:
        state = ctx.workflow.state
        await services_of(ctx).erp.delete_sales_order(state["order_erp_id"])
        await ctx.audit_write(
            outcome="compensated",
            system="netsuite",
            record_type="salesOrder",
            record_id=state["order_erp_id"],
            message="deleted the order this booking created",
        )
        state.pop("order_erp_id", None)


class WriteBack(_BookingStep):
    """The last step: once it is done the workflow is COMPLETED and is never compensated."""

    name = "write_back"

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        services = services_of(ctx)
        state = ctx.workflow.state
        status = state["order_status"].replace("_", " ").title()
        await services.crm.write_back_booking(
            opportunity_id=state["opportunity_id"],
            order_number=state["order_number"],
            order_status=status,
            account_id=state["account_id"],
            erp_key=state["key"],
            idempotency_key=ctx.key(),
        )
        await ctx.audit_write(
            outcome="applied",
            system="salesforce",
            record_type="Opportunity",
            record_id=state["opportunity_id"],
            after={"ERP_Order_Id__c": state["order_number"], "ERP_Order_Status__c": status},
            idempotency_key=ctx.key(),
            upstream_ids={"order": state["order_erp_id"], "account": state["account_id"]},
        )
        return {"written_back": True}


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


# --------------------------------------------------------------------------- the mutation


async def book_order(
    services: WriteServices, caller: Caller, key: str, opportunity_id: str
) -> Outcome:
    """Start (or find) the booking workflow of an opportunity; its state when it rests."""
    engine = services.engine
    assert engine is not None

    async def run() -> Outcome:
        workflow_id = workflow_id_for(key)
        claim = f"booking:{opportunity_id}"
        if not await services.backend.set(claim, workflow_id, only_if_absent=True):
            holder = await services.backend.get(claim)
            if holder != workflow_id:
                current = await services.workflows.get(str(holder)) if holder else None
                if current is not None and current.status is WorkflowStatus.COMPLETED:
                    number = current.state.get("order_number")
                    return Outcome(
                        {"workflow": current.to_json()},
                        [
                            Problem(
                                "ORDER_ALREADY_BOOKED",
                                f"the opportunity was already booked as ERP order {number}",
                                "opportunityId",
                            )
                        ],
                    )
                if current is not None and current.status is not WorkflowStatus.CANCELLED:
                    return Outcome(
                        {"workflow": current.to_json()},
                        [
                            Problem(
                                "BOOKING_IN_PROGRESS",
                                f"the opportunity is being booked by workflow {current.id} "
                                f"({current.status.value})",
                                "opportunityId",
                            )
                        ],
                    )
                await services.backend.set(claim, workflow_id)
        workflow = engine.new(
            WorkflowKind.BOOK_ORDER,
            workflow_id,
            {"opportunityId": opportunity_id},
            actor=caller.name,
            role=caller.role.value if caller.role else None,
            idempotency_key=key,
        )
        try:
            done = await engine.start(workflow)
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        return outcome_of(done)

    return await idempotent(
        services, "bookOrder", caller, key, {"opportunityId": opportunity_id}, run
    )


def outcome_of(workflow: Workflow) -> Outcome:
    """The payload of a workflow at rest: the workflow, and its refusal's problems if any."""
    problems: list[Problem] = []
    failure = workflow.failure
    if workflow.status is WorkflowStatus.EXCEPTION and failure is not None:
        problems = [
            Problem(str(p.get("code")), str(p.get("message")), p.get("field"))
            for p in failure.problems
            if p.get("code")
        ] or [Problem(failure.code, failure.message)]
    return Outcome({"workflow": workflow.to_json()}, problems)


async def release_booking(services: WriteServices, workflow: Workflow) -> None:
    """A cancelled booking frees its opportunity for another booking."""
    opportunity_id = workflow.input.get("opportunityId")
    if opportunity_id and await services.backend.get(f"booking:{opportunity_id}") == workflow.id:
        await services.backend.delete(f"booking:{opportunity_id}")
