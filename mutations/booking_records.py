"""What a booking may call its own, and so undo: the order it posted, the ERP customer it
created while nothing else depends on it.

A booking's undo reverts only its own effects. Another booking of the same account may
complete meanwhile on the customer this one created (its upsert found it), or have created it
itself; the customer, and the account's link to it, then belong to that work as well and are
left in place. These checks read the ERP at undo time, since that is when they matter.
"""

from __future__ import annotations

import asyncio

from mutations.common import WritePorts
from mutations.workflow import StepContext, Workflow
from sources.records import ErpOrder


def services_of(ctx: StepContext) -> WritePorts:
    services: WritePorts = ctx.services
    return services


def posted_by(workflow: Workflow, order: ErpOrder) -> bool:
    """Whether ``workflow`` posted ``order`` (its memo names the workflow)."""
    return order.erp_id == workflow.state.get("order_erp_id") or workflow.id in (order.memo or "")


async def others_depend_on_customer(ctx: StepContext, erp_id: str) -> bool:
    """Whether the ERP customer ``erp_id`` holds orders or invoices that are not this
    booking's: then deleting it, or unlinking the account from it, would revert other work."""
    erp = services_of(ctx).erp
    orders, invoices = await asyncio.gather(
        erp.orders_by_customer_ids([erp_id]), erp.invoices_by_customer_ids([erp_id])
    )
    others = [order for order in orders.get(erp_id, []) if not posted_by(ctx.workflow, order)]
    return bool(others or invoices.get(erp_id))


async def customer_goes_with_booking(ctx: StepContext) -> bool:
    """Whether undoing this booking removes the ERP customer: it created it (or may have: an
    answer lost) and nothing else depends on it."""
    state = ctx.workflow.state
    if not state.get("customer_creating"):
        return False
    erp_id = state.get("customer_erp_id")
    if erp_id is None:
        return True  # never known to exist: whatever the upsert left is this booking's
    return not await others_depend_on_customer(ctx, str(erp_id))
