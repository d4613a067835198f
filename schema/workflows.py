"""Workflows, dead letters and the audit trail as GraphQL types and queries.

A workflow is rendered from its record as persisted, so a payload replayed for a retried
mutation shows exactly the state the first call saw.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from strawberry import Private
from strawberry.scalars import JSON

from domain import ids
from mutations.workflow import StepStatus, WorkflowKind, WorkflowStatus
from mutations.workflow import Workflow as WorkflowRecord
from resolvers import lookahead
from resolvers.customers import load_customer
from schema.enums import describe_values
from schema.types import Customer, Info, Opportunity, Order

strawberry.enum(
    WorkflowStatus,
    description="PENDING, RUNNING, PENDING_APPROVAL (waiting for finance), COMPLETED, "
    "EXCEPTION (stopped with nothing half-posted), CANCELLED.",
)
strawberry.enum(WorkflowKind, description="What a workflow does.")
strawberry.enum(StepStatus, name="WorkflowStepStatus", description="Status of one step.")
describe_values(
    WorkflowStatus,
    {
        "PENDING": "Accepted, not started yet.",
        "RUNNING": "A step is running (or waits to retry a source that failed).",
        "PENDING_APPROVAL": "Waiting for finance to approve (approveWorkflow).",
        "COMPLETED": "Every step done.",
        "EXCEPTION": "Stopped at a step, with what it had done undone: retry or cancel it.",
        "CANCELLED": "Cancelled, with what it had done undone.",
    },
)
describe_values(
    WorkflowKind,
    {"BOOK_ORDER": "Quote-to-cash: a Closed Won opportunity booked as an ERP sales order."},
)
describe_values(
    StepStatus,
    {
        "PENDING": "Not started.",
        "RUNNING": "Running now.",
        "COMPLETED": "Done.",
        "FAILED": "Failed; the workflow rests in EXCEPTION.",
        "COMPENSATED": "Done, then undone when a later step failed or the workflow was cancelled.",
    },
)


def _time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@strawberry.type(description="One step of a workflow.")
class WorkflowStep:
    name: str = strawberry.field(description="The step's name, e.g. create_sales_order.")
    status: StepStatus = strawberry.field(description="Where the step stands.")
    attempts: int = strawberry.field(description="How many times the step ran.")
    started_at: dt.datetime | None = strawberry.field(description="When its last attempt started.")
    finished_at: dt.datetime | None = strawberry.field(
        description="When it finished, failed or was undone."
    )
    error: str | None = strawberry.field(description="Why its last attempt failed, if it did.")


@strawberry.type(description="One problem behind a workflow's refusal.")
class WorkflowProblem:
    code: str = strawberry.field(description="What is wrong, e.g. TAX_ID_INVALID.")
    message: str = strawberry.field(description="The problem in words.")
    field: str | None = strawberry.field(
        description="The input or record field at fault, if one is."
    )


@strawberry.type(description="Why a workflow stopped in EXCEPTION.")
class WorkflowFailure:
    step: str = strawberry.field(description="The step that failed.")
    code: str = strawberry.field(description="POLICY_VIOLATION, SOURCE_UNAVAILABLE, ...")
    message: str = strawberry.field(description="What failed, in words.")
    source: str | None = strawberry.field(description="The upstream system, when one failed.")
    upstream_code: str | None = strawberry.field(description="The vendor's error code.")
    retryable: bool = strawberry.field(description="Whether retrying may succeed as is.")
    problems: list[WorkflowProblem] = strawberry.field(
        description="The refusals behind the failure, one per problem found."
    )


@strawberry.type(description="Why a workflow waits for finance's approval.")
class PendingApproval:
    code: str = strawberry.field(
        description=(
            "CREDIT_LIMIT_EXCEEDED, CREDIT_HOLD, NO_CREDIT_LIMIT, or ERP_CREDIT_CHECK (the "
            "ERP's own credit check asks for a confirmation; the message is the ERP's)"
        )
    )
    message: str = strawberry.field(description="Why approval is needed, in words.")
    details: JSON = strawberry.field(
        description="The figures behind it (limit, balance, order total...)."
    )


@strawberry.type(description="A multi-step write (quote-to-cash), persisted step by step.")
class Workflow:
    record: Private[WorkflowRecord]

    @strawberry.field(description="Workflow id, wf:<uuid>.")  # type: ignore[untyped-decorator]
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field(description="What the workflow does.")  # type: ignore[untyped-decorator]
    def kind(self) -> WorkflowKind:
        return self.record.kind

    @strawberry.field(description="Where the workflow stands.")  # type: ignore[untyped-decorator]
    def status(self) -> WorkflowStatus:
        return self.record.status

    @strawberry.field(description="Who started it (an API key's name).")  # type: ignore[untyped-decorator]
    def created_by(self) -> str:
        return self.record.created_by

    @strawberry.field(description="When it was created.")  # type: ignore[untyped-decorator]
    def created_at(self) -> dt.datetime | None:
        return _time(self.record.created_at)

    @strawberry.field(description="When it last changed.")  # type: ignore[untyped-decorator]
    def updated_at(self) -> dt.datetime | None:
        return _time(self.record.updated_at)

    @strawberry.field(description="How many times it was retried.")  # type: ignore[untyped-decorator]
    def generation(self) -> int:
        return self.record.generation

    @strawberry.field(description="Its steps, in order.")  # type: ignore[untyped-decorator]
    def steps(self) -> list[WorkflowStep]:
        return [
            WorkflowStep(
                name=step.name,
                status=step.status,
                attempts=step.attempts,
                started_at=_time(step.started_at),
                finished_at=_time(step.finished_at),
                error=step.error,
            )
            for step in self.record.steps
        ]

    @strawberry.field(description="Why it stopped, in EXCEPTION.")  # type: ignore[untyped-decorator]
    def failure(self) -> WorkflowFailure | None:
        failure = self.record.failure
        if failure is None:
            return None
        return WorkflowFailure(
            step=failure.step,
            code=failure.code,
            message=failure.message,
            source=failure.source,
            upstream_code=failure.upstream_code,
            retryable=failure.retryable,
            problems=[
                WorkflowProblem(
                    code=str(p.get("code")), message=str(p.get("message")), field=p.get("field")
                )
                for p in failure.problems
            ],
        )

    @strawberry.field(description="Why it waits, in PENDING_APPROVAL.")  # type: ignore[untyped-decorator]
    def pending_approval(self) -> PendingApproval | None:
        reason = self.record.pending_reason
        if not reason:
            return None
        details = {k: v for k, v in reason.items() if k not in ("code", "message")}
        return PendingApproval(
            code=reason["code"], message=reason["message"], details=cast(JSON, details)
        )

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Who approved it, when finance did."
    )
    def approved_by(self) -> str | None:
        return self.record.approved_by

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Who cancelled it, if anyone did."
    )
    def cancelled_by(self) -> str | None:
        return self.record.cancelled_by

    @strawberry.field(description="On the dead-letter list: its step ran out of retries.")  # type: ignore[untyped-decorator]
    def dead_lettered(self) -> bool:
        return self.record.dead_lettered

    @strawberry.field(description="The opportunity being booked.")  # type: ignore[untyped-decorator]
    async def opportunity(self, info: Info) -> Opportunity | None:
        opportunity_id = self.record.input.get("opportunityId")
        if not opportunity_id:
            return None
        found = await info.context.loaders.opportunity_by_id.load(opportunity_id)
        return Opportunity.of(found) if found else None

    @strawberry.field(description="The ERP sales order it created.")  # type: ignore[untyped-decorator]
    async def order(self, info: Info) -> Order | None:
        order_id = self.record.state.get("order_erp_id")
        if not order_id:
            return None
        found = await info.context.loaders.order_by_id.load(order_id)
        return Order.of(found) if found else None

    @strawberry.field(description="The customer the order is for.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        account_id = self.record.state.get("account_id")
        if not account_id:
            return None
        ref = ids.CustomerRef(salesforce_id=account_id)
        data = await load_customer(info.context, ref, lookahead.selected(info))
        return Customer(data=data)


@strawberry.type(description="A workflow whose step ran out of retries, waiting to be replayed.")
class DeadLetter:
    workflow: Workflow = strawberry.field(description="The workflow, as it stands.")
    dead_lettered_at: dt.datetime = strawberry.field(
        description="When its step ran out of retries."
    )


@strawberry.type(description="One entry of the audit trail.")
class AuditEntry:
    id: strawberry.ID = strawberry.field(
        description="The entry's id in the trail (ordered by time)."
    )
    at: dt.datetime = strawberry.field(description="When it happened.")
    actor: str = strawberry.field(
        description="The caller who made the change (a name, never a key)."
    )
    role: str | None = strawberry.field(description="The caller's role.")
    action: str = strawberry.field(description="A mutation, or a workflow step (KIND.step).")
    outcome: str = strawberry.field(
        description="applied, unchanged (the record held the value asked for already), "
        "failed, compensated, kept (an undo left a record other work rests on), refused, "
        "replayed or pending_approval."
    )
    system: str | None = strawberry.field(
        description="The system written, as its adapter names it: salesforce, netsuite..."
    )
    record_type: str | None = strawberry.field(
        description="The kind of record written, in that system's terms."
    )
    record_id: str | None = strawberry.field(description="The record's id in that system.")
    before: JSON | None = strawberry.field(
        description="The values before the change (the fields written)."
    )
    after: JSON | None = strawberry.field(description="The values after it.")
    idempotency_key: str | None = strawberry.field(description="The caller's idempotency key.")
    workflow_id: str | None = strawberry.field(
        description="The workflow the change belongs to, if one does."
    )
    upstream_ids: JSON | None = strawberry.field(
        description="Ids the systems gave the records created."
    )
    message: str | None = strawberry.field(
        description="What happened, in words, when the outcome needs saying."
    )

    @classmethod
    def of(cls, entry_id: str, entry: dict[str, Any]) -> AuditEntry:
        return cls(
            id=strawberry.ID(entry_id),
            at=dt.datetime.fromisoformat(entry["at"]),
            actor=entry["actor"],
            role=entry.get("role"),
            action=entry["action"],
            outcome=entry["outcome"],
            system=entry.get("system"),
            record_type=entry.get("record_type"),
            record_id=entry.get("record_id"),
            before=entry.get("before"),
            after=entry.get("after"),
            idempotency_key=entry.get("idempotency_key"),
            workflow_id=entry.get("workflow_id"),
            upstream_ids=entry.get("upstream_ids") or None,
            message=entry.get("message"),
        )
