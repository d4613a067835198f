"""The workflow engine: multi-step writes that complete, or stop visibly with nothing half-posted.

A workflow is a list of steps run in order, with its state persisted in the state backend
(Redis with ``ACCORD_REDIS_URL``) before and after every step, so that a process killed in the
middle of one is resumed by another (or by itself after a restart) at that step.

::

    PENDING ──▶ RUNNING ──▶ COMPLETED
                  │  ▲
                  │  └──────────────┐ approve (finance)
                  ├──▶ PENDING_APPROVAL ──▶ CANCELLED
                  │                  cancel
                  └──▶ EXCEPTION ──▶ RUNNING (retry) / CANCELLED (cancel)

- A step raises `NeedsApproval` to pause the workflow for finance (nothing written yet);
  approving resumes it at that step.
- A step that fails (a business refusal, or an upstream error after its retries) stops the
  workflow in EXCEPTION, recording the step, the reason and the upstream error, after the
  steps done so far are compensated in reverse order: nothing stays half-posted.
- A step whose retryable failures exhaust its attempts is also put on the dead-letter list.
- Retrying runs the read-only steps again (the cause may have been fixed), then every step not
  COMPLETED, from the first compensated or failed one. The workflow's `generation` is part of
  each step's idempotency key, so a retry after compensation posts anew, while a resumption
  after a crash (same generation) finds what the first attempt posted.
- While a process runs a workflow it holds a lease on it; `recover` resumes RUNNING and
  PENDING workflows whose lease has lapsed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mutations.audit import AuditEntry, AuditTrail, plain
from sources.errors import SourceError
from state.backend import StateBackend

logger = logging.getLogger("accord.workflow")


class WorkflowStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    COMPLETED = "COMPLETED"
    EXCEPTION = "EXCEPTION"
    CANCELLED = "CANCELLED"


class WorkflowKind(enum.Enum):
    BOOK_ORDER = "BOOK_ORDER"


class StepStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"


TERMINAL = {WorkflowStatus.COMPLETED, WorkflowStatus.CANCELLED}
ACTIVE = {WorkflowStatus.PENDING, WorkflowStatus.RUNNING}


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


# --------------------------------------------------------------------------- the model


@dataclass
class Failure:
    """Why a workflow stopped: the step, a code, a message, and the upstream error if any."""

    step: str
    code: str
    message: str
    source: str | None = None
    upstream_code: str | None = None
    upstream_message: str | None = None
    retryable: bool = False
    problems: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StepRecord:
    name: str
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None


@dataclass
class Workflow:
    id: str
    kind: WorkflowKind
    status: WorkflowStatus
    input: dict[str, Any]
    created_by: str
    created_role: str | None
    idempotency_key: str | None
    steps: list[StepRecord]
    state: dict[str, Any] = field(default_factory=dict)  # facts and step outputs, JSON
    generation: int = 0
    failure: Failure | None = None
    pending_reason: dict[str, Any] | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    cancelled_by: str | None = None
    dead_lettered: bool = False
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    version: int = 0

    def step(self, name: str) -> StepRecord:
        return next(record for record in self.steps if record.name == name)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = plain(self)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Workflow:
        values = dict(data)
        values["kind"] = WorkflowKind(values["kind"])
        values["status"] = WorkflowStatus(values["status"])
        values["steps"] = [
            StepRecord(**{**step, "status": StepStatus(step["status"])}) for step in values["steps"]
        ]
        if values.get("failure"):
            values["failure"] = Failure(**values["failure"])
        return cls(**values)


# --------------------------------------------------------------------------- steps


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

    async def run(self, ctx: StepContext) -> Mapping[str, Any]:
        """Do the step; the mapping is merged into the workflow's state."""

    async def compensate(self, ctx: StepContext) -> None:
        """Undo what `run` wrote (called only after it completed)."""


# --------------------------------------------------------------------------- persistence


class WorkflowStore:
    """Workflows as JSON records with indexes by status and kind, over a `StateBackend`."""

    def __init__(self, backend: StateBackend) -> None:
        self.backend = backend

    @staticmethod
    def _key(workflow_id: str) -> str:
        return f"workflow:{workflow_id}"

    async def get(self, workflow_id: str) -> Workflow | None:
        data = await self.backend.get(self._key(workflow_id))
        return Workflow.from_json(data) if data else None

    async def create(self, workflow: Workflow) -> bool:
        """Store a new workflow; False if one with that id exists."""
        created = await self.backend.set(
            self._key(workflow.id), workflow.to_json(), only_if_absent=True
        )
        if created:
            await self._index(workflow, None)
        return created

    async def save(self, workflow: Workflow) -> None:
        """Persist the next version; `ConcurrentUpdate` if another writer got there first."""
        previous_status = workflow.status
        stored = await self.backend.get(self._key(workflow.id))
        if stored is None or stored.get("version") != workflow.version:
            raise ConcurrentUpdate(workflow.id)
        previous_status = WorkflowStatus(stored["status"])
        workflow.version += 1
        workflow.updated_at = now()
        if not await self.backend.compare_and_set(
            self._key(workflow.id), stored, workflow.to_json()
        ):
            workflow.version -= 1
            raise ConcurrentUpdate(workflow.id)
        await self._index(workflow, previous_status)

    async def _index(self, workflow: Workflow, previous: WorkflowStatus | None) -> None:
        score = dt.datetime.fromisoformat(workflow.created_at).timestamp()
        if previous is not None and previous is not workflow.status:
            await self.backend.index_remove(f"workflows:status:{previous.value}", workflow.id)
        await self.backend.index_add(
            f"workflows:status:{workflow.status.value}", workflow.id, score
        )
        await self.backend.index_add(f"workflows:kind:{workflow.kind.value}", workflow.id, score)
        await self.backend.index_add("workflows:all", workflow.id, score)

    async def page(
        self,
        *,
        status: WorkflowStatus | None = None,
        kind: WorkflowKind | None = None,
        after: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> tuple[list[Workflow], bool]:
        """Newest first; filtered by status and kind."""
        index = (
            f"workflows:status:{status.value}"
            if status is not None
            else f"workflows:kind:{kind.value}"
            if kind is not None
            else "workflows:all"
        )
        found: list[Workflow] = []
        cursor = after
        while len(found) <= limit:
            entries = await self.backend.index_range(
                index, after=cursor, limit=limit + 1, reverse=True
            )
            if not entries:
                break
            loaded = await self.backend.get_many([self._key(member) for member, _ in entries])
            for data in loaded:
                if data is None:
                    continue
                workflow = Workflow.from_json(data)
                if (status is None or workflow.status is status) and (
                    kind is None or workflow.kind is kind
                ):
                    found.append(workflow)
            cursor = (entries[-1][1], entries[-1][0])
        return found[:limit], len(found) > limit

    async def dead_letter(self, workflow: Workflow) -> None:
        score = dt.datetime.now(dt.UTC).timestamp()
        await self.backend.index_add("workflows:dead-letters", workflow.id, score)

    async def clear_dead_letter(self, workflow_id: str) -> None:
        await self.backend.index_remove("workflows:dead-letters", workflow_id)

    async def dead_letters(
        self, *, after: tuple[float, str] | None = None, limit: int = 50
    ) -> tuple[list[tuple[Workflow, float]], bool]:
        entries = await self.backend.index_range(
            "workflows:dead-letters", after=after, limit=limit + 1, reverse=True
        )
        loaded = await self.backend.get_many([self._key(member) for member, _ in entries])
        found = [
            (Workflow.from_json(data), score)
            for (_, score), data in zip(entries, loaded, strict=True)
            if data is not None
        ]
        return found[:limit], len(entries) > limit


class ConcurrentUpdate(Exception):
    """Another process changed the workflow since it was read."""


class WorkflowStateError(Exception):
    """The action does not apply to the workflow in its current status."""

    def __init__(self, workflow: Workflow, action: str) -> None:
        super().__init__(f"cannot {action} a workflow in {workflow.status.value}")
        self.workflow = workflow
        self.action = action


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class EngineSettings:
    lease_ttl: float = 30.0  # a crashed runner's workflows are resumed after this
    step_backoff: float = 0.2  # first pause between attempts of a step; doubles
    step_backoff_max: float = 2.0
    recover_every: float = 5.0


class WorkflowEngine:
    def __init__(
        self,
        store: WorkflowStore,
        audit: AuditTrail,
        definitions: Mapping[WorkflowKind, Sequence[Step]],
        *,
        services: Any,
        settings: EngineSettings = EngineSettings(),
        on_change: Callable[[Workflow], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.definitions = definitions
        self.services = services
        self.settings = settings
        self.on_change = on_change
        self.owner = f"runner-{uuid.uuid4().hex[:12]}"
        self._rng = random.Random()
        self._running: dict[str, asyncio.Task[Workflow]] = {}

    # ------------------------------------------------------------------ lifecycle

    def new(
        self,
        kind: WorkflowKind,
        workflow_id: str,
        payload: Mapping[str, Any],
        *,
        actor: str,
        role: str | None,
        idempotency_key: str | None,
    ) -> Workflow:
        return Workflow(
            id=workflow_id,
            kind=kind,
            status=WorkflowStatus.PENDING,
            input=dict(payload),
            created_by=actor,
            created_role=role,
            idempotency_key=idempotency_key,
            steps=[StepRecord(step.name) for step in self.definitions[kind]],
        )

    async def start(self, workflow: Workflow) -> Workflow:
        """Store a new workflow and run it; an existing one with the same id is resumed."""
        if not await self.store.create(workflow):
            existing = await self.store.get(workflow.id)
            assert existing is not None
            if existing.status in ACTIVE:
                return await self.run(existing.id)
            return existing
        await self._changed(workflow)
        return await self.run(workflow.id)

    async def run(self, workflow_id: str) -> Workflow:
        """Run (or resume) a workflow under this process's lease, to a resting status."""
        task = self._running.get(workflow_id)
        if task is None or task.done():
            task = asyncio.ensure_future(self._run(workflow_id))
            self._running[workflow_id] = task
        # Shield: a client hanging up must not stop a workflow halfway through a step.
        return await asyncio.shield(task)

    async def _run(self, workflow_id: str) -> Workflow:
        lease = f"workflow:{workflow_id}"
        if not await self.store.backend.lease(lease, self.owner, self.settings.lease_ttl):
            self._running.pop(workflow_id, None)
            workflow = await self.store.get(workflow_id)
            assert workflow is not None
            return workflow  # another process runs it; it will report its own outcome
        try:
            workflow = await self.store.get(workflow_id)
            assert workflow is not None
            if workflow.status not in ACTIVE:
                return workflow
            return await self._advance(workflow, lease)
        finally:
            await self.store.backend.release(lease, self.owner)
            self._running.pop(workflow_id, None)

    async def _advance(self, workflow: Workflow, lease: str) -> Workflow:
        steps = self.definitions[workflow.kind]
        if workflow.status is not WorkflowStatus.RUNNING:
            workflow.status = WorkflowStatus.RUNNING
            await self._save(workflow)
        for step in steps:
            record = workflow.step(step.name)
            if record.status is StepStatus.COMPLETED:
                continue
            await self.store.backend.renew(lease, self.owner, self.settings.lease_ttl)
            outcome = await self._run_step(workflow, step)
            if outcome is not None:
                return outcome
        workflow.status = WorkflowStatus.COMPLETED
        workflow.failure = None
        workflow.pending_reason = None
        await self._save(workflow)
        return workflow

    def _context(self, workflow: Workflow, step: Step) -> StepContext:
        """What ``step`` of ``workflow`` runs with, on behalf of the workflow's creator."""
        return StepContext(
            workflow,
            step.name,
            self.audit,
            workflow.created_by,
            workflow.created_role,
            self.services,
        )

    async def _run_step(self, workflow: Workflow, step: Step) -> Workflow | None:
        """Run one step to completion; a resting workflow when it must stop there."""
        record = workflow.step(step.name)
        context = self._context(workflow, step)
        delay = self.settings.step_backoff
        while True:
            record.status = StepStatus.RUNNING
            record.attempts += 1
            record.started_at = now()
            record.error = None
            await self._save(workflow)
            try:
                output = await step.run(context)
            except NeedsApproval as pause:
                record.status = StepStatus.PENDING
                workflow.status = WorkflowStatus.PENDING_APPROVAL
                workflow.pending_reason = {
                    "code": pause.code,
                    "message": pause.message,
                    **plain(pause.details),
                }
                await context.audit_write(outcome="pending_approval", message=pause.message)
                await self._save(workflow)
                return workflow
            except StepRefused as refusal:
                failure = Failure(
                    step.name, refusal.code, refusal.message, problems=refusal.problems
                )
                return await self._fail(workflow, step, failure, dead_letter=False)
            except SourceError as error:
                failure = Failure(
                    step.name,
                    error.code,
                    f"{error.source}: {error.message}",
                    source=error.source,
                    upstream_code=error.upstream_code,
                    upstream_message=error.details,
                    retryable=error.retryable,
                    problems=[plain(p) for p in getattr(error, "problems", ())],
                )
                if error.retryable and record.attempts < step.attempts:
                    record.error = failure.message
                    await self._save(workflow)
                    await asyncio.sleep(delay * (0.5 + self._rng.random() / 2))
                    delay = min(delay * 2, self.settings.step_backoff_max)
                    continue
                return await self._fail(workflow, step, failure, dead_letter=error.retryable)
            record.status = StepStatus.COMPLETED
            record.finished_at = now()
            workflow.state.update(plain(dict(output)))
            await self._save(workflow)
            return None

    async def _fail(
        self, workflow: Workflow, failed: Step, failure: Failure, *, dead_letter: bool
    ) -> Workflow:
        record = workflow.step(failed.name)
        record.status = StepStatus.FAILED
        record.finished_at = now()
        record.error = failure.message
        workflow.failure = failure
        await self._save(workflow)
        try:
            await self._compensate(workflow)
        except SourceError as error:
            # The undo itself failed: the workflow must not look clean. Finance sees it on the
            # dead-letter list; a retry carries the work forward from what is still posted.
            failure.message += f"; compensation failed, still posted: {error}"
            dead_letter = True
        workflow.status = WorkflowStatus.EXCEPTION
        workflow.dead_lettered = dead_letter
        await self._save(workflow)
        if dead_letter:
            await self.store.dead_letter(workflow)
        logger.warning("workflow %s stopped at %s: %s", workflow.id, failed.name, failure.message)
        return workflow

    async def _compensate(self, workflow: Workflow) -> None:
        """Undo the completed writing steps, newest first."""
        for step in reversed(self.definitions[workflow.kind]):
            record = workflow.step(step.name)
            if record.status is not StepStatus.COMPLETED or step.read_only:
                continue
            context = self._context(workflow, step)
            for attempt in range(1, step.attempts + 1):
                try:
                    await step.compensate(context)
                    break
                except SourceError as error:
                    if attempt == step.attempts:
                        # Record it: the workflow stays in EXCEPTION with the undo pending.
                        record.error = f"compensation failed: {error}"
                        await self._save(workflow)
                        raise
                    await asyncio.sleep(self.settings.step_backoff * attempt)
            record.status = StepStatus.COMPENSATED
            record.finished_at = now()
            await self._save(workflow)

    # ------------------------------------------------------------------ actions

    async def retry(self, workflow_id: str) -> Workflow:
        workflow = await self._get(workflow_id)
        if workflow.status is not WorkflowStatus.EXCEPTION:
            raise WorkflowStateError(workflow, "retry")
        workflow.generation += 1
        workflow.failure = None
        workflow.dead_lettered = False
        for step in self.definitions[workflow.kind]:
            record = workflow.step(step.name)
            if step.read_only or record.status is not StepStatus.COMPLETED:
                record.status = StepStatus.PENDING
                record.error = None
        workflow.status = WorkflowStatus.RUNNING
        await self._save(workflow)
        await self.store.clear_dead_letter(workflow.id)
        return await self.run(workflow.id)

    async def approve(self, workflow_id: str, actor: str) -> Workflow:
        workflow = await self._get(workflow_id)
        if workflow.status is not WorkflowStatus.PENDING_APPROVAL:
            raise WorkflowStateError(workflow, "approve")
        workflow.approved_by = actor
        workflow.approved_at = now()
        workflow.pending_reason = None
        workflow.status = WorkflowStatus.RUNNING
        await self._save(workflow)
        return await self.run(workflow.id)

    async def cancel(self, workflow_id: str, actor: str) -> Workflow:
        workflow = await self._get(workflow_id)
        if workflow.status not in (WorkflowStatus.PENDING_APPROVAL, WorkflowStatus.EXCEPTION):
            raise WorkflowStateError(workflow, "cancel")
        await self._compensate(workflow)
        workflow.status = WorkflowStatus.CANCELLED
        workflow.cancelled_by = actor
        await self._save(workflow)
        await self.store.clear_dead_letter(workflow.id)
        return workflow

    async def recover(self) -> list[str]:
        """Resume the RUNNING and PENDING workflows no live process holds; their ids."""
        resumed: list[str] = []
        for status in (WorkflowStatus.RUNNING, WorkflowStatus.PENDING):
            after: tuple[float, str] | None = None
            while True:
                entries = await self.store.backend.index_range(
                    f"workflows:status:{status.value}", after=after, limit=100
                )
                for member, _ in entries:
                    running = self._running.get(member)
                    if running is not None and not running.done():
                        continue
                    workflow = await self.run(member)
                    if workflow.status is not status:
                        resumed.append(member)
                if len(entries) < 100:
                    break
                after = (entries[-1][1], entries[-1][0])
        return resumed

    async def recover_forever(self) -> None:
        while True:
            try:
                await self.recover()
            except Exception:
                logger.exception("workflow recovery failed; trying again later")
            await asyncio.sleep(self.settings.recover_every)

    async def _get(self, workflow_id: str) -> Workflow:
        workflow = await self.store.get(workflow_id)
        if workflow is None:
            raise KeyError(workflow_id)
        return workflow

    async def _save(self, workflow: Workflow) -> None:
        await self.store.save(workflow)
        await self._changed(workflow)

    async def _changed(self, workflow: Workflow) -> None:
        if self.on_change is not None:
            try:
                await self.on_change(workflow)
            except Exception:
                logger.exception("workflow change listener failed")
