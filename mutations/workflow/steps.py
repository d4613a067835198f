"""What a workflow's step is, what it may use, and how it asks for approval or refuses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from domain.audit import AuditEntry, plain
from mutations.workflow.model import Workflow
from state.audit import AuditTrail


class NeedsApproval(Exception):
    """Raised by a step: pause for finance's approval before anything is written."""

    def __init__(self, code: str, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = dict(details or {})


class StepRefused(Exception):
    """Raised by a step: a business rule refuses the work (not retryable, no dead letter)."""

    def __init__(self, code: str, message: str, problems: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = [dict(problem) for problem in problems]


@dataclass
class StepContext:
    """What a step may use: the workflow, an idempotency key for each of its writes, the
    audit trail, and the actor on whose behalf it runs."""

    workflow: Workflow
    step: str
    audit: AuditTrail
    actor: str
    role: str | None
    services: Any
    persist: Callable[[Workflow], Awaitable[None]] | None = None

    async def remember(self, **facts: Any) -> None:
        """Merge ``facts`` into the workflow's state and persist it now, before the write they
        announce: a resumption after a crash, or an undo after an answer that never came,
        then knows the write may have happened."""
        self.workflow.state.update(plain(facts))
        if self.persist is not None:
            await self.persist(self.workflow)

    def key(self, purpose: str = "") -> str:
        """The idempotency key of one write of this step in this generation."""
        suffix = f":{purpose}" if purpose else ""
        return f"{self.workflow.id}:{self.step}:{self.workflow.generation}{suffix}"

    async def audit_write(self, **entry: Any) -> None:
        await self.audit.record(
            AuditEntry(
                actor=self.actor,
                role=self.role,
                action=f"{self.workflow.kind.value}.{self.step}",
                workflow_id=self.workflow.id,
                **entry,
            )
        )


class Step(Protocol):
    name: str
    read_only: bool  # read-only steps run again on retry; they have nothing to compensate
    attempts: int  # tries for retryable upstream failures before giving up
    # whether undoing the earlier steps may go ahead when this step's undo failed (what it
    # wrote lives in another system and does not depend on what they wrote)
    independent_undo: bool

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        """Do the step; the mapping is merged into the workflow's state."""

    async def compensate(self, ctx: StepContext) -> None:
        """Undo what `run` wrote, or may have written: it is called after `run` completed and
        also after it failed (a write whose answer was lost may still have landed), and again
        by a cancel, so it finds what to undo rather than assume it, and undoing what is
        gone already is success."""
