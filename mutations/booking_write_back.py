"""bookOrder's last step: the ERP order number and status on the opportunity, the ERP key on
the account, all or none; and its undo, which reverts only what this booking wrote.

Right before it writes, the step reads the fields again and remembers them (persisted first),
since a booking that waited for approval, or ran beside another booking of the account, may
find them changed since it validated. The undo puts a field back only when it still holds
what this booking wrote and held something else just before; the account's link to the ERP
customer is put back only when the undo also removes that customer (this booking created it,
and nothing else depends on it). So the link another booking wrote, or one that another
booking's order now relies on, is left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from mutations.booking_records import customer_goes_with_booking, services_of
from mutations.change_feed import RecordKind, report
from mutations.workflow import StepContext
from sources.errors import SourceError

WrittenBack = dict[str, str | None]
"""The fields a write-back sets, by `write_back_booking`'s parameter names."""

CRM_FIELDS = {
    "order_number": "ERP_Order_Id__c",
    "order_status": "ERP_Order_Status__c",
    "erp_key": "ERP_Customer_Id__c",
}


def crm_fields(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """Write-back values under their Salesforce field names, for the audit trail."""
    return {CRM_FIELDS[name]: value for name, value in values.items() if name in CRM_FIELDS}


def order_status_label(state: Mapping[str, Any]) -> str:
    """The order status as the opportunity shows it (``PENDING_FULFILLMENT`` -> Pending
    Fulfillment)."""
    return str(state["order_status"]).replace("_", " ").title()


class WriteBack:
    """The last step: once it is done the workflow is COMPLETED and is never compensated.

    It is undone only when it failed: its answer may have been lost although Salesforce
    applied it, and an opportunity must not name an order the compensation deletes. It lives
    in Salesforce alone, so when its undo cannot be done the ERP order is still undone, and
    the workflow waits on the dead-letter list with this step's undo pending.
    """

    name = "write_back"
    read_only = False
    attempts = 3
    independent_undo = True

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        services = services_of(ctx)
        state = ctx.workflow.state
        status = order_status_label(state)
        await self._remember_before(ctx, status)
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
            system=services.crm.source,
            record_type="Opportunity",
            record_id=state["opportunity_id"],
            before=crm_fields(state["write_back_before"]),
            after={"ERP_Order_Id__c": state["order_number"], "ERP_Order_Status__c": status},
            idempotency_key=ctx.key(),
            upstream_ids={"order": state["order_erp_id"], "account": state["account_id"]},
        )
        await report(
            services.changes,
            services.crm.source,
            RecordKind.CUSTOMER,
            state["account_id"],
            "update",
        )
        return {"written_back": True}

    async def _remember_before(self, ctx: StepContext, status: str) -> None:
        """Read the fields as they are just before the write, and persist them (with the
        generation) before writing, for the undo. A resumption of the same generation keeps
        what it remembered; a field already holding this booking's value (an earlier attempt
        whose undo did not happen) keeps the value remembered then."""
        state = ctx.workflow.state
        prior = state.get("write_back_before")
        generation = ctx.workflow.generation
        if prior is not None and prior.get("generation") == generation:
            return
        now = await current_fields(ctx)
        ours: WrittenBack = {
            "order_number": state["order_number"],
            "order_status": status,
            "erp_key": state["key"],
        }
        before: dict[str, Any] = dict(now)
        if prior is not None:
            for name, value in now.items():
                if value == ours[name] and name in prior:
                    before[name] = prior[name]
        before["generation"] = generation
        await ctx.remember(write_back_before=before)

    async def compensate(self, ctx: StepContext) -> None:
        services = services_of(ctx)
        state = ctx.workflow.state
        found = await self._undo(ctx)
        if found is None:
            return
        current, undo = found
        try:
            await services.crm.write_back_booking(
                opportunity_id=state["opportunity_id"],
                account_id=state["account_id"],
                order_number=undo["order_number"],
                order_status=undo["order_status"],
                erp_key=undo["erp_key"],
                idempotency_key=ctx.key("undo"),
            )
        except SourceError as error:
            if not error.retryable or await self._undo(ctx) is not None:
                raise
            # the answer was lost, but the fields hold their old values again: it happened
        await ctx.audit_write(
            outcome="compensated",
            system=services.crm.source,
            record_type="Opportunity",
            record_id=state["opportunity_id"],
            before=crm_fields(current),
            after=crm_fields(undo),
            message="put back the CRM fields this booking wrote",
        )
        await report(
            services.changes,
            services.crm.source,
            RecordKind.CUSTOMER,
            state["account_id"],
            "update",
        )

    async def _undo(self, ctx: StepContext) -> tuple[WrittenBack, WrittenBack] | None:
        """The fields as they are now and the values that undo this booking's write-back, as
        `write_back_booking` takes them; None when no field is this booking's to put back (its
        write never landed, was undone, was changed since, or is relied on by other work)."""
        state = ctx.workflow.state
        current = await current_fields(ctx)
        before = _before(state)
        undo = dict(current)
        written = state.get("order_number")
        if written is not None and current["order_number"] == written != before["order_number"]:
            undo["order_number"] = before["order_number"]
            undo["order_status"] = before["order_status"]
        if current["erp_key"] == state["key"] != before[
            "erp_key"
        ] and await customer_goes_with_booking(ctx):
            undo["erp_key"] = before["erp_key"]
        return None if undo == current else (current, undo)


def _before(state: Mapping[str, Any]) -> WrittenBack:
    """What the fields held before this booking's write-back: read just before it, or (a
    workflow persisted before that was remembered) as the validation saw them."""
    remembered = state.get("write_back_before")
    if remembered is not None:
        return {name: remembered.get(name) for name in CRM_FIELDS}
    opportunity = state.get("opportunity_before") or {}
    return {
        "order_number": opportunity.get("order_number"),
        "order_status": opportunity.get("order_status"),
        "erp_key": state.get("account_key_before"),
    }


async def current_fields(ctx: StepContext) -> WrittenBack:
    """The write-back's fields as Salesforce holds them now."""
    services = services_of(ctx)
    state = ctx.workflow.state
    opportunity_id, account_id = state["opportunity_id"], state["account_id"]
    opportunities, accounts = await asyncio.gather(
        services.crm.opportunities_by_ids([opportunity_id]),
        services.crm.accounts_by_ids([account_id]),
    )
    opportunity = opportunities.get(opportunity_id)
    account = accounts.get(account_id)
    return {
        "order_number": opportunity.erp_order_number if opportunity else None,
        "order_status": opportunity.erp_order_status if opportunity else None,
        "erp_key": account.erp_key if account else None,
    }
