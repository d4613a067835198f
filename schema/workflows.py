"""Workflows, dead letters and the audit trail as GraphQL types and queries.

Workflows are rendered from their persisted JSON, so a payload replayed for a retried
mutation shows exactly the state the first call saw.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from strawberry import Private
from strawberry.scalars import JSON

from mutations.workflow import StepStatus, WorkflowKind, WorkflowStatus
from resolvers.customers import load_customer
from schema import ids
from schema.types import Customer, Info, Opportunity, Order

strawberry.enum(
    WorkflowStatus,
    description="PENDING, RUNNING, PENDING_APPROVAL (waiting for finance), COMPLETED, "
    "EXCEPTION (stopped with nothing half-posted), CANCELLED.",
)
strawberry.enum(WorkflowKind, description="What a workflow does.")
strawberry.enum(StepStatus, name="WorkflowStepStatus", description="Status of one step.")


def _time(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


@strawberry.type(description="One step of a workflow.")
class WorkflowStep:
    name: str
    status: StepStatus
    attempts: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None


@strawberry.type(description="One problem behind a workflow's refusal.")
class WorkflowProblem:
    code: str
    message: str
    field: str | None


@strawberry.type(description="Why a workflow stopped in EXCEPTION.")
class WorkflowFailure:
    step: str = strawberry.field(description="The step that failed.")
    code: str = strawberry.field(description="POLICY_VIOLATION, SOURCE_UNAVAILABLE, ...")
    message: str
    source: str | None = strawberry.field(description="The upstream system, when one failed.")
    upstream_code: str | None = strawberry.field(description="The vendor's error code.")
    retryable: bool = strawberry.field(description="Whether retrying may succeed as is.")
    problems: list[WorkflowProblem]


@strawberry.type(description="Why a workflow waits for finance's approval.")
class PendingApproval:
    code: str = strawberry.field(description="CREDIT_LIMIT_EXCEEDED, CREDIT_HOLD, NO_CREDIT_LIMIT")
    message: str
    details: JSON


@strawberry.type(description="A multi-step write (quote-to-cash), persisted step by step.")
class Workflow:
    data: Private[dict[str, Any]]

    @strawberry.field(description="Workflow id, wf:<uuid>.")  # type: ignore[untyped-decorator]
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.data["id"])

    @strawberry.field
    def kind(self) -> WorkflowKind:
        return WorkflowKind(self.data["kind"])

    @strawberry.field
    def status(self) -> WorkflowStatus:
        return WorkflowStatus(self.data["status"])

    @strawberry.field(description="Who started it (an API key's name).")  # type: ignore[untyped-decorator]
    def created_by(self) -> str:
        return str(self.data["created_by"])

    @strawberry.field
    def created_at(self) -> dt.datetime | None:
        return _time(self.data.get("created_at"))

    @strawberry.field
    def updated_at(self) -> dt.datetime | None:
        return _time(self.data.get("updated_at"))

    @strawberry.field(description="How many times it was retried.")  # type: ignore[untyped-decorator]
    def generation(self) -> int:
        return int(self.data.get("generation", 0))

    @strawberry.field
    def steps(self) -> list[WorkflowStep]:
        return [
            WorkflowStep(
                name=step["name"],
                status=StepStatus(step["status"]),
                attempts=step["attempts"],
                started_at=_time(step.get("started_at")),
                finished_at=_time(step.get("finished_at")),
                error=step.get("error"),
            )
            for step in self.data["steps"]
        ]

    @strawberry.field(description="Why it stopped, in EXCEPTION.")  # type: ignore[untyped-decorator]
    def failure(self) -> WorkflowFailure | None:
        failure = self.data.get("failure")
        if not failure:
            return None
        return WorkflowFailure(
            step=failure["step"],
            code=failure["code"],
            message=failure["message"],
            source=failure.get("source"),
            upstream_code=failure.get("upstream_code"),
            retryable=bool(failure.get("retryable")),
            problems=[
                WorkflowProblem(
                    code=str(p.get("code")), message=str(p.get("message")), field=p.get("field")
                )
                for p in failure.get("problems", [])
            ],
        )

    @strawberry.field(description="Why it waits, in PENDING_APPROVAL.")  # type: ignore[untyped-decorator]
    def pending_approval(self) -> PendingApproval | None:
        reason = self.data.get("pending_reason")
        if not reason:
            return None
        details = {k: v for k, v in reason.items() if k not in ("code", "message")}
        return PendingApproval(
            code=reason["code"], message=reason["message"], details=cast(JSON, details)
        )

    @strawberry.field
    def approved_by(self) -> str | None:
        return self.data.get("approved_by")

    @strawberry.field
    def cancelled_by(self) -> str | None:
        return self.data.get("cancelled_by")

    @strawberry.field(description="On the dead-letter list: its step ran out of retries.")  # type: ignore[untyped-decorator]
    def dead_lettered(self) -> bool:
        return bool(self.data.get("dead_lettered"))

    @strawberry.field(description="The opportunity being booked.")  # type: ignore[untyped-decorator]
    async def opportunity(self, info: Info) -> Opportunity | None:
        opportunity_id = self.data["input"].get("opportunityId")
        if not opportunity_id:
            return None
        found = await info.context.loaders.opportunity_by_id.load(opportunity_id)
        return Opportunity.of(found) if found else None

    @strawberry.field(description="The ERP sales order it created.")  # type: ignore[untyped-decorator]
    async def order(self, info: Info) -> Order | None:
        order_id = self.data.get("state", {}).get("order_erp_id")
        if not order_id:
            return None
        found = await info.context.loaders.order_by_id.load(order_id)
        return Order.of(found) if found else None

    @strawberry.field(description="The customer the order is for.")  # type: ignore[untyped-decorator]
    async def customer(self, info: Info) -> Customer | None:
        account_id = self.data.get("state", {}).get("account_id")
        if not account_id:
            return None
        ref = ids.CustomerRef(salesforce_id=account_id)
        from resolvers import lookahead

        data = await load_customer(info.context, ref, lookahead.selected(info))
        return Customer(data=data)


@strawberry.type(description="A workflow whose step ran out of retries, waiting to be replayed.")
class DeadLetter:
    workflow: Workflow
    dead_lettered_at: dt.datetime


@strawberry.type(description="One entry of the audit trail.")
class AuditEntry:
    id: strawberry.ID
    at: dt.datetime
    actor: str
    role: str | None
    action: str = strawberry.field(description="A mutation, or a workflow step (KIND.step).")
    outcome: str = strawberry.field(
        description="applied, failed, compensated, kept (an undo left a record other work "
        "rests on), refused, replayed or pending_approval."
    )
    system: str | None
    record_type: str | None
    record_id: str | None
    before: JSON | None
    after: JSON | None
    idempotency_key: str | None
    workflow_id: str | None
    upstream_ids: JSON | None
    message: str | None

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
