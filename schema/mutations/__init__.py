"""The Mutation root, one module per mutation.

Each module holds its mutation's input, payload, error types and resolver; its error codes are
the ones its logic under ``mutations/`` declares. Every input carries ``idempotencyKey``; every
payload has ``errors: [<Name>Error!]!`` with ``field``, ``message`` and ``code``. Business
failures come back there; a caller without the role is a top-level UNAUTHENTICATED or
FORBIDDEN error.
"""

from __future__ import annotations

import strawberry

from schema.mutations import book_order as booking
from schema.mutations import record_payment as payment
from schema.mutations import set_credit_hold as credit_hold
from schema.mutations import update_customer as customer_update
from schema.mutations import workflow_actions
from schema.mutations.workflow_queries import WorkflowQueries


@strawberry.type(description="Writes, each routed to the system that owns it.")
class Mutation:
    update_customer = strawberry.mutation(
        resolver=customer_update.update_customer, description=customer_update.DESCRIPTION
    )
    set_credit_hold = strawberry.mutation(
        resolver=credit_hold.set_credit_hold, description=credit_hold.DESCRIPTION
    )
    record_payment = strawberry.mutation(
        resolver=payment.record_payment, description=payment.DESCRIPTION
    )
    book_order = strawberry.mutation(resolver=booking.book_order, description=booking.DESCRIPTION)
    retry_workflow = strawberry.mutation(
        resolver=workflow_actions.retry_workflow,
        description="Run an EXCEPTION workflow again from its failed step.",
    )
    approve_workflow = strawberry.mutation(
        resolver=workflow_actions.approve_workflow,
        description="Approve a PENDING_APPROVAL workflow (finance).",
    )
    cancel_workflow = strawberry.mutation(
        resolver=workflow_actions.cancel_workflow,
        description="Cancel a PENDING_APPROVAL or EXCEPTION workflow.",
    )


__all__ = ["Mutation", "WorkflowQueries"]
