"""The queries over the write path's own records: workflows, dead letters, the audit trail."""

from __future__ import annotations

import datetime as dt

import strawberry

from mutations.common import authorize
from mutations.workflow import WorkflowKind, WorkflowStatus
from resolvers.errors import BadInputError
from resolvers.paging import decode_cursor, encode_cursor, page_size
from schema.mutations.common import services_of
from schema.types import Connection, Info, connection
from schema.workflows import AuditEntry, DeadLetter, Workflow


def _score_cursor(after: str | None) -> tuple[float, str] | None:
    decoded = decode_cursor(after, "w")
    if decoded is None:
        return None
    score, _, member = decoded[1].partition("|")
    try:
        return float(score), member
    except ValueError:
        raise BadInputError(f"{after!r} is not a cursor of this list", argument="after") from None


@strawberry.type
class WorkflowQueries:
    @strawberry.field(description="One workflow by id.")  # type: ignore[untyped-decorator]
    async def workflow(self, info: Info, id: strawberry.ID) -> Workflow | None:
        authorize("readWorkflows", info.context.caller)
        found = await services_of(info).workflows.get(id)
        return Workflow(record=found) if found else None

    @strawberry.field(description="Workflows, newest first, by status and kind.")  # type: ignore[untyped-decorator]
    async def workflows(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
    ) -> Connection[Workflow]:
        authorize("readWorkflows", info.context.caller)
        found, more = await services_of(info).workflows.page(
            status=status, kind=kind, after=_score_cursor(after), limit=page_size(first)
        )
        edges = [
            (
                encode_cursor("w", f"{dt.datetime.fromisoformat(w.created_at).timestamp()}|{w.id}"),
                Workflow(record=w),
            )
            for w in found
        ]
        return connection(edges, more, after is not None, None)

    @strawberry.field(description="Workflows whose step ran out of retries (finance, ops).")  # type: ignore[untyped-decorator]
    async def dead_letters(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[DeadLetter]:
        authorize("readDeadLetters", info.context.caller)
        found, more = await services_of(info).workflows.dead_letters(
            after=_score_cursor(after), limit=page_size(first)
        )
        edges = [
            (
                encode_cursor("w", f"{score}|{workflow.id}"),
                DeadLetter(
                    workflow=Workflow(record=workflow),
                    dead_lettered_at=dt.datetime.fromtimestamp(score, dt.UTC),
                ),
            )
            for workflow, score in found
        ]
        return connection(edges, more, after is not None, None)

    @strawberry.field(description="The audit trail, newest first (ops).")  # type: ignore[untyped-decorator]
    async def audit_trail(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        workflow_id: strawberry.ID | None = None,
        record_id: str | None = None,
    ) -> Connection[AuditEntry]:
        authorize("readAudit", info.context.caller)
        decoded = decode_cursor(after, "a")
        found, more = await services_of(info).audit.read(
            after=decoded[1] if decoded else None,
            limit=page_size(first),
            workflow_id=workflow_id,
            record_id=record_id,
        )
        edges = [
            (encode_cursor("a", entry_id), AuditEntry.of(entry_id, entry))
            for entry_id, entry in found
        ]
        return connection(edges, more, after is not None, None)
