"""bookOrder: quote-to-cash from a Salesforce opportunity, as a persisted workflow.

The mutation starts (or finds) the booking's workflow, whose steps are in
`mutations.booking_steps`: validate, credit check, the ERP customer, the ERP sales order, and
the write-back to the CRM. An opportunity is claimed by one booking at a time
(``booking:<opportunity id>``, changed only atomically), and a cancelled booking frees it.
"""

from __future__ import annotations

import uuid

from domain.caller import Caller
from mutations.common import (
    Outcome,
    WriteServices,
    idempotent,
    request_fingerprint,
    upstream_key,
    upstream_problem,
)
from mutations.errors import BOOKING, COMMON, ErrorCode, Problem, code_of, codes
from mutations.results import WorkflowResult
from mutations.workflow import (
    Workflow,
    WorkflowKind,
    WorkflowStatus,
)
from sources.errors import SourceError

WORKFLOW_NAMESPACE = uuid.UUID("6f1c7d0e-3a52-4d8e-9d1f-2b7e3c9a4e10")


CODES = codes(COMMON, BOOKING)
"""The codes bookOrder answers with."""


def workflow_id_for(upstream: str) -> str:
    """The workflow a bookOrder request starts, from its `upstream_key`: the same request, the
    same workflow; another caller's or another opportunity's, another workflow."""
    return f"wf:{uuid.uuid5(WORKFLOW_NAMESPACE, upstream)}"


def booking_workflow_id(caller: Caller, key: str, opportunity_id: str) -> str:
    """The workflow ``caller``'s bookOrder of ``opportunity_id`` under ``key`` starts."""
    request = request_fingerprint(caller, {"opportunityId": opportunity_id})
    return workflow_id_for(upstream_key("bookOrder", key, request))


# --------------------------------------------------------------------------- the mutation


CLAIM_GRACE = 60.0
"""Seconds a booking claim lives before its workflow is stored: a process that dies between
claiming an opportunity and storing the workflow frees it after this long."""


async def book_order(
    services: WriteServices, caller: Caller, key: str, opportunity_id: str
) -> Outcome[WorkflowResult]:
    """Start (or find) the booking workflow of an opportunity; its state when it rests."""
    engine = services.engine
    assert engine is not None

    async def run(upstream: str) -> Outcome[WorkflowResult]:
        workflow_id = workflow_id_for(upstream)
        claim = f"booking:{opportunity_id}"
        refusal = await _claim(services, claim, workflow_id)
        if refusal is not None:
            return refusal
        workflow = engine.new(
            WorkflowKind.BOOK_ORDER,
            workflow_id,
            {"opportunityId": opportunity_id},
            actor=caller.name,
            role=caller.role.value if caller.role else None,
            idempotency_key=key,
        )

        async def stored() -> None:
            # The workflow now answers for the opportunity: the claim no longer lapses.
            await services.backend.compare_and_set(claim, workflow_id, workflow_id)

        try:
            done = await engine.start(workflow, stored=stored)
        except SourceError as error:
            return Outcome(problems=[upstream_problem(error)], transient=True)
        return outcome_of(done)

    return await idempotent(
        services, "bookOrder", caller, key, {"opportunityId": opportunity_id}, run
    )


async def _claim(
    services: WriteServices, claim: str, workflow_id: str
) -> Outcome[WorkflowResult] | None:
    """Make ``workflow_id`` the one booking of the opportunity, or the refusal saying why not.

    Every change of the claim is atomic (set-if-absent, compare-and-set), so that of many
    bookings racing for one opportunity, on any replicas, exactly one goes ahead. A new claim
    lapses after `CLAIM_GRACE` unless its workflow gets stored; a claim of a cancelled
    booking is taken over.
    """
    backend = services.backend
    while True:
        if await backend.set(claim, workflow_id, ttl=CLAIM_GRACE, only_if_absent=True):
            return None
        holder = await backend.get(claim)
        if holder is None:
            continue  # it lapsed or was released meanwhile: try again
        if holder == workflow_id:
            return None
        current = await services.workflows.get(str(holder))
        if current is None:
            # Claimed a moment ago by a booking whose workflow is not stored yet (or whose
            # process died: the claim then lapses). Not final: the answer is not kept.
            return Outcome(
                problems=[
                    Problem(
                        ErrorCode.BOOKING_IN_PROGRESS,
                        "the opportunity is being booked by another request",
                        "opportunityId",
                    )
                ],
                transient=True,
            )
        if current.status is WorkflowStatus.COMPLETED:
            number = current.state.get("order_number")
            return Outcome(
                WorkflowResult(current),
                [
                    Problem(
                        ErrorCode.ORDER_ALREADY_BOOKED,
                        f"the opportunity was already booked as ERP order {number}",
                        "opportunityId",
                    )
                ],
            )
        if current.status is not WorkflowStatus.CANCELLED:
            # Not final either: once that booking is cancelled, this request may go ahead.
            return Outcome(
                WorkflowResult(current),
                [
                    Problem(
                        ErrorCode.BOOKING_IN_PROGRESS,
                        f"the opportunity is being booked by workflow {current.id} "
                        f"({current.status.value})",
                        "opportunityId",
                    )
                ],
                transient=True,
            )
        if await backend.compare_and_set(claim, holder, workflow_id, ttl=CLAIM_GRACE):
            return None
        # another booking took the cancelled one's claim first: look again


def outcome_of(workflow: Workflow) -> Outcome[WorkflowResult]:
    """The payload of a workflow: the workflow, and its refusal's problems if any. A workflow
    not at rest yet (still retrying a source) is no final answer: not kept for the key, so the
    request sent again answers with the workflow as it is then."""
    if workflow.status in (WorkflowStatus.RUNNING, WorkflowStatus.PENDING):
        return Outcome(WorkflowResult(workflow), transient=True)
    problems: list[Problem] = []
    failure = workflow.failure
    if workflow.status is WorkflowStatus.EXCEPTION and failure is not None:
        # A refusal by the booking's own rules lists each of them; an upstream's refusal is
        # one error (its vendor codes and field paths stay in `failure`, not in `errors`).
        own = failure.source is None
        problems = [
            Problem(code_of(str(p.get("code"))), str(p.get("message")), p.get("field"))
            for p in (failure.problems if own else [])
            if p.get("code")
        ] or [Problem(code_of(failure.code), failure.message)]
    return Outcome(WorkflowResult(workflow), problems)


async def release_booking(services: WriteServices, workflow: Workflow) -> None:
    """A cancelled booking frees its opportunity for another booking: its claim is taken over
    by the next booking (see `_claim`), and lapses after `CLAIM_GRACE` if none comes. Only a
    compare-and-set touches it, so a claim another booking has just taken stays."""
    opportunity_id = workflow.input.get("opportunityId")
    if opportunity_id:
        claim = f"booking:{opportunity_id}"
        await services.backend.compare_and_set(claim, workflow.id, workflow.id, ttl=CLAIM_GRACE)
