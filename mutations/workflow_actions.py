"""retryWorkflow, approveWorkflow, cancelWorkflow: finance and ops act on a workflow at rest.

- retry: an EXCEPTION workflow runs again from its failed step (read-only checks first);
- approve (finance): a PENDING_APPROVAL workflow continues past its credit check;
- cancel: a PENDING_APPROVAL or EXCEPTION workflow is compensated and closed.

An action on a workflow in another status, or one that another runner is working on, is
refused with INVALID_STATE; that refusal is not kept as the key's answer, since the same
request may apply once the workflow has moved on.
"""

from __future__ import annotations

from domain.caller import Caller
from mutations.book_order import outcome_of, release_booking
from mutations.common import (
    Outcome,
    WriteServices,
    audit_write,
    idempotent,
    refused,
    upstream_problem,
)
from mutations.errors import BOOKING, COMMON, ErrorCode, Problem, codes
from mutations.results import WorkflowResult
from mutations.workflow import WorkflowStateError, WorkflowStatus
from sources.errors import SourceError

CODES = codes(COMMON, BOOKING, ErrorCode.WORKFLOW_NOT_FOUND, ErrorCode.INVALID_STATE)
"""The codes retryWorkflow, approveWorkflow and cancelWorkflow answer with."""


async def act_on_workflow(
    services: WriteServices,
    caller: Caller,
    action: str,
    key: str,
    workflow_id: str,
    reason: str | None,
) -> Outcome[WorkflowResult]:
    engine = services.engine
    assert engine is not None

    async def run(upstream: str) -> Outcome[WorkflowResult]:
        try:
            if action == "retryWorkflow":
                workflow = await engine.retry(workflow_id)
            elif action == "approveWorkflow":
                workflow = await engine.approve(workflow_id, caller.name)
            else:
                workflow = await engine.cancel(workflow_id, caller.name)
                await release_booking(services, workflow)
        except KeyError:
            return refused(
                Problem(ErrorCode.WORKFLOW_NOT_FOUND, f"no workflow {workflow_id}", "id")
            )
        except WorkflowStateError as error:
            # Nothing was done, and the workflow's status moves on: not an answer to keep.
            return Outcome(
                WorkflowResult(error.workflow),
                [Problem(ErrorCode.INVALID_STATE, str(error), "id")],
                transient=True,
            )
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        await audit_write(
            services,
            caller,
            action=action,
            outcome="applied",
            workflow_id=workflow.id,
            idempotency_key=key,
            message=reason,
            after={"status": workflow.status.value},
        )
        outcome = outcome_of(workflow)
        if workflow.status is WorkflowStatus.CANCELLED:
            outcome.problems = []
        return outcome

    return await idempotent(
        services, action, caller, key, {"id": workflow_id, "reason": reason}, run
    )
