"""retryWorkflow, approveWorkflow, cancelWorkflow: their input, payload, errors, resolvers."""

from __future__ import annotations

import strawberry

from mutations import workflow_actions as logic
from mutations.common import Outcome, authorize
from mutations.results import WorkflowResult
from schema.mutations.common import error_types, errors_of, services_of
from schema.types import Info
from schema.workflows import Workflow

WorkflowErrorCode, WorkflowError = error_types("Workflow", logic.CODES)


@strawberry.input(description="The workflow to act on.")
class WorkflowActionInput:
    idempotency_key: str = strawberry.field(description="Repeat it to retry safely.")
    id: strawberry.ID = strawberry.field(description="The workflow's id, wf:<uuid>.")
    reason: str | None = strawberry.field(default=None, description="For the audit trail.")


@strawberry.type(description="What a workflow action did.")
class WorkflowPayload:
    outcome: strawberry.Private[Outcome[WorkflowResult]]
    errors: list[WorkflowError] = strawberry.field(  # type: ignore[valid-type]
        description="Why the action was refused, or why the workflow stopped again."
    )

    @strawberry.field(description="The workflow after the action.")  # type: ignore[untyped-decorator]
    def workflow(self) -> Workflow | None:
        result = self.outcome.result
        return Workflow(record=result.workflow) if result is not None else None


async def _act(info: Info, action: str, input: WorkflowActionInput) -> WorkflowPayload:
    caller = info.context.caller
    authorize(action, caller)
    outcome = await logic.act_on_workflow(
        services_of(info), caller, action, input.idempotency_key, input.id, input.reason
    )
    return WorkflowPayload(
        outcome=outcome, errors=errors_of(WorkflowError, WorkflowErrorCode, outcome.problems)
    )


async def retry_workflow(info: Info, input: WorkflowActionInput) -> WorkflowPayload:
    return await _act(info, "retryWorkflow", input)


async def approve_workflow(info: Info, input: WorkflowActionInput) -> WorkflowPayload:
    return await _act(info, "approveWorkflow", input)


async def cancel_workflow(info: Info, input: WorkflowActionInput) -> WorkflowPayload:
    return await _act(info, "cancelWorkflow", input)
