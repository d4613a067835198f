"""bookOrder: its input, payload, errors and resolver."""

from __future__ import annotations

import strawberry

from domain import ids
from mutations import book_order as logic
from mutations.common import Outcome, authorize
from mutations.results import WorkflowResult
from resolvers.errors import BadInputError
from schema.mutations.common import error_types, errors_of, services_of
from schema.types import Info
from schema.workflows import Workflow

BookOrderErrorCode, BookOrderError = error_types("BookOrder", logic.CODES)


@strawberry.input(description="The opportunity to book as an ERP sales order.")
class BookOrderInput:
    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    opportunity_id: strawberry.ID = strawberry.field(
        description="The Closed Won opportunity: opp:<id> or its Salesforce id."
    )


@strawberry.type(description="What bookOrder did.")
class BookOrderPayload:
    outcome: strawberry.Private[Outcome[WorkflowResult]]
    errors: list[BookOrderError] = strawberry.field(  # type: ignore[valid-type]
        description="Why the booking was refused or stopped; empty when it completed or waits."
    )

    @strawberry.field(description="The booking workflow, as it rests.")  # type: ignore[untyped-decorator]
    def workflow(self) -> Workflow | None:
        result = self.outcome.result
        return Workflow(record=result.workflow) if result is not None else None


async def book_order(info: Info, input: BookOrderInput) -> BookOrderPayload:
    caller = info.context.caller
    authorize("bookOrder", caller)
    raw = input.opportunity_id
    try:
        opportunity = (
            ids.parse_opportunity_id(raw)
            if raw.startswith("opp:")
            else ids.parse_salesforce_id(raw, "Opportunity")
        )
    except ids.InvalidId as exc:
        raise BadInputError(str(exc), argument="input.opportunityId") from None
    outcome = await logic.book_order(services_of(info), caller, input.idempotency_key, opportunity)
    return BookOrderPayload(
        outcome=outcome, errors=errors_of(BookOrderError, BookOrderErrorCode, outcome.problems)
    )


DESCRIPTION = "Quote-to-cash: book a Closed Won opportunity as an ERP sales order."
